//! The error kinds of SPEC section 4: one enum shared by retry policy, metrics and log records.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why one upstream attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection could not be made (DNS, refused, TLS) or broke before a response.
    Connect,
    /// The provider answered 5xx (Anthropic's 529 included).
    ServerError,
    /// The provider answered 429 (rate limited).
    RateLimited,
    /// The attempt ran past `timeout_ms` (or the request ran out of `budget_ms`).
    Timeout,
    /// A stream sent no content-bearing chunk within `first_token_timeout_ms`.
    FirstTokenTimeout,
    /// A stream went quiet for longer than `stall_timeout_ms` between content-bearing chunks.
    Stall,
    /// The output failed the JSON / JSON-schema check.
    InvalidJson,
    /// The provider answered 4xx other than 429 (the request would fail everywhere).
    ClientError,
    /// The prompt is longer than the model's context (OpenAI `context_length_exceeded`,
    /// Anthropic's "prompt is too long"): never retried, fallen back from by default.
    ContextLength,
    /// The provider's content filter refused the request (OpenAI `content_filter` /
    /// `content_policy_violation`, Azure's content management policy).
    ContentFilter,
}

impl ErrorKind {
    /// Every kind, in the order of SPEC section 4.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::ServerError,
        ErrorKind::RateLimited,
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::FirstTokenTimeout,
        ErrorKind::Stall,
        ErrorKind::InvalidJson,
        ErrorKind::ClientError,
        ErrorKind::ContextLength,
        ErrorKind::ContentFilter,
    ];

    /// The wire name used in config (`retry_on`), records (`error_kind`) and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::ServerError => "5xx",
            ErrorKind::RateLimited => "429",
            ErrorKind::Timeout => "timeout",
            ErrorKind::FirstTokenTimeout => "first_token_timeout",
            ErrorKind::Stall => "stall",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::ClientError => "4xx",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::ContentFilter => "content_filter",
        }
    }

    /// True for the kinds that end in a gateway timeout (504 when they end the request).
    pub const fn is_timeout(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::FirstTokenTimeout | ErrorKind::Stall
        )
    }

    /// The kind an upstream HTTP status maps to, if it is an error status.
    pub const fn from_status(status: u16) -> Option<ErrorKind> {
        match status {
            429 => Some(ErrorKind::RateLimited),
            400..=499 => Some(ErrorKind::ClientError),
            500..=599 => Some(ErrorKind::ServerError),
            _ => None,
        }
    }

    /// The kinds retried on the same target when a policy does not set `retry_on`: those a
    /// second try may cure (a silent or slow target is left at once instead).
    pub fn default_retry_on() -> Vec<ErrorKind> {
        vec![
            ErrorKind::Connect,
            ErrorKind::ServerError,
            ErrorKind::RateLimited,
        ]
    }

    /// The kinds the chain moves on after when a policy sets neither `fallback_on` nor
    /// `retry_on`: every kind but a bad request and a content-filter refusal.
    pub fn default_fallback_on() -> Vec<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .filter(|k| !matches!(k, ErrorKind::ClientError | ErrorKind::ContentFilter))
            .collect()
    }

    /// True for kinds a retry on the same target cannot cure, whatever `retry_on` says.
    pub const fn never_retried(self) -> bool {
        matches!(self, ErrorKind::ContextLength)
    }

    /// True for kinds whose retries wait at least the full `backoff_ms` (the provider asked
    /// for room: a rate limit, an overload).
    pub const fn backs_off_fully(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::ServerError)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error-kind name that is not one of [`ErrorKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorKind(pub String);

impl fmt::Display for UnknownErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        write!(
            f,
            "unknown error kind \"{}\"; use one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownErrorKind(s.to_owned()))
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(ErrorKind::from_status(429), Some(ErrorKind::RateLimited));
        assert_eq!(ErrorKind::from_status(404), Some(ErrorKind::ClientError));
        assert_eq!(ErrorKind::from_status(529), Some(ErrorKind::ServerError));
        assert_eq!(ErrorKind::from_status(200), None);
    }
}
