//! The one error type of this crate.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::listener::ListenerKind;

/// Everything that can go wrong while preparing certificates, binding listeners or
/// accepting a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A file or directory of the CA could not be read, written or created.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A PEM or DER file of the CA holds something unusable.
    #[error("invalid {what} in {path}: {reason}")]
    InvalidFile {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },

    /// The CA certificate exists but its private key does not, so nothing can be signed.
    /// Ferrite refuses to silently replace a CA that users may already trust.
    #[error(
        "the ca certificate {cert} exists but its key {key} is missing; restore the key or move the certificate away to create a new ca"
    )]
    CaKeyMissing { cert: PathBuf, key: PathBuf },

    /// A requested server name is neither an IP address nor a valid DNS name.
    #[error("invalid server name {0:?}: expected a dns name or an ip address")]
    InvalidServerName(String),

    /// Key generation or certificate signing failed.
    #[error("certificate generation failed: {0}")]
    CertificateGeneration(#[from] rcgen::Error),

    /// A certificate could not be parsed.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),

    /// Building the rustls configuration failed.
    #[error("tls configuration failed: {0}")]
    TlsConfig(#[from] rustls::Error),

    /// A TLS, WSS or HTTPS listener was bound without a TLS configuration.
    #[error("a {0} listener needs a tls configuration")]
    MissingTlsConfig(ListenerKind),

    /// The listening socket could not be bound. `kind` lets the caller tell "address in
    /// use" / "permission denied" apart and point at the setting that chooses the port.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        kind: io::ErrorKind,
        #[source]
        source: io::Error,
    },

    /// The TLS and/or WebSocket handshake did not finish in time.
    #[error("handshake with {peer} timed out after {after:?}")]
    HandshakeTimeout { peer: SocketAddr, after: Duration },

    /// The TLS handshake failed (bad client signature, protocol error, peer went away...).
    #[error("tls handshake with {peer} failed: {source}")]
    TlsHandshake {
        peer: SocketAddr,
        #[source]
        source: io::Error,
    },

    /// The WebSocket upgrade was refused by us with an HTTP error status (wrong path,
    /// missing `mqtt` subprotocol...). The response has already been sent.
    #[error("websocket upgrade from {peer} rejected with http status {status}")]
    WebSocketRejected { peer: SocketAddr, status: u16 },

    /// The HTTP request head (WebSocket upgrade, or the first request on the device
    /// port) grew past the limit before its end; the client got 431.
    #[error("http request head from {peer} exceeds {limit} bytes")]
    HttpHeadTooLarge { peer: SocketAddr, limit: usize },

    /// Reading the HTTP request head failed, or the client closed before its end.
    #[error("reading the http request head from {peer} failed: {source}")]
    HttpHead {
        peer: SocketAddr,
        #[source]
        source: io::Error,
    },

    /// The WebSocket upgrade failed for another reason (malformed request, i/o error...).
    #[error("websocket handshake with {peer} failed: {source}")]
    WebSocketHandshake {
        peer: SocketAddr,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
}

impl TransportError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        TransportError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_file(
        what: &'static str,
        path: impl Into<PathBuf>,
        reason: impl ToString,
    ) -> Self {
        TransportError::InvalidFile {
            what,
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
