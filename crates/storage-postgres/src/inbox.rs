//! `SessionInbox` on the `broker_inbox` table (migration 0008): written by a node that stores
//! a message for a session another node holds (that node did not confirm it in time), read
//! and emptied by the node holding the session. Pooled connections, outside the group commit:
//! these are rare, and a publisher's acknowledgement waits on the append.

use ferrite_storage::{InboxAppend, InboxEntry};
use sqlx::{PgPool, Row};

use crate::error::PgStoreError;

/// One statement for the whole batch; rows go only to client ids with a stored session, in
/// the order given (`WITH ORDINALITY`), so ids follow it.
const APPEND: &str = "INSERT INTO broker_inbox (client_id, topic, body)
     SELECT e.client_id, e.topic, e.body
       FROM UNNEST($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS e (client_id, topic, body, n)
      WHERE EXISTS (SELECT 1 FROM broker_sessions s WHERE s.client_id = e.client_id)
      ORDER BY e.n
     RETURNING client_id";

pub(crate) async fn append(
    pool: &PgPool,
    entries: &[InboxAppend],
) -> Result<Vec<String>, PgStoreError> {
    for e in entries {
        if e.client_id.contains('\0') || e.topic.contains('\0') {
            return Err(PgStoreError::NulInText {
                field: "inbox client id or topic",
            });
        }
    }
    let client: Vec<&str> = entries.iter().map(|e| e.client_id.as_str()).collect();
    let topic: Vec<&str> = entries.iter().map(|e| e.topic.as_str()).collect();
    let body: Vec<&[u8]> = entries.iter().map(|e| &e.body[..]).collect();
    let rows = sqlx::query(APPEND)
        .bind(client)
        .bind(topic)
        .bind(body)
        .fetch_all(pool)
        .await
        .map_err(PgStoreError::sql("append to session inbox"))?;
    let mut written: Vec<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(PgStoreError::sql("append to session inbox: read client id"))?;
    written.sort();
    written.dedup();
    Ok(written)
}

pub(crate) async fn read(pool: &PgPool, client_id: &str) -> Result<Vec<InboxEntry>, PgStoreError> {
    let rows =
        sqlx::query("SELECT id, topic, body FROM broker_inbox WHERE client_id = $1 ORDER BY id")
            .bind(client_id)
            .fetch_all(pool)
            .await
            .map_err(PgStoreError::sql("read session inbox"))?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get(0)?;
            let topic: String = r.try_get(1)?;
            let body: Vec<u8> = r.try_get(2)?;
            Ok(InboxEntry {
                id: u64::try_from(id).unwrap_or_default(),
                client_id: client_id.to_owned(),
                topic,
                body: body.into(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(PgStoreError::sql("read session inbox: row"))
}

/// The ids read, not a range: ids are taken at insert and committed in any order, so a
/// smaller id than the last one read may commit after the read.
pub(crate) async fn delete(
    pool: &PgPool,
    client_id: &str,
    ids: &[u64],
) -> Result<(), PgStoreError> {
    let ids: Vec<i64> = ids.iter().filter_map(|&i| i64::try_from(i).ok()).collect();
    sqlx::query("DELETE FROM broker_inbox WHERE client_id = $1 AND id = ANY($2::int8[])")
        .bind(client_id)
        .bind(ids)
        .execute(pool)
        .await
        .map_err(PgStoreError::sql("delete from session inbox"))?;
    Ok(())
}
