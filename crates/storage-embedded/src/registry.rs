//! `RegistryStore` on SQLite: conditional batches and sequence numbers run on the writer
//! thread, each in its own transaction; reads use the read connection on the blocking pool.

use ferrite_storage::{Change, Expect, Page, Record, StorageError, Write, WriteOutcome};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::SqlContext;

/// Applies `batch` in one transaction if every condition holds.
pub(crate) fn write(conn: &mut Connection, batch: &[Write]) -> Result<WriteOutcome, StorageError> {
    refuse_nul(batch)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("registry: begin")?;
    for (index, w) in batch.iter().enumerate() {
        let current: Option<i64> = tx
            .prepare_cached("SELECT version FROM registry WHERE kind = ?1 AND key = ?2")
            .ctx("registry: prepare version")?
            .query_row(params![w.kind, w.key], |row| row.get(0))
            .optional()
            .ctx("registry: read version")?;
        let holds = match w.expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Present => current.is_some(),
            Expect::Version(v) => current == Some(v as i64),
        };
        if !holds {
            // Dropping the transaction rolls back what earlier writes of the batch did.
            return Ok(WriteOutcome::Conflict { index });
        }
        match &w.change {
            Change::Put(doc) => {
                tx.prepare_cached(
                    "INSERT INTO registry (kind, key, version, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, doc = excluded.doc",
                )
                .ctx("registry: prepare put")?
                .execute(params![w.kind, w.key, current.unwrap_or(0) + 1, doc])
                .ctx("registry: put")?;
            }
            Change::Delete => {
                tx.prepare_cached("DELETE FROM registry WHERE kind = ?1 AND key = ?2")
                    .ctx("registry: prepare delete")?
                    .execute(params![w.kind, w.key])
                    .ctx("registry: delete")?;
            }
            Change::Check => {}
        }
    }
    tx.commit().ctx("registry: commit")?;
    Ok(WriteOutcome::Applied)
}

/// `LIMIT` for a page of `limit` records plus the one that tells whether more follow.
/// Saturating: `usize::MAX` ("everything") must neither overflow the `+ 1` (a panic in debug
/// builds) nor wrap to `LIMIT 0` (an empty page in release builds).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

/// SQLite would store NUL, but PostgreSQL text cannot hold it, and a registry that works
/// here must work on a cluster too: the contract refuses it on every backend.
fn refuse_nul(batch: &[Write]) -> Result<(), StorageError> {
    match ferrite_storage::nul_field(batch) {
        None => Ok(()),
        Some(field) => Err(StorageError::Backend(format!(
            "registry: a record's {field} contains a NUL character, which cannot be stored"
        ))),
    }
}

/// The next registry sequence number, durable before it is returned (its own transaction).
pub(crate) fn next_sequence(conn: &mut Connection) -> Result<u64, StorageError> {
    let value: i64 = conn
        .prepare_cached(
            "UPDATE registry_sequence SET value = value + 1 WHERE id = 1 RETURNING value",
        )
        .ctx("registry: prepare sequence")?
        .query_row([], |row| row.get(0))
        .ctx("registry: next sequence")?;
    u64::try_from(value)
        .map_err(|_| StorageError::Corrupt("registry_sequence.value: negative".into()))
}

pub(crate) fn clear(conn: &mut Connection) -> Result<(), StorageError> {
    conn.execute("DELETE FROM registry", [])
        .ctx("registry: clear")?;
    Ok(())
}

pub(crate) fn get(
    conn: &Connection,
    kind: &str,
    key: &str,
) -> Result<Option<Record>, StorageError> {
    conn.prepare_cached("SELECT version, doc FROM registry WHERE kind = ?1 AND key = ?2")
        .ctx("registry: prepare get")?
        .query_row(params![kind, key], |row| {
            Ok(Record {
                kind: kind.to_owned(),
                key: key.to_owned(),
                version: row.get::<_, i64>(0)? as u64,
                doc: row.get(1)?,
            })
        })
        .optional()
        .ctx("registry: get")
}

pub(crate) fn list(
    conn: &Connection,
    kind: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, StorageError> {
    let limit = limit.max(1);
    // Keys from the later of `prefix` and just after `after`, while they start with `prefix`:
    // a range scan on the primary key, with the prefix test done here (no LIKE escaping).
    let (from, inclusive) = match after {
        Some(a) if a >= prefix => (a, false),
        _ => (prefix, true),
    };
    let sql = if inclusive {
        "SELECT key, version, doc FROM registry WHERE kind = ?1 AND key >= ?2 ORDER BY key LIMIT ?3"
    } else {
        "SELECT key, version, doc FROM registry WHERE kind = ?1 AND key > ?2 ORDER BY key LIMIT ?3"
    };
    let mut stmt = conn.prepare_cached(sql).ctx("registry: prepare list")?;
    let rows = stmt
        .query_map(params![kind, from, sql_limit(limit)], |row| {
            Ok(Record {
                kind: kind.to_owned(),
                key: row.get(0)?,
                version: row.get::<_, i64>(1)? as u64,
                doc: row.get(2)?,
            })
        })
        .ctx("registry: list")?;
    let mut records = Vec::new();
    let mut more = false;
    for row in rows {
        let r = row.ctx("registry: list row")?;
        if !r.key.starts_with(prefix) {
            break;
        }
        if records.len() == limit {
            more = true;
            break;
        }
        records.push(r);
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
