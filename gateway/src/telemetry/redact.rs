//! Keeps credentials out of error messages and records: every configured provider key and
//! client key is replaced wherever it appears in text that leaves the gateway.

use switchboard_config::Config;

/// The secrets of a config, longest first.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Collects the provider keys, header values, client keys, admin key and `[otel]` header
    /// values of `config`.
    pub fn from_config(config: &Config) -> Redactor {
        let mut secrets: Vec<String> = config
            .providers
            .values()
            .flat_map(|p| p.api_key.iter().chain(p.headers.values()))
            .chain(config.server.api_keys.iter())
            .chain(config.server.admin_key.iter())
            .chain(config.otel.headers.values())
            .filter(|s| s.len() >= 6)
            .cloned()
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn redact(&self, text: String) -> String {
        if self.secrets.iter().all(|s| !text.contains(s.as_str())) {
            return text;
        }
        let mut text = text;
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "[redacted]");
        }
        text
    }
}
