//! `${ENV_VAR}` interpolation in every string value of the config.
//!
//! Forms: `${NAME}` (an error when NAME is unset), `${NAME:-fallback}` (fallback when NAME is
//! unset or empty) and `$${` for a literal `${`. Written by hand: the few crates that do this
//! either interpolate raw text (unsafe for TOML quoting) or pull in a template engine.

/// A `${...}` that could not be resolved, without the key path (the caller adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${NAME}` where NAME is not set.
    Unset(String),
    /// `${` with no closing `}` or an empty name.
    Malformed(String),
}

/// Replaces every `${...}` in `input` using `env`.
pub fn interpolate(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| InterpolationError::Malformed(after.to_owned()))?;
            let expr = &tail[..end];
            let (name, fallback) = match expr.split_once(":-") {
                Some((name, fallback)) => (name, Some(fallback)),
                None => (expr, None),
            };
            if name.is_empty() {
                return Err(InterpolationError::Malformed(format!("${{{expr}}}")));
            }
            match (
                env(name).filter(|v| !v.is_empty() || fallback.is_none()),
                fallback,
            ) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(fallback)) => out.push_str(fallback),
                (None, None) => return Err(InterpolationError::Unset(name.to_owned())),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-123".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variables() {
        assert_eq!(
            interpolate("Bearer ${KEY}!", &env).unwrap(),
            "Bearer sk-123!"
        );
    }

    #[test]
    fn unset_variable_is_an_error_unless_it_has_a_fallback() {
        assert_eq!(
            interpolate("${NOPE}", &env),
            Err(InterpolationError::Unset("NOPE".into()))
        );
        assert_eq!(interpolate("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(interpolate("${EMPTY:-x}", &env).unwrap(), "x");
        assert_eq!(interpolate("${EMPTY}", &env).unwrap(), "");
    }

    #[test]
    fn escapes_and_plain_dollars_stay() {
        assert_eq!(
            interpolate("$${KEY} costs $5", &env).unwrap(),
            "${KEY} costs $5"
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert!(matches!(
            interpolate("${KEY", &env),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${}", &env),
            Err(InterpolationError::Malformed(_))
        ));
    }
}
