//! Helpers for tests and benchmarks that need a real PostgreSQL: the server comes from
//! `FERRITE_TEST_POSTGRES_URL`, and each user gets a scratch schema of its own, so tests run
//! in parallel (even in separate processes) and every run starts empty.

// Test support (feature `testing`): scratch schema names only need to be unique.
#![allow(clippy::disallowed_methods)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrite_storage::conformance::StoreLocation;
use ferrite_storage::registry_conformance::RegistryLocation;
use ferrite_storage::{BrokerStore, StorageError, StoreFuture};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, Row};

use crate::error::{PgStoreError, redact_url};
use crate::{PgStoreOptions, PostgresStore};

/// The variable naming the test server, e.g. `postgres://postgres@127.0.0.1:5432/ferrite_test`.
pub const TEST_URL_VAR: &str = "FERRITE_TEST_POSTGRES_URL";

const SCHEMA_PREFIX: &str = "ferrite_t_";

/// Scratch schemas older than this are left over from runs that were killed before their
/// teardown; creating a new one drops them.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The test server's URL, or `None` after printing a loud line saying that `what` is
/// skipped and why.
pub fn test_url(what: &str) -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "!! {TEST_URL_VAR} is not set: {what} is SKIPPED. Set it to a postgres:// URL \
                 of a database this user may create schemas in (scripts/test.sh does when \
                 PostgreSQL is reachable on 127.0.0.1:5432)."
            );
            None
        }
    }
}

/// A freshly created, empty schema in the test database. Stores opened on [`url`] or
/// [`connect_options`] put their tables there. Dropped by [`drop_schema`] (async, so not by
/// `Drop`).
///
/// [`url`]: ScratchSchema::url
/// [`connect_options`]: ScratchSchema::connect_options
/// [`drop_schema`]: ScratchSchema::drop_schema
#[derive(Debug)]
pub struct ScratchSchema {
    base_url: String,
    name: String,
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn admin_connection(base_url: &str) -> Result<PgConnection, StorageError> {
    let options = PgConnectOptions::from_str(base_url)
        .map_err(|source| PgStoreError::Url {
            url: redact_url(base_url),
            source,
        })?
        .disable_statement_logging();
    PgConnection::connect_with(&options)
        .await
        .map_err(|source| {
            PgStoreError::Connect {
                url: redact_url(base_url),
                source,
            }
            .into()
        })
}

impl ScratchSchema {
    /// Creates a schema with a name no other process or test uses.
    pub async fn create(base_url: &str) -> Result<ScratchSchema, StorageError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        // Creation time first, so stale schemas can be recognised by name alone.
        let name = format!(
            "{SCHEMA_PREFIX}{}_{}_{}",
            unix_secs(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin_connection(base_url).await?;
        drop_stale(&mut conn).await;
        conn.execute(sqlx::raw_sql(&format!("CREATE SCHEMA {name}")))
            .await
            .map_err(PgStoreError::sql("create scratch schema"))?;
        let _ = conn.close().await;
        Ok(ScratchSchema {
            base_url: base_url.to_owned(),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base URL with this schema as the connection's `search_path`.
    pub fn url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options[search_path]={}",
            self.base_url.trim_end_matches(['?', '&']),
            self.name
        )
    }

    pub fn connect_options(&self) -> Result<PgConnectOptions, StorageError> {
        PgConnectOptions::from_str(&self.base_url)
            .map(|o| o.options([("search_path", &self.name)]))
            .map_err(|source| {
                PgStoreError::Url {
                    url: redact_url(&self.base_url),
                    source,
                }
                .into()
            })
    }

    /// Drops the schema with everything in it. Idempotent.
    pub async fn drop_schema(&self) -> Result<(), StorageError> {
        let mut conn = admin_connection(&self.base_url).await?;
        conn.execute(sqlx::raw_sql(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        )))
        .await
        .map_err(PgStoreError::sql("drop scratch schema"))?;
        let _ = conn.close().await;
        Ok(())
    }
}

/// Best effort: a failure here must not fail the test that merely wanted a new schema.
async fn drop_stale(conn: &mut PgConnection) {
    let names: Vec<String> = match sqlx::query(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname::text, $1)",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(&mut *conn)
    .await
    {
        Ok(rows) => rows.iter().filter_map(|r| r.try_get(0).ok()).collect(),
        Err(_) => return,
    };
    let cutoff = unix_secs().saturating_sub(STALE_AFTER.as_secs());
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            // Quoted: the name came from the catalog, not from us.
            let sql = format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                name.replace('"', "\"\"")
            );
            if conn.execute(sqlx::raw_sql(&sql)).await.is_ok() {
                tracing::info!(schema = name, "dropped stale scratch schema");
            }
        }
    }
}

/// A [`StoreLocation`] in a scratch schema: opens [`PostgresStore`]s on it through its URL,
/// as the server does, and drops the schema on teardown.
#[derive(Debug)]
pub struct ScratchLocation {
    pub schema: ScratchSchema,
    pub options: PgStoreOptions,
}

impl ScratchLocation {
    /// A new location on the test server, or `None` (after saying loudly that `what` is
    /// skipped) when `FERRITE_TEST_POSTGRES_URL` is unset. Panics if the server named there
    /// cannot be used: a set variable means the tests are meant to run.
    pub async fn from_env(what: &str) -> Option<ScratchLocation> {
        let url = test_url(what)?;
        let schema = ScratchSchema::create(&url)
            .await
            .unwrap_or_else(|err| panic!("create a scratch schema: {err}"));
        Some(ScratchLocation {
            schema,
            options: PgStoreOptions::default(),
        })
    }

    pub async fn open_store(&self) -> Result<PostgresStore, StorageError> {
        PostgresStore::open(&self.schema.url(), self.options.clone()).await
    }

    /// A store of cluster node `node` on this location: its retained writes are stamped with
    /// `node`, and its fenced session writes apply only to sessions `node` owns.
    pub async fn open_store_as(&self, node: &str) -> Result<PostgresStore, StorageError> {
        let options = PgStoreOptions {
            node: node.to_owned(),
            ..self.options.clone()
        };
        PostgresStore::open(&self.schema.url(), options).await
    }
}

impl StoreLocation for ScratchLocation {
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>> {
        Box::pin(async move { Ok(Arc::new(self.open_store().await?) as Arc<dyn BrokerStore>) })
    }

    fn teardown(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.schema.drop_schema())
    }
}

impl RegistryLocation for ScratchLocation {
    type Store = PostgresStore;

    fn open(&self) -> StoreFuture<'_, Arc<PostgresStore>> {
        Box::pin(async move { Ok(Arc::new(self.open_store().await?)) })
    }

    fn close(&self, store: Arc<PostgresStore>) -> StoreFuture<'_, ()> {
        Box::pin(async move { store.close().await })
    }

    fn teardown(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.schema.drop_schema())
    }
}
