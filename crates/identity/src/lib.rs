//! Device identity and access. This crate owns the answer to "who is this connection and
//! what may it do": it authenticates a CONNECT (registered X.509 client certificate, SigV4
//! presigned WebSocket URL, custom authorizer, or anonymous on loopback), gathers the
//! principal's IoT policies and policy variables from the registry, and implements the
//! broker's `Authorizer` / `Permissions` seam with them. It also keeps live connections'
//! permissions current: live connections are indexed by what their permissions came from,
//! each registry change on the change feed resolves again only the connections it affects,
//! and a connection that lost its right to connect is closed.

// Unit tests spawn helper servers: the lint policy binds the crate's own code, which the
// non-test build still checks.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

mod authorizer;
mod certificate;
mod changes;
mod compiled;
mod context;
mod http_refusal;
mod live;
mod permissions;
mod refresh;
mod sigv4_ws;
#[cfg(test)]
mod tests;

pub use authorizer::{HttpAuthError, IdentityConfig, IotAuthorizer};
