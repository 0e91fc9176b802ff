//! The one error type of this crate.

use std::fmt;

/// One problem found in a config: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `models."voice-fast".targets[1].provider`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; fix: {}", self.key, self.message, self.fix)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the config file: {source}")]
    Read {
        /// The path as given.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema (unknown key, wrong type).
    #[error("{origin}: {message}")]
    Parse {
        /// The path as given.
        origin: String,
        /// The parser's message (it names the line, the key and what was expected).
        message: String,
    },
    /// The file parsed but some values are wrong.
    #[error("{}", render_problems(origin, problems))]
    Invalid {
        /// The path as given.
        origin: String,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render_problems(origin: &str, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("{origin}: {p}")).collect();
    lines.join("\n")
}

impl ConfigError {
    /// Every problem as one line each (`file: key: message; fix: ...`).
    pub fn lines(&self) -> Vec<String> {
        self.to_string().lines().map(str::to_owned).collect()
    }
}
