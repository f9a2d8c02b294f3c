//! What the registry's unit tests share: the scope their requests run in, and a registry
//! over a real embedded store in a temporary directory.

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
        let endpoints = EndpointConfig {
            data: "localhost".into(),
            credential_provider: "localhost".into(),
            jobs: "localhost".into(),
        };
        Fixture {
            r: Registry::new(Arc::new(store), endpoints),
            scope: scope(),
            dir,
        }
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
