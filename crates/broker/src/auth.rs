//! The authorization seam. At CONNECT the broker asks an [`Authorizer`] who the client is
//! and gets back the connection's [`Permissions`], which it then asks before every publish,
//! subscription and delivery. The IoT-policy implementation (crate `identity`) plugs in
//! here; [`allow_all`] is the permissions of a client that may do everything.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use ferrite_mqtt_codec::{ProtocolVersion, ReasonCode};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::session::KickReason;

/// What the transport learned about a client before MQTT started. Handed to the
/// authorizer at CONNECT and dropped afterwards, so idle connections do not keep it.
#[derive(Debug, Clone, Default)]
pub struct TransportIdentity {
    /// The TLS client certificate (DER), if one was presented. The client proved it holds
    /// the key; whether the certificate is registered and active is the authorizer's call.
    pub certificate_der: Option<Vec<u8>>,
    /// AWS certificate id (hex SHA-256 of the DER) of that certificate.
    pub certificate_id: Option<String>,
    /// The TLS server name (SNI) the client asked for.
    pub sni: Option<String>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
    /// Whether the connection is encrypted (TLS or WSS).
    pub tls: bool,
    /// The WebSocket upgrade request, for WS and WSS connections.
    pub websocket: Option<HttpRequestHead>,
}

/// The parts of an HTTP request an authorizer needs (SigV4 presigned URLs, custom
/// authorizer headers and query parameters).
#[derive(Debug, Clone, Default)]
pub struct HttpRequestHead {
    pub method: String,
    pub path: String,
    /// The raw query string, still percent-encoded, without the `?`.
    pub query: Option<String>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
}

/// What the broker knows about a connecting client.
#[derive(Debug, Clone)]
pub struct ConnectContext<'a> {
    pub protocol: ProtocolVersion,
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub local_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    pub transport: Option<&'a TransportIdentity>,
    pub clean_start: bool,
    /// The session expiry granted (0: the session ends with the connection).
    pub session_expiry_secs: u32,
    pub will_topic: Option<&'a str>,
    pub will_retain: bool,
    /// Closes this connection from outside, e.g. when its certificate is revoked.
    pub revoker: Revoker,
}

/// Closes one connection as "not authorized" (MQTT 5: DISCONNECT 0x87). Cheap to clone;
/// revoking a closed connection does nothing.
#[derive(Debug, Clone)]
pub struct Revoker {
    pub(crate) kick: CancellationToken,
    pub(crate) reason: Arc<Mutex<Option<KickReason>>>,
}

impl Revoker {
    /// A revoker attached to no connection, for driving an [`Authorizer`] without a broker
    /// (tests, tools): revoking it only marks it closed.
    pub fn detached() -> Revoker {
        Revoker {
            kick: CancellationToken::new(),
            reason: Arc::default(),
        }
    }

    pub fn revoke(&self) {
        self.reason.lock().get_or_insert(KickReason::NotAuthorized);
        self.kick.cancel();
    }

    /// Closes the connection because its credentials' lifetime ended (a custom authorizer's
    /// `disconnectAfterInSeconds`; AWS: `CUSTOMAUTH_TTL_EXPIRATION`), MQTT 5: DISCONNECT 0x87.
    pub fn expire(&self) {
        self.reason
            .lock()
            .get_or_insert(KickReason::CredentialsExpired);
        self.kick.cancel();
    }

    /// Closes the connection because it reached the lifetime AWS gives SigV4-signed
    /// WebSocket connections (AWS: `WEBSOCKET_TTL_EXPIRATION`), MQTT 5: DISCONNECT 0xA0
    /// (Maximum connect time).
    pub fn websocket_ttl_expired(&self) {
        self.reason.lock().get_or_insert(KickReason::WebSocketTtl);
        self.kick.cancel();
    }

    /// Resolves once the connection has ended, been revoked or taken over, or the broker
    /// stops: timers kept for a connection end with it.
    pub async fn closed(&self) {
        self.kick.cancelled().await;
    }

    /// Whether the connection has ended, been revoked or taken over, or the broker stopped.
    pub fn is_closed(&self) -> bool {
        self.kick.is_cancelled()
    }
}

/// The answer to a CONNECT: the connection's permissions, or the reason code refusing it.
pub type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<dyn Permissions>, ReasonCode>> + Send + 'a>>;

pub trait Authorizer: Send + Sync + 'static {
    /// Authenticates the client and decides `iot:Connect`.
    fn connect<'a>(&'a self, ctx: ConnectContext<'a>) -> ConnectFuture<'a>;
}

/// What one connection may do. Asked on the connection's hot path: implementations answer
/// from memory.
pub trait Permissions: Send + Sync + 'static {
    fn publish(&self, topic: &str, retain: bool) -> bool;
    fn subscribe(&self, filter: &str) -> bool;
    /// Whether a message on `topic` may be delivered to this client.
    fn receive(&self, topic: &str) -> bool;
    /// Any other action on `{resource_type}/{name}` (e.g. `iot:GetThingShadow` on
    /// `thing/lamp`), for the data-plane APIs.
    fn allows(&self, action: &str, resource_type: &str, name: &str) -> bool;
    /// The authenticated principal (certificate id, custom authorizer principal id, access
    /// key id) that messages from this connection carry in their origin.
    fn principal(&self) -> Option<Arc<str>> {
        None
    }
}

/// Everything allowed, for `principal` if one is known (e.g. the access key id of an
/// account-admin SigV4 connection).
#[derive(Default)]
pub struct AllowAll {
    pub principal: Option<Arc<str>>,
}

impl Permissions for AllowAll {
    fn publish(&self, _topic: &str, _retain: bool) -> bool {
        true
    }

    fn subscribe(&self, _filter: &str) -> bool {
        true
    }

    fn receive(&self, _topic: &str) -> bool {
        true
    }

    fn allows(&self, _action: &str, _resource_type: &str, _name: &str) -> bool {
        true
    }

    fn principal(&self) -> Option<Arc<str>> {
        self.principal.clone()
    }
}

/// One shared instance, so connections that may do everything cost no allocation.
pub fn allow_all() -> Arc<dyn Permissions> {
    static ALL: LazyLock<Arc<dyn Permissions>> = LazyLock::new(|| Arc::new(AllowAll::default()));
    ALL.clone()
}
