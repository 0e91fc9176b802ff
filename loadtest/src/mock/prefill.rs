//! Requests that end with an assistant message (a prefill): the mock continues the text the
//! way a model does, so a gateway that finishes a sentence on another target can be tested
//! end to end; or, with `refuse_prefill`, it refuses as models without prefill support do.

use serde_json::Value;

use crate::mock::openai::Answer;
use crate::mock::script::Plan;

/// The text of the request's trailing assistant message, if it ends with one (OpenAI and
/// Anthropic bodies alike: a string, or text parts).
pub(crate) fn trailing_assistant_text(body: &Value) -> Option<String> {
    let last = body.get("messages")?.as_array()?.last()?;
    if last.get("role")?.as_str()? != "assistant" {
        return None;
    }
    match last.get("content")? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        _ => None,
    }
}

impl Plan {
    /// Continues `prefix`: when the scripted text begins with it, the answer is the rest (a
    /// model picking up mid-sentence); otherwise the scripted text as it is.
    pub(crate) fn continue_after(&mut self, prefix: &str) {
        if let Answer::Text(text) = &mut self.answer
            && let Some(rest) = text.strip_prefix(prefix)
        {
            *text = rest.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mock::script::Script;

    #[test]
    fn a_trailing_assistant_message_is_continued_from_where_it_stops() {
        let body = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello fr"}]}
        ]});
        let prefix = trailing_assistant_text(&body).unwrap();
        assert_eq!(prefix, "Hello fr");
        let mut plan = Script::parse("").unwrap().plan(1);
        plan.continue_after(&prefix);
        assert!(matches!(&plan.answer, Answer::Text(t) if t == "om mock"));
        let user_last = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(trailing_assistant_text(&user_last), None);
    }
}
