//! Upstream request headers from config, marked sensitive where they carry credentials.

use std::collections::BTreeMap;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ProviderError;

/// The `headers` table of a provider as a header map.
pub fn extra_headers(
    provider: &str,
    headers: &BTreeMap<String, String>,
) -> Result<HeaderMap, ProviderError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| ProviderError::Translate {
                message: format!(
                    "providers.{provider}.headers: \"{name}\" is not a valid header name"
                ),
            })?;
        map.insert(header, secret_value(provider, value)?);
    }
    Ok(map)
}

/// A header value marked sensitive (kept out of debug output and HPACK tables).
pub fn secret_value(provider: &str, value: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| ProviderError::Translate {
        message: format!(
            "providers.{provider}: a credential or header value has characters not allowed in HTTP headers"
        ),
    })?;
    value.set_sensitive(true);
    Ok(value)
}
