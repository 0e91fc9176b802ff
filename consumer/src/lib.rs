//! `switchboard consume`: reads the Redis log stream with the consumer group `switchboard` and
//! writes records into the store, acknowledging each batch only after the store committed it.
//!
//! On start a consumer first re-reads its own pending entries (same `--consumer` name after a
//! crash), then, on every round, claims entries another consumer left pending for longer than
//! `claim_idle` (`XAUTOCLAIM`). Inserts are idempotent on `id`, so an entry delivered twice is
//! stored once. An entry that is not a record is copied to `<stream>:dead` and acknowledged.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value as RedisValue;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use switchboard_config::LoggingConfig;
use switchboard_store::{InsertSummary, Reopening};

mod error;

pub use error::ConsumeError;
use error::redis as redis_failed;

/// The consumer group every consumer joins (SPEC section 5).
pub const GROUP: &str = "switchboard";

/// How a consumer runs.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// This consumer's name in the group (stable across restarts to pick up its own pending).
    pub name: String,
    /// Entries per read.
    pub batch: usize,
    /// Pending entries idle this long are claimed from other consumers.
    pub claim_idle: Duration,
    /// How long one blocking read waits for new entries.
    pub block: Duration,
}

impl ConsumerOptions {
    /// Defaults with `name`.
    pub fn named(name: String) -> ConsumerOptions {
        ConsumerOptions {
            name,
            batch: 2_000,
            claim_idle: Duration::from_secs(30),
            block: Duration::from_millis(1000),
        }
    }
}

/// How often a retention pass runs after the first (at start).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Counts of one consumer's work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeStats {
    /// Records inserted (new).
    pub inserted: u64,
    /// Entries that were already stored.
    pub duplicates: u64,
    /// Entries that were not records (sent to the dead stream).
    pub dead: u64,
}

/// Runs until `shutdown` resolves (finishing the batch in hand). Redis or store failures are
/// retried with backoff: nothing is acknowledged that the store did not commit.
pub async fn run(
    config: &LoggingConfig,
    options: ConsumerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<ConsumeStats, ConsumeError> {
    let url = config.redis_url.as_deref().ok_or(ConsumeError::NoRedis)?;
    let client = redis::Client::open(url).map_err(|e| ConsumeError::RedisUrl(e.kind()))?;
    // The store is used from blocking threads (its drivers block), and opened again after its
    // connection broke: a database restart fails a few batches, which are retried.
    // `logging.retention_days`: a pass now, then hourly, on a connection of its own.
    let (store_url, retention_days) = (config.store.clone(), config.retention_days);
    let (store, _retention) = tokio::task::spawn_blocking(move || {
        let store = Reopening::open(&store_url)?;
        let retention = retention_days
            .map(|days| {
                let expired = metrics::counter!("switchboard_store_records_expired_total");
                switchboard_store::Retention::start(&store_url, days, RETENTION_EVERY, move |n| {
                    expired.increment(n)
                })
            })
            .transpose()?;
        Ok((Arc::new(Mutex::new(store)), retention))
    })
    .await
    .map_err(|e| ConsumeError::StoreTask(e.to_string()))?
    .map_err(ConsumeError::StoreOpen)?;
    let mut consumer = Consumer {
        client,
        connection: None,
        stream: config.stream.clone(),
        options,
        stats: ConsumeStats::default(),
        own_pending_done: false,
    };
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(100);
    loop {
        let round = tokio::select! {
            round = consumer.round(&store) => round,
            () = &mut shutdown => break,
        };
        match round {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!("consume: {e}; retrying in {backoff:?}");
                consumer.connection = None;
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    Ok(consumer.stats)
}

/// The store, shared with the blocking threads that write into it.
type SharedStore = Arc<Mutex<Reopening>>;

/// Inserts `(entry id, record)` pairs on a blocking thread; gives them back with the summary.
async fn insert(
    store: &SharedStore,
    records: Vec<(String, String)>,
) -> Result<(Vec<(String, String)>, InsertSummary), ConsumeError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
        let summary = {
            let texts: Vec<&str> = records.iter().map(|(_, r)| r.as_str()).collect();
            store.with(|store| store.insert_batch(&texts))
        };
        summary.map(|summary| (records, summary))
    })
    .await
    .map_err(|e| ConsumeError::StoreTask(e.to_string()))?
    .map_err(ConsumeError::StoreInsert)
}

struct Consumer {
    client: redis::Client,
    connection: Option<MultiplexedConnection>,
    stream: String,
    options: ConsumerOptions,
    stats: ConsumeStats,
    own_pending_done: bool,
}

impl Consumer {
    async fn connection(&mut self) -> Result<MultiplexedConnection, ConsumeError> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        // Reads block for `options.block`: the response timeout must outlast them.
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(self.options.block + Duration::from_secs(5)));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(redis_failed("cannot connect to Redis"))?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(redis_failed("cannot create the consumer group")(e));
        }
        self.connection = Some(connection.clone());
        Ok(connection)
    }

    /// One round: own pending (first round only), claimed entries, then new entries.
    async fn round(&mut self, store: &SharedStore) -> Result<(), ConsumeError> {
        let mut connection = self.connection().await?;
        if !self.own_pending_done {
            // Entries delivered to this name before a crash, never acknowledged.
            loop {
                let entries = self.read(&mut connection, "0", None).await?;
                if entries.is_empty() {
                    break;
                }
                self.store_and_ack(&mut connection, store, entries).await?;
            }
            self.own_pending_done = true;
        }
        let claimed = self.autoclaim(&mut connection).await?;
        if !claimed.is_empty() {
            return self.store_and_ack(&mut connection, store, claimed).await;
        }
        let block = Some(self.options.block);
        let entries = self.read(&mut connection, ">", block).await?;
        if entries.is_empty() {
            return Ok(());
        }
        self.store_and_ack(&mut connection, store, entries).await
    }

    async fn read(
        &self,
        connection: &mut MultiplexedConnection,
        from: &str,
        block: Option<Duration>,
    ) -> Result<Vec<StreamId>, ConsumeError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.options.name)
            .arg("COUNT")
            .arg(self.options.batch);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(block.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(from);
        let reply: Option<StreamReadReply> = cmd
            .query_async(connection)
            .await
            .map_err(redis_failed("XREADGROUP failed"))?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    async fn autoclaim(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<Vec<StreamId>, ConsumeError> {
        let reply: RedisValue = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.options.name)
            .arg(self.options.claim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(self.options.batch)
            .query_async(connection)
            .await
            .map_err(redis_failed("XAUTOCLAIM failed"))?;
        redis::from_redis_value::<StreamAutoClaimReply>(reply)
            .map(|r| r.claimed)
            .map_err(|e| ConsumeError::Reply {
                what: "XAUTOCLAIM",
                why: e.to_string(),
            })
    }

    async fn store_and_ack(
        &mut self,
        connection: &mut MultiplexedConnection,
        store: &SharedStore,
        entries: Vec<StreamId>,
    ) -> Result<(), ConsumeError> {
        let mut records = Vec::with_capacity(entries.len());
        let mut dead = Vec::new();
        for entry in &entries {
            match entry.get::<String>("log") {
                Some(record) => records.push((entry.id.clone(), record)),
                None => dead.push((entry.id.clone(), "the entry has no `log` field".to_owned())),
            }
        }
        let (records, summary) = insert(store, records).await?;
        self.stats.inserted += summary.inserted as u64;
        self.stats.duplicates += summary.duplicates as u64;
        for (index, why) in summary.rejected {
            if let Some((id, _)) = records.get(index) {
                dead.push((id.clone(), why));
            }
        }
        for (id, why) in &dead {
            tracing::error!(
                "stream entry {id} is not a valid record ({why}); moved to {}:dead",
                self.stream
            );
            let original = records
                .iter()
                .find(|(rid, _)| rid == id)
                .map(|(_, r)| r.as_str())
                .unwrap_or("");
            let _: String = redis::cmd("XADD")
                .arg(format!("{}:dead", self.stream))
                .arg("*")
                .arg("id")
                .arg(id)
                .arg("why")
                .arg(why)
                .arg("log")
                .arg(original)
                .query_async(connection)
                .await
                .map_err(redis_failed("XADD to the dead stream failed"))?;
        }
        self.stats.dead += dead.len() as u64;
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let _: u64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&ids)
            .query_async(connection)
            .await
            .map_err(redis_failed("XACK failed"))?;
        Ok(())
    }
}
