//! Runs both conformance suites against `MemoryStore`: every `open` of a location is a new
//! store on the location's one `MemoryData`, as a restart reopens a database.

use std::sync::Arc;

use ferrite_storage::conformance::StoreLocation;
use ferrite_storage::registry_conformance::RegistryLocation;
use ferrite_storage::{BrokerStore, StoreFuture};
use ferrite_storage_memory::{MemoryData, MemoryStore};

#[derive(Default)]
struct Location(MemoryData);

impl StoreLocation for Location {
    fn open(&self) -> StoreFuture<'_, Arc<dyn BrokerStore>> {
        Box::pin(async move { Ok(Arc::new(MemoryStore::open(&self.0)) as Arc<dyn BrokerStore>) })
    }
}

impl RegistryLocation for Location {
    type Store = MemoryStore;

    fn open(&self) -> StoreFuture<'_, Arc<MemoryStore>> {
        Box::pin(async move { Ok(Arc::new(MemoryStore::open(&self.0))) })
    }

    fn close(&self, store: Arc<MemoryStore>) -> StoreFuture<'_, ()> {
        Box::pin(async move { store.close().await })
    }
}

mod broker {
    use super::Location;

    ferrite_storage::broker_store_conformance!(|| async { Location::default() });
}

mod registry {
    use super::Location;

    ferrite_storage::registry_store_conformance!(|| async { Location::default() });
}
