//! Listening sockets and the handshakes that turn an accepted TCP connection into an
//! MQTT byte stream, whatever the listener kind (or, on the multiplexed device port, into
//! an HTTP connection).
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

use crate::device_port::{self, DeviceTls};
use crate::error::TransportError;
use crate::head::{self, RequestHead};
use crate::identity::PeerCertificate;
use crate::prefixed::PrefixedStream;
use crate::websocket::{self, DEFAULT_MAX_WS_MESSAGE_SIZE, WsByteStream, WsRequest};

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
    /// MQTT over WebSocket over TLS only.
    Wss,
    /// AWS IoT's multiplexed device port (443): TLS, then MQTT or HTTP chosen by ALPN
    /// and, failing that, by the HTTP request (see [`crate::device_port`]).
    Https,
}

impl ListenerKind {
    /// Whether connections start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(
            self,
            ListenerKind::Tls | ListenerKind::Wss | ListenerKind::Https
        )
    }

    /// Whether every connection carries MQTT inside WebSocket frames. Connections of the
    /// device port ([`ListenerKind::Https`]) may too: [`Accepted::websocket`] tells.
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
            ListenerKind::Https => "https",
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
    /// The client certificate, if the client sent one (TLS kinds only). The client has
    /// proven it holds the key; the certificate itself is not yet trusted.
    pub peer_certificate: Option<PeerCertificate>,
    /// The server name the client asked for in TLS SNI.
    pub sni: Option<String>,
    /// The negotiated ALPN protocol. On the device port it says how the client means to
    /// authenticate: [`crate::device_port::route`].
    pub alpn: Option<Vec<u8>>,
    /// The upgrade request of a WebSocket connection (`Some` exactly for MQTT over
    /// WebSocket). Needed only to authorize CONNECT: `take()` it before serving the
    /// connection so the connection does not keep it.
    pub websocket: Option<WsRequest>,
}

/// An HTTP connection from the device port, TLS done, its first request not read yet.
pub struct HttpConn {
    /// The connection, replaying whatever was read to choose the route (the start of the
    /// first request) before the rest. Boxed: the TLS state is over a kilobyte, and this
    /// struct is moved a few times before the connection is served.
    pub stream: Box<PrefixedStream<TlsStream<TcpStream>>>,
    /// The client's address.
    pub peer_addr: SocketAddr,
    /// The client certificate, if the client sent one (proven, not yet trusted).
    pub peer_certificate: Option<PeerCertificate>,
    /// The server name the client asked for in TLS SNI.
    pub sni: Option<String>,
    /// The negotiated ALPN protocol (`x-amzn-http-ca`, `http/1.1` or none).
    pub alpn: Option<Vec<u8>>,
}

impl fmt::Debug for HttpConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConn")
            .field("peer_addr", &self.peer_addr)
            .field(
                "peer_certificate",
                &self.peer_certificate.as_ref().map(|c| &c.certificate_id),
            )
            .field("sni", &self.sni)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .finish_non_exhaustive()
    }
}

/// What a finished handshake yields: MQTT on every listener, HTTP only on the device
/// port ([`ListenerKind::Https`]).
#[derive(Debug)]
pub enum Handshaken {
    /// An MQTT connection for the broker.
    Mqtt(Accepted),
    /// An HTTP connection for the HTTP API.
    Http(HttpConn),
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
            .field("websocket", &self.websocket)
            .finish_non_exhaustive()
    }
}

/// A bound listening socket of one kind.
pub struct Listener {
    kind: ListenerKind,
    tcp: TcpListener,
    local_addr: SocketAddr,
    /// TLS for the TLS and WSS kinds.
    tls: Option<TlsAcceptor>,
    /// TLS for the device port, which picks its configuration per client.
    device_tls: Option<DeviceTls>,
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
    /// Binds `addr` (port 0 picks a free port). TLS, WSS and HTTPS listeners need `tls`;
    /// it is ignored for TCP and WS. The HTTPS (device port) listener replaces the
    /// configuration's ALPN protocols with AWS's ([`device_port::ALPN_PROTOCOLS`]).
    pub async fn bind(
        kind: ListenerKind,
        addr: SocketAddr,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<Listener, TransportError> {
        let (tls, device_tls) = match (kind, tls) {
            (ListenerKind::Https, Some(config)) => (None, Some(DeviceTls::new(&config))),
            (_, Some(config)) if kind.uses_tls() => (Some(TlsAcceptor::from(config)), None),
            (_, None) if kind.uses_tls() => return Err(TransportError::MissingTlsConfig(kind)),
            _ => (None, None),
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
            device_tls,
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

    /// Runs the TLS and/or WebSocket handshakes for a connection from [`Listener::accept`]
    /// (on the device port also reading the first HTTP request head when ALPN does not
    /// decide), giving up after `timeout`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        timeout: Duration,
    ) -> Result<Handshaken, TransportError> {
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
    ) -> Result<Handshaken, TransportError> {
        let mqtt = |stream: Box<dyn MqttStream>, info: TlsInfo, websocket| {
            Handshaken::Mqtt(Accepted {
                stream,
                peer_addr: peer,
                kind: self.kind,
                peer_certificate: info.peer_certificate,
                sni: info.sni,
                alpn: info.alpn,
                websocket,
            })
        };
        let handshaken = match (self.kind, &self.tls, &self.device_tls) {
            (ListenerKind::Tcp, ..) => mqtt(Box::new(tcp), TlsInfo::default(), None),
            (ListenerKind::Ws, ..) => {
                let (ws, request) = self.upgrade(tcp, peer).await?;
                mqtt(Box::new(ws), TlsInfo::default(), Some(request))
            }
            (ListenerKind::Tls, Some(acceptor), _) => {
                let (tls, info) = tls_accept(acceptor, tcp, peer).await?;
                mqtt(Box::new(tls), info, None)
            }
            (ListenerKind::Wss, Some(acceptor), _) => {
                let (tls, info) = tls_accept(acceptor, tcp, peer).await?;
                let (ws, request) = self.upgrade(tls, peer).await?;
                mqtt(Box::new(ws), info, Some(request))
            }
            (ListenerKind::Https, _, Some(device)) => {
                device_port::handshake(self, device, tcp, peer).await?
            }
            // `bind` refuses TLS kinds without a configuration.
            (kind @ (ListenerKind::Tls | ListenerKind::Wss | ListenerKind::Https), ..) => {
                return Err(TransportError::MissingTlsConfig(kind));
            }
        };
        tracing::debug!(?handshaken, "handshake complete");
        Ok(handshaken)
    }

    /// Reads the upgrade request and completes the WebSocket handshake.
    async fn upgrade<S>(
        &self,
        mut stream: S,
        peer: SocketAddr,
    ) -> Result<(WsByteStream<PrefixedStream<S>>, WsRequest), TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let head = head::read_head(&mut stream, peer).await?;
        self.upgrade_with_head(stream, head, peer).await
    }

    /// Completes the WebSocket handshake of a request whose head has been read already.
    /// Tungstenite reads the head again from the replayed bytes and applies its own and
    /// our checks (path, subprotocol); the head we parsed is what callers get, with the
    /// exact header order and raw query that tungstenite's `http::Request` would lose.
    pub(crate) async fn upgrade_with_head<S>(
        &self,
        mut stream: S,
        head: RequestHead,
        peer: SocketAddr,
    ) -> Result<(WsByteStream<PrefixedStream<S>>, WsRequest), TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Refused here rather than by tungstenite, whose parser allows more headers than
        // ours: every accepted upgrade must come with its request.
        let Some(request) = head.parsed else {
            head::respond_and_close(&mut stream, head::BAD_REQUEST_RESPONSE).await;
            return Err(TransportError::WebSocketRejected { peer, status: 400 });
        };
        let stream = PrefixedStream::new(head.raw, stream);
        match tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            websocket::check_upgrade,
            Some(self.ws_config),
        )
        .await
        {
            Ok(ws) => Ok((WsByteStream::new(ws), request)),
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
pub(crate) struct TlsInfo {
    pub peer_certificate: Option<PeerCertificate>,
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
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
    let info = tls_info(&tls)?;
    Ok((tls, info))
}

/// Reads the client's certificate, SNI and ALPN from a finished TLS handshake.
pub(crate) fn tls_info(tls: &TlsStream<TcpStream>) -> Result<TlsInfo, TransportError> {
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
    Ok(info)
}
