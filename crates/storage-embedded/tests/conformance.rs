//! The shared `BrokerStore` conformance suite, run against the embedded SQLite backend.

use std::sync::Arc;

use ferrite_storage::conformance::StoreLocation;
use ferrite_storage::{BrokerStore, StoreFuture};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore};

/// A database file in a temporary directory that lives as long as the location.
struct TempDb {
    dir: tempfile::TempDir,
}

impl StoreLocation for TempDb {
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>> {
        let path = self.dir.path().join("ferrite.db");
        Box::pin(async move {
            let store = SqliteStore::open(&path, SqliteOptions::default())?;
            Ok(Arc::new(store) as Arc<dyn BrokerStore>)
        })
    }
}

ferrite_storage::broker_store_conformance!(|| async {
    TempDb { dir: tempfile::tempdir().expect("temp dir") }
});
