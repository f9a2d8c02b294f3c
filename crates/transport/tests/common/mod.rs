//! Helpers shared by the listener tests: a CA per test, listeners on port 0, rustls and
//! tokio-tungstenite clients, and waits bounded by a timeout.
// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrite_transport::{
    Accepted, CaMaterial, Handshaken, Listener, ListenerKind, TransportError, ensure_ca,
    server_config,
};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

/// Upper bound for anything a test waits on; generous because CI machines are slow.
pub const WAIT: Duration = Duration::from_secs(10);
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("test step timed out")
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub ca: CaMaterial,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ensure_ca(dir.path(), &[]).expect("ca");
    Fixture { _dir: dir, ca }
}

pub async fn bind(kind: ListenerKind, ca: &CaMaterial, alpn: &[&[u8]]) -> Arc<Listener> {
    let tls = kind
        .uses_tls()
        .then(|| server_config(ca, alpn).expect("server config"));
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    Arc::new(Listener::bind(kind, addr, tls).await.expect("bind"))
}

/// Accepts one connection and runs its handshake.
pub async fn accept_one(listener: &Listener) -> Result<Accepted, TransportError> {
    handshake_one(listener).await.map(|h| match h {
        Handshaken::Mqtt(accepted) => accepted,
        Handshaken::Http(conn) => panic!("expected mqtt, got http {conn:?}"),
    })
}

/// Accepts one connection and runs its handshake, MQTT or HTTP.
pub async fn handshake_one(listener: &Listener) -> Result<Handshaken, TransportError> {
    let (tcp, peer) = listener.accept().await.expect("accept");
    assert!(tcp.nodelay().expect("nodelay"), "TCP_NODELAY must be set");
    listener.handshake(tcp, peer, HANDSHAKE_TIMEOUT).await
}

pub type ClientKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

pub fn parse_pair(cert_pem: &str, key_pem: &str) -> ClientKey {
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert pem");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key pem");
    (vec![cert], key)
}

pub fn client_config(
    ca: &CaMaterial,
    client: Option<ClientKey>,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.ca_cert_der().clone()).expect("root");
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

pub const ALL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

pub async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// Checks that bytes flow both ways over an accepted stream.
pub async fn ping_pong<C>(accepted: &mut Accepted, client: &mut C)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    client.write_all(b"hello").await.expect("client write");
    client.flush().await.expect("client flush");
    let mut buf = [0u8; 5];
    within(accepted.stream.read_exact(&mut buf))
        .await
        .expect("server read");
    assert_eq!(&buf, b"hello");
    accepted
        .stream
        .write_all(b"world")
        .await
        .expect("server write");
    accepted.stream.flush().await.expect("server flush");
    within(client.read_exact(&mut buf))
        .await
        .expect("client read");
    assert_eq!(&buf, b"world");
}

pub type WsClient<S> = WebSocketStream<S>;

pub fn ws_request(
    url: &str,
    protocol: Option<&'static str>,
) -> tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().expect("request");
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    }
    request
}

pub async fn next_message<S>(ws: &mut WsClient<S>) -> Message
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(ws.next())
        .await
        .expect("stream ended")
        .expect("websocket error")
}

/// Server writes are framed per flush; client frames are read back as one byte stream.
pub async fn check_ws_framing<S>(accepted: &mut Accepted, client: &mut WsClient<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accepted.stream.write_all(b"hello ").await.expect("write");
    accepted.stream.write_all(b"world").await.expect("write");
    accepted.stream.flush().await.expect("flush");
    accepted.stream.write_all(b"!").await.expect("write");
    accepted.stream.flush().await.expect("flush");
    assert_eq!(
        next_message(client).await,
        Message::Binary(bytes::Bytes::from_static(b"hello world"))
    );
    assert_eq!(
        next_message(client).await,
        Message::Binary(bytes::Bytes::from_static(b"!"))
    );

    // A packet split across frames, and frames holding several packets.
    for chunk in [&b"ab"[..], b"cdef", b"g", b"hij"] {
        client
            .send(Message::binary(chunk.to_vec()))
            .await
            .expect("send");
    }
    let mut buf = [0u8; 3];
    within(accepted.stream.read_exact(&mut buf))
        .await
        .expect("read");
    assert_eq!(&buf, b"abc");
    let mut buf = [0u8; 7];
    within(accepted.stream.read_exact(&mut buf))
        .await
        .expect("read");
    assert_eq!(&buf, b"defghij");
}

/// An upgrade request written by hand, so a test knows the exact bytes, header order and
/// query the server receives.
pub fn raw_upgrade_request(target: &str, extra_headers: &[(&str, &str)]) -> String {
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
    );
    for (name, value) in extra_headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// Sends `request` and reads the response head byte by byte (nothing past it), then
/// speaks WebSocket as the client over the same stream.
pub async fn raw_upgrade<S>(mut stream: S, request: &str) -> (String, WsClient<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send upgrade");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = within(stream.read(&mut byte)).await.expect("read response");
        assert_eq!(n, 1, "closed during the response head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("utf-8 response");
    let ws = WebSocketStream::from_raw_socket(
        stream,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    (head, ws)
}

/// `(name, value)` pairs as owned strings, for comparing with a `WsRequest`.
pub fn owned_headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The headers [`raw_upgrade_request`] always sends, as the server reports them.
pub const RAW_UPGRADE_HEADERS: [(&str, &str); 6] = [
    ("host", "localhost"),
    ("upgrade", "websocket"),
    ("connection", "Upgrade"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
    ("sec-websocket-protocol", "mqtt"),
];
