//! `RegistryStore` on PostgreSQL: one row per record in `registry`, conditional batches as
//! READ COMMITTED transactions that lock every record they name, on pooled connections;
//! reads are single statements on the pool, and sequence numbers come from a PostgreSQL
//! sequence. Registry writes skip the writer task and its
//! group commit: they come at control-plane rate, and each needs its own decision anyway.
//!
//! # Isolation: a row lock on every record a batch names, in key order
//!
//! A batch locks the row of each record it names, in `(kind, key)` byte order, reads their
//! versions, decides in Rust (each write sees the ones before it) and writes the net effect
//! on rows it holds. Holding every lock until commit (two-phase locking) makes batches
//! serializable against each other, on this node or another. The part that needs care is a
//! record that does not exist: there is no row to lock, and without a lock batch A
//! `[Check(y, Absent), Put(x, Absent)]` and batch B `[Check(x, Absent), Put(y, Absent)]`
//! would both apply, which no serial order allows (write skew; the conformance suite runs
//! exactly this). So the batch inserts a placeholder row for it (version 0), relying on the
//! primary key: a concurrent inserter of the same key waits for this transaction, and then
//! finds the real row or nothing. Placeholders are deleted or become the real record before
//! commit, and are never visible to anyone else (uncommitted rows are not).
//!
//! Why not SERIALIZABLE, which catches that write skew by itself: its read tracking is
//! coarse (the whole table when the planner picks a sequential scan, as it does on small
//! tables; an index page for an absent key), so concurrent batches on unrelated records
//! fail each other and must be retried, and under a burst of writers a batch can lose many
//! times in a row (measured with the conformance suite's eight writers: more than 30
//! consecutive failures). Locks make those batches wait instead, and make conflicting ones
//! conflict exactly. Locking in one global order means two batches cannot deadlock.
//!
//! Serialization failures and deadlocks are still retried (the whole batch, re-reading
//! everything): PostgreSQL-wire databases such as CockroachDB run every transaction
//! SERIALIZABLE and report contention that way.

use ferrite_storage::{
    Change, Expect, Page, Record, RegistryStore, StorageError, StoreFuture, Write, WriteOutcome,
};
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};

use crate::PostgresStore;
use crate::error::PgStoreError;

/// How often a batch is run again after a serialization failure or deadlock before its
/// caller gets the error. PostgreSQL itself reports neither for registry batches (see the
/// module docs); databases that run everything SERIALIZABLE do.
const RETRIES: u32 = 30;

/// How often a batch tries to lock one record that keeps being deleted and re-created
/// between the attempt to lock its row and the attempt to create a placeholder. Each
/// attempt fails only because another transaction committed in between.
const LOCK_ATTEMPTS: u32 = 100;

impl RegistryStore for PostgresStore {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(async move {
            self.open_for_registry()?;
            Ok(get(&self.pool, kind, key).await?)
        })
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        Box::pin(async move {
            self.open_for_registry()?;
            Ok(list(&self.pool, kind, prefix, after, limit).await?)
        })
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        Box::pin(async move {
            self.open_for_registry()?;
            Ok(write(&self.pool, &batch).await?)
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.open_for_registry()?;
            Ok(clear(&self.pool).await?)
        })
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            self.open_for_registry()?;
            Ok(next_sequence(&self.pool).await?)
        })
    }
}

impl PostgresStore {
    fn open_for_registry(&self) -> Result<(), StorageError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        Ok(())
    }
}

fn corrupt(column: &'static str, what: &str) -> PgStoreError {
    PgStoreError::Corrupt {
        table: "registry",
        column,
        what: what.to_owned(),
    }
}

fn version_from_sql(version: i64) -> Result<u64, PgStoreError> {
    match u64::try_from(version) {
        Ok(0) => Err(corrupt(
            "version",
            "0, a batch's placeholder, was committed",
        )),
        Ok(version) => Ok(version),
        Err(_) => Err(corrupt("version", "negative")),
    }
}

fn version_to_sql(version: u64) -> Result<i64, PgStoreError> {
    i64::try_from(version).map_err(|_| corrupt("version", "beyond BIGINT"))
}

fn row_record(
    row: &sqlx::postgres::PgRow,
    kind: &str,
    key: String,
) -> Result<Record, PgStoreError> {
    let version: i64 = row
        .try_get("version")
        .map_err(|e| corrupt("version", &format!("unreadable ({e})")))?;
    Ok(Record {
        kind: kind.to_owned(),
        key,
        version: version_from_sql(version)?,
        doc: row
            .try_get("doc")
            .map_err(|e| corrupt("doc", &format!("unreadable ({e})")))?,
    })
}

async fn get(pool: &PgPool, kind: &str, key: &str) -> Result<Option<Record>, PgStoreError> {
    // PostgreSQL refuses NUL in text, so no stored record can have it: nothing to find.
    if kind.contains('\0') || key.contains('\0') {
        return Ok(None);
    }
    let row = sqlx::query("SELECT version, doc FROM registry WHERE kind = $1 AND key = $2")
        .bind(kind)
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(PgStoreError::sql("registry: get"))?;
    row.map(|row| row_record(&row, kind, key.to_owned()))
        .transpose()
}

/// The least string above every string that starts with `prefix`, or `None` if nothing is
/// (an empty prefix, or one of only U+10FFFF). Byte order on UTF-8 is code point order, so
/// this is the prefix with its last incrementable character incremented and cut after it.
/// It bounds the index scan: without it a short page would read on to the end of the kind.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{d7ff}' => Some('\u{e000}'), // across the surrogate gap
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

async fn list(
    pool: &PgPool,
    kind: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, PgStoreError> {
    let empty = Page {
        records: Vec::new(),
        next_after: None,
    };
    if kind.contains('\0') || prefix.contains('\0') {
        return Ok(empty);
    }
    // Stored keys hold no NUL, and for those `key > "a\0..."` is exactly `key > "a"`.
    let after = after.map(|a| a.split('\0').next().unwrap_or(a));
    let limit = limit.max(1);
    let (from, inclusive) = match after {
        Some(a) if a >= prefix => (a, false),
        _ => (prefix, true),
    };
    let end = prefix_end(prefix);
    if end.as_deref().is_some_and(|end| from >= end) {
        return Ok(empty);
    }
    let sql = match (inclusive, end.is_some()) {
        (true, true) => {
            "SELECT key, version, doc FROM registry
             WHERE kind = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4"
        }
        (false, true) => {
            "SELECT key, version, doc FROM registry
             WHERE kind = $1 AND key > $2 AND key < $3 ORDER BY key LIMIT $4"
        }
        (true, false) => {
            "SELECT key, version, doc FROM registry
             WHERE kind = $1 AND key >= $2 ORDER BY key LIMIT $4"
        }
        (false, false) => {
            "SELECT key, version, doc FROM registry
             WHERE kind = $1 AND key > $2 ORDER BY key LIMIT $4"
        }
    };
    // One row beyond the page tells whether another follows. `$3` is bound (to NULL) even
    // where unused, so that every form takes the same parameters.
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(from)
        .bind(end.as_deref())
        .bind(fetch)
        .fetch_all(pool)
        .await
        .map_err(PgStoreError::sql("registry: list"))?;
    let more = rows.len() > limit;
    let mut records = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        let key: String = row
            .try_get("key")
            .map_err(|e| corrupt("key", &format!("unreadable ({e})")))?;
        records.push(row_record(row, kind, key)?);
    }
    let next_after = if more {
        records.last().map(|r| r.key.clone())
    } else {
        None
    };
    Ok(Page {
        records,
        next_after,
    })
}

/// Refused before any SQL runs, with a clear message, rather than as PostgreSQL's
/// "invalid byte sequence" from the middle of a transaction.
fn refuse_nul(batch: &[Write]) -> Result<(), PgStoreError> {
    match ferrite_storage::nul_field(batch) {
        None => Ok(()),
        Some("kind") => Err(PgStoreError::NulInText {
            field: "registry kind",
        }),
        Some("key") => Err(PgStoreError::NulInText {
            field: "registry key",
        }),
        Some(_) => Err(PgStoreError::NulInText {
            field: "registry doc",
        }),
    }
}

async fn write(pool: &PgPool, batch: &[Write]) -> Result<WriteOutcome, PgStoreError> {
    refuse_nul(batch)?;
    if batch.is_empty() {
        return Ok(WriteOutcome::Applied);
    }
    let mut conn = pool
        .acquire()
        .await
        .map_err(PgStoreError::sql("registry: acquire connection"))?;
    let mut retries = 0;
    loop {
        match attempt_write(&mut conn, batch).await {
            Err(err) if err.is_retryable() && retries < RETRIES => {
                retries += 1;
                tracing::debug!(error = %err, retries, "registry batch failed to serialize, running it again");
            }
            result => return result,
        }
    }
}

async fn attempt_write(
    conn: &mut PgConnection,
    batch: &[Write],
) -> Result<WriteOutcome, PgStoreError> {
    // Explicit, because `default_transaction_isolation` may be set higher on the server, and
    // locking needs each statement to see what committed before it (see `lock_record`).
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(PgStoreError::sql("registry: begin"))?;
    match decide_and_apply(&mut tx, batch).await {
        Ok(WriteOutcome::Applied) => {
            tx.commit()
                .await
                .map_err(PgStoreError::sql("registry: commit"))?;
            Ok(WriteOutcome::Applied)
        }
        other => {
            // A conflict keeps nothing, and after a failed statement the transaction is
            // aborted. If the rollback itself fails the connection is broken, and the pool
            // tests it before handing it out again.
            if let Err(err) = tx.rollback().await {
                tracing::debug!(error = %err, "registry: rollback failed");
            }
            other
        }
    }
}

/// Locks the row of one record, inserting a placeholder (version 0) when it has none, and
/// returns its version (`None`: absent). READ COMMITTED makes this work: each statement sees
/// what was committed before it, and `FOR UPDATE` returns the row as its last locker left it.
async fn lock_record(
    conn: &mut PgConnection,
    kind: &str,
    key: &str,
) -> Result<Option<u64>, PgStoreError> {
    for _ in 0..LOCK_ATTEMPTS {
        let row =
            sqlx::query("SELECT version FROM registry WHERE kind = $1 AND key = $2 FOR UPDATE")
                .bind(kind)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(PgStoreError::sql("registry: lock record"))?;
        if let Some(row) = row {
            let version: i64 = row
                .try_get(0)
                .map_err(|e| corrupt("version", &format!("unreadable ({e})")))?;
            return version_from_sql(version).map(Some);
        }
        // Waits for a transaction that has inserted the same key to finish; then inserts,
        // or finds that it committed the record, which the next lock attempt will get.
        let inserted = sqlx::query(
            "INSERT INTO registry (kind, key, version, doc) VALUES ($1, $2, 0, '')
             ON CONFLICT (kind, key) DO NOTHING",
        )
        .bind(kind)
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(PgStoreError::sql("registry: lock absent record"))?
        .rows_affected();
        if inserted == 1 {
            return Ok(None);
        }
    }
    Err(PgStoreError::Contended {
        attempts: LOCK_ATTEMPTS,
    })
}

/// Locks and reads the batch's records, evaluates its conditions in order, and writes the
/// net effect. Leaves the transaction open for the caller to commit or roll back.
async fn decide_and_apply(
    conn: &mut PgConnection,
    batch: &[Write],
) -> Result<WriteOutcome, PgStoreError> {
    // Every record the batch names, once each, in byte order: the global lock order.
    let mut ids: Vec<(&str, &str)> = batch
        .iter()
        .map(|w| (w.kind.as_str(), w.key.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut current = Vec::with_capacity(ids.len());
    for &(kind, key) in &ids {
        current.push(lock_record(conn, kind, key).await?);
    }

    // The doc of each record whose last change in the batch is a put.
    let mut docs: Vec<Option<&str>> = vec![None; ids.len()];
    for (index, w) in batch.iter().enumerate() {
        let i = ids
            .binary_search_by(|id| (*id).cmp(&(w.kind.as_str(), w.key.as_str())))
            .map_err(|_| corrupt("key", "a batch key went missing"))?;
        let holds = match w.expect {
            Expect::Any => true,
            Expect::Absent => current[i].is_none(),
            Expect::Present => current[i].is_some(),
            Expect::Version(v) => current[i] == Some(v),
        };
        if !holds {
            return Ok(WriteOutcome::Conflict { index });
        }
        match &w.change {
            Change::Put(doc) => {
                current[i] = Some(current[i].unwrap_or(0) + 1);
                docs[i] = Some(doc);
            }
            Change::Delete => {
                current[i] = None;
                docs[i] = None;
            }
            Change::Check => {}
        }
    }

    // Every record named now has a row held by this transaction (real or placeholder), so
    // the net effect is an update or a delete of it, and nothing here waits for a lock.
    for (i, &(kind, key)) in ids.iter().enumerate() {
        match (current[i], docs[i]) {
            (Some(version), Some(doc)) => {
                sqlx::query(
                    "UPDATE registry SET version = $3, doc = $4 WHERE kind = $1 AND key = $2",
                )
                .bind(kind)
                .bind(key)
                .bind(version_to_sql(version)?)
                .bind(doc)
                .execute(&mut *conn)
                .await
                .map_err(PgStoreError::sql("registry: put"))?;
            }
            (None, _) => {
                sqlx::query("DELETE FROM registry WHERE kind = $1 AND key = $2")
                    .bind(kind)
                    .bind(key)
                    .execute(&mut *conn)
                    .await
                    .map_err(PgStoreError::sql("registry: delete"))?;
            }
            // Only checked: the row stays as it was.
            (Some(_), None) => {}
        }
    }
    Ok(WriteOutcome::Applied)
}

async fn next_sequence(pool: &PgPool) -> Result<u64, PgStoreError> {
    let value: i64 = sqlx::query("SELECT nextval('registry_sequence')")
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(PgStoreError::sql("registry: next sequence"))?;
    u64::try_from(value).map_err(|_| PgStoreError::Corrupt {
        table: "registry_sequence",
        column: "value",
        what: "negative".to_owned(),
    })
}

async fn clear(pool: &PgPool) -> Result<(), PgStoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(PgStoreError::sql("registry: acquire connection"))?;
    let mut retries = 0;
    loop {
        match attempt_clear(&mut conn).await {
            Err(err) if err.is_retryable() && retries < RETRIES => retries += 1,
            result => return result,
        }
    }
}

async fn attempt_clear(conn: &mut PgConnection) -> Result<(), PgStoreError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(PgStoreError::sql("registry: begin clear"))?;
    // EXCLUSIVE waits for the batches in flight and holds new ones back (reads go on), so
    // the DELETE takes no row lock a batch holds: without it the two can deadlock, which
    // PostgreSQL takes `deadlock_timeout` to notice.
    tx.execute(sqlx::raw_sql(
        "LOCK TABLE registry IN EXCLUSIVE MODE; DELETE FROM registry",
    ))
    .await
    .map_err(PgStoreError::sql("registry: clear"))?;
    tx.commit()
        .await
        .map_err(PgStoreError::sql("registry: commit clear"))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_bounds_exactly_the_prefixed_strings() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
        assert_eq!(prefix_end("\u{d7ff}").as_deref(), Some("\u{e000}"));
        assert_eq!(prefix_end("z\u{10ffff}").as_deref(), Some("{"));
        assert_eq!(prefix_end("\u{10ffff}\u{10ffff}"), None);
        for (prefix, inside, outside) in [
            ("a/", "a/\u{10ffff}\u{10ffff}", "a0"),
            ("\u{d7ff}", "\u{d7ff}\u{10ffff}", "\u{e000}"),
            ("x\u{10ffff}", "x\u{10ffff}\u{10ffff}z", "y"),
        ] {
            let end = prefix_end(prefix).expect("bounded");
            assert!(prefix <= inside && inside < end.as_str(), "{prefix:?}");
            assert!(outside >= end.as_str(), "{prefix:?}");
        }
    }
}
