//! Delivery to the Redis stream: one pipelined batch of `XADD <stream> MAXLEN ~ <n> * log <json>`
//! over a multiplexed connection, reconnecting after a failure.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::SinkError;

/// How long connecting or one batch may take before Redis counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const BATCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes record batches to one Redis stream.
pub struct RedisStream {
    client: redis::Client,
    connection: Option<MultiplexedConnection>,
    stream: String,
    max_len: u64,
}

impl RedisStream {
    /// A writer for `url` (nothing is connected until the first batch).
    pub fn new(url: &str, stream: &str, max_len: u64) -> Result<RedisStream, SinkError> {
        let client = redis::Client::open(url).map_err(|e| SinkError::RedisUrl(e.kind()))?;
        Ok(RedisStream {
            client,
            connection: None,
            stream: stream.to_owned(),
            max_len,
        })
    }

    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, SinkError> {
        if self.connection.is_none() {
            let connect = self.client.get_multiplexed_async_connection();
            let connection = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| SinkError::RedisConnect("timed out".to_owned()))?
                .map_err(|e| SinkError::RedisConnect(e.to_string()))?;
            self.connection = Some(connection);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| SinkError::RedisConnect("no connection".to_owned()))
    }

    /// Appends `records` (JSON texts) in order.
    pub async fn deliver(&mut self, records: &[String]) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for record in records {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.max_len)
                .arg("*")
                .arg("log")
                .arg(record)
                .ignore();
        }
        let connection = self.connection().await?;
        let sent = tokio::time::timeout(BATCH_TIMEOUT, pipe.query_async::<()>(connection)).await;
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.connection = None;
                Err(SinkError::Xadd(e.to_string()))
            }
            Err(_) => {
                self.connection = None;
                Err(SinkError::Xadd("timed out".to_owned()))
            }
        }
    }
}
