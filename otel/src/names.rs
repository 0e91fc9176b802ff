//! Attribute names of the OpenTelemetry semantic conventions the spans use.
//!
//! Written out here: `opentelemetry-semantic-conventions` deprecates its `gen_ai.*` constants
//! (they moved to the separate GenAI conventions repository, which publishes no Rust crate),
//! and two stable names do not justify the dependency.

/// `chat`, for chat completions.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The provider's API, e.g. `openai`, `anthropic`, `azure.ai.openai`.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The model asked for.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Whether the request asked for a stream.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// `temperature`.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// `top_p`.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// `max_tokens` (or `max_completion_tokens`).
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// `frequency_penalty`.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// `presence_penalty`.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// `seed`.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// `n`.
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// `stop`.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// The model that answered.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// The answer's id.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// Each choice's `finish_reason`.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Seconds from the request to the first chunk of a stream.
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// Prompt tokens.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Completion tokens.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// The conversation (Switchboard's `thread_identifier`).
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// The messages sent, as JSON.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The messages answered, as JSON.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// The HTTP status (stable HTTP conventions).
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// Why an operation failed (stable general conventions).
pub const ERROR_TYPE: &str = "error.type";
