//! Every unknown key of a config file in one pass, each with its line and a "did you mean"
//! when a known key is close. serde's `deny_unknown_fields` stops at the first; this walk
//! reads the key lists off the same structs (serde-aux introspection), so the two cannot
//! disagree.

use serde_aux::serde_introspection::serde_introspect;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::Problem;
use crate::schema::{
    LoggingConfig, MetricsConfig, OtelConfig, PolicySection, ProviderConfig, RawConfig,
    ServerConfig, Target,
};
use crate::validate::toml_key;

/// An unknown key: the problem to report and the path to take out before deserializing.
pub(crate) struct UnknownKey {
    /// The key's path, one segment per table (array indexes as `[i]` segments).
    pub path: Vec<String>,
    /// What to tell the user.
    pub problem: Problem,
}

/// What a table may hold.
#[derive(Clone, Copy)]
enum Shape {
    /// A struct's fields.
    Fields(&'static [&'static str], fn(&str) -> Option<Shape>),
    /// A map of user-named entries, each of the given shape.
    Entries(fn() -> Shape),
    /// Anything (free-form tables, such as a provider's `headers`).
    Any,
}

fn top() -> Shape {
    Shape::Fields(serde_introspect::<RawConfig>(), |key| match key {
        "server" => Some(Shape::Fields(serde_introspect::<ServerConfig>(), |_| None)),
        "logging" => Some(Shape::Fields(serde_introspect::<LoggingConfig>(), |_| None)),
        "metrics" => Some(Shape::Fields(serde_introspect::<MetricsConfig>(), |_| None)),
        "otel" => Some(Shape::Fields(serde_introspect::<OtelConfig>(), |key| {
            (key == "headers").then_some(Shape::Any)
        })),
        "providers" => Some(Shape::Entries(provider)),
        "defaults" => Some(policy()),
        "models" => Some(Shape::Entries(policy)),
        _ => None,
    })
}

fn provider() -> Shape {
    Shape::Fields(serde_introspect::<ProviderConfig>(), |key| {
        (key == "headers").then_some(Shape::Any)
    })
}

fn policy() -> Shape {
    Shape::Fields(serde_introspect::<PolicySection>(), |key| {
        (key == "targets").then(|| Shape::Fields(serde_introspect::<Target>(), |_| None))
    })
}

/// Every unknown key of `text` (which must parse as TOML), in file order.
pub(crate) fn unknown_keys(text: &str) -> Vec<UnknownKey> {
    let Ok(table) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(text, table.get_ref(), top(), &mut Vec::new(), &mut out);
    out.sort_by_key(|u| u.problem.key.clone());
    out
}

fn walk(
    text: &str,
    table: &DeTable<'_>,
    shape: Shape,
    path: &mut Vec<String>,
    out: &mut Vec<UnknownKey>,
) {
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let inner = match shape {
            Shape::Any => continue,
            Shape::Entries(entry) => Some(entry()),
            Shape::Fields(fields, nested) => {
                if !fields.contains(&name) {
                    out.push(unknown(text, key, fields, path));
                    continue;
                }
                nested(name)
            }
        };
        let Some(inner) = inner else { continue };
        path.push(name.to_owned());
        match value.get_ref() {
            DeValue::Table(table) => walk(text, table, inner, path, out),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(table) = item.get_ref() {
                        path.push(format!("[{i}]"));
                        walk(text, table, inner, path, out);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

fn unknown(
    text: &str,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    fields: &[&str],
    path: &[String],
) -> UnknownKey {
    let name = key.get_ref().as_ref();
    let line = text[..key.span().start.min(text.len())]
        .matches('\n')
        .count()
        + 1;
    let mut dotted = String::new();
    for segment in path.iter().map(String::as_str).chain([name]) {
        if segment.starts_with('[') {
            dotted.push_str(segment);
        } else {
            if !dotted.is_empty() {
                dotted.push('.');
            }
            dotted.push_str(&toml_key(segment));
        }
    }
    let closest = fields
        .iter()
        .map(|known| (strsim::jaro_winkler(name, known), *known))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let fix = match closest {
        Some((_, known)) => format!("did you mean `{known}`?"),
        None => format!("remove it; the keys here are {}", fields.join(", ")),
    };
    let mut full_path = path.to_vec();
    full_path.push(name.to_owned());
    UnknownKey {
        path: full_path,
        problem: Problem {
            key: dotted,
            message: format!("unknown key (line {line})"),
            fix,
        },
    }
}

/// Takes the key at `path` out of `table`, so the rest of the file can still be checked.
pub(crate) fn remove(table: &mut toml::Table, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            table.remove(last);
        }
        [first, rest @ ..] => match table.get_mut(first) {
            Some(toml::Value::Table(inner)) => remove(inner, rest),
            Some(toml::Value::Array(items)) => {
                let Some((index, rest)) = rest.split_first() else {
                    return;
                };
                let index = index.trim_start_matches('[').trim_end_matches(']');
                if let Some(toml::Value::Table(inner)) =
                    index.parse::<usize>().ok().and_then(|i| items.get_mut(i))
                {
                    remove(inner, rest);
                }
            }
            _ => {}
        },
    }
}
