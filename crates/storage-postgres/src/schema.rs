//! Numbered schema migrations, embedded in the binary and applied in order at open.
//!
//! Each applied migration leaves a row in `ferrite_schema_migrations`, so a reopen applies
//! only the new ones. All pending migrations run in one transaction under an advisory lock
//! scoped to the current schema: nodes of a cluster starting together migrate once, and a
//! failed migration leaves the schema as it was (PostgreSQL DDL is transactional). A schema
//! stamped with a version this build does not know is refused rather than written to.

use futures_util::future::BoxFuture;
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::error::PgStoreError;

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
    (
        4,
        "session_owner",
        include_str!("../migrations/0004_session_owner.sql"),
    ),
    (
        5,
        "retained_stamp",
        include_str!("../migrations/0005_retained_stamp.sql"),
    ),
    (
        6,
        "session_fence",
        include_str!("../migrations/0006_session_fence.sql"),
    ),
    (
        7,
        "retained_tombstones",
        include_str!("../migrations/0007_retained_tombstones.sql"),
    ),
    (
        8,
        "session_inbox",
        include_str!("../migrations/0008_session_inbox.sql"),
    ),
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the current schema (the first of the connection's `search_path` that exists) up
/// to [`latest_version`].
///
/// Boxed with an explicit `Send`: the callers' futures must be `Send`, and the compiler
/// cannot prove that through sqlx's higher-ranked executor bounds unless told here.
pub(crate) fn migrate(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), PgStoreError>> {
    Box::pin(migrate_inner(conn))
}

async fn migrate_inner(conn: &mut PgConnection) -> Result<(), PgStoreError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(PgStoreError::sql("migrate: begin"))?;
    let schema: Option<String> = sqlx::query("SELECT current_schema()")
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(PgStoreError::sql("migrate: read current schema"))?;
    let Some(schema) = schema else {
        return Err(PgStoreError::NoSchema);
    };
    // Held to the end of the transaction. Keyed by schema so that unrelated schemas in one
    // database (tests running in parallel) do not queue behind each other.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('ferrite_schema_migrations:' || $1))")
        .bind(&schema)
        .execute(&mut *tx)
        .await
        .map_err(PgStoreError::sql("migrate: lock"))?;
    tx.execute(sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS ferrite_schema_migrations (
             version    BIGINT      NOT NULL PRIMARY KEY,
             name       TEXT        NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    ))
    .await
    .map_err(PgStoreError::sql(
        "migrate: create ferrite_schema_migrations",
    ))?;

    let current: i64 =
        sqlx::query("SELECT COALESCE(MAX(version), 0)::BIGINT FROM ferrite_schema_migrations")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(PgStoreError::sql("migrate: read schema version"))?;
    if current > latest_version() {
        return Err(PgStoreError::SchemaTooNew {
            found: current,
            supported: latest_version(),
        });
    }

    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(PgStoreError::sql("migrate: apply migration"))
            .inspect_err(|err| tracing::error!(version, name, error = %err, "migration failed"))?;
        sqlx::query("INSERT INTO ferrite_schema_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(PgStoreError::sql("migrate: record migration"))?;
        applied.push((version, name));
    }
    tx.commit()
        .await
        .map_err(PgStoreError::sql("migrate: commit"))?;
    for (version, name) in applied {
        tracing::info!(version, name, schema, "applied storage migration");
    }
    Ok(())
}
