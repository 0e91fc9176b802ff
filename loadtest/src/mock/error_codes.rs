//! The messages real providers send with the error codes the mock can be asked for
//! (`error_code=`), so a gateway that reads codes and messages meets what production sends.

/// An OpenAI (or Azure) error message for a failure of `status` with `code`.
pub(crate) fn openai_message(status: u16, code: Option<&str>) -> String {
    match code {
        Some("context_length_exceeded") => "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.".to_owned(),
        Some("content_filter") => "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.".to_owned(),
        Some(other) => format!("mock failure {status} ({other})"),
        None => format!("mock failure {status}"),
    }
}

/// An Anthropic error message for a failure of `status` with `code` (Anthropic sends no code:
/// the message says it).
pub(crate) fn anthropic_message(status: u16, code: Option<&str>) -> String {
    match code {
        Some("context_length_exceeded") => {
            "prompt is too long: 210000 tokens > 200000 maximum".to_owned()
        }
        Some(other) => format!("mock failure {status} ({other})"),
        None => format!("mock failure {status}"),
    }
}
