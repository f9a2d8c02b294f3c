//! Which node of a cluster holds each client id's session (ARCHITECTURE.md, "Sessions and
//! take-over"). Only a store shared by several nodes (PostgreSQL) implements it; one node
//! never asks.

use crate::StoreFuture;

/// What [`SessionOwners::claim_session`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaim {
    /// The node that held the client id before this claim; `None` when nobody ever did.
    pub previous: Option<String>,
    /// The claim's number: one more than the previous claim's, so a larger epoch is a later
    /// owner.
    pub epoch: u64,
}

/// A session's writes in one commit, tied to the claim they were made under: a store shared by
/// several nodes applies them only while the committing node still holds the session by that
/// claim, or by a later claim of its own made without another node's in between (see
/// [`BrokerStore::commit_fenced`](crate::BrokerStore::commit_fenced)). A node that was slow,
/// or cut off long enough for its sessions to be adopted, thereby cannot overwrite the state
/// of a session another node now holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionFence {
    pub client_id: String,
    /// The [`SessionClaim::epoch`] the session is held by on the committing node.
    pub epoch: u64,
}

/// The owner of each client id's session, changed by one conditional write per claim so
/// that concurrent claims are ordered and each learns who came just before it.
pub trait SessionOwners: Send + Sync + 'static {
    /// Makes `node` the owner of `client_id`'s session, with the next epoch.
    fn claim_session<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, SessionClaim>;

    /// The current owner of `client_id`'s session and its epoch; `None` when never claimed.
    fn session_owner<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<(String, u64)>>;

    /// Makes `to` the owner of every session `from` owns, each with its next epoch, and
    /// returns those client ids with their new epochs: how a live node adopts the sessions of
    /// a node that is gone, and how a restarted node takes its own back (`from == to`). Each
    /// row moves once: of several nodes adopting at the same moment, each gets a share, and a
    /// session its client claimed meanwhile stays with that claim.
    fn adopt_sessions<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<(String, u64)>>;

    /// The nodes that own at least one stored session: a live node compares them with the
    /// peers it hears, to adopt the sessions of a node nobody saw leave.
    fn session_owner_nodes(&self) -> StoreFuture<'_, Vec<String>>;

    /// Ends the hand-over that `node`'s claim `epoch` of `client_id` opened (when it took the
    /// session from another node): until then the previous owner's writes of the session,
    /// flushed while it lets go, still apply; from then on they are refused
    /// ([`SessionFence`]). The claimant seals after the previous owner answered its take-over
    /// request, or after giving up on an answer, and loads the session only then. Returns
    /// whether a hand-over was open. A store without fencing has nothing to seal.
    fn seal_claim<'a>(
        &'a self,
        _client_id: &'a str,
        _node: &'a str,
        _epoch: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(false)))
    }

    /// Forgets that `node` holds `client_id`'s session, if its claim `epoch` is still the
    /// latest: the session ended there. A later claim (a reconnect, anywhere) keeps its row.
    /// Returns whether a row went.
    fn release_session<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        epoch: u64,
    ) -> StoreFuture<'a, bool>;
}
