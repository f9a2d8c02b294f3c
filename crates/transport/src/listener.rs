//! Listening sockets and the handshakes that turn an accepted TCP connection into an
//! MQTT byte stream, whatever the listener kind.
//!
//! Accepting and handshaking are separate calls on purpose: the caller runs `accept` in
//! a loop and spawns `handshake` per connection, so a slow or malicious client stalling
//! its TLS or WebSocket handshake never holds up other clients.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::TransportError;
use crate::identity::PeerCertificate;
use crate::websocket::{self, DEFAULT_MAX_WS_MESSAGE_SIZE, WsByteStream};

/// The byte stream the broker reads MQTT packets from and writes them to.
pub trait MqttStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T> MqttStream for T where T: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

/// How clients reach a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// Plain MQTT over TCP (no encryption; for local development).
    Tcp,
    /// MQTT over TLS, optionally with a client certificate (AWS IoT's port 8883).
    Tls,
    /// MQTT over WebSocket without TLS.
    Ws,
    /// MQTT over WebSocket over TLS (AWS IoT's port 443 WebSocket endpoint).
    Wss,
}

impl ListenerKind {
    /// Whether connections start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(self, ListenerKind::Tls | ListenerKind::Wss)
    }

    /// Whether connections carry MQTT inside WebSocket frames.
    pub fn uses_websocket(self) -> bool {
        matches!(self, ListenerKind::Ws | ListenerKind::Wss)
    }
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerKind::Tcp => "tcp",
            ListenerKind::Tls => "tls",
            ListenerKind::Ws => "ws",
            ListenerKind::Wss => "wss",
        })
    }
}

/// A connection whose handshakes are done, ready for MQTT.
pub struct Accepted {
    /// The MQTT byte stream.
    pub stream: Box<dyn MqttStream>,
    /// The client's address.
    pub peer_addr: SocketAddr,
    /// The listener it came through.
    pub kind: ListenerKind,
    /// The client certificate, if the client sent one (TLS and WSS only). The client has
    /// proven it holds the key; the certificate itself is not yet trusted.
    pub peer_certificate: Option<PeerCertificate>,
    /// The server name the client asked for in TLS SNI.
    pub sni: Option<String>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("peer_addr", &self.peer_addr)
            .field("kind", &self.kind)
            .field(
                "peer_certificate",
                &self.peer_certificate.as_ref().map(|c| &c.certificate_id),
            )
            .field("sni", &self.sni)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .finish_non_exhaustive()
    }
}

/// A bound listening socket of one kind.
pub struct Listener {
    kind: ListenerKind,
    tcp: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    ws_config: WebSocketConfig,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("kind", &self.kind)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port). TLS and WSS listeners need `tls`; it is
    /// ignored for TCP and WS.
    pub async fn bind(
        kind: ListenerKind,
        addr: SocketAddr,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<Listener, TransportError> {
        let tls = match (kind.uses_tls(), tls) {
            (true, Some(config)) => Some(TlsAcceptor::from(config)),
            (true, None) => return Err(TransportError::MissingTlsConfig(kind)),
            (false, _) => None,
        };
        let bind_error = |source: io::Error| TransportError::Bind {
            addr,
            kind: source.kind(),
            source,
        };
        let tcp = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = tcp.local_addr().map_err(bind_error)?;
        tracing::info!(%kind, %local_addr, "listening");
        Ok(Listener {
            kind,
            tcp,
            local_addr,
            tls,
            ws_config: websocket::websocket_config(DEFAULT_MAX_WS_MESSAGE_SIZE),
        })
    }

    /// Caps incoming WebSocket messages and frames at `bytes` (default
    /// [`DEFAULT_MAX_WS_MESSAGE_SIZE`]); larger ones close the connection.
    pub fn with_max_ws_message_size(mut self, bytes: usize) -> Self {
        self.ws_config = websocket::websocket_config(bytes);
        self
    }

    /// The kind of this listener.
    pub fn kind(&self) -> ListenerKind {
        self.kind
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the next TCP connection. Errors are per-connection or transient
    /// (e.g. out of file descriptors): the caller logs them and keeps accepting.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), io::Error> {
        let (tcp, peer) = self.tcp.accept().await?;
        // MQTT is request/response with small packets: Nagle's algorithm would add
        // latency to every PUBACK and PINGRESP.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        Ok((tcp, peer))
    }

    /// Runs the TLS and/or WebSocket handshakes for a connection from [`Listener::accept`],
    /// giving up after `timeout`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        timeout: Duration,
    ) -> Result<Accepted, TransportError> {
        match tokio::time::timeout(timeout, self.handshake_inner(tcp, peer)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::HandshakeTimeout {
                peer,
                after: timeout,
            }),
        }
    }

    async fn handshake_inner(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Result<Accepted, TransportError> {
        let (stream, info): (Box<dyn MqttStream>, TlsInfo) = match (self.kind, &self.tls) {
            (ListenerKind::Tcp, _) => (Box::new(tcp), TlsInfo::default()),
            (ListenerKind::Ws, _) => (Box::new(self.upgrade(tcp, peer).await?), TlsInfo::default()),
            (ListenerKind::Tls, Some(acceptor)) => {
                let (tls, info) = tls_accept(acceptor, tcp, peer).await?;
                (Box::new(tls), info)
            }
            (ListenerKind::Wss, Some(acceptor)) => {
                let (tls, info) = tls_accept(acceptor, tcp, peer).await?;
                (Box::new(self.upgrade(tls, peer).await?), info)
            }
            // `bind` refuses TLS kinds without a configuration.
            (kind @ (ListenerKind::Tls | ListenerKind::Wss), None) => {
                return Err(TransportError::MissingTlsConfig(kind));
            }
        };
        let accepted = Accepted {
            stream,
            peer_addr: peer,
            kind: self.kind,
            peer_certificate: info.peer_certificate,
            sni: info.sni,
            alpn: info.alpn,
        };
        tracing::debug!(?accepted, "handshake complete");
        Ok(accepted)
    }

    async fn upgrade<S>(
        &self,
        stream: S,
        peer: SocketAddr,
    ) -> Result<WsByteStream<S>, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            websocket::check_upgrade,
            Some(self.ws_config),
        )
        .await
        {
            Ok(ws) => Ok(WsByteStream::new(ws)),
            // Our callback refused the upgrade; tungstenite already sent the response.
            Err(tungstenite::Error::Http(response)) => Err(TransportError::WebSocketRejected {
                peer,
                status: response.status().as_u16(),
            }),
            Err(e) => Err(TransportError::WebSocketHandshake {
                peer,
                source: Box::new(e),
            }),
        }
    }
}

/// What the TLS handshake revealed about the client.
#[derive(Default)]
struct TlsInfo {
    peer_certificate: Option<PeerCertificate>,
    sni: Option<String>,
    alpn: Option<Vec<u8>>,
}

async fn tls_accept(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<(TlsStream<TcpStream>, TlsInfo), TransportError> {
    let tls = acceptor
        .accept(tcp)
        .await
        .map_err(|source| TransportError::TlsHandshake { peer, source })?;
    let (_, conn) = tls.get_ref();
    let peer_certificate = match conn.peer_certificates().and_then(|c| c.first()) {
        Some(der) => Some(PeerCertificate::from_der(der)?),
        None => None,
    };
    let info = TlsInfo {
        peer_certificate,
        sni: conn.server_name().map(str::to_owned),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
    };
    Ok((tls, info))
}
