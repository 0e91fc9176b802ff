//! Reading a config: TOML text -> schema check -> `${ENV}` interpolation -> validation -> [`Config`].

use std::path::Path;

use serde::Deserialize;

use crate::error::{ConfigError, Problem};
use crate::interpolate::{InterpolationError, interpolate};
use crate::resolved::{Config, ModelRoute, Policy};
use crate::schema::RawConfig;
use crate::validate::{self, toml_key};

/// The config used when no file is given and `switchboard.toml` does not exist:
/// `openai/<model>` and `anthropic/<model>` passthrough, keys from the environment.
pub const EMBEDDED_DEFAULT: &str = include_str!("embedded_default.toml");

/// Where the embedded default says it came from.
pub const EMBEDDED_ORIGIN: &str = "<embedded default>";

/// Reads the process environment (the `env` argument of the loaders, outside tests).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Config {
    /// Loads and validates the file at `path`.
    pub fn from_file(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            origin: origin.clone(),
            source,
        })?;
        Config::from_toml_str(&text, &origin, env)
    }

    /// The embedded default config.
    pub fn embedded_default(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::from_toml_str(EMBEDDED_DEFAULT, EMBEDDED_ORIGIN, env)
    }

    /// Loads and validates config text; `origin` names it in error messages.
    pub fn from_toml_str(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let parse_error = |e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let mut table: toml::Table = toml::from_str(text).map_err(parse_error)?;
        // Every unknown key at once (serde would stop at the first); they are taken out so
        // that the rest of the file is still checked in this same run.
        let unknown = crate::known_keys::unknown_keys(text);
        for key in &unknown {
            crate::known_keys::remove(&mut table, &key.path);
        }
        let mut problems: Vec<Problem> = unknown.into_iter().map(|u| u.problem).collect();
        // Every value of the wrong type too, taken out the same way.
        for bad in crate::value_errors::bad_values(text) {
            crate::known_keys::remove(&mut table, &bad.path);
            problems.push(bad.problem);
        }
        let invalid = |problems| ConfigError::Invalid {
            origin: origin.to_owned(),
            problems,
        };
        if problems.is_empty() {
            // On the text as written, so a type error points at its line and column.
            toml::from_str::<RawConfig>(text).map_err(parse_error)?;
        }
        // Interpolation only rewrites strings, so the shape stays as checked; a value that
        // could not be interpolated is not validated (its problem is already named).
        let mut unset = Vec::new();
        interpolate_table(&mut table, "", env, &mut unset);
        if !unset.is_empty() {
            problems.extend(unset);
            return Err(invalid(problems));
        }
        let raw = match RawConfig::deserialize(toml::Value::Table(table)) {
            Ok(raw) => raw,
            // A wrong type beside unknown keys: the unknown keys first, the rest next run.
            Err(_) if !problems.is_empty() => return Err(invalid(problems)),
            Err(e) => return Err(parse_error(e)),
        };
        problems.extend(validate::problems(&raw));
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(resolve(raw, origin))
    }
}

fn resolve(raw: RawConfig, origin: &str) -> Config {
    let defaults = Policy::default().overridden_by(&raw.defaults);
    let models = raw
        .models
        .into_iter()
        .map(|(name, section)| {
            let route = ModelRoute {
                policy: defaults.overridden_by(&section),
                targets: section.targets.unwrap_or_default(),
            };
            (name, route)
        })
        .collect();
    let mut server = raw.server;
    server.api_keys.retain(|k| !k.is_empty());
    Config {
        origin: origin.to_owned(),
        server,
        logging: raw.logging,
        metrics: raw.metrics,
        otel: raw.otel,
        providers: raw.providers,
        defaults,
        models,
    }
}

fn interpolate_table(
    table: &mut toml::Table,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            toml_key(key)
        } else {
            format!("{prefix}.{}", toml_key(key))
        };
        interpolate_value(value, &path, env, problems);
    }
}

fn interpolate_value(
    value: &mut toml::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match value {
        toml::Value::String(s) => match interpolate(s, env) {
            Ok(done) => *s = done,
            Err(InterpolationError::Unset(name)) => problems.push(Problem {
                key: path.to_owned(),
                message: format!("environment variable {name} is not set"),
                fix: format!("export {name}=..., or write ${{{name}:-default}} to allow it unset"),
            }),
            Err(InterpolationError::Malformed(expr)) => problems.push(Problem {
                key: path.to_owned(),
                message: format!("malformed interpolation {expr}"),
                fix: "write ${NAME} or ${NAME:-default}; $${ for a literal ${".to_owned(),
            }),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{path}[{i}]"), env, problems);
            }
        }
        toml::Value::Table(table) => interpolate_table(table, path, env, problems),
        _ => {}
    }
}
