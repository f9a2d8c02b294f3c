//! Ferrite's transport layer: everything between a socket and the MQTT byte stream.
//!
//! This crate owns
//! - Ferrite's own certificate authority and the server certificate it signs ([`ca`]),
//! - the rustls server configuration, which requests but does not require client
//!   certificates and accepts any certificate whose key the client proves to hold ([`tls`]),
//! - the identity read from a client certificate ([`identity`]),
//! - listeners for TCP, TLS, WebSocket and WebSocket-over-TLS that hand the broker a
//!   uniform [`Accepted`] connection ([`listener`], [`websocket`]), with the upgrade
//!   request of WebSocket connections ([`WsRequest`]) for SigV4 and custom authorizers,
//! - AWS's multiplexed device port, which routes each TLS connection to MQTT or to HTTP
//!   ([`HttpConn`]) by ALPN and by its first request ([`device_port`]).
//!
//! It does not decide whether a certificate is registered or a client is authorised:
//! that is the broker's (or the HTTP API's) job, using what [`Accepted`] and [`HttpConn`]
//! report.

pub mod ca;
pub mod device_port;
pub mod error;
mod head;
pub mod identity;
pub mod issue;
pub mod listener;
pub mod prefixed;
pub mod tls;
pub mod websocket;

pub use ca::{CaMaterial, CaPaths, ensure_ca};
pub use error::TransportError;
pub use head::MAX_HTTP_HEAD;
pub use identity::PeerCertificate;
pub use listener::{Accepted, Handshaken, HttpConn, Listener, ListenerKind, MqttStream};
pub use prefixed::PrefixedStream;
pub use tls::server_config;
pub use websocket::{DEFAULT_MAX_WS_MESSAGE_SIZE, WsRequest};
