//! The multiplexed device port over real loopback sockets: every ALPN value AWS defines
//! routes where AWS routes it, clients without ALPN or with unknown protocols still get
//! in, and without a deciding ALPN the first HTTP request chooses between MQTT over
//! WebSocket and HTTP.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferrite_transport::device_port::{self, Route};
use ferrite_transport::{
    Handshaken, HttpConn, Listener, ListenerKind, MAX_HTTP_HEAD, TransportError,
};
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// ALPN protocols a client offers.
type Alpn<'a> = &'a [&'a [u8]];

async fn device_port(f: &Fixture) -> Arc<Listener> {
    // The listener replaces whatever ALPN list the configuration has with AWS's.
    bind(ListenerKind::Https, &f.ca, &[b"something-else"]).await
}

fn thing_cert(f: &Fixture, name: &str) -> ClientKey {
    let (cert, key) = f.ca.issue_client_cert(name).expect("issue");
    parse_pair(&cert, &key)
}

/// Runs the server handshake and a client TLS connection side by side.
async fn connect(
    listener: &Listener,
    config: Arc<ClientConfig>,
) -> (Handshaken, TlsStream<TcpStream>) {
    let (server, client) = within(async {
        tokio::join!(
            handshake_one(listener),
            tls_connect(listener.local_addr(), config)
        )
    })
    .await;
    (server.expect("handshake"), client.expect("tls connect"))
}

/// Like [`connect`], for routes decided by the first request: the client sends
/// `request` once TLS is up.
async fn connect_and_send(
    listener: &Listener,
    config: Arc<ClientConfig>,
    request: &[u8],
) -> (Result<Handshaken, TransportError>, TlsStream<TcpStream>) {
    within(async {
        tokio::join!(handshake_one(listener), async {
            let mut tls = tls_connect(listener.local_addr(), config)
                .await
                .expect("tls connect");
            tls.write_all(request).await.expect("send");
            tls.flush().await.expect("flush");
            tls
        })
    })
    .await
}

fn expect_http(handshaken: Handshaken) -> HttpConn {
    match handshaken {
        Handshaken::Http(conn) => conn,
        Handshaken::Mqtt(accepted) => panic!("expected http, got mqtt {accepted:?}"),
    }
}

fn expect_mqtt(handshaken: Handshaken) -> ferrite_transport::Accepted {
    match handshaken {
        Handshaken::Mqtt(accepted) => accepted,
        Handshaken::Http(conn) => panic!("expected mqtt, got http {conn:?}"),
    }
}

#[tokio::test]
async fn mqtt_ca_alpn_is_mqtt_with_the_client_certificate() {
    let f = fixture();
    let listener = device_port(&f).await;
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let config = client_config(
            &f.ca,
            Some(thing_cert(&f, "thing-1")),
            versions,
            &[b"x-amzn-mqtt-ca"],
        );
        let (server, mut client) = connect(&listener, config).await;
        let mut accepted = expect_mqtt(server);
        assert_eq!(accepted.kind, ListenerKind::Https);
        assert_eq!(accepted.alpn.as_deref(), Some(&b"x-amzn-mqtt-ca"[..]));
        assert_eq!(
            device_port::route(accepted.alpn.as_deref()),
            Route::MqttWithCertificate
        );
        assert_eq!(accepted.sni.as_deref(), Some("localhost"));
        let peer = accepted.peer_certificate.clone().expect("certificate");
        assert_eq!(peer.subject_common_name.as_deref(), Some("thing-1"));
        assert!(accepted.websocket.is_none());
        assert_eq!(
            client.get_ref().1.alpn_protocol(),
            Some(&b"x-amzn-mqtt-ca"[..])
        );
        // MQTT flows from the first byte: nothing was read ahead.
        ping_pong(&mut accepted, &mut client).await;
    }
}

#[tokio::test]
async fn mqtt_alpn_is_mqtt_for_custom_authorizers() {
    let f = fixture();
    let listener = device_port(&f).await;
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"mqtt"]);
    let (server, mut client) = connect(&listener, config).await;
    let mut accepted = expect_mqtt(server);
    assert_eq!(accepted.alpn.as_deref(), Some(&b"mqtt"[..]));
    assert_eq!(
        device_port::route(accepted.alpn.as_deref()),
        Route::MqttWithCustomAuthorizer
    );
    assert!(accepted.peer_certificate.is_none());
    assert!(accepted.websocket.is_none());
    ping_pong(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn http_ca_alpn_is_http_with_the_client_certificate() {
    let f = fixture();
    let listener = device_port(&f).await;
    let config = client_config(
        &f.ca,
        Some(thing_cert(&f, "thing-2")),
        ALL_VERSIONS,
        &[b"x-amzn-http-ca"],
    );
    let (server, mut client) = connect(&listener, config).await;
    let mut conn = expect_http(server);
    assert_eq!(conn.alpn.as_deref(), Some(&b"x-amzn-http-ca"[..]));
    let peer = conn.peer_certificate.clone().expect("certificate");
    assert_eq!(peer.subject_common_name.as_deref(), Some("thing-2"));
    assert_eq!(conn.sni.as_deref(), Some("localhost"));
    assert!(conn.stream.unread_prefix().is_empty());

    let request =
        b"POST /topics/a%2Fb?qos=1 HTTP/1.1\r\nHost: localhost\r\ncontent-length: 2\r\n\r\nhi";
    client.write_all(request).await.expect("send");
    let mut received = vec![0u8; request.len()];
    within(conn.stream.read_exact(&mut received))
        .await
        .expect("read");
    assert_eq!(received, request);
}

#[tokio::test]
async fn http_request_is_http_and_replays_the_request_exactly() {
    let f = fixture();
    let listener = device_port(&f).await;
    // What clients offer: HTTP/1.1, nothing at all, or only protocols we do not speak (the
    // handshake must still succeed, without ALPN).
    let cases: [(Alpn, Option<&[u8]>); 4] = [
        (&[b"http/1.1"], Some(b"http/1.1")),
        (&[], None),
        (&[b"h2"], None),
        (&[b"h2", b"http/1.1"], Some(b"http/1.1")),
    ];
    for (offered, negotiated) in cases {
        let config = client_config(&f.ca, None, ALL_VERSIONS, offered);
        let request =
            b"POST /topics/t HTTP/1.1\r\nHost: localhost\r\ncontent-length: 5\r\n\r\nhello";
        let (server, mut client) = connect_and_send(&listener, config, request).await;
        let mut conn = expect_http(server.expect("handshake"));
        assert_eq!(conn.alpn.as_deref(), negotiated, "offered {offered:?}");
        assert_eq!(client.get_ref().1.alpn_protocol(), negotiated);
        assert!(conn.peer_certificate.is_none());
        assert!(!conn.stream.unread_prefix().is_empty());

        // Whoever serves the connection reads the request from its first byte, then
        // whatever follows.
        let mut received = vec![0u8; request.len()];
        within(conn.stream.read_exact(&mut received))
            .await
            .expect("read");
        assert_eq!(received, request);
        assert!(conn.stream.unread_prefix().is_empty());
        client.write_all(b"more").await.expect("send");
        let mut more = [0u8; 4];
        within(conn.stream.read_exact(&mut more))
            .await
            .expect("read");
        assert_eq!(&more, b"more");

        conn.stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .expect("respond");
        conn.stream.flush().await.expect("flush");
        let mut response = [0u8; 15];
        within(client.read_exact(&mut response))
            .await
            .expect("read response");
        assert_eq!(&response, b"HTTP/1.1 200 OK");
    }
}

#[tokio::test]
async fn requests_that_are_not_mqtt_upgrades_are_http() {
    let f = fixture();
    let listener = device_port(&f).await;
    let requests: [&[u8]; 4] = [
        b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /other HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"POST /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n",
        // Not HTTP at all: the HTTP server answers it with its own 400.
        b"\x10\x0c\x00\x04MQTT\r\n\r\n",
    ];
    for request in requests {
        let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"http/1.1"]);
        let (server, _client) = connect_and_send(&listener, config, request).await;
        let mut conn = expect_http(server.expect("handshake"));
        let mut received = vec![0u8; request.len()];
        within(conn.stream.read_exact(&mut received))
            .await
            .expect("read");
        assert_eq!(received, request);
    }
}

#[tokio::test]
async fn websocket_upgrade_is_mqtt_over_websocket() {
    let f = fixture();
    let listener = device_port(&f).await;
    let addr = listener.local_addr();
    for (alpn, certificate) in [(&[&b"http/1.1"[..]][..], true), (&[][..], false)] {
        let client_key = certificate.then(|| thing_cert(&f, "ws-thing"));
        let config = client_config(&f.ca, client_key, ALL_VERSIONS, alpn);
        let url = format!(
            "wss://localhost:{}/mqtt?x-amz-customauthorizer-name=auth",
            addr.port()
        );
        let (server, client) = within(async {
            tokio::join!(handshake_one(&listener), async {
                let tls = tls_connect(addr, config).await.expect("tls connect");
                tokio_tungstenite::client_async(ws_request(&url, Some("mqtt")), tls).await
            })
        })
        .await;
        let mut accepted = expect_mqtt(server.expect("handshake"));
        let (mut client, response) = client.expect("websocket client");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("mqtt")
        );
        assert_eq!(accepted.kind, ListenerKind::Https);
        assert_eq!(accepted.alpn.as_deref(), alpn.first().copied());
        assert_eq!(accepted.peer_certificate.is_some(), certificate);
        let request = accepted.websocket.take().expect("upgrade request");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/mqtt");
        assert_eq!(
            request.query.as_deref(),
            Some("x-amz-customauthorizer-name=auth")
        );
        let host = format!("localhost:{}", addr.port());
        assert_eq!(request.host.as_deref(), Some(host.as_str()));
        assert_eq!(request.header("sec-websocket-protocol"), Some("mqtt"));
        check_ws_framing(&mut accepted, &mut client).await;
    }
}

#[tokio::test]
async fn websocket_upgrade_request_is_reported_as_sent() {
    let f = fixture();
    let listener = device_port(&f).await;
    let addr = listener.local_addr();
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fiotdevicegateway%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=0123abcd";
    let request_text = raw_upgrade_request(
        &format!("/mqtt?{query}"),
        &[
            ("X-Amz-CustomAuthorizer-Signature", "c2ln%3D"),
            ("token", "t0k"),
        ],
    );
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"http/1.1"]);
    let (server, (response, mut client)) = within(async {
        tokio::join!(handshake_one(&listener), async {
            let tls = tls_connect(addr, config).await.expect("tls connect");
            raw_upgrade(tls, &request_text).await
        })
    })
    .await;
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    let mut accepted = expect_mqtt(server.expect("handshake"));
    let request = accepted.websocket.take().expect("upgrade request");
    assert_eq!(request.path, "/mqtt");
    assert_eq!(request.query.as_deref(), Some(query));
    let mut expected = owned_headers(&RAW_UPGRADE_HEADERS);
    expected.extend(owned_headers(&[
        ("x-amz-customauthorizer-signature", "c2ln%3D"),
        ("token", "t0k"),
    ]));
    assert_eq!(request.headers, expected);
    check_ws_framing(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn websocket_upgrade_without_mqtt_subprotocol_is_refused() {
    let f = fixture();
    let listener = device_port(&f).await;
    let request = b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[]);
    let (server, mut client) = connect_and_send(&listener, config, request).await;
    match server.expect_err("refused") {
        TransportError::WebSocketRejected { status, .. } => assert_eq!(status, 400),
        other => panic!("unexpected error {other}"),
    }
    let mut response = Vec::new();
    let _ = within(client.read_to_end(&mut response)).await;
    assert!(
        response.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn oversized_request_head_is_refused_with_431() {
    let f = fixture();
    let listener = device_port(&f).await;
    // Exactly the cap, without the blank line that would end a head.
    let mut request = b"GET /things HTTP/1.1\r\nx-filler: ".to_vec();
    request.resize(MAX_HTTP_HEAD, b'a');
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"http/1.1"]);
    let (server, mut client) = connect_and_send(&listener, config, &request).await;
    match server.expect_err("refused") {
        TransportError::HttpHeadTooLarge { limit, .. } => assert_eq!(limit, MAX_HTTP_HEAD),
        other => panic!("unexpected error {other}"),
    }
    let mut response = Vec::new();
    let _ = within(client.read_to_end(&mut response)).await;
    assert!(
        response.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn request_head_that_never_ends_times_out() {
    let f = fixture();
    let listener = device_port(&f).await;
    let addr = listener.local_addr();
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"http/1.1"]);
    let timeout = Duration::from_millis(300);
    let (server, client_saw) = within(async {
        tokio::join!(
            async {
                let (tcp, peer) = listener.accept().await.expect("accept");
                listener.handshake(tcp, peer, timeout).await
            },
            async {
                let mut tls = tls_connect(addr, config).await.expect("tls connect");
                tls.write_all(b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\n")
                    .await
                    .expect("send");
                tls.flush().await.expect("flush");
                // Waits until the server gives up and closes.
                let mut buf = [0u8; 16];
                tls.read(&mut buf).await.unwrap_or(0)
            }
        )
    })
    .await;
    match server.expect_err("timed out") {
        TransportError::HandshakeTimeout { after, .. } => assert_eq!(after, timeout),
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(client_saw, 0, "the server must close without answering");
}

#[tokio::test]
async fn plain_tcp_on_the_device_port_is_a_tls_error() {
    let f = fixture();
    let listener = device_port(&f).await;
    let addr = listener.local_addr();
    let (server, _) = within(async {
        tokio::join!(handshake_one(&listener), async {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .expect("send");
            let mut sink = Vec::new();
            let _ = tcp.read_to_end(&mut sink).await;
        })
    })
    .await;
    assert!(
        matches!(server, Err(TransportError::TlsHandshake { .. })),
        "{server:?}"
    );
}
