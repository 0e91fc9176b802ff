//! What the gateway reads from each OpenAI `chat.completion.chunk` as it passes: one borrowed
//! parse per chunk, no re-serialisation of the chunk itself.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;

use crate::json_text::json_text;

pub use switchboard_record::Usage;

/// One streamed fragment of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallDelta {
    /// Which tool call of the message this fragment belongs to.
    pub index: u32,
    /// Set on the first fragment.
    pub id: Option<String>,
    /// Set on the first fragment.
    pub name: Option<String>,
    /// A piece of the JSON arguments text.
    pub arguments: Option<String>,
}

/// The parts of one chunk that timing, JSON checks and the log record need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkInfo {
    /// A non-empty `delta.content` of choice 0.
    pub content: Option<String>,
    /// A non-empty `delta.refusal` of choice 0.
    pub refusal: Option<String>,
    /// `delta.tool_calls` of choice 0.
    pub tool_calls: Vec<ToolCallDelta>,
    /// `finish_reason` of choice 0, when set.
    pub finish_reason: Option<String>,
    /// `usage`, when the chunk carries it (the final usage chunk).
    pub usage: Option<Usage>,
    /// True when choices other than 0 carried content (n > 1).
    pub other_choice_content: bool,
    /// True when the chunk has no choices (the usage chunk, or an error event).
    pub no_choices: bool,
    /// Not a chunk: an event the decoder could not read and skipped (why); consumers note it
    /// and pass it over.
    pub skipped: Option<String>,
}

impl ChunkInfo {
    /// True when the chunk carries generated output: content, a refusal or tool-call data.
    /// A role-only chunk, an empty delta or a finish/usage chunk is not content-bearing.
    pub fn is_content_bearing(&self) -> bool {
        self.content.is_some()
            || self.refusal.is_some()
            || !self.tool_calls.is_empty()
            || self.other_choice_content
    }

    /// Parses an OpenAI chunk's JSON text.
    pub fn parse(data: &[u8]) -> Result<ChunkInfo, serde_json::Error> {
        ChunkInfo::parse_str(json_text(data)?)
    }

    fn parse_str(text: &str) -> Result<ChunkInfo, serde_json::Error> {
        let raw: RawChunk<'_> = serde_json::from_str(text)?;
        let mut info = ChunkInfo {
            usage: raw.usage,
            no_choices: raw.choices.is_empty(),
            ..ChunkInfo::default()
        };
        for choice in raw.choices {
            let Some(delta) = choice.delta else {
                if choice.index == 0 {
                    info.finish_reason = choice.finish_reason.map(Cow::into_owned);
                }
                continue;
            };
            let has_content = delta.content.as_deref().is_some_and(|c| !c.is_empty())
                || delta.refusal.as_deref().is_some_and(|r| !r.is_empty())
                || delta.tool_calls.as_ref().is_some_and(|t| !t.is_empty());
            if choice.index != 0 {
                info.other_choice_content |= has_content;
                continue;
            }
            info.finish_reason = choice.finish_reason.map(Cow::into_owned);
            info.content = delta.content.filter(|c| !c.is_empty()).map(Cow::into_owned);
            info.refusal = delta.refusal.filter(|r| !r.is_empty()).map(Cow::into_owned);
            info.tool_calls = delta
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .map(|t| ToolCallDelta {
                    index: t.index,
                    id: t.id.map(Cow::into_owned),
                    name: t
                        .function
                        .as_ref()
                        .and_then(|f| f.name.clone())
                        .map(Cow::into_owned),
                    arguments: t
                        .function
                        .and_then(|f| f.arguments)
                        .filter(|a| !a.is_empty())
                        .map(Cow::into_owned),
                })
                .collect();
        }
        Ok(info)
    }
}

/// One chunk of an OpenAI-shaped stream, as it goes to the client.
#[derive(Debug, Clone)]
pub struct StreamChunk {
    /// The chunk's JSON text (what follows `data: ` on the wire).
    pub data: Bytes,
    /// What was read from it.
    pub info: ChunkInfo,
}

impl StreamChunk {
    /// The marker for an event the decoder skipped because it could not read it.
    pub fn skipped(why: String) -> StreamChunk {
        StreamChunk {
            data: Bytes::new(),
            info: ChunkInfo {
                skipped: Some(why),
                ..ChunkInfo::default()
            },
        }
    }

    /// Parses `data` and keeps it as is.
    pub fn from_json(data: Bytes) -> Result<StreamChunk, serde_json::Error> {
        let info = ChunkInfo::parse(&data)?;
        Ok(StreamChunk { data, info })
    }
}

/// Reads the chunks of one stream. A provider starts every chunk of a stream with the same
/// members (`id`, `object`, `created`, `model`, `system_fingerprint`), none of which the
/// gateway reads; once the first chunk showed that head, later chunks that start with the same
/// bytes are parsed from `choices` on. That head was about half of each chunk's JSON work
/// (~1,500 instructions per chunk under callgrind).
#[derive(Debug, Default)]
pub struct ChunkReader {
    /// The repeated head: `{` up to the comma before `"choices"`.
    head: Option<Bytes>,
    /// Heads learned so far (a stream whose heads differ stops trying after a few).
    learned: u8,
    /// `{` and the rest of a chunk after its head.
    scratch: String,
}

impl ChunkReader {
    /// Parses `data` and keeps it as is.
    pub fn read(&mut self, data: Bytes) -> Result<StreamChunk, serde_json::Error> {
        let text = json_text(&data)?;
        if let Some(head) = self.head.as_ref().filter(|head| data.starts_with(head)) {
            self.scratch.clear();
            self.scratch.push('{');
            self.scratch.push_str(&text[head.len()..]);
            // A chunk that does not parse this way is parsed whole below, for its own error.
            if let Ok(info) = ChunkInfo::parse_str(&self.scratch) {
                return Ok(StreamChunk { data, info });
            }
        }
        let info = ChunkInfo::parse_str(text)?;
        if self.learned < 3
            && self
                .head
                .as_ref()
                .is_none_or(|head| !data.starts_with(head))
        {
            self.learned += 1;
            self.head = repeated_head(text).map(|end| data.slice(..end));
        }
        Ok(StreamChunk { data, info })
    }
}

/// Where the members before `"choices"` end in a chunk's `text` (just after the comma that
/// follows them), when they are all members the gateway does not read. An unescaped
/// `,"choices":` is always a key; checking that the text before it closes as an object of
/// other keys rules out a `choices` nested deeper.
fn repeated_head(text: &str) -> Option<usize> {
    let at = memchr::memmem::find(text.as_bytes(), b",\"choices\":")?;
    let mut head = String::with_capacity(at + 1);
    head.push_str(&text[..at]);
    head.push('}');
    let keys: std::collections::BTreeMap<Cow<'_, str>, serde::de::IgnoredAny> =
        serde_json::from_str(&head).ok()?;
    let read = ["choices", "usage"];
    (!keys.keys().any(|k| read.contains(&k.as_ref()))).then_some(at + 1)
}

#[derive(Deserialize)]
struct RawChunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<RawChoice<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct RawChoice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<RawDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<RawToolCall<'a>>>,
}

#[derive(Deserialize)]
struct RawToolCall<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<RawFunction<'a>>,
}

#[derive(Deserialize)]
struct RawFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_only_and_empty_chunks_are_not_content() {
        let role = br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}"#;
        assert!(!ChunkInfo::parse(role).unwrap().is_content_bearing());
        let finish = br#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        let info = ChunkInfo::parse(finish).unwrap();
        assert!(!info.is_content_bearing());
        assert_eq!(info.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn content_and_tool_fragments_are_content() {
        let text = br#"{"choices":[{"index":0,"delta":{"content":"Hi \"there\""}}]}"#;
        let info = ChunkInfo::parse(text).unwrap();
        assert_eq!(info.content.as_deref(), Some("Hi \"there\""));
        let tool = br#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#;
        let info = ChunkInfo::parse(tool).unwrap();
        assert!(info.is_content_bearing());
        assert_eq!(info.tool_calls[0].index, 1);
        assert_eq!(info.tool_calls[0].name.as_deref(), Some("f"));
        assert_eq!(info.tool_calls[0].arguments, None);
    }

    #[test]
    fn a_stream_reader_skipping_the_repeated_head_reads_what_a_whole_parse_reads() {
        let head = r#"{"id":"c-1","object":"chat.completion.chunk","created":7,"model":"m","#;
        let chunks = [
            format!(
                r#"{head}"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}}}}]}}"#
            ),
            format!(r#"{head}"choices":[{{"index":0,"delta":{{"content":"He\"llo"}}}}]}}"#),
            format!(
                r#"{head}"choices":[{{"index":0,"delta":{{"content":"x"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}}}"#
            ),
            // A different head, a head with `choices` nested in it, and broken JSON.
            r#"{"id":"c-2","choices":[{"index":0,"delta":{"content":"y"}}]}"#.to_owned(),
            r#"{"meta":{"a":1,"choices":[]},"choices":[{"index":0,"delta":{"content":"z"}}]}"#
                .to_owned(),
            format!(r#"{head}"choices":[{{"index":0,"delta":{{"content":"#),
            format!(r#"{head}"choices":[],"usage":{{"prompt_tokens":4}}}}"#),
        ];
        let mut reader = ChunkReader::default();
        for chunk in &chunks {
            let whole = ChunkInfo::parse(chunk.as_bytes());
            let read = reader.read(Bytes::from(chunk.clone()));
            match (whole, read) {
                (Ok(whole), Ok(read)) => {
                    assert_eq!(read.info, whole, "{chunk}");
                    assert_eq!(read.data, chunk.as_bytes());
                }
                (Err(whole), Err(read)) => assert_eq!(read.to_string(), whole.to_string()),
                (whole, read) => panic!("{chunk}: {whole:?} against {read:?}"),
            }
        }
        assert_eq!(repeated_head(&chunks[0]), Some(head.len()));
        assert_eq!(
            repeated_head(&chunks[4]),
            None,
            "choices nested in the head"
        );
    }

    #[test]
    fn usage_chunk_is_read() {
        let usage =
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
        let info = ChunkInfo::parse(usage).unwrap();
        assert!(info.no_choices);
        assert_eq!(info.usage.unwrap().total_tokens, 7);
    }
}
