//! Wiring of the `ferrite` binary: builds the store, the CA, the broker and the listeners
//! from a `Config`, and shuts them down in order. Holds no protocol logic of its own.
//! Tests start the same server in-process through `Server::start`.

mod cluster;
mod credentials;
mod device_auth;
pub mod env;
mod http;
mod issuer;
mod listeners;
pub mod logging;
mod peer;
mod rule_lookups;
mod server;
mod shadows;

pub use server::{BoundAddrs, Server};

/// Where a running server writes the addresses its listeners bound, in its data directory.
pub const LISTENERS_FILE: &str = "listeners.json";
