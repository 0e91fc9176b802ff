//! The export of logs as JSONL or CSV, shared by `GET /api/export` and `switchboard export`.
//!
//! Rows are read one at a time from one store statement ([`Store::for_each`]) and written
//! straight to the output, so memory stays constant whatever the number of rows. JSONL rows are
//! the records as stored (one JSON object per line, with their `id` and `start_time`); CSV has a
//! header row of the fixed [`CSV_COLUMNS`] (the fields of SPEC section 4), nested values as JSON
//! text and nulls as empty cells. `openai` writes a dataset: one fine-tuning / eval example per
//! successful chat record that kept its bodies (SPEC section 11).

use std::io::{self, Write};

use serde_json::{Map, Value};
use switchboard_store::{Filter, Order, Store, StoreError};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON record per line.
    Jsonl,
    /// A header row, then one row per record.
    Csv,
    /// One OpenAI chat example per successful chat record with its bodies:
    /// `{"messages": input + [output], "tools", "metadata", "id"}`.
    OpenAi,
}

impl ExportFormat {
    /// Reads `jsonl` or `csv`; the error names the accepted values.
    pub fn parse(text: &str) -> Result<ExportFormat, String> {
        match text {
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            "openai" => Ok(ExportFormat::OpenAi),
            other => Err(format!(
                "`format` must be jsonl, csv or openai, not {other:?}"
            )),
        }
    }

    /// The media type of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl | ExportFormat::OpenAi => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl | ExportFormat::OpenAi => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Reads an export order: `newest` (the default of the logs API) or `oldest`.
pub fn parse_order(text: &str) -> Result<Order, String> {
    match text {
        "newest" | "newest_first" | "desc" => Ok(Order::NewestFirst),
        "oldest" | "oldest_first" | "asc" => Ok(Order::OldestFirst),
        other => Err(format!("`order` must be newest or oldest, not {other:?}")),
    }
}

/// The CSV columns, in order: the log record's fields (SPEC section 4) plus `warnings`.
pub const CSV_COLUMNS: [&str; 32] = [
    "id",
    "timestamp",
    "start_time",
    "log_type",
    "model",
    "provider_id",
    "provider_model",
    "stream",
    "status_code",
    "status",
    "error_message",
    "latency",
    "time_to_first_token",
    "max_stall",
    "usage",
    "cost",
    "input",
    "output",
    "tools",
    "response_format",
    "customer_identifier",
    "thread_identifier",
    "metadata",
    "trace_unique_id",
    "span_unique_id",
    "span_parent_id",
    "span_name",
    "retries",
    "fallback_used",
    "json_valid",
    "attempts",
    "warnings",
];

/// What to export: which logs, in which order, after which position.
#[derive(Debug, Clone, Default)]
pub struct ExportQuery {
    /// The logs to export.
    pub filter: Filter,
    /// Newest first (the default) or oldest first.
    pub order: Order,
    /// Continue after this cursor (a `next_cursor` of `/api/logs`, or [`Store::cursor_of`]).
    pub after: Option<String>,
}

enum Inner<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
    OpenAi(W),
}

/// Writes records in one format to `W`.
pub struct ExportWriter<W: Write> {
    inner: Inner<W>,
    rows: u64,
}

impl<W: Write> ExportWriter<W> {
    /// A writer of `format` to `out`; for CSV, `header` writes the header row first (leave it out
    /// when appending to an earlier export).
    pub fn new(format: ExportFormat, out: W, header: bool) -> io::Result<ExportWriter<W>> {
        let inner = match format {
            ExportFormat::Jsonl => Inner::Jsonl(out),
            ExportFormat::OpenAi => Inner::OpenAi(out),
            ExportFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(out);
                if header {
                    csv.write_record(CSV_COLUMNS).map_err(io::Error::other)?;
                }
                Inner::Csv(Box::new(csv))
            }
        };
        Ok(ExportWriter { inner, rows: 0 })
    }

    /// Writes one record (its stored JSON text).
    pub fn row(&mut self, record: &str) -> io::Result<()> {
        match &mut self.inner {
            Inner::Jsonl(out) => {
                let bytes = record.as_bytes();
                if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
                    // Stored as received: a pretty-printed record is re-written on one line.
                    let value: Value = serde_json::from_str(record).map_err(io::Error::other)?;
                    serde_json::to_writer(&mut *out, &value).map_err(io::Error::other)?;
                } else {
                    out.write_all(record.as_bytes())?;
                }
                out.write_all(b"\n")?;
            }
            Inner::Csv(csv) => {
                let fields: Map<String, Value> =
                    serde_json::from_str(record).map_err(io::Error::other)?;
                let cells = CSV_COLUMNS.map(|column| cell(fields.get(column)));
                csv.write_record(&cells).map_err(io::Error::other)?;
            }
            Inner::OpenAi(out) => {
                let fields: Map<String, Value> =
                    serde_json::from_str(record).map_err(io::Error::other)?;
                let Some(example) = openai_example(fields) else {
                    return Ok(());
                };
                serde_json::to_writer(&mut *out, &example).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes everything written and returns the output.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            Inner::Jsonl(mut out) | Inner::OpenAi(mut out) => {
                out.flush()?;
                Ok(out)
            }
            Inner::Csv(csv) => csv
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string())),
        }
    }
}

/// The OpenAI chat example of a record: its `input` messages followed by its `output`, with
/// its `tools`, `metadata` and `id`; `None` for a record that is not a successful chat with
/// both bodies (captured bodies off, `disable_log`, a failure, another log type).
fn openai_example(mut record: Map<String, Value>) -> Option<Value> {
    let chat = record
        .get("log_type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "chat");
    let success = record.get("status").and_then(Value::as_str) == Some("success");
    if !chat || !success {
        return None;
    }
    let Some(Value::Array(mut messages)) = record.remove("input") else {
        return None;
    };
    let output = record.remove("output").filter(Value::is_object)?;
    if messages.is_empty() {
        return None;
    }
    messages.push(output);
    let mut example = Map::new();
    example.insert("messages".to_owned(), Value::Array(messages));
    if let Some(tools) = record
        .remove("tools")
        .filter(|t| t.as_array().is_some_and(|t| !t.is_empty()))
    {
        example.insert("tools".to_owned(), tools);
    }
    if let Some(metadata) = record.remove("metadata").filter(Value::is_object) {
        example.insert("metadata".to_owned(), metadata);
    }
    example.insert("id".to_owned(), record.remove("id").unwrap_or(Value::Null));
    Some(Value::Object(example))
}

/// A CSV cell: text as it is, other scalars as JSON writes them, nested values as JSON text,
/// null or absent as empty.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Writes every log of `query` to `writer`, one row at a time; `each` sees the cursor of every
/// row written (for progress and resumption). Returns the number of rows written.
pub fn run<W: Write>(
    store: &mut Store,
    query: &ExportQuery,
    writer: &mut ExportWriter<W>,
    each: &mut dyn FnMut(&str),
) -> Result<u64, StoreError> {
    let before = writer.rows();
    store.for_each(
        &query.filter,
        query.order,
        query.after.as_deref(),
        &mut |record, cursor| {
            writer
                .row(record)
                .map_err(|e| StoreError::Aborted(Box::new(e)))?;
            each(cursor);
            Ok(())
        },
    )?;
    Ok(writer.rows() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_have_the_fixed_columns_and_json_text_for_nested_values() {
        let mut writer = ExportWriter::new(ExportFormat::Csv, Vec::new(), true).unwrap();
        writer
            .row(r#"{"id":"a","model":"m","stream":true,"latency":0.5,"metadata":{"k":"v, w"},"error_message":"line1\nline2","unknown":1}"#)
            .unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap().len(), CSV_COLUMNS.len());
        let row = reader.records().next().unwrap().unwrap();
        let get = |name: &str| {
            let index = CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
            row.get(index).unwrap().to_owned()
        };
        assert_eq!(get("id"), "a");
        assert_eq!(get("stream"), "true");
        assert_eq!(get("latency"), "0.5");
        assert_eq!(get("metadata"), r#"{"k":"v, w"}"#);
        assert_eq!(get("error_message"), "line1\nline2");
        assert_eq!(get("usage"), "");
    }

    #[test]
    fn jsonl_rows_are_one_line_each() {
        let mut writer = ExportWriter::new(ExportFormat::Jsonl, Vec::new(), true).unwrap();
        writer.row(r#"{"id":"a"}"#).unwrap();
        writer.row("{\n  \"id\": \"b\"\n}").unwrap();
        assert_eq!(writer.rows(), 2);
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        assert_eq!(text, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
    }

    #[test]
    fn openai_examples_are_successful_chats_with_their_bodies() {
        let mut writer = ExportWriter::new(ExportFormat::OpenAi, Vec::new(), true).unwrap();
        let chat = r#"{"id":"a","log_type":"chat","status":"success","input":[{"role":"user","content":"hi"}],"output":{"role":"assistant","content":"hello"},"tools":[],"metadata":{"language":"es"}}"#;
        writer.row(chat).unwrap();
        writer
            .row(r#"{"id":"b","log_type":"chat","status":"success","metadata":{}}"#)
            .unwrap();
        writer
            .row(r#"{"id":"c","log_type":"chat","status":"error","input":[{"role":"user","content":"hi"}],"output":null}"#)
            .unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(
            lines[0],
            serde_json::json!({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "metadata": {"language": "es"}, "id": "a"})
        );
    }

    #[test]
    fn formats_and_orders_are_named() {
        assert_eq!(ExportFormat::parse("csv"), Ok(ExportFormat::Csv));
        assert!(ExportFormat::parse("xml").unwrap_err().contains("`format`"));
        assert_eq!(parse_order("oldest"), Ok(Order::OldestFirst));
        assert!(parse_order("sideways").unwrap_err().contains("`order`"));
    }
}
