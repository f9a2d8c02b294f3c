//! Ferrite's transport layer: everything between a socket and the MQTT byte stream.
//!
//! This crate owns
//! - Ferrite's own certificate authority and the server certificate it signs ([`ca`]),
//! - the rustls server configuration, which requests but does not require client
//!   certificates and accepts any certificate whose key the client proves to hold ([`tls`]),
//! - the identity read from a client certificate ([`identity`]),
//! - listeners for TCP, TLS, WebSocket and WebSocket-over-TLS that hand the broker a
//!   uniform [`Accepted`] connection ([`listener`], [`websocket`]).
//!
//! It does not decide whether a certificate is registered or a client is authorised:
//! that is the broker's job, using what [`Accepted`] reports.

pub mod ca;
pub mod error;
pub mod identity;
pub mod listener;
pub mod tls;
pub mod websocket;

pub use ca::{CaMaterial, CaPaths, ensure_ca};
pub use error::TransportError;
pub use identity::PeerCertificate;
pub use listener::{Accepted, Listener, ListenerKind, MqttStream};
pub use tls::server_config;
pub use websocket::DEFAULT_MAX_WS_MESSAGE_SIZE;
