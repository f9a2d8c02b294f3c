//! Runs the shared `RegistryStore` conformance suite against `SqliteStore`, each test in its
//! own temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use ferrite_storage::registry_conformance::RegistryLocation;
use ferrite_storage::{BrokerStore, StoreFuture};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore};

/// A temp dir that lives as long as the test; every `open` reaches the same database file.
struct TempLocation {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempLocation {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("ferrite.db");
        Self { _dir: dir, path }
    }
}

impl RegistryLocation for TempLocation {
    type Store = SqliteStore;

    fn open(&self) -> StoreFuture<'_, Arc<SqliteStore>> {
        Box::pin(async move {
            Ok(Arc::new(SqliteStore::open(
                &self.path,
                SqliteOptions::default(),
            )?))
        })
    }

    /// The same shutdown the server uses: checkpoint and stop the writer thread.
    fn close(&self, store: Arc<SqliteStore>) -> StoreFuture<'_, ()> {
        Box::pin(async move { store.close().await })
    }
}

ferrite_storage::registry_store_conformance!(|| async { TempLocation::new() });
