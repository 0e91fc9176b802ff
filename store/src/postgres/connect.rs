//! Connecting: libpq's URL form, sensible timeouts, and errors that never show the password.

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::StoreError;

/// How long a connection attempt waits for the server unless the URL says
/// (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// True for the URLs the PostgreSQL store takes.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with the password of its user part replaced by `***`, for messages.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => user_info.to_owned(),
    };
    // A password can also travel as a parameter.
    let tail = match tail.find("password=") {
        Some(at) => {
            let end = tail[at..].find('&').map_or(tail.len(), |n| at + n);
            format!("{}password=***{}", &tail[..at], &tail[end..])
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{user}@{host}{tail}")
}

/// Opens a connection to `url`.
pub(crate) fn connect(url: &str) -> Result<Client, StoreError> {
    let bad = |reason: String| StoreError::BadUrl {
        url: redacted(url),
        reason,
    };
    let mut config = Config::from_str(url).map_err(|e| bad(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("switchboard");
    // Metadata keys are written into conditions as string literals (see `dialect::literal`).
    config.options("-c standard_conforming_strings=on");
    // TLS (`sslmode=require`) is not built in yet: connections are plain TCP or a Unix socket.
    config.connect(NoTls).map_err(|source| StoreError::Connect {
        url: redacted(url),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redacted("postgres://sb:s3cret@db.internal:5432/logs"),
            "postgres://sb:***@db.internal:5432/logs"
        );
        assert_eq!(
            redacted("postgresql://sb@db/logs?password=s3cret&sslmode=disable"),
            "postgresql://sb@db/logs?password=***&sslmode=disable"
        );
        assert_eq!(redacted("postgres://db/logs"), "postgres://db/logs");
        assert!(is_postgres_url("postgresql://x/y") && !is_postgres_url("sqlite://x"));
    }
}
