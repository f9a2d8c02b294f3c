//! Runs the shared `BrokerStore` conformance suite against `PostgresStore`, each test in its
//! own scratch schema of the server named by `FERRITE_TEST_POSTGRES_URL` (dropped afterwards,
//! pass or fail). Without that variable every test says loudly that it is skipped, and returns.

use ferrite_storage_postgres::testing::ScratchLocation;

ferrite_storage::broker_store_conformance!(
    optional: || ScratchLocation::from_env("the PostgreSQL conformance suite")
);
