//! `hedge_after_ms` (SPEC section 10): a number of milliseconds, or `"auto"`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// When a call with no first content token starts the next target of its chain in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeAfter {
    /// After this many milliseconds.
    Fixed(u64),
    /// After the target's own recent p95 time to first token, clamped between `hedge_min_ms`
    /// and the first-token timeout; no hedge until the target has 20 such times.
    Auto,
}

// By hand rather than `#[serde(untagged)]`: an untagged enum's error says only that no variant
// matched, and a config error must say what to write instead.
impl<'de> Deserialize<'de> for HedgeAfter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HedgeVisitor;

        impl Visitor<'_> for HedgeVisitor {
            type Value = HedgeAfter;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of milliseconds or \"auto\"")
            }

            fn visit_u64<E: de::Error>(self, ms: u64) -> Result<HedgeAfter, E> {
                Ok(HedgeAfter::Fixed(ms))
            }

            fn visit_i64<E: de::Error>(self, ms: i64) -> Result<HedgeAfter, E> {
                u64::try_from(ms).map(HedgeAfter::Fixed).map_err(|_| {
                    E::custom("must not be negative: a number of milliseconds or \"auto\"")
                })
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<HedgeAfter, E> {
                match text {
                    "auto" => Ok(HedgeAfter::Auto),
                    other => Err(E::custom(format!(
                        "\"{other}\" is neither a number of milliseconds nor \"auto\""
                    ))),
                }
            }
        }

        deserializer.deserialize_any(HedgeVisitor)
    }
}
