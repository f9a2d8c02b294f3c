//! Connections to the systems rule actions and lookups deliver to, shared by every rule of
//! the engine and opened on first use: one PostgreSQL pool per database URL (dynamoDB
//! actions and `get_dynamodb`), one NATS client per server URL (kinesis, firehose, sns). A
//! system that is down costs nothing until a rule needs it, and a failed connection is not
//! remembered: the next job tries again.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::OnceCell;

use super::tables::Database;

/// Connections a pool opens to one database at most: lookups and writes of every rule share
/// them.
const PG_CONNECTIONS: u32 = 8;
/// How long a job waits to connect, to NATS or for a pooled connection, before it fails
/// (transiently: the action retries).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(crate) struct Clients {
    databases: Mutex<HashMap<String, Arc<Database>>>,
    nats: Mutex<HashMap<String, Arc<OnceCell<async_nats::Client>>>>,
}

impl Clients {
    /// The database at `url` (created lazily: no connection is made until a query needs one).
    pub fn database(&self, url: &str) -> Result<Arc<Database>, String> {
        if let Some(db) = self.databases.lock().get(url) {
            return Ok(db.clone());
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| format!("{} is not a PostgreSQL URL: {e}", redacted(url)))?
            .application_name("ferrite-rules")
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(PG_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        let db = Arc::new(Database::new(pool));
        Ok(self
            .databases
            .lock()
            .entry(url.to_owned())
            .or_insert(db)
            .clone())
    }

    /// A client connected to the NATS server at `url`; it reconnects by itself once
    /// connected.
    pub async fn nats(&self, url: &str) -> Result<async_nats::Client, String> {
        let cell = self.nats.lock().entry(url.to_owned()).or_default().clone();
        cell.get_or_try_init(|| async {
            async_nats::ConnectOptions::new()
                .connection_timeout(CONNECT_TIMEOUT)
                .name("ferrite-rules")
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))
        })
        .await
        .cloned()
    }
}

/// `url` without a password, for messages.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => "the configured value".to_owned(),
    }
}
