//! The authorization seam. The broker asks an `Authorizer` before it accepts a connection,
//! a publish or a subscription; the IoT-policy implementation plugs in here. The default,
//! `LocalOnly`, lets anonymous clients in only on loopback listeners.

use std::net::SocketAddr;

use ferrite_mqtt_codec::ReasonCode;

/// What the broker knows about a connecting client.
#[derive(Debug, Clone)]
pub struct ConnectContext<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub local_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    /// AWS certificate id (hex SHA-256 of the DER) of the TLS client certificate, if any.
    pub certificate_id: Option<&'a str>,
    pub clean_start: bool,
}

pub trait Authorizer: Send + Sync + 'static {
    /// `Err` carries the MQTT 5 reason code for the refusal.
    fn connect(&self, ctx: &ConnectContext<'_>) -> Result<(), ReasonCode>;
    fn publish(&self, client_id: &str, topic: &str, retain: bool) -> bool;
    fn subscribe(&self, client_id: &str, filter: &str) -> bool;
}

/// Anonymous access on loopback listeners only; anything else needs a client certificate
/// (checked against the registry once certificate enforcement lands).
pub struct LocalOnly;

impl Authorizer for LocalOnly {
    fn connect(&self, ctx: &ConnectContext<'_>) -> Result<(), ReasonCode> {
        if ctx.local_addr.ip().is_loopback() || ctx.certificate_id.is_some() {
            Ok(())
        } else {
            Err(ReasonCode::NotAuthorized)
        }
    }

    fn publish(&self, _client_id: &str, _topic: &str, _retain: bool) -> bool {
        true
    }

    fn subscribe(&self, _client_id: &str, _filter: &str) -> bool {
        true
    }
}
