//! The conformance suite every `RegistryStore` backend must pass.
//!
//! Built like the broker suite in [`conformance`](crate::conformance): each case is a
//! `pub async fn` here, and [`registry_store_conformance!`](crate::registry_store_conformance)
//! expands to one `#[tokio::test]` per case in the backend's own test file:
//!
//! ```ignore
//! // crates/storage-xyz/tests/registry_conformance.rs (needs `tokio` as a dev-dependency)
//! ferrite_storage::registry_store_conformance!(|| async { MyLocation::new_empty() });
//! // A backend that needs an external server: `None` skips the test (the factory says why).
//! ferrite_storage::registry_store_conformance!(optional: || async { MyLocation::from_env().await });
//! ```
//!
//! The factory is called once per test and returns a fresh, empty [`RegistryLocation`]. The
//! concurrent cases run many writers at once on one store: a backend with a connection pool
//! should give the location's stores several connections, so that those cases exercise
//! conflicts between connections and not only the queue in front of one.
//!
//! Contract points the suite pins down beyond the trait docs:
//! * Conditions are evaluated in batch order against the state left by the earlier writes of
//!   the batch; `Conflict { index }` names the first write whose condition fails.
//! * Deleting an absent record (under `Any` or `Absent`) applies and changes nothing; `Check`
//!   never creates, removes or re-versions a record. An empty batch applies.
//! * A record put after being deleted starts again at version 1.
//! * `Version(0)` never holds (versions start at 1), nor does any version of an absent record.
//! * Keys compare as Rust `str`s (byte-wise): case, trailing spaces and Unicode normalisation
//!   all matter, and `%`, `_` and `\` in a prefix are plain characters.
//! * `next_after` is the key of the page's last record when another record of the kind with
//!   that prefix follows it, and `None` otherwise, even when other keys follow.
//! * Text containing NUL (U+0000) cannot be stored (PostgreSQL text cannot hold it): a write
//!   with NUL in a kind, key or doc fails with an error and applies nothing; reads for such
//!   keys find nothing.
//! * `next_sequence` numbers increase per caller and are unique across callers, and survive
//!   `clear` and reopening; they need not be dense.
//!
//! The case functions panic (assert) on a violation: they are test code.

mod sequence;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::{
    Change, Expect, Page, Record, RegistryStore, StorageError, StoreFuture, Write, WriteOutcome,
};

pub use sequence::*;

/// A place a backend keeps its registry (a directory, a database schema) that can be opened
/// repeatedly: each `open` after the previous store was closed must see what it wrote.
pub trait RegistryLocation: Send + Sync {
    /// The backend's store type, so that [`close`](Self::close) can use its own shutdown.
    type Store: RegistryStore;

    fn open(&self) -> StoreFuture<'_, Arc<Self::Store>>;

    /// Shuts a store down before the next `open` (`RegistryStore` has no `close`: the owner of
    /// the backend closes it through whatever else it implements). Called with the last
    /// reference; the default just drops it.
    fn close(&self, store: Arc<Self::Store>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            drop(store);
            Ok(())
        })
    }

    /// Removes the location's data once the test is over, pass or fail.
    fn teardown(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// Generates one `#[tokio::test]` per conformance case. `$factory` is an expression callable
/// with no arguments that returns a future of a fresh, empty [`RegistryLocation`]; with
/// `optional:` before it, a future of `Option` of one, `None` meaning "skip". The invoking
/// crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! registry_store_conformance {
    (optional: $factory:expr) => {
        $crate::__registry_store_conformance_all! { $factory; new_optional_location }
    };
    ($factory:expr) => {
        $crate::__registry_store_conformance_all! { $factory; new_location }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __registry_store_conformance_all {
    ($factory:expr; $loader:ident) => {
        $crate::__registry_store_conformance_cases! {
            $factory; $loader;
            store: empty_store_finds_nothing, put_creates_version_one_and_increments,
                put_after_delete_restarts_at_version_one, every_expect_holding_and_failing,
                failed_condition_applies_nothing, later_writes_see_earlier_ones,
                check_changes_nothing, empty_batch_applies, list_orders_keys_bytewise,
                list_filters_by_prefix, list_after_is_exclusive, list_limit_and_next_after,
                kinds_are_isolated, clear_removes_every_kind, text_round_trips_exactly,
                nul_text_is_refused, random_batches_match_a_model, sequence_increases;
            shared: concurrent_writers_have_one_winner_per_round,
                concurrent_increments_lose_no_update, concurrent_creates_have_one_winner,
                concurrent_writes_to_distinct_keys_all_apply, concurrent_write_skew_is_prevented,
                concurrent_sequences_are_unique;
            location: reopen_persists, sequence_survives_reopen;
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __registry_store_conformance_cases {
    (
        $factory:expr; $loader:ident;
        store: $($store_case:ident),* ;
        shared: $($shared_case:ident),* ;
        location: $($location_case:ident),* ;
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $store_case() {
                use $crate::registry_conformance as suite;
                let Some(location) = suite::$loader($factory).await else {
                    return;
                };
                suite::run_case(location, |location| async move {
                    let store = suite::RegistryLocation::open(&*location)
                        .await
                        .expect("open store");
                    suite::$store_case(&*store).await;
                    suite::RegistryLocation::close(&*location, store)
                        .await
                        .expect("close store");
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $shared_case() {
                use $crate::registry_conformance as suite;
                let Some(location) = suite::$loader($factory).await else {
                    return;
                };
                suite::run_case(location, |location| async move {
                    let store = suite::RegistryLocation::open(&*location)
                        .await
                        .expect("open store");
                    let shared = ::std::sync::Arc::clone(&store);
                    suite::$shared_case(shared).await;
                    suite::RegistryLocation::close(&*location, store)
                        .await
                        .expect("close store");
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $location_case() {
                use $crate::registry_conformance as suite;
                let Some(location) = suite::$loader($factory).await else {
                    return;
                };
                suite::run_case(location, |location| async move {
                    suite::$location_case(&*location).await;
                })
                .await;
            }
        )*
    };
}

/// Calls the macro's factory; a function so that a factory of the wrong shape fails with a
/// readable bound error instead of deep inside the expansion.
pub async fn new_location<F, Fut, L>(factory: F) -> Option<L>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = L>,
    L: RegistryLocation,
{
    Some(factory().await)
}

/// [`new_location`] for the `optional:` form: the factory decides whether the test runs.
pub async fn new_optional_location<F, Fut, L>(factory: F) -> Option<L>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<L>>,
    L: RegistryLocation,
{
    factory().await
}

/// Runs one case, then the location's teardown whatever the outcome (the broker suite's
/// harness, [`crate::conformance::run_case_with`]).
pub async fn run_case<L, C, Fut>(location: L, case: C)
where
    L: RegistryLocation + 'static,
    C: FnOnce(Arc<L>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    crate::conformance::run_case_with(location, case, <L as RegistryLocation>::teardown).await;
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

const THING: &str = "thing";
const APPLIED: WriteOutcome = WriteOutcome::Applied;

fn conflict(index: usize) -> WriteOutcome {
    WriteOutcome::Conflict { index }
}

fn record(kind: &str, key: &str, version: u64, doc: &str) -> Record {
    Record {
        kind: kind.to_owned(),
        key: key.to_owned(),
        version,
        doc: doc.to_owned(),
    }
}

fn put(key: &str, expect: Expect, doc: &str) -> Write {
    Write::put(THING, key, expect, doc.to_owned())
}

async fn write(store: &dyn RegistryStore, batch: Vec<Write>) -> WriteOutcome {
    let shown = format!("{batch:?}");
    match store.write(batch).await {
        Ok(outcome) => outcome,
        Err(err) => panic!("write {shown} failed: {err}"),
    }
}

async fn write_expecting(store: &dyn RegistryStore, batch: Vec<Write>, expected: WriteOutcome) {
    let shown = format!("{batch:?}");
    let outcome = write(store, batch).await;
    assert_eq!(outcome, expected, "outcome of {shown}");
}

async fn get(store: &dyn RegistryStore, kind: &str, key: &str) -> Option<Record> {
    match store.get(kind, key).await {
        Ok(found) => found,
        Err(err) => panic!("get {kind}/{key:?} failed: {err}"),
    }
}

async fn list(
    store: &dyn RegistryStore,
    kind: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Page {
    let page = match store.list(kind, prefix, after, limit).await {
        Ok(page) => page,
        Err(err) => panic!("list {kind} {prefix:?} after {after:?} failed: {err}"),
    };
    assert!(
        page.records.iter().all(|r| r.kind == kind),
        "list of {kind} returned another kind: {page:?}"
    );
    page
}

fn keys(page: &Page) -> Vec<&str> {
    page.records.iter().map(|r| r.key.as_str()).collect()
}

/// Every record of `kind` under `prefix`, walking the pages `limit` at a time and checking
/// each page's shape on the way.
async fn list_all(
    store: &dyn RegistryStore,
    kind: &str,
    prefix: &str,
    limit: usize,
) -> Vec<Record> {
    let mut all: Vec<Record> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(store, kind, prefix, after.as_deref(), limit).await;
        assert!(
            page.records.len() <= limit.max(1),
            "page over its limit: {page:?}"
        );
        if let Some(next) = &page.next_after {
            assert_eq!(
                Some(next),
                page.records.last().map(|r| &r.key),
                "next_after must be the last key of its page"
            );
        }
        let next = page.next_after.clone();
        all.extend(page.records);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(all.len() < 1_000_000, "listing does not end");
    }
    assert!(
        all.windows(2).all(|w| w[0].key < w[1].key),
        "listing not strictly ascending: {:?}",
        all.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
    all
}

/// Everything in `kinds`, to compare before and after a batch that must change nothing.
async fn dump(store: &dyn RegistryStore, kinds: &[&str]) -> Vec<Record> {
    let mut all = Vec::new();
    for kind in kinds {
        all.extend(list_all(store, kind, "", 1000).await);
    }
    all
}

/// A deterministic xorshift generator: reproducible runs without an RNG dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The trait's semantics on a map, for the model-based case.
#[derive(Default, Clone, PartialEq, Debug)]
struct Model(BTreeMap<(String, String), (u64, String)>);

impl Model {
    fn version(&self, kind: &str, key: &str) -> Option<u64> {
        self.0
            .get(&(kind.to_owned(), key.to_owned()))
            .map(|(v, _)| *v)
    }

    fn apply(&mut self, batch: &[Write]) -> WriteOutcome {
        let mut next = self.clone();
        for (index, w) in batch.iter().enumerate() {
            let current = next.version(&w.kind, &w.key);
            let holds = match w.expect {
                Expect::Any => true,
                Expect::Absent => current.is_none(),
                Expect::Present => current.is_some(),
                Expect::Version(v) => current == Some(v),
            };
            if !holds {
                return conflict(index);
            }
            let id = (w.kind.clone(), w.key.clone());
            match &w.change {
                Change::Put(doc) => {
                    next.0.insert(id, (current.unwrap_or(0) + 1, doc.clone()));
                }
                Change::Delete => {
                    next.0.remove(&id);
                }
                Change::Check => {}
            }
        }
        *self = next;
        APPLIED
    }

    fn records(&self, kind: &str) -> Vec<Record> {
        self.0
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((k, key), (v, doc))| record(k, key, *v, doc))
            .collect()
    }

    fn page(&self, kind: &str, prefix: &str, after: Option<&str>, limit: usize) -> Page {
        let matching: Vec<Record> = self
            .records(kind)
            .into_iter()
            .filter(|r| r.key.starts_with(prefix) && after.is_none_or(|a| r.key.as_str() > a))
            .collect();
        let limit = limit.max(1);
        let more = matching.len() > limit;
        let records: Vec<Record> = matching.into_iter().take(limit).collect();
        let next_after = if more {
            records.last().map(|r| r.key.clone())
        } else {
            None
        };
        Page {
            records,
            next_after,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cases on one open store.
// ---------------------------------------------------------------------------------------

pub async fn empty_store_finds_nothing(store: &dyn RegistryStore) {
    assert_eq!(get(store, THING, "missing").await, None);
    assert_eq!(
        list(store, THING, "", None, 10).await,
        Page {
            records: vec![],
            next_after: None
        }
    );
}

/// A put creates version 1 and every later put adds one and replaces the doc; `get` and
/// `list` return the record as written.
pub async fn put_creates_version_one_and_increments(store: &dyn RegistryStore) {
    write_expecting(store, vec![put("t1", Expect::Any, "first")], APPLIED).await;
    assert_eq!(
        get(store, THING, "t1").await,
        Some(record(THING, "t1", 1, "first"))
    );
    for version in 2..=5u64 {
        let doc = format!("doc {version}");
        write_expecting(store, vec![put("t1", Expect::Any, &doc)], APPLIED).await;
        assert_eq!(
            get(store, THING, "t1").await,
            Some(record(THING, "t1", version, &doc))
        );
    }
    write_expecting(store, vec![put("t2", Expect::Absent, "other")], APPLIED).await;
    assert_eq!(
        list(store, THING, "", None, 10).await.records,
        vec![
            record(THING, "t1", 5, "doc 5"),
            record(THING, "t2", 1, "other")
        ]
    );
}

/// The version of a re-created record restarts at 1 (the trait's "old one + 1, or 1").
pub async fn put_after_delete_restarts_at_version_one(store: &dyn RegistryStore) {
    for _ in 0..3 {
        write_expecting(store, vec![put("t", Expect::Any, "x")], APPLIED).await;
    }
    write_expecting(
        store,
        vec![Write::delete(THING, "t", Expect::Version(3))],
        APPLIED,
    )
    .await;
    assert_eq!(get(store, THING, "t").await, None);
    write_expecting(store, vec![put("t", Expect::Absent, "again")], APPLIED).await;
    assert_eq!(
        get(store, THING, "t").await,
        Some(record(THING, "t", 1, "again"))
    );
}

/// Every `Expect` against an absent record and one at version 2, under each change. Each
/// write follows a put of a fresh side key in the same batch, so a failure must also report
/// index 1 and undo that put.
pub async fn every_expect_holding_and_failing(store: &dyn RegistryStore) {
    const HUGE: u64 = 1 << 63; // would wrap to a negative i64 in a careless backend
    #[rustfmt::skip]
    let table: &[(bool, Expect, bool)] = &[
        // (present at version 2, expect, holds)
        (false, Expect::Any, true),
        (false, Expect::Absent, true),
        (false, Expect::Present, false),
        (false, Expect::Version(0), false),
        (false, Expect::Version(1), false),
        (false, Expect::Version(2), false),
        (true, Expect::Any, true),
        (true, Expect::Absent, false),
        (true, Expect::Present, true),
        (true, Expect::Version(2), true),
        (true, Expect::Version(0), false),
        (true, Expect::Version(1), false),
        (true, Expect::Version(3), false),
        (true, Expect::Version(HUGE), false),
        (true, Expect::Version(u64::MAX), false),
    ];
    for (row, &(present, expect, holds)) in table.iter().enumerate() {
        for change in [Change::Put("new".to_owned()), Change::Delete, Change::Check] {
            let key = format!("expect/{row}/{change:?}");
            let side = format!("side/{row}/{change:?}");
            if present {
                write_expecting(store, vec![put(&key, Expect::Any, "old")], APPLIED).await;
                write_expecting(store, vec![put(&key, Expect::Any, "old")], APPLIED).await;
            }
            let before = get(store, THING, &key).await;
            let what = format!("{change:?} under {expect:?} on a record present={present}");
            let target = Write {
                kind: THING.to_owned(),
                key: key.clone(),
                expect,
                change: change.clone(),
            };
            let outcome = write(store, vec![put(&side, Expect::Absent, "side"), target]).await;
            let after = get(store, THING, &key).await;
            let side_after = get(store, THING, &side).await;
            if !holds {
                assert_eq!(outcome, conflict(1), "{what}");
                assert_eq!(after, before, "{what}: a conflict must change nothing");
                assert_eq!(
                    side_after, None,
                    "{what}: a conflict must undo the whole batch"
                );
                continue;
            }
            assert_eq!(outcome, APPLIED, "{what}");
            assert_eq!(side_after, Some(record(THING, &side, 1, "side")), "{what}");
            let expected = match change {
                Change::Put(_) => Some(record(THING, &key, if present { 3 } else { 1 }, "new")),
                Change::Delete => None,
                Change::Check => before,
            };
            assert_eq!(after, expected, "{what}");
        }
    }
}

/// A failing condition anywhere in a batch applies nothing, and the first failing write is
/// the one reported.
pub async fn failed_condition_applies_nothing(store: &dyn RegistryStore) {
    const KINDS: &[&str] = &[THING, "group"];
    write_expecting(
        store,
        vec![
            put("a", Expect::Absent, "a1"),
            put("b", Expect::Absent, "b1"),
            put("b", Expect::Version(1), "b2"),
            Write::put("group", "g", Expect::Absent, "g1".into()),
        ],
        APPLIED,
    )
    .await;
    let before = dump(store, KINDS).await;
    assert_eq!(before.len(), 3);

    let failing: Vec<(Vec<Write>, usize)> = vec![
        // Last write fails; the earlier ones create, replace and delete.
        (
            vec![
                put("new", Expect::Absent, "n"),
                Write::delete(THING, "a", Expect::Any),
                put("b", Expect::Version(2), "b3"),
                Write::put("group", "g", Expect::Any, "g2".into()),
                Write::check(THING, "missing", Expect::Present),
            ],
            4,
        ),
        // First write fails.
        (
            vec![
                Write::check(THING, "b", Expect::Version(1)),
                put("new", Expect::Any, "n"),
            ],
            0,
        ),
        // Two fail: the first of them is reported.
        (
            vec![
                put("new", Expect::Any, "n"),
                Write::check("group", "g", Expect::Absent),
                Write::check(THING, "a", Expect::Absent),
            ],
            1,
        ),
        // Fails only because of an earlier write of the same batch.
        (
            vec![
                Write::delete(THING, "a", Expect::Any),
                Write::check(THING, "a", Expect::Present),
            ],
            1,
        ),
        (
            vec![
                put("b", Expect::Any, "b3"),
                put("b", Expect::Version(2), "b4"),
            ],
            1,
        ),
        (
            vec![
                put("new", Expect::Absent, "n"),
                put("new", Expect::Absent, "n"),
            ],
            1,
        ),
    ];
    for (batch, index) in failing {
        write_expecting(store, batch, conflict(index)).await;
        assert_eq!(
            dump(store, KINDS).await,
            before,
            "a conflict must leave no trace"
        );
    }

    write_expecting(store, vec![put("after", Expect::Absent, "ok")], APPLIED).await;
    assert_eq!(dump(store, KINDS).await.len(), 4);
}

/// Each write's condition sees what the writes before it in the batch did.
pub async fn later_writes_see_earlier_ones(store: &dyn RegistryStore) {
    write_expecting(
        store,
        vec![
            put("k", Expect::Absent, "1"),
            Write::check(THING, "k", Expect::Version(1)),
            put("k", Expect::Version(1), "2"),
            Write::check(THING, "k", Expect::Version(2)),
            Write::check(THING, "k", Expect::Present),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, THING, "k").await,
        Some(record(THING, "k", 2, "2"))
    );

    write_expecting(
        store,
        vec![
            Write::delete(THING, "k", Expect::Version(2)),
            Write::check(THING, "k", Expect::Absent),
            Write::delete(THING, "k", Expect::Absent),
            put("k", Expect::Absent, "again"),
            Write::check(THING, "k", Expect::Version(1)),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, THING, "k").await,
        Some(record(THING, "k", 1, "again"))
    );

    write_expecting(store, vec![put("k", Expect::Any, "x"); 3], APPLIED).await;
    assert_eq!(
        get(store, THING, "k").await,
        Some(record(THING, "k", 4, "x"))
    );

    // Delete and re-create of an existing record: same version as before, new doc.
    write_expecting(
        store,
        vec![
            Write::delete(THING, "k", Expect::Any),
            put("k", Expect::Absent, "fresh"),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, THING, "k").await,
        Some(record(THING, "k", 1, "fresh"))
    );

    // Created and deleted within one batch: nothing remains.
    write_expecting(
        store,
        vec![
            put("x", Expect::Absent, "x"),
            put("y", Expect::Absent, "y"),
            Write::delete(THING, "x", Expect::Version(1)),
            put("y", Expect::Version(1), "y2"),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(get(store, THING, "x").await, None);
    assert_eq!(
        get(store, THING, "y").await,
        Some(record(THING, "y", 2, "y2"))
    );
}

/// Checks create nothing, remove nothing and bump no version, whatever they assert.
pub async fn check_changes_nothing(store: &dyn RegistryStore) {
    for doc in ["d1", "d2", "d3"] {
        write_expecting(store, vec![put("c", Expect::Any, doc)], APPLIED).await;
    }
    write_expecting(
        store,
        vec![
            Write::check(THING, "c", Expect::Any),
            Write::check(THING, "c", Expect::Present),
            Write::check(THING, "c", Expect::Version(3)),
            Write::check(THING, "absent", Expect::Any),
            Write::check(THING, "absent", Expect::Absent),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, THING, "c").await,
        Some(record(THING, "c", 3, "d3"))
    );
    assert_eq!(get(store, THING, "absent").await, None);
    assert_eq!(list(store, THING, "", None, 10).await.records.len(), 1);
    write_expecting(store, vec![put("c", Expect::Version(3), "d4")], APPLIED).await;
    assert_eq!(
        get(store, THING, "c").await,
        Some(record(THING, "c", 4, "d4"))
    );
}

pub async fn empty_batch_applies(store: &dyn RegistryStore) {
    write_expecting(store, vec![], APPLIED).await;
    write_expecting(store, vec![put("e", Expect::Absent, "e")], APPLIED).await;
    write_expecting(store, vec![], APPLIED).await;
    assert_eq!(
        get(store, THING, "e").await,
        Some(record(THING, "e", 1, "e"))
    );
}

/// Keys a database collation would reorder: case, punctuation, digits (no natural sort),
/// non-ASCII (both sides of the surrogate gap, the last code point) and NFC/NFD spellings.
#[rustfmt::skip]
const ORDER_KEYS: &[&str] = &[
    "b", "B", "a", "A", "Z", "z", "_", "-", "/", "0", "9", "~", ".", " ", "a b", "a-b", "a/b",
    "a_b", "a0", "ab", "aB", "Ab", "a ", "\u{7f}", "é", "e\u{301}", "f", "ß", "日本",
    "\u{d7ff}", "\u{e000}", "\u{fffd}", "😀", "\u{10ffff}", "thing-1", "thing-10", "thing-2",
];

pub async fn list_orders_keys_bytewise(store: &dyn RegistryStore) {
    let mut expected: Vec<&str> = ORDER_KEYS.to_vec();
    expected.sort_unstable();
    // Written in an order unrelated to the sorted one, one batch per key.
    for key in ORDER_KEYS.iter().rev() {
        write_expecting(store, vec![put(key, Expect::Any, key)], APPLIED).await;
    }
    let page = list(store, THING, "", None, usize::MAX).await;
    assert_eq!(keys(&page), expected);
    assert_eq!(page.next_after, None);
    for limit in [1, 2, 3, 7] {
        let all = list_all(store, THING, "", limit).await;
        let listed: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(listed, expected, "paged by {limit}");
        assert!(all.iter().all(|r| r.doc == r.key && r.version == 1));
    }
}

pub async fn list_filters_by_prefix(store: &dyn RegistryStore) {
    #[rustfmt::skip]
    let stored: &[&str] = &[
        "a", "a-", "a.", "a/", "a/b", "a/b/c", "a/\u{10ffff}", "a0", "ab", "A/b", "b/a", "`",
        "x%y", "x_y", "xay", "x\\y", "xy",
        "é/1", "é0", "ê", "e\u{301}/1", "e/1",
        "\u{d7ff}", "\u{d7ff}a", "\u{e000}",
        "z\u{10ffff}", "z\u{10ffff}\u{10ffff}", "{", "\u{10ffff}", "\u{10ffff}x",
    ];
    for key in stored {
        write_expecting(store, vec![put(key, Expect::Absent, "p")], APPLIED).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("a/", &["a/", "a/b", "a/b/c", "a/\u{10ffff}"]),
        (
            "a",
            &[
                "a",
                "a-",
                "a.",
                "a/",
                "a/b",
                "a/b/c",
                "a/\u{10ffff}",
                "a0",
                "ab",
            ],
        ),
        ("a/b", &["a/b", "a/b/c"]),
        ("a/b/c/d", &[]),
        ("A", &["A/b"]),
        ("x%", &["x%y"]),
        ("x_", &["x_y"]),
        ("x\\", &["x\\y"]),
        ("é", &["é/1", "é0"]),
        ("é/", &["é/1"]),
        ("e", &["e/1", "e\u{301}/1"]),
        ("\u{d7ff}", &["\u{d7ff}", "\u{d7ff}a"]),
        ("z\u{10ffff}", &["z\u{10ffff}", "z\u{10ffff}\u{10ffff}"]),
        ("\u{10ffff}", &["\u{10ffff}", "\u{10ffff}x"]),
        ("c", &[]),
        ("\u{10ffff}\u{10ffff}", &[]),
    ];
    for (prefix, expected) in cases {
        for limit in [1, 2, usize::MAX] {
            let all = list_all(store, THING, prefix, limit).await;
            let listed: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
            assert_eq!(&listed, expected, "prefix {prefix:?}, paged by {limit}");
        }
    }
    let mut everything: Vec<&str> = stored.to_vec();
    everything.sort_unstable();
    let all = list_all(store, THING, "", 5).await;
    assert!(all.iter().map(|r| r.key.as_str()).eq(everything));
}

pub async fn list_after_is_exclusive(store: &dyn RegistryStore) {
    for key in ["l/9", "m/1", "m/2", "m/3", "n/1"] {
        write_expecting(store, vec![put(key, Expect::Absent, key)], APPLIED).await;
    }
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("m/", None, &["m/1", "m/2", "m/3"]),
        ("m/", Some("m/1"), &["m/2", "m/3"]),
        ("m/", Some("m/15"), &["m/2", "m/3"]),
        ("m/", Some("m/2"), &["m/3"]),
        ("m/", Some("m/3"), &[]),
        // `after` before the prefix's range: the whole range.
        ("m/", Some(""), &["m/1", "m/2", "m/3"]),
        ("m/", Some("a"), &["m/1", "m/2", "m/3"]),
        ("m/", Some("m"), &["m/1", "m/2", "m/3"]),
        ("m/", Some("m/"), &["m/1", "m/2", "m/3"]),
        ("m/", Some("l/9"), &["m/1", "m/2", "m/3"]),
        // `after` past the prefix's range: nothing, even though keys follow.
        ("m/", Some("m0"), &[]),
        ("m/", Some("n"), &[]),
        ("m/", Some("\u{10ffff}"), &[]),
        ("", Some("m/3"), &["n/1"]),
        ("", Some("l/9"), &["m/1", "m/2", "m/3", "n/1"]),
        ("", Some("n/1"), &[]),
    ];
    for (prefix, after, expected) in cases {
        let page = list(store, THING, prefix, *after, 10).await;
        assert_eq!(keys(&page), *expected, "prefix {prefix:?} after {after:?}");
        assert_eq!(page.next_after, None, "prefix {prefix:?} after {after:?}");
    }
}

pub async fn list_limit_and_next_after(store: &dyn RegistryStore) {
    for key in ["p/1", "p/2", "p/3", "p/4", "q/1"] {
        write_expecting(store, vec![put(key, Expect::Absent, key)], APPLIED).await;
    }
    let page = |keys: &[&str], next: Option<&str>| {
        (
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            next.map(str::to_owned),
        )
    };
    let cases = [
        (None, 2, page(&["p/1", "p/2"], Some("p/2"))),
        (Some("p/2"), 2, page(&["p/3", "p/4"], None)), // full last page: no more
        (None, 4, page(&["p/1", "p/2", "p/3", "p/4"], None)),
        (None, 3, page(&["p/1", "p/2", "p/3"], Some("p/3"))),
        (Some("p/3"), 3, page(&["p/4"], None)),
        (None, 5, page(&["p/1", "p/2", "p/3", "p/4"], None)),
        (None, usize::MAX, page(&["p/1", "p/2", "p/3", "p/4"], None)),
        (None, 0, page(&["p/1"], Some("p/1"))), // 0 is treated as 1
        (Some("p/3"), 0, page(&["p/4"], None)),
        (Some("p/3"), 1, page(&["p/4"], None)),
        (Some("p/4"), 1, page(&[], None)),
    ];
    for (after, limit, (expected, next)) in cases {
        let got = list(store, THING, "p/", after, limit).await;
        let what = format!("after {after:?} limit {limit}");
        assert_eq!(keys(&got), expected, "{what}");
        assert_eq!(got.next_after, next, "{what}");
        assert!(
            got.records.iter().all(|r| r.doc == r.key && r.version == 1),
            "{what}"
        );
    }
    let all = list(store, THING, "", None, 4).await;
    assert_eq!(
        all.next_after.as_deref(),
        Some("p/4"),
        "q/1 follows in the kind"
    );
}

/// The same key in different kinds is a different record, including kinds that are prefixes
/// of each other and kind/key pairs that would collide if concatenated with '/'.
pub async fn kinds_are_isolated(store: &dyn RegistryStore) {
    let kinds = ["thing", "thing-type", "thingx", "Thing", "thin"];
    for (i, kind) in kinds.iter().enumerate() {
        for n in 0..=i {
            let doc = format!("{kind} {n}");
            write_expecting(
                store,
                vec![Write::put(kind, "k", Expect::Any, doc)],
                APPLIED,
            )
            .await;
        }
    }
    for (i, kind) in kinds.iter().enumerate() {
        let expected = record(kind, "k", i as u64 + 1, &format!("{kind} {i}"));
        assert_eq!(get(store, kind, "k").await, Some(expected.clone()));
        assert_eq!(
            list(store, kind, "", None, 10).await.records,
            vec![expected]
        );
    }
    write_expecting(
        store,
        vec![
            Write::check("thing", "k", Expect::Version(1)),
            Write::check("thing-type", "k", Expect::Version(2)),
            Write::check("other", "k", Expect::Absent),
            Write::delete("thing", "k", Expect::Version(1)),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(get(store, "thing", "k").await, None);
    assert_eq!(
        get(store, "thing-type", "k").await.map(|r| r.version),
        Some(2)
    );
    assert_eq!(get(store, "other", "k").await, None);

    write_expecting(
        store,
        vec![
            Write::put("a/b", "c", Expect::Absent, "kind a/b".into()),
            Write::put("a", "b/c", Expect::Absent, "kind a".into()),
            Write::put("a", "b", Expect::Absent, "b".into()),
        ],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, "a/b", "c").await,
        Some(record("a/b", "c", 1, "kind a/b"))
    );
    assert_eq!(
        get(store, "a", "b/c").await,
        Some(record("a", "b/c", 1, "kind a"))
    );
    assert_eq!(keys(&list(store, "a", "", None, 10).await), ["b", "b/c"]);
    assert_eq!(keys(&list(store, "a/b", "", None, 10).await), ["c"]);
}

pub async fn clear_removes_every_kind(store: &dyn RegistryStore) {
    let kinds = ["thing", "thing-type", "group-thing"];
    store.clear().await.expect("clear of an empty store");
    for kind in kinds {
        for key in ["1", "2/x", "3"] {
            write_expecting(
                store,
                vec![Write::put(kind, key, Expect::Any, "v".into())],
                APPLIED,
            )
            .await;
            write_expecting(
                store,
                vec![Write::put(kind, key, Expect::Any, "v".into())],
                APPLIED,
            )
            .await;
        }
    }
    store.clear().await.expect("clear");
    assert!(dump(store, &kinds).await.is_empty(), "clear left records");
    for kind in kinds {
        assert_eq!(get(store, kind, "1").await, None);
    }
    write_expecting(
        store,
        vec![Write::put("thing", "1", Expect::Absent, "new".into())],
        APPLIED,
    )
    .await;
    assert_eq!(
        get(store, "thing", "1").await,
        Some(record("thing", "1", 1, "new"))
    );
    store.clear().await.expect("second clear");
    assert!(dump(store, &kinds).await.is_empty());
}

/// Docs and keys come back byte for byte: no trimming, escaping or Unicode normalisation.
pub async fn text_round_trips_exactly(store: &dyn RegistryStore) {
    let large: String = (0..20_000)
        .map(|i| format!("{{\"é{i}\":\"日本🚀\\u0041\"}},"))
        .collect();
    let docs: Vec<String> = [
        "",
        " ",
        "{}",
        "null",
        r#"{"thingName":"ünïcødé ✓ 日本語 🚀","esc":"\u00e9\ud83d\ude80\n","n":[1,2.5,-3e10,true,null]}"#,
        "line1\nline2\r\n\ttabbed  trailing  ",
        "quotes \" ' ` backslashes \\ \\\\ percent % underscore _ star *",
        "e\u{301} is not \u{e9}",
        "\u{feff}byte-order mark first",
        "\u{1}\u{1f}\u{7f} controls",
        "\u{10ffff}\u{e000}\u{d7ff}\u{fffd}",
    ]
    .iter()
    .map(|d| d.to_string())
    .chain([large])
    .collect();
    for (i, doc) in docs.iter().enumerate() {
        let key = format!("doc/{i:02}");
        write_expecting(store, vec![put(&key, Expect::Absent, doc)], APPLIED).await;
        let found = get(store, THING, &key).await.expect("just written");
        assert!(
            found.doc == *doc,
            "doc {i} changed ({} bytes written, {} read)",
            doc.len(),
            found.doc.len()
        );
    }
    let listed = list_all(store, THING, "doc/", 3).await;
    assert!(
        listed.iter().map(|r| &r.doc).eq(docs.iter()),
        "listed docs differ"
    );

    // Keys that only differ in ways a normalising or padding store would lose.
    let twins = ["é", "e\u{301}", "a", "a ", "k", "K", "\u{3000}"];
    for key in twins {
        write_expecting(
            store,
            vec![Write::put("twin", key, Expect::Absent, key.to_owned())],
            APPLIED,
        )
        .await;
    }
    for key in twins {
        assert_eq!(
            get(store, "twin", key).await,
            Some(record("twin", key, 1, key))
        );
    }
    assert_eq!(
        list(store, "twin", "", None, 100).await.records.len(),
        twins.len()
    );
}

/// NUL cannot be stored: writes carrying it fail and apply nothing, reads for it find
/// nothing, and the store stays usable.
pub async fn nul_text_is_refused(store: &dyn RegistryStore) {
    for key in ["b", "b\u{1}", "c"] {
        write_expecting(store, vec![put(key, Expect::Absent, "ok")], APPLIED).await;
    }
    let bad = [
        Write::put(THING, "nul\0key", Expect::Any, "doc".into()),
        Write::put(THING, "key", Expect::Any, "nul\0doc".into()),
        Write::put("nul\0kind", "key", Expect::Any, "doc".into()),
        Write::check(THING, "nul\0key", Expect::Absent),
        Write::delete(THING, "nul\0key", Expect::Any),
    ];
    for w in bad {
        let shown = format!("{w:?}");
        match store.write(vec![put("side", Expect::Absent, "s"), w]).await {
            Err(StorageError::Closed) => panic!("{shown}: NUL must not report the store closed"),
            Err(_) => {}
            Ok(outcome) => panic!("{shown}: a write with NUL must fail, got {outcome:?}"),
        }
        assert_eq!(
            get(store, THING, "side").await,
            None,
            "{shown}: the batch must not apply"
        );
    }
    assert_eq!(get(store, THING, "nul\0key").await, None);
    assert_eq!(get(store, "nul\0kind", "key").await, None);
    assert_eq!(
        keys(&list(store, THING, "b\0", None, 10).await),
        Vec::<&str>::new()
    );
    assert_eq!(
        keys(&list(store, "nul\0kind", "", None, 10).await),
        Vec::<&str>::new()
    );
    assert_eq!(
        keys(&list(store, THING, "", Some("b\0"), 10).await),
        ["b\u{1}", "c"]
    );
    write_expecting(store, vec![put("side", Expect::Absent, "s")], APPLIED).await;
}

/// Random batches over a small key space, compared with [`Model`] after every batch, with
/// random listings in between. Conditions are biased towards holding so that many batches
/// apply.
pub async fn random_batches_match_a_model(store: &dyn RegistryStore) {
    const KINDS: &[&str] = &["r1", "r2"];
    const KEYS: &[&str] = &["a", "a/b", "a/c", "b", "b/a"];
    const PREFIXES: &[&str] = &["", "a", "a/", "b", "c"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model = Model::default();
    for step in 0..250 {
        let mut scratch = model.clone();
        let mut batch = Vec::new();
        for _ in 0..rng.below(5) {
            let (kind, key) = (*rng.pick(KINDS), *rng.pick(KEYS));
            let current = scratch.version(kind, key);
            let expect = match (rng.below(6), current) {
                (0, _) => Expect::Any,
                (1, Some(v)) => Expect::Version(v),
                (1, None) | (2, None) => Expect::Absent,
                (2, Some(_)) => Expect::Present,
                (3, _) => *rng.pick(&[Expect::Absent, Expect::Present]),
                (_, v) => Expect::Version(v.unwrap_or(1) + rng.below(3) as u64 - 1),
            };
            let change = match rng.below(3) {
                0 => Change::Put(format!("{step}:{}", rng.below(1000))),
                1 => Change::Delete,
                _ => Change::Check,
            };
            let w = Write {
                kind: kind.to_owned(),
                key: key.to_owned(),
                expect,
                change,
            };
            scratch.apply(std::slice::from_ref(&w));
            batch.push(w);
        }
        let shown = format!("step {step}: {batch:?}");
        let expected = model.apply(&batch);
        assert_eq!(write(store, batch).await, expected, "{shown}");
        for kind in KINDS {
            assert_eq!(
                list_all(store, kind, "", 1000).await,
                model.records(kind),
                "{shown}"
            );
        }
        let (kind, prefix) = (*rng.pick(KINDS), *rng.pick(PREFIXES));
        let after = match rng.below(3) {
            0 => None,
            _ => Some(*rng.pick(KEYS)),
        };
        let limit = rng.below(4);
        assert_eq!(
            list(store, kind, prefix, after, limit).await,
            model.page(kind, prefix, after, limit),
            "{shown}; list {kind} {prefix:?} after {after:?} limit {limit}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Cases that share the store between tasks.
// ---------------------------------------------------------------------------------------

/// How many writers the concurrent cases run at once.
const WRITERS: usize = 8;

/// Joins every task, failing on the first error or panic (dropping the set aborts the rest,
/// so tasks waiting on a barrier for a dead peer cannot hang the test).
async fn join_all<T: 'static>(mut tasks: JoinSet<Result<T, String>>) -> Vec<T> {
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(value)) => results.push(value),
            Ok(Err(err)) => panic!("{err}"),
            Err(err) => match err.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(err) => panic!("writer task did not finish: {err}"),
            },
        }
    }
    results
}

/// In each round every writer reads the version, then all write it back with
/// `Expect::Version`: exactly one applies, the others conflict, and the final version counts
/// the rounds (no lost update).
pub async fn concurrent_writers_have_one_winner_per_round(store: Arc<dyn RegistryStore>) {
    const ROUNDS: usize = 12;
    write_expecting(
        &*store,
        vec![put("contended", Expect::Absent, "start")],
        APPLIED,
    )
    .await;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = JoinSet::new();
    for task in 0..WRITERS {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.spawn(async move {
            let mut seen = Vec::new();
            for round in 0..ROUNDS {
                // Every write of the previous round has resolved.
                barrier.wait().await;
                let read = store
                    .get(THING, "contended")
                    .await
                    .map_err(|e| format!("task {task} round {round}: get: {e}"))?
                    .ok_or_else(|| format!("task {task} round {round}: record vanished"))?;
                // Every writer has read before any writes.
                barrier.wait().await;
                let doc = format!("task {task} round {round}");
                let outcome = store
                    .write(vec![put("contended", Expect::Version(read.version), &doc)])
                    .await
                    .map_err(|e| format!("task {task} round {round}: write: {e}"))?;
                seen.push((read.version, outcome));
            }
            Ok::<_, String>((task, seen))
        });
    }
    let results = join_all(tasks).await;
    let mut last_winner = None;
    for round in 0..ROUNDS {
        let mut winners = Vec::new();
        for (task, seen) in &results {
            let (read, outcome) = seen[round];
            assert_eq!(
                read,
                round as u64 + 1,
                "round {round}: task {task} read a stale version"
            );
            match outcome {
                APPLIED => winners.push(*task),
                other => assert_eq!(other, conflict(0), "round {round}, task {task}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        last_winner = Some(format!("task {} round {round}", winners[0]));
    }
    let last = get(&*store, THING, "contended").await.expect("record");
    assert_eq!(last.version, ROUNDS as u64 + 1);
    assert_eq!(Some(last.doc), last_winner);
}

/// Writers increment a counter doc with read → `Expect::Version` put, retrying on conflict,
/// without any coordination: every applied write took a distinct version and none was lost.
pub async fn concurrent_increments_lose_no_update(store: Arc<dyn RegistryStore>) {
    const PER_WRITER: usize = 5;
    const MAX_ATTEMPTS: usize = 10_000;
    write_expecting(&*store, vec![put("counter", Expect::Absent, "0")], APPLIED).await;
    let mut tasks = JoinSet::new();
    for task in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut written = Vec::new();
            for _ in 0..MAX_ATTEMPTS {
                if written.len() == PER_WRITER {
                    return Ok(written);
                }
                let current = store
                    .get(THING, "counter")
                    .await
                    .map_err(|e| format!("task {task}: get: {e}"))?
                    .ok_or_else(|| format!("task {task}: counter vanished"))?;
                let count: u64 = current
                    .doc
                    .parse()
                    .map_err(|e| format!("counter doc: {e}"))?;
                let next = (count + 1).to_string();
                match store
                    .write(vec![put(
                        "counter",
                        Expect::Version(current.version),
                        &next,
                    )])
                    .await
                    .map_err(|e| format!("task {task}: write: {e}"))?
                {
                    APPLIED => written.push(current.version + 1),
                    WriteOutcome::Conflict { index: 0 } => {}
                    other => return Err(format!("task {task}: unexpected {other:?}")),
                }
            }
            Err(format!(
                "task {task}: no progress in {MAX_ATTEMPTS} attempts"
            ))
        });
    }
    let mut versions: Vec<u64> = join_all(tasks).await.into_iter().flatten().collect();
    versions.sort_unstable();
    let total = (WRITERS * PER_WRITER) as u64;
    assert_eq!(
        versions,
        (2..=total + 1).collect::<Vec<_>>(),
        "versions written by winners"
    );
    assert_eq!(
        get(&*store, THING, "counter").await,
        Some(record(THING, "counter", total + 1, &total.to_string()))
    );
}

/// Writers create the same key with `Expect::Absent` at once: one applies, the rest conflict.
pub async fn concurrent_creates_have_one_winner(store: Arc<dyn RegistryStore>) {
    const ROUNDS: usize = 12;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = JoinSet::new();
    for task in 0..WRITERS {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let batch = vec![
                    put(
                        &format!("created/{round}"),
                        Expect::Absent,
                        &format!("task {task}"),
                    ),
                    Write::put(
                        "link",
                        &format!("{round}/{task}"),
                        Expect::Absent,
                        String::new(),
                    ),
                ];
                let outcome = store
                    .write(batch)
                    .await
                    .map_err(|e| format!("task {task} round {round}: {e}"))?;
                outcomes.push(outcome);
            }
            Ok::<_, String>((task, outcomes))
        });
    }
    let results = join_all(tasks).await;
    for round in 0..ROUNDS {
        let winners: Vec<usize> = results
            .iter()
            .filter(|(task, outcomes)| {
                let outcome = outcomes[round];
                assert!(
                    outcome == APPLIED || outcome == conflict(0),
                    "round {round}, task {task}: {outcome:?}"
                );
                outcome == APPLIED
            })
            .map(|(task, _)| *task)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let key = format!("created/{round}");
        let winner_doc = format!("task {}", winners[0]);
        assert_eq!(
            get(&*store, THING, &key).await,
            Some(record(THING, &key, 1, &winner_doc))
        );
        let links = list_all(&*store, "link", &format!("{round}/"), 100).await;
        assert_eq!(
            keys(&Page {
                records: links,
                next_after: None
            }),
            [format!("{round}/{}", winners[0])]
        );
    }
}

/// Writers on disjoint keys never see a conflict or an error, whatever the backend does to
/// detect real ones (lock waits, serialization failures must be retried inside the store).
pub async fn concurrent_writes_to_distinct_keys_all_apply(store: Arc<dyn RegistryStore>) {
    const ROUNDS: usize = 10;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = JoinSet::new();
    for task in 0..WRITERS {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.spawn(async move {
            let own = format!("own/{task}");
            for round in 0..ROUNDS {
                barrier.wait().await;
                let new = format!("own/{task}/{round}");
                let version = round as u64 + 1;
                let batch = vec![
                    Write::check(
                        THING,
                        &own,
                        if round == 0 {
                            Expect::Absent
                        } else {
                            Expect::Version(round as u64)
                        },
                    ),
                    put(&own, Expect::Any, &format!("round {round}")),
                    put(&new, Expect::Absent, "new"),
                    Write::check(THING, &own, Expect::Version(version)),
                ];
                let outcome = store
                    .write(batch)
                    .await
                    .map_err(|e| format!("task {task} round {round}: {e}"))?;
                if outcome != APPLIED {
                    return Err(format!(
                        "task {task} round {round}: {outcome:?} on its own keys"
                    ));
                }
            }
            Ok::<_, String>(())
        });
    }
    join_all(tasks).await;
    for task in 0..WRITERS {
        let own = format!("own/{task}");
        let last = format!("round {}", ROUNDS - 1);
        assert_eq!(
            get(&*store, THING, &own).await,
            Some(record(THING, &own, ROUNDS as u64, &last))
        );
        assert_eq!(
            list_all(&*store, THING, &format!("{own}/"), 100)
                .await
                .len(),
            ROUNDS
        );
    }
}

/// Write skew: two batches each check the record the other writes. Run one after the other,
/// the second always conflicts, so at most one may apply however they interleave, both when
/// the checked records are absent (nothing to lock) and when they exist.
pub async fn concurrent_write_skew_is_prevented(store: Arc<dyn RegistryStore>) {
    const PAIRS: usize = WRITERS / 2;
    const ROUNDS: usize = 10;
    for pair in 0..PAIRS {
        for round in 0..ROUNDS {
            let batch = vec![
                put(&format!("present/{pair}/{round}/0"), Expect::Absent, "v1"),
                put(&format!("present/{pair}/{round}/1"), Expect::Absent, "v1"),
            ];
            write_expecting(&*store, batch, APPLIED).await;
        }
    }
    let barrier = Arc::new(Barrier::new(PAIRS * 2));
    let mut tasks = JoinSet::new();
    for pair in 0..PAIRS {
        for side in 0..2usize {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tasks.spawn(async move {
                let mut outcomes = Vec::new();
                for round in 0..ROUNDS {
                    for variant in ["absent", "present"] {
                        let mine = format!("{variant}/{pair}/{round}/{side}");
                        let theirs = format!("{variant}/{pair}/{round}/{}", 1 - side);
                        let (check, write) = match variant {
                            "absent" => (Expect::Absent, Expect::Absent),
                            _ => (Expect::Version(1), Expect::Version(1)),
                        };
                        let batch = vec![
                            Write::check(THING, &theirs, check),
                            put(&mine, write, "mine"),
                        ];
                        barrier.wait().await;
                        let outcome = store
                            .write(batch)
                            .await
                            .map_err(|e| format!("{mine}: {e}"))?;
                        outcomes.push(((variant, round), outcome));
                    }
                }
                Ok::<_, String>((pair, outcomes))
            });
        }
    }
    let mut by_run: BTreeMap<(usize, &str, usize), Vec<WriteOutcome>> = BTreeMap::new();
    for (pair, outcomes) in join_all(tasks).await {
        for ((variant, round), outcome) in outcomes {
            by_run
                .entry((pair, variant, round))
                .or_default()
                .push(outcome);
        }
    }
    for (run, mut outcomes) in by_run {
        outcomes.sort_by_key(|o| *o != APPLIED);
        assert_eq!(
            outcomes,
            [APPLIED, conflict(0)],
            "pair, variant, round = {run:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Cases that open the location themselves.
// ---------------------------------------------------------------------------------------

async fn open_ok<L: RegistryLocation>(location: &L) -> Arc<L::Store> {
    match location.open().await {
        Ok(store) => store,
        Err(err) => panic!("open failed: {err}"),
    }
}

/// What a store wrote is there after it is closed and the location reopened, and so is what
/// a store that was only dropped wrote (an applied write is durable, close or not).
pub async fn reopen_persists<L: RegistryLocation>(location: &L) {
    let kinds = ["thing", "thing-type"];
    let store = open_ok(location).await;
    write_expecting(
        &*store,
        vec![
            put("a", Expect::Absent, "a1"),
            put("b", Expect::Absent, "b1"),
            Write::put("thing-type", "t", Expect::Absent, "{\"é\":\"🚀\"}".into()),
        ],
        APPLIED,
    )
    .await;
    write_expecting(&*store, vec![put("a", Expect::Version(1), "a2")], APPLIED).await;
    let expected = dump(&*store, &kinds).await;
    location.close(store).await.expect("close");

    let store = open_ok(location).await;
    assert_eq!(dump(&*store, &kinds).await, expected);
    write_expecting(
        &*store,
        vec![
            Write::delete(THING, "b", Expect::Version(1)),
            put("a", Expect::Version(2), "a3"),
        ],
        APPLIED,
    )
    .await;
    let expected = dump(&*store, &kinds).await;
    drop(store); // no close

    let store = open_ok(location).await;
    assert_eq!(dump(&*store, &kinds).await, expected);
    assert_eq!(
        get(&*store, THING, "a").await,
        Some(record(THING, "a", 3, "a3"))
    );
    store.clear().await.expect("clear");
    location.close(store).await.expect("close");

    let store = open_ok(location).await;
    assert!(
        dump(&*store, &kinds).await.is_empty(),
        "clear must be durable"
    );
    location.close(store).await.expect("close");
}
