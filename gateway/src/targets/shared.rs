//! Overrides shared by a fleet (SPEC section 9.2): with `logging.redis_url` set, disable and
//! enable orders live in the Redis hash `<stream>:overrides`, so every gateway on that Redis
//! applies a flip within a second and a restarted gateway starts with them.
//!
//! Each gateway re-reads the whole hash every [`SYNC_EVERY`] and makes its overrides exactly
//! that (a plain poll rather than pub/sub: one small `HGETALL`, nothing to resubscribe after
//! Redis comes back, and the same code path at start and at every change). Expired orders are
//! ignored by every reader and deleted by the next writer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use serde_json::{Value, json};

use super::TargetStates;
use super::overrides::Disabled;

/// How often a gateway re-reads the fleet's overrides.
pub const SYNC_EVERY: Duration = Duration::from_millis(500);

/// The fleet's overrides in Redis.
#[derive(Clone)]
pub struct SharedOverrides {
    client: redis::Client,
    key: String,
}

/// Why the shared overrides could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the shared target overrides in Redis: {0}")]
pub struct SharedError(#[from] redis::RedisError);

fn field(provider: &str, model: Option<&str>) -> String {
    json!({"provider": provider, "model": model}).to_string()
}

impl SharedOverrides {
    /// The hash `<stream>:overrides` on the Redis at `url`.
    pub fn new(url: &str, stream: &str) -> Result<SharedOverrides, SharedError> {
        Ok(SharedOverrides {
            client: redis::Client::open(url)?,
            key: format!("{stream}:overrides"),
        })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, SharedError> {
        let connect = self.client.get_multiplexed_async_connection();
        match tokio::time::timeout(Duration::from_secs(2), connect).await {
            Ok(connection) => Ok(connection?),
            Err(_) => Err(SharedError(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connecting timed out",
            )))),
        }
    }

    /// Writes one order for the fleet (`None` enables).
    pub async fn publish(
        &self,
        provider: &str,
        model: Option<&str>,
        disabled: Option<&Disabled>,
    ) -> Result<(), SharedError> {
        let mut connection = self.connection().await?;
        let field = field(provider, model);
        match disabled {
            Some(d) => {
                let until = d
                    .until
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|t| t.as_secs_f64());
                let value = json!({"reason": d.reason, "until": until}).to_string();
                let () = connection.hset(&self.key, field, value).await?;
            }
            None => {
                let () = connection.hdel(&self.key, field).await?;
                if model.is_none() {
                    // Enabling a provider clears its models' own orders too.
                    let all: HashMap<String, String> = connection.hgetall(&self.key).await?;
                    for (f, _) in all {
                        let parsed: Value = serde_json::from_str(&f).unwrap_or(Value::Null);
                        if parsed["provider"] == provider {
                            let () = connection.hdel(&self.key, f).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads every order in force.
    async fn read(&self) -> Result<Vec<(String, Option<String>, Disabled)>, SharedError> {
        let mut connection = self.connection().await?;
        let all: HashMap<String, String> = connection.hgetall(&self.key).await?;
        let now = SystemTime::now();
        let mut orders = Vec::new();
        for (field, value) in all {
            let (Ok(field), Ok(value)) = (
                serde_json::from_str::<Value>(&field),
                serde_json::from_str::<Value>(&value),
            ) else {
                continue;
            };
            let Some(provider) = field["provider"].as_str() else {
                continue;
            };
            let disabled = Disabled {
                reason: value["reason"].as_str().map(str::to_owned),
                until: value["until"]
                    .as_f64()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .and_then(|d| UNIX_EPOCH.checked_add(d)),
            };
            if disabled.in_force(now) {
                let model = field["model"].as_str().map(str::to_owned);
                orders.push((provider.to_owned(), model, disabled));
            }
        }
        Ok(orders)
    }

    /// Keeps `states` equal to the fleet's orders, re-reading every [`SYNC_EVERY`], forever.
    pub async fn sync(self, states: Arc<TargetStates>) {
        let mut failing = false;
        loop {
            match self.read().await {
                Ok(orders) => {
                    if failing {
                        tracing::info!("shared target overrides readable again");
                        failing = false;
                    }
                    states.replace_all(&orders);
                }
                Err(e) if !failing => {
                    tracing::warn!("{e}; keeping the overrides last read");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(SYNC_EVERY).await;
        }
    }
}
