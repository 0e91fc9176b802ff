//! Checks on values that the schema alone cannot express; every problem is collected.

use std::net::SocketAddr;

use crate::error::Problem;
use crate::schema::{PolicySection, ProviderKind, RawConfig};

/// Every problem in `config`, in file order (empty when it is valid).
pub fn problems(config: &RawConfig) -> Vec<Problem> {
    let mut out = Problems::default();
    server(config, &mut out);
    logging(config, &mut out);
    logging_redact(config, &mut out);
    metrics(config, &mut out);
    otel(config, &mut out);
    providers(config, &mut out);
    policy("defaults", &config.defaults, &mut out);
    if config.defaults.targets.is_some() {
        out.push(
            "defaults.targets",
            "[defaults] holds policy only, not a fallback chain",
            "move `targets` under a [models.\"<name>\"] table",
        );
    }
    models(config, &mut out);
    out.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }
}

/// A TOML key as written in a dotted path: bare when it can be, quoted otherwise.
pub(crate) fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\\\""))
    }
}

/// Labels the gateway's own series already carry: a metadata label must not shadow them.
const OWN_LABELS: &[&str] = &[
    "model",
    "provider",
    "status",
    "reason",
    "kind",
    "type",
    "from_provider",
    "to_provider",
    "result",
    "to",
    "le",
    "job",
    "instance",
];

fn metrics(config: &RawConfig, out: &mut Problems) {
    let metrics = &config.metrics;
    for (i, name) in metrics.metadata_labels.iter().enumerate() {
        let key = format!("metrics.metadata_labels[{i}]");
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || name.starts_with("__") {
            out.push(
                key,
                format!("\"{name}\" is not a Prometheus label name"),
                "use letters, digits and underscores, not starting with a digit or \"__\" (e.g. \"use_case\")",
            );
        } else if OWN_LABELS.contains(&name.as_str()) {
            out.push(
                key,
                format!("\"{name}\" is a label the gateway's series already carry"),
                "send that metadata under another key (e.g. \"agent_model\") and label by it",
            );
        } else if metrics.metadata_labels[..i].contains(name) {
            out.push(
                key,
                format!("\"{name}\" is listed twice"),
                "list each metadata key once",
            );
        }
    }
    if metrics.max_label_values == 0 {
        out.push(
            "metrics.max_label_values",
            "is 0: every value would be counted as \"other\"",
            "set it to the number of distinct values you expect per key (default 50)",
        );
    }
}

fn otel(config: &RawConfig, out: &mut Problems) {
    let otel = &config.otel;
    if let Some(endpoint) = &otel.endpoint {
        let parsed = url::Url::parse(endpoint);
        let http = parsed
            .as_ref()
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !http {
            out.push(
                "otel.endpoint",
                "is not an http:// or https:// URL",
                "write the collector's OTLP/HTTP address, e.g. \"http://127.0.0.1:4318\", or remove [otel] to export no spans",
            );
        } else if parsed.is_ok_and(|u| !u.username().is_empty() || u.password().is_some()) {
            out.push(
                "otel.endpoint",
                "carries credentials in the URL",
                "put them in [otel] headers (e.g. headers = { authorization = \"Bearer ${OTEL_TOKEN}\" })",
            );
        }
    }
    if otel.service_name.trim().is_empty() {
        out.push(
            "otel.service_name",
            "is empty",
            "name the service the spans come from, e.g. \"switchboard\"",
        );
    }
    for (name, value) in &otel.headers {
        let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok();
        if !valid {
            out.push(
                format!("otel.headers.{}", toml_key(name)),
                "is not a valid HTTP header",
                "use a header name of letters, digits and dashes, and a value without line breaks",
            );
        }
    }
    for (key, value) in [
        ("otel.export_interval_ms", otel.export_interval_ms),
        ("otel.export_timeout_ms", otel.export_timeout_ms),
        ("otel.queue_capacity", otel.queue_capacity as u64),
    ] {
        if value == 0 {
            out.push(
                key,
                "must be greater than 0",
                "remove it to use the default",
            );
        }
    }
}

fn server(config: &RawConfig, out: &mut Problems) {
    let server = &config.server;
    if server.listen.parse::<SocketAddr>().is_err() {
        out.push(
            "server.listen",
            format!("\"{}\" is not an IP address and port", server.listen),
            "write it as host:port, e.g. \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
        );
    }
    for (i, key) in server.api_keys.iter().enumerate() {
        if key.trim().is_empty() {
            out.push(
                format!("server.api_keys[{i}]"),
                "is empty (an unset ${VAR:-} resolves to \"\")",
                "set the variable it names, or remove the entry to leave the gateway open",
            );
        }
    }
    if server
        .admin_key
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        out.push(
            "server.admin_key",
            "is empty",
            "set the variable it names, or remove the key (then /api/* answers only on loopback)",
        );
    }
    for (key, value, example) in [
        (
            "server.max_body_bytes",
            server.max_body_bytes as u64,
            "4194304 (4 MiB)",
        ),
        (
            "server.header_timeout_ms",
            server.header_timeout_ms,
            "10000",
        ),
        ("server.idle_timeout_ms", server.idle_timeout_ms, "120000"),
        (
            "server.max_connections",
            server.max_connections as u64,
            "20000",
        ),
        (
            "server.max_concurrent_requests",
            server.max_concurrent_requests as u64,
            "4096",
        ),
        (
            "server.max_upstream_body_bytes",
            server.max_upstream_body_bytes as u64,
            "16777216 (16 MiB)",
        ),
    ] {
        if value == 0 {
            out.push(key, "must be greater than 0", format!("use e.g. {example}"));
        }
    }
}

fn logging_redact(config: &RawConfig, out: &mut Problems) {
    for (i, pattern) in config.logging.redact.iter().enumerate() {
        if let Err(why) = crate::redact::check(pattern) {
            out.push(
                format!("logging.redact[{i}]"),
                why,
                "use email, phone, card, or a regular expression (regex crate syntax)",
            );
        }
    }
}

fn logging(config: &RawConfig, out: &mut Problems) {
    let logging = &config.logging;
    if let Some(url) = &logging.redis_url {
        let known = ["redis://", "rediss://", "unix://", "redis+unix://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            out.push(
                "logging.redis_url",
                "is not a Redis URL",
                "write redis://HOST:PORT (rediss:// for TLS), or remove it to log into the embedded store",
            );
        }
    }
    if logging.stream.trim().is_empty() {
        out.push(
            "logging.stream",
            "is empty",
            "use e.g. \"switchboard:logs\"",
        );
    }
    let store = logging.store.as_str();
    let supported = ["sqlite://", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| store.len() > scheme.len() && store.starts_with(scheme));
    if !supported {
        // Only the scheme is shown: the rest of a database URL can hold a password.
        let scheme = store
            .split_once("://")
            .map_or("no scheme", |(scheme, _)| scheme);
        out.push(
            "logging.store",
            format!("is not a supported store URL ({scheme})"),
            "write sqlite://PATH (one machine, e.g. \"sqlite://data/switchboard.db\") or \
             postgres://USER:PASSWORD@HOST:5432/DB (shared by many gateways and consumers)",
        );
    }
    if logging.retention_days == Some(0) {
        out.push(
            "logging.retention_days",
            "is 0: every log would be removed as soon as it is written",
            "give a number of days (e.g. 14), or remove the key to keep logs for ever",
        );
    }
    if logging.spool_dir.trim().is_empty() {
        out.push("logging.spool_dir", "is empty", "use e.g. \"data/spool\"");
    }
    for (key, value) in [
        ("logging.spool_max_bytes", logging.spool_max_bytes),
        ("logging.max_stream_len", logging.max_stream_len),
        ("logging.queue_capacity", logging.queue_capacity as u64),
    ] {
        if value == 0 {
            out.push(
                key,
                "must be greater than 0",
                "remove it to use the default",
            );
        }
    }
}

fn providers(config: &RawConfig, out: &mut Problems) {
    for (name, provider) in &config.providers {
        let key = format!("providers.{}", toml_key(name));
        if name.contains('/') {
            out.push(
                key.clone(),
                "provider names cannot contain '/' (clients write provider/model)",
                "rename the table, e.g. [providers.my-provider]",
            );
        }
        match url::Url::parse(&provider.base_url) {
            Ok(url) if url.scheme() == "http" || url.scheme() == "https" => {}
            _ => out.push(
                format!("{key}.base_url"),
                format!("\"{}\" is not an http(s) URL", provider.base_url),
                "write the API's base URL, e.g. \"https://api.openai.com/v1\"",
            ),
        }
        let is_azure = provider.kind == ProviderKind::Azure;
        match (&provider.api_version, is_azure) {
            (None, true) => out.push(
                format!("{key}.api_version"),
                "is required for kind = \"azure\"",
                "add e.g. api_version = \"2024-10-21\"",
            ),
            (Some(_), false) => out.push(
                format!("{key}.api_version"),
                format!(
                    "only applies to kind = \"azure\", not \"{}\"",
                    provider.kind.as_str()
                ),
                "remove it",
            ),
            _ => {}
        }
        if provider.default_max_tokens.is_some() && provider.kind != ProviderKind::Anthropic {
            out.push(
                format!("{key}.default_max_tokens"),
                format!(
                    "only applies to kind = \"anthropic\", not \"{}\"",
                    provider.kind.as_str()
                ),
                "remove it",
            );
        }
        if provider.default_max_tokens == Some(0) {
            out.push(
                format!("{key}.default_max_tokens"),
                "must be greater than 0",
                "use e.g. 4096",
            );
        }
    }
}

fn policy(key: &str, section: &PolicySection, out: &mut Problems) {
    for (name, value) in [
        ("first_token_timeout_ms", section.first_token_timeout_ms),
        ("stall_timeout_ms", section.stall_timeout_ms),
        ("timeout_ms", section.timeout_ms),
        ("budget_ms", section.budget_ms),
        ("circuit_open_ms", section.circuit_open_ms),
    ] {
        if value == Some(0) {
            out.push(
                format!("{key}.{name}"),
                "must be greater than 0",
                "give a time in milliseconds, or remove it to inherit the default",
            );
        }
    }
}

fn models(config: &RawConfig, out: &mut Problems) {
    let provider_names: Vec<&str> = config.providers.keys().map(String::as_str).collect();
    for (name, model) in &config.models {
        let key = format!("models.{}", toml_key(name));
        policy(&key, model, out);
        let Some(targets) = &model.targets else {
            out.push(
                format!("{key}.targets"),
                "is missing",
                "add targets = [{ provider = \"openai\", model = \"gpt-4o-mini\" }]",
            );
            continue;
        };
        if targets.is_empty() {
            out.push(
                format!("{key}.targets"),
                "is empty",
                "list at least one { provider = \"...\", model = \"...\" }",
            );
        }
        for (i, target) in targets.iter().enumerate() {
            let tkey = format!("{key}.targets[{i}]");
            if !config.providers.contains_key(&target.provider) {
                let fix = if provider_names.is_empty() {
                    format!("define [providers.{}]", toml_key(&target.provider))
                } else {
                    format!(
                        "define [providers.{}] or use one of: {}",
                        toml_key(&target.provider),
                        provider_names.join(", ")
                    )
                };
                out.push(
                    format!("{tkey}.provider"),
                    format!("unknown provider \"{}\"", target.provider),
                    fix,
                );
            }
            if target.model.trim().is_empty() {
                out.push(
                    format!("{tkey}.model"),
                    "is empty",
                    "name the model the provider serves, e.g. \"gpt-4o-mini\"",
                );
            }
            for (cost_key, cost) in [
                ("input_cost_per_mtok", target.input_cost_per_mtok),
                ("output_cost_per_mtok", target.output_cost_per_mtok),
            ] {
                if cost.is_some_and(|c| !c.is_finite() || c < 0.0) {
                    out.push(
                        format!("{tkey}.{cost_key}"),
                        "must be a non-negative number",
                        "give USD per million tokens, e.g. 0.15",
                    );
                }
            }
        }
    }
}
