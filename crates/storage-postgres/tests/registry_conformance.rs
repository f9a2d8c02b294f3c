//! Runs the shared `RegistryStore` conformance suite against `PostgresStore`, each test in its
//! own scratch schema of the server named by `FERRITE_TEST_POSTGRES_URL` (dropped afterwards,
//! pass or fail). Without that variable every test says loudly that it is skipped, and returns.

use ferrite_storage_postgres::testing::ScratchLocation;

ferrite_storage::registry_store_conformance!(optional: || async {
    let mut location = ScratchLocation::from_env("the PostgreSQL registry conformance suite").await?;
    // More connections than the concurrent cases have writers (the broker writer holds one),
    // so that their conflicts are between transactions on different connections.
    location.options.max_connections = 12;
    Some(location)
});
