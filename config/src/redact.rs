//! `[logging] redact`: which entries are named patterns and which are regular expressions.
//! The patterns themselves are applied by the log pipeline (`switchboard-sink`).

/// The named patterns `[logging] redact` accepts besides regular expressions.
pub const NAMED_PATTERNS: [&str; 3] = ["email", "phone", "card"];

/// `Ok` when `entry` is a named pattern or a regular expression that compiles.
pub(crate) fn check(entry: &str) -> Result<(), String> {
    if NAMED_PATTERNS.contains(&entry) {
        return Ok(());
    }
    if entry.is_empty() {
        return Err("is empty".to_owned());
    }
    regex::Regex::new(entry)
        .map(|_| ())
        .map_err(|e| format!("is not a regular expression: {e}"))
}
