//! AWS IoT's multiplexed device port (AWS: 443): one TLS port carrying MQTT with client
//! certificates, MQTT with custom authorizers, HTTPS with client certificates, and HTTP or
//! MQTT over WebSocket signed with SigV4 or a custom authorizer.
//!
//! The TLS handshake routes by the ALPN protocol the client chose (spec §1.2, §10.4):
//! `x-amzn-mqtt-ca` and `mqtt` are MQTT, `x-amzn-http-ca` is HTTP; anything else (usually
//! `http/1.1` or no ALPN) is decided by the first HTTP request: a WebSocket upgrade of
//! `/mqtt` is MQTT over WebSocket, any other request is HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rustls::ServerConfig;
use rustls::server::Acceptor;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;

use crate::error::TransportError;
use crate::head;
use crate::listener::{Accepted, Handshaken, HttpConn, Listener, tls_info};
use crate::prefixed::PrefixedStream;

/// MQTT authenticated by the client certificate.
pub const ALPN_MQTT_CA: &[u8] = b"x-amzn-mqtt-ca";
/// MQTT authenticated by a custom authorizer (username/password).
pub const ALPN_MQTT: &[u8] = b"mqtt";
/// HTTP authenticated by the client certificate.
pub const ALPN_HTTP_CA: &[u8] = b"x-amzn-http-ca";
/// Plain HTTP/1.1: HTTP or MQTT over WebSocket, signed with SigV4 or a custom authorizer.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The ALPN protocols the device port offers, in the order it prefers them when a client
/// offers several.
pub const ALPN_PROTOCOLS: [&[u8]; 4] = [ALPN_MQTT_CA, ALPN_MQTT, ALPN_HTTP_CA, ALPN_HTTP_1_1];

/// What a device-port connection carries and how its client means to authenticate,
/// by the negotiated ALPN protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `x-amzn-mqtt-ca`: MQTT, authenticated by the client certificate.
    MqttWithCertificate,
    /// `mqtt`: MQTT, authenticated by a custom authorizer.
    MqttWithCustomAuthorizer,
    /// `x-amzn-http-ca`: HTTP, authenticated by the client certificate.
    HttpWithCertificate,
    /// Anything else: HTTP or MQTT over WebSocket, authenticated by SigV4 or a custom
    /// authorizer; the request decides which.
    HttpOrWebSocket,
}

/// The route for a negotiated ALPN protocol.
pub fn route(alpn: Option<&[u8]>) -> Route {
    match alpn {
        Some(ALPN_MQTT_CA) => Route::MqttWithCertificate,
        Some(ALPN_MQTT) => Route::MqttWithCustomAuthorizer,
        Some(ALPN_HTTP_CA) => Route::HttpWithCertificate,
        _ => Route::HttpOrWebSocket,
    }
}

/// The device port's two TLS configurations. rustls refuses a handshake (alert
/// `no_application_protocol`) when the client offers ALPN protocols of which the server
/// knows none; AWS's port does not, so such clients get the configuration without ALPN.
pub(crate) struct DeviceTls {
    with_alpn: Arc<ServerConfig>,
    without_alpn: Arc<ServerConfig>,
}

impl DeviceTls {
    pub fn new(base: &ServerConfig) -> DeviceTls {
        let mut with_alpn = base.clone();
        with_alpn.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        let mut without_alpn = base.clone();
        without_alpn.alpn_protocols = Vec::new();
        DeviceTls {
            with_alpn: Arc::new(with_alpn),
            without_alpn: Arc::new(without_alpn),
        }
    }

    /// The configuration for a client offering `offered` (`None`: no ALPN extension).
    fn for_client<'a>(&self, offered: Option<impl Iterator<Item = &'a [u8]>>) -> Arc<ServerConfig> {
        let known = offered
            .is_some_and(|mut offered| offered.any(|protocol| ALPN_PROTOCOLS.contains(&protocol)));
        if known {
            self.with_alpn.clone()
        } else {
            self.without_alpn.clone()
        }
    }
}

/// TLS, then the route: MQTT as ALPN says, HTTP as ALPN says, or whatever the first
/// request asks for.
pub(crate) async fn handshake(
    listener: &Listener,
    device: &DeviceTls,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<Handshaken, TransportError> {
    let tls_error = |source| TransportError::TlsHandshake { peer, source };
    let start = LazyConfigAcceptor::new(Acceptor::default(), tcp)
        .await
        .map_err(tls_error)?;
    let config = device.for_client(start.client_hello().alpn());
    let mut tls = start.into_stream(config).await.map_err(tls_error)?;
    let info = tls_info(&tls)?;
    let mqtt = |stream, info: crate::listener::TlsInfo, websocket| {
        Handshaken::Mqtt(Accepted {
            stream,
            peer_addr: peer,
            kind: listener.kind(),
            peer_certificate: info.peer_certificate,
            sni: info.sni,
            alpn: info.alpn,
            websocket,
        })
    };
    let http = |stream, info: crate::listener::TlsInfo| {
        Handshaken::Http(HttpConn {
            stream: Box::new(stream),
            peer_addr: peer,
            peer_certificate: info.peer_certificate,
            sni: info.sni,
            alpn: info.alpn,
        })
    };
    Ok(match route(info.alpn.as_deref()) {
        Route::MqttWithCertificate | Route::MqttWithCustomAuthorizer => {
            mqtt(Box::new(tls), info, None)
        }
        Route::HttpWithCertificate => http(PrefixedStream::new(Bytes::new(), tls), info),
        Route::HttpOrWebSocket => {
            let head = head::read_head(&mut tls, peer).await?;
            if head.is_mqtt_upgrade() {
                let (ws, request) = listener.upgrade_with_head(tls, head, peer).await?;
                mqtt(Box::new(ws), info, Some(request))
            } else {
                http(PrefixedStream::new(head.raw, tls), info)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_alpn() {
        assert_eq!(route(Some(b"x-amzn-mqtt-ca")), Route::MqttWithCertificate);
        assert_eq!(route(Some(b"mqtt")), Route::MqttWithCustomAuthorizer);
        assert_eq!(route(Some(b"x-amzn-http-ca")), Route::HttpWithCertificate);
        assert_eq!(route(Some(b"http/1.1")), Route::HttpOrWebSocket);
        assert_eq!(route(Some(b"h2")), Route::HttpOrWebSocket);
        assert_eq!(route(None), Route::HttpOrWebSocket);
    }
}
