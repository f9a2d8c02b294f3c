//! The control plane's storage seam: versioned documents in named collections, changed by
//! atomic, conditional batches.
//!
//! Every registry object (thing, thing type, group, billing group, certificate, policy, rule,
//! job, ...) and every link between two of them (a thing in a group, a policy on a target, a
//! tag on a resource) is one [`Record`]: `kind` names the collection, `key` is unique in it and
//! orders it, `doc` is the object's encoding, chosen by the registry (JSON today) and opaque
//! here. The registry implements AWS semantics with optimistic concurrency: it reads, decides,
//! and writes a [`Write`] batch whose preconditions (absent, or at the version it read) make
//! the batch fail as a whole with [`WriteOutcome::Conflict`] when another request got there
//! first; it then re-reads and decides again. This keeps backends small (no query language
//! to port) and correct on a cluster of nodes sharing PostgreSQL.
//!
//! Links are records too, keyed so that a prefix lists one side: e.g. kind `group-thing`,
//! key `{group}/{thing}` lists a group's things with prefix `{group}/`.

use crate::StoreFuture;

/// One stored document. `kind`, `key` and `doc` never contain NUL (U+0000): PostgreSQL text
/// cannot hold it, so every backend refuses a write that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub key: String,
    /// 1 when created, +1 on every put.
    pub version: u64,
    pub doc: String,
}

/// The condition a [`Write`] needs to hold before the batch applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No condition.
    Any,
    /// The record must not exist.
    Absent,
    /// The record must exist.
    Present,
    /// The record must exist at exactly this version (versions start at 1, so `Version(0)`
    /// never holds).
    Version(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace; the version becomes the old one + 1, or 1.
    Put(String),
    /// Remove if present; removing an absent record applies and changes nothing. A record
    /// put again after a delete starts again at version 1, so a version alone does not tell
    /// a re-created record from the one read before.
    Delete,
    /// Nothing: the write only asserts its condition (e.g. "the parent group still exists").
    Check,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub kind: String,
    pub key: String,
    pub expect: Expect,
    pub change: Change,
}

impl Write {
    pub fn put(kind: &str, key: &str, expect: Expect, doc: String) -> Write {
        Write {
            kind: kind.to_owned(),
            key: key.to_owned(),
            expect,
            change: Change::Put(doc),
        }
    }

    pub fn delete(kind: &str, key: &str, expect: Expect) -> Write {
        Write {
            kind: kind.to_owned(),
            key: key.to_owned(),
            expect,
            change: Change::Delete,
        }
    }

    pub fn check(kind: &str, key: &str, expect: Expect) -> Write {
        Write {
            kind: kind.to_owned(),
            key: key.to_owned(),
            expect,
            change: Change::Check,
        }
    }
}

/// The field (`kind`, `key` or `doc`) of the first write in `batch` holding a NUL character.
/// PostgreSQL text cannot store NUL, and a registry that works on one backend must work on
/// every backend, so the contract refuses such writes everywhere, before anything is written.
pub fn nul_field(batch: &[Write]) -> Option<&'static str> {
    batch.iter().find_map(|w| {
        let doc = match &w.change {
            Change::Put(doc) => doc.as_str(),
            Change::Delete | Change::Check => "",
        };
        [("kind", &*w.kind), ("key", &*w.key), ("doc", doc)]
            .into_iter()
            .find(|(_, text)| text.contains('\0'))
            .map(|(field, _)| field)
    })
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every write applied, atomically and durably.
    Applied,
    /// The condition of `batch[index]`, the first write whose condition failed, did not
    /// hold; nothing was applied.
    Conflict { index: usize },
}

/// One page of a listing, in ascending key order (byte-wise, as Rust's `str` ordering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Record>,
    /// The key to pass as `after` for the next page (the last key of this one); `None`
    /// exactly when no further record of the kind has the prefix.
    pub next_after: Option<String>,
}

/// Durable registry documents. Writes are atomic per batch and durable before their future
/// resolves; reads see every write whose future has resolved.
pub trait RegistryStore: Send + Sync + 'static {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>>;

    /// Records of `kind` whose key starts with `prefix` and sorts after `after` (exclusive),
    /// at most `limit` of them (a `limit` of 0 is treated as 1).
    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page>;

    /// Applies the batch atomically if every condition holds, in order (a later write in the
    /// batch sees the effect of an earlier one on the same record). An empty batch applies.
    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome>;

    /// Removes every record of every kind: the test hook that resets an account.
    fn clear(&self) -> StoreFuture<'_, ()>;

    /// A number greater than every number this store, or any other store on the same data
    /// (after a restart, or on another node), returned before; never 0. Numbers may be
    /// skipped, and [`clear`](Self::clear) does not start them again. The registry uses them
    /// to keep creation order among records created in the same millisecond.
    fn next_sequence(&self) -> StoreFuture<'_, u64>;
}
