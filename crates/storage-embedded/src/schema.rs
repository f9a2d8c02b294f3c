//! Numbered schema migrations, embedded in the binary and applied in order at open.
//!
//! Each applied migration leaves a row in `schema_migrations`, so a reopen applies only the
//! new ones. A database stamped with a version this build does not know is refused rather
//! than written to, since an older binary cannot know what a newer schema means.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrite_storage::StorageError;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::SqlContext;

/// (version, name, SQL). Versions are strictly increasing; never edit a shipped migration,
/// add a new one instead.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "broker", include_str!("../migrations/0001_broker.sql")),
    (
        2,
        "registry",
        include_str!("../migrations/0002_registry.sql"),
    ),
    (
        3,
        "registry_sequence",
        include_str!("../migrations/0003_registry_sequence.sql"),
    ),
];

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the database up to `latest_version()`, each migration in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version       INTEGER NOT NULL PRIMARY KEY,
             name          TEXT    NOT NULL,
             applied_at_ms INTEGER NOT NULL
         );",
    )
    .ctx("create schema_migrations")?;

    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .ctx("read schema version")?;
    if current > latest_version() {
        return Err(StorageError::Unavailable(format!(
            "database schema version {current} is newer than this build supports ({})",
            latest_version()
        )));
    }

    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        // IMMEDIATE so two processes opening the same fresh file cannot both migrate.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("begin migration")?;
        let already: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [version],
                |row| row.get(0),
            )
            .ctx("check migration")?;
        if already {
            continue;
        }
        tx.execute_batch(sql).map_err(|e| {
            crate::error::sql_error(&format!("apply migration {version:04}_{name}"), e)
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
            params![version, name, now_ms()],
        )
        .ctx("record migration")?;
        tx.commit().ctx("commit migration")?;
        tracing::info!(version, name, "applied storage migration");
    }
    Ok(())
}

/// When a migration was applied: an operator's record, not a value the code compares.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
