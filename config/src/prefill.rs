//! `prefill` (SPEC section 10): whether, and how, a target continues a trailing assistant
//! message — what mid-stream continuation sends to finish a sentence another target began.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// How a continuation's "text so far" is sent to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefill {
    /// `false`: this target cannot continue another's text; continuation passes it over.
    Off,
    /// `true`: a trailing assistant message, continued as is (Anthropic's prefill).
    Message,
    /// `"vllm"`: the trailing assistant message plus `continue_final_message = true` and
    /// `add_generation_prompt = false` (vLLM's OpenAI-compatible server).
    Vllm,
    /// `"prefix"`: the trailing assistant message marked `"prefix": true` (DeepSeek's and
    /// Mistral's prefix completion).
    PrefixFlag,
}

impl Prefill {
    /// True unless `Off`.
    pub fn can_continue(self) -> bool {
        self != Prefill::Off
    }
}

// By hand: the value is a boolean or one of two names, and the error must list them.
impl<'de> Deserialize<'de> for Prefill {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PrefillVisitor;

        impl Visitor<'_> for PrefillVisitor {
            type Value = Prefill;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, \"vllm\" or \"prefix\"")
            }

            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Prefill, E> {
                Ok(if on { Prefill::Message } else { Prefill::Off })
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Prefill, E> {
                match text {
                    "vllm" => Ok(Prefill::Vllm),
                    "prefix" => Ok(Prefill::PrefixFlag),
                    other => Err(E::custom(format!(
                        "\"{other}\" is not a prefill style: use true, false, \"vllm\" or \"prefix\""
                    ))),
                }
            }
        }

        deserializer.deserialize_any(PrefillVisitor)
    }
}
