//! Runs the shared `BrokerStore` conformance suite against `SqliteStore`, each test in its
//! own temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use ferrite_storage::conformance::StoreLocation;
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
        // A missing subdirectory, so `open` creating parents is exercised too.
        let path = dir.path().join("state").join("broker.db");
        Self { _dir: dir, path }
    }
}

impl StoreLocation for TempLocation {
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>> {
        Box::pin(async move {
            let store = SqliteStore::open(&self.path, SqliteOptions::default())?;
            Ok(Arc::new(store) as Arc<dyn BrokerStore>)
        })
    }
}

ferrite_storage::broker_store_conformance!(|| async { TempLocation::new() });
