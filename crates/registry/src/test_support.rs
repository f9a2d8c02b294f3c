//! What the registry's unit tests share: the scope their requests run in, a registry over a
//! real embedded store in a temporary directory, and a wall clock a test can stop.

use std::cell::Cell;
use std::sync::Arc;

use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};
use ferrite_types::{ChangeSubscription, Received, RegistryChange};

use crate::{EndpointConfig, Registry, Scope};

/// Region `eu-west-1`, account `123456789012`.
pub fn scope() -> Scope {
    Scope {
        region: "eu-west-1".into(),
        account: "123456789012".into(),
    }
}

/// A registry over a fresh embedded store, the scope of its requests, and the temporary
/// directory holding the store (removed when the fixture drops; tests may put more there).
pub struct Fixture {
    pub r: Registry,
    pub scope: Scope,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // Nothing outlives a test, so nothing needs syncing to disk.
        let options = SqliteOptions {
            synchronous: Synchronous::Off,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&dir.path().join("ferrite.db"), options).unwrap();
        let endpoints = EndpointConfig::localhost();
        Fixture {
            r: Registry::new(Arc::new(store), endpoints),
            scope: scope(),
            dir,
        }
    }
}

thread_local! {
    static PINNED_MS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// The time [`pin_clock`] set for this thread, if any.
pub(crate) fn pinned_ms() -> Option<i64> {
    PINNED_MS.with(Cell::get)
}

/// Stops the registry's wall clock at `ms` on this thread until the guard drops, so that
/// everything a test creates meanwhile has the same creation time. A `#[tokio::test]` (one
/// thread) runs the registry's code on the test's thread.
pub fn pin_clock(ms: i64) -> ClockPin {
    PINNED_MS.with(|p| p.set(Some(ms)));
    ClockPin(())
}

/// Restarts the clock when dropped.
pub struct ClockPin(());

impl Drop for ClockPin {
    fn drop(&mut self) {
        PINNED_MS.with(|p| p.set(None));
    }
}

/// The changes announced since the last call (they are announced before the operation
/// returns, so nothing is still on its way).
pub fn announced(changes: &mut ChangeSubscription) -> Vec<RegistryChange> {
    let mut out = Vec::new();
    while let Some(received) = changes.try_recv() {
        match received {
            Received::Change(c) => out.push((*c).clone()),
            Received::Missed(n) => panic!("the test fell {n} changes behind"),
        }
    }
    out
}
