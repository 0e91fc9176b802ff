//! `GET /api/export?format=jsonl|csv|openai&<filters>[&order=newest|oldest][&after=<cursor>]`: every
//! matching log, streamed straight from the store in constant memory.
//!
//! A blocking thread walks one store statement ([`switchboard_store::Store::for_each`]) and
//! writes rows into a bounded channel that feeds the response body, so a slow client slows the
//! walk and nothing is buffered beyond a few chunks. The head goes out with the first row (or
//! the end of an empty export): a bad filter or cursor is still a plain 400. A failure after
//! that ends the body with one line `{"error": {...}}` rather than a clean end.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response};
use serde_json::json;
use switchboard_store::{Filter, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::export_format::{self as export, ExportFormat, ExportQuery, ExportWriter};
use crate::store_pool::{StorePool, api_error};
use crate::{LogsApi, Reply};
use switchboard_gateway::http::body;

/// Bytes gathered before a chunk is sent to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the store walk and the client.
const CHANNEL_CHUNKS: usize = 16;

/// Starts the export and answers with its streamed body.
pub async fn stream(api: &LogsApi, pairs: &[(String, String)]) -> Reply {
    let (format, query) = parse(pairs)?;
    let (tx, body) = body::channel(CHANNEL_CHUNKS);
    let (started, head) = oneshot::channel();
    let pool = api.store.clone();
    tokio::task::spawn_blocking(move || walk(&pool, format, &query, tx, started));
    match head.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::Internal("the export stopped early".into())),
    }
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!(
        "attachment; filename=\"switchboard-logs.{}\"",
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Reads `format` (default jsonl), `order`, `after` (or `cursor`) and the filters.
fn parse(pairs: &[(String, String)]) -> Result<(ExportFormat, ExportQuery), ApiError> {
    let bad = ApiError::InvalidRequest;
    let mut format = ExportFormat::Jsonl;
    let mut query = ExportQuery::default();
    let mut filters = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "format" => format = ExportFormat::parse(value).map_err(bad)?,
            "order" => query.order = export::parse_order(value).map_err(bad)?,
            "after" | "cursor" if !value.is_empty() => query.after = Some(value.clone()),
            "after" | "cursor" => {}
            "limit" => {
                return Err(bad(
                    "`limit` does not apply to an export (it is every matching log)".into(),
                ));
            }
            _ => filters.push((key.as_str(), value.as_str())),
        }
    }
    query.filter = Filter::from_pairs(filters).map_err(api_error)?;
    Ok((format, query))
}

type Started = oneshot::Sender<Result<(), ApiError>>;

/// The blocking side: walks the store into the channel.
fn walk(
    pool: &Arc<StorePool>,
    format: ExportFormat,
    query: &ExportQuery,
    tx: mpsc::Sender<Bytes>,
    started: Started,
) {
    let mut started = Some(started);
    let mut writer = match ExportWriter::new(format, ChannelWriter::new(tx), true) {
        Ok(writer) => writer,
        Err(e) => {
            let _ = started
                .take()
                .map(|s| s.send(Err(ApiError::Internal(e.to_string()))));
            return;
        }
    };
    let walked = pool.with(|store| {
        export::run(store, query, &mut writer, &mut |_| {
            if let Some(started) = started.take() {
                let _ = started.send(Ok(()));
            }
        })
    });
    match walked {
        Ok(rows) => {
            if let Some(started) = started.take() {
                let _ = started.send(Ok(()));
            }
            if let Err(e) = writer.finish() {
                tracing::debug!("export of {rows} rows not delivered: {e}");
            }
        }
        Err(e) => match started.take() {
            // Nothing sent yet: a proper error response.
            Some(started) => {
                let _ = started.send(Err(api_error(e)));
            }
            None => fail_mid_stream(writer, e),
        },
    }
}

/// Ends a started export: quietly when the client left, else with an error line.
fn fail_mid_stream(writer: ExportWriter<ChannelWriter>, error: StoreError) {
    if let StoreError::Aborted(cause) = &error
        && cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    {
        tracing::debug!("export stopped: the client went away");
        return;
    }
    tracing::error!("export failed after {} rows: {error}", writer.rows());
    let line = json!({"error": {"message": format!("the export failed: {error}"),
                                "type": "server_error", "code": "export_failed"}});
    if let Ok(mut out) = writer.finish() {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// An `io::Write` that sends what it is given to the response body in chunks; a send blocks
/// while the channel is full (back-pressure) and fails once the client is gone.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn new(tx: mpsc::Sender<Bytes>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_format_order_cursor_and_filters() {
        let (format, query) = parse(&pairs(&[
            ("format", "csv"),
            ("order", "oldest"),
            ("after", "abc"),
            ("metadata.lang", "es"),
        ]))
        .unwrap();
        assert_eq!(format, ExportFormat::Csv);
        assert_eq!(query.order, switchboard_store::Order::OldestFirst);
        assert_eq!(query.after.as_deref(), Some("abc"));
        assert_eq!(query.filter.metadata, vec![("lang".into(), "es".into())]);
        for (bad, named) in [
            (("format", "xml"), "`format`"),
            (("limit", "5"), "`limit`"),
            (("colour", "red"), "`colour`"),
        ] {
            let error = parse(&pairs(&[bad])).unwrap_err().to_string();
            assert!(error.contains(named), "{error}");
        }
    }
}
