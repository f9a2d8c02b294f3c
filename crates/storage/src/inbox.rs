//! Messages another node stored for a session it does not hold (ARCHITECTURE.md,
//! "Acknowledgement across nodes"): when the node holding a persistent session does not
//! confirm in time that it stored a QoS >= 1 message, the publishing node writes the message
//! here before acknowledging it, and whichever node holds the session next moves it into the
//! session's queue. A table of its own rather than rows of the queue: the queue's sequence
//! numbers belong to the node holding the session, so a second writer could collide with them.
//! Only a store shared by several nodes (PostgreSQL) implements it.

use bytes::Bytes;

use crate::StoreFuture;

/// One message waiting in a session's inbox. `body` is opaque to the store (the cluster's own
/// encoding of the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// Increasing in insertion order (not in commit order: an entry read later may have a
    /// smaller id, so [`SessionInbox::delete_inbox`] deletes the ids read, not a range).
    pub id: u64,
    pub client_id: String,
    pub topic: String,
    pub body: Bytes,
}

/// What [`SessionInbox::append_inbox`] writes: one message for one client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxAppend {
    pub client_id: String,
    pub topic: String,
    pub body: Bytes,
}

pub trait SessionInbox: Send + Sync + 'static {
    /// Appends `entries`, in order, durably and atomically, for the client ids that have a
    /// stored session (the others have nothing to resume); returns the client ids written.
    fn append_inbox(&self, entries: Vec<InboxAppend>) -> StoreFuture<'_, Vec<String>>;

    /// The messages waiting for `client_id`, oldest first.
    fn inbox<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Vec<InboxEntry>>;

    /// Deletes the messages `ids` of `client_id` (moved into its queue).
    fn delete_inbox<'a>(&'a self, client_id: &'a str, ids: &'a [u64]) -> StoreFuture<'a, ()>;
}
