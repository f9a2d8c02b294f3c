//! `SessionOwners` on the `broker_session_owners` table (migration 0004): a claim is one
//! upsert on a pooled connection, outside the broker's group commit (a CONNECT waits for it,
//! and it must not queue behind a group of unrelated writes).

use ferrite_storage::SessionClaim;
use sqlx::{PgPool, Row};

use crate::error::PgStoreError;

/// `ON CONFLICT DO UPDATE` locks the existing row and reads its latest committed version,
/// so `o.owner_node` there is the owner just before this claim even when claims race; a
/// first claim inserts and has no previous owner. A claim by the node that holds the client id
/// already continues its run of epochs (`owner_since_epoch`, what fenced writes are checked
/// against: `writer.rs`) and any hand-over still open; another node's starts a new run and
/// opens a hand-over from the node it takes the session from, whose writes of its run still
/// apply until [`SEAL`].
const CLAIM: &str = "INSERT INTO broker_session_owners AS o
        (client_id, owner_node, owner_epoch, owner_since_epoch, previous_node, claimed_at_ms)
     VALUES ($1, $2, 1, 1, NULL, $3)
     ON CONFLICT (client_id) DO UPDATE SET
        previous_node = o.owner_node,
        owner_node = excluded.owner_node,
        owner_epoch = o.owner_epoch + 1,
        owner_since_epoch = CASE WHEN o.owner_node = excluded.owner_node
            THEN o.owner_since_epoch ELSE o.owner_epoch + 1 END,
        handover_node = CASE WHEN o.owner_node = excluded.owner_node
            THEN o.handover_node ELSE o.owner_node END,
        handover_since_epoch = CASE WHEN o.owner_node = excluded.owner_node
            THEN o.handover_since_epoch ELSE o.owner_since_epoch END,
        handover_until_epoch = CASE WHEN o.owner_node = excluded.owner_node
            THEN o.handover_until_epoch ELSE o.owner_epoch END,
        claimed_at_ms = excluded.claimed_at_ms
     RETURNING owner_epoch, previous_node";

pub(crate) async fn claim(
    pool: &PgPool,
    client_id: &str,
    node: &str,
    now_ms: i64,
) -> Result<SessionClaim, PgStoreError> {
    let row = sqlx::query(CLAIM)
        .bind(client_id)
        .bind(node)
        .bind(now_ms)
        .fetch_one(pool)
        .await
        .map_err(PgStoreError::sql("claim session"))?;
    let epoch: i64 = row
        .try_get(0)
        .map_err(PgStoreError::sql("claim session: read epoch"))?;
    Ok(SessionClaim {
        previous: row
            .try_get(1)
            .map_err(PgStoreError::sql("claim session: read previous owner"))?,
        epoch: u64::try_from(epoch).unwrap_or_default(),
    })
}

/// Ends the hand-over a claim opened, while the claimant still holds the session by that
/// claim's run: the previous owner's writes are refused from now on.
const SEAL: &str = "UPDATE broker_session_owners SET
        handover_node = NULL, handover_since_epoch = NULL, handover_until_epoch = NULL
     WHERE client_id = $1 AND owner_node = $2 AND owner_since_epoch <= $3
       AND handover_node IS NOT NULL";

pub(crate) async fn seal(
    pool: &PgPool,
    client_id: &str,
    node: &str,
    epoch: u64,
) -> Result<bool, PgStoreError> {
    let done = sqlx::query(SEAL)
        .bind(client_id)
        .bind(node)
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .execute(pool)
        .await
        .map_err(PgStoreError::sql("seal session claim"))?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn owner(
    pool: &PgPool,
    client_id: &str,
) -> Result<Option<(String, u64)>, PgStoreError> {
    let row = sqlx::query(
        "SELECT owner_node, owner_epoch FROM broker_session_owners WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(pool)
    .await
    .map_err(PgStoreError::sql("read session owner"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let node: String = row
        .try_get(0)
        .map_err(PgStoreError::sql("read session owner: node"))?;
    let epoch: i64 = row
        .try_get(1)
        .map_err(PgStoreError::sql("read session owner: epoch"))?;
    Ok(Some((node, u64::try_from(epoch).unwrap_or_default())))
}

/// The row lock of each row moves it once: a concurrent adopter (or claim) that locked it first
/// changed `owner_node`, which PostgreSQL re-checks after the wait, so the row is skipped here.
/// Only client ids with a stored session move: every client that ever connected has an owner
/// row, and the clean ones' sessions ended with their connections. Adopting from another node
/// starts a new run of epochs and opens no hand-over (the gone node's late writes are fenced
/// at once); a restarted node taking its own sessions back continues its run (its earlier
/// process writes nothing more).
///
/// The rows are locked first in key order, as a group commit's fence check share-locks them,
/// so that an adoption and a group of another node cannot deadlock on each other.
const ADOPT: &str = "WITH moving AS (
        SELECT m.client_id FROM broker_session_owners AS m
        WHERE m.owner_node = $1
          AND EXISTS (SELECT 1 FROM broker_sessions s WHERE s.client_id = m.client_id)
        ORDER BY m.client_id
        FOR UPDATE)
     UPDATE broker_session_owners AS o SET
        previous_node = o.owner_node,
        owner_node = $2,
        owner_epoch = o.owner_epoch + 1,
        owner_since_epoch = CASE WHEN o.owner_node = $2
            THEN o.owner_since_epoch ELSE o.owner_epoch + 1 END,
        handover_node = CASE WHEN o.owner_node = $2 THEN o.handover_node END,
        handover_since_epoch = CASE WHEN o.owner_node = $2 THEN o.handover_since_epoch END,
        handover_until_epoch = CASE WHEN o.owner_node = $2 THEN o.handover_until_epoch END,
        claimed_at_ms = $3
     FROM moving
     WHERE o.client_id = moving.client_id AND o.owner_node = $1
     RETURNING o.client_id, o.owner_epoch";

pub(crate) async fn adopt(
    pool: &PgPool,
    from: &str,
    to: &str,
    now_ms: i64,
) -> Result<Vec<(String, u64)>, PgStoreError> {
    let rows = sqlx::query(ADOPT)
        .bind(from)
        .bind(to)
        .bind(now_ms)
        .fetch_all(pool)
        .await
        .map_err(PgStoreError::sql("adopt sessions"))?;
    rows.iter()
        .map(|row| {
            let client: String = row
                .try_get(0)
                .map_err(PgStoreError::sql("adopt sessions: read client id"))?;
            let epoch: i64 = row
                .try_get(1)
                .map_err(PgStoreError::sql("adopt sessions: read epoch"))?;
            Ok((client, u64::try_from(epoch).unwrap_or_default()))
        })
        .collect()
}

pub(crate) async fn release(
    pool: &PgPool,
    client_id: &str,
    node: &str,
    epoch: u64,
) -> Result<bool, PgStoreError> {
    let done = sqlx::query(
        "DELETE FROM broker_session_owners
         WHERE client_id = $1 AND owner_node = $2 AND owner_epoch = $3",
    )
    .bind(client_id)
    .bind(node)
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .execute(pool)
    .await
    .map_err(PgStoreError::sql("release session"))?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn owner_nodes(pool: &PgPool) -> Result<Vec<String>, PgStoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT o.owner_node FROM broker_session_owners o
         WHERE EXISTS (SELECT 1 FROM broker_sessions s WHERE s.client_id = o.client_id)",
    )
    .fetch_all(pool)
    .await
    .map_err(PgStoreError::sql("read session owner nodes"))?;
    rows.iter()
        .map(|row| {
            row.try_get(0)
                .map_err(PgStoreError::sql("read session owner nodes: node"))
        })
        .collect()
}
