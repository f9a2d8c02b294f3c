//! End-to-end tests over real loopback sockets: each test binds a listener on port 0,
//! connects a real client (rustls, tokio-tungstenite) and checks what both sides see.
//! The device port's routing has its own file, `device_port.rs`.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferrite_transport::{
    Accepted, Listener, ListenerKind, MAX_HTTP_HEAD, PeerCertificate, TransportError,
};
use futures_util::{SinkExt, StreamExt};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::{self, Message};

// ---------------------------------------------------------------- TCP

#[tokio::test]
async fn tcp_echo() {
    let f = fixture();
    let listener = bind(ListenerKind::Tcp, &f.ca, &[]).await;
    let (accepted, client) = within(async {
        tokio::join!(
            accept_one(&listener),
            TcpStream::connect(listener.local_addr())
        )
    })
    .await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("connect");
    assert_eq!(accepted.kind, ListenerKind::Tcp);
    assert_eq!(accepted.peer_addr, client.local_addr().expect("addr"));
    assert!(accepted.peer_certificate.is_none());
    assert!(accepted.sni.is_none());
    assert!(accepted.websocket.is_none());
    ping_pong(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn bind_error_reports_address_and_kind() {
    let f = fixture();
    let first = bind(ListenerKind::Tcp, &f.ca, &[]).await;
    let taken = first.local_addr();
    let err = Listener::bind(ListenerKind::Tcp, taken, None)
        .await
        .expect_err("port is taken");
    match err {
        TransportError::Bind { addr, kind, .. } => {
            assert_eq!(addr, taken);
            assert_eq!(kind, std::io::ErrorKind::AddrInUse);
        }
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn tls_listener_needs_a_tls_config() {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    for kind in [ListenerKind::Tls, ListenerKind::Wss, ListenerKind::Https] {
        let err = Listener::bind(kind, addr, None)
            .await
            .expect_err("no config");
        assert!(matches!(err, TransportError::MissingTlsConfig(k) if k == kind));
    }
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn tls_without_client_certificate() {
    let f = fixture();
    let listener = bind(ListenerKind::Tls, &f.ca, &[]).await;
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[]);
    let (accepted, client) = within(async {
        tokio::join!(
            accept_one(&listener),
            tls_connect(listener.local_addr(), config)
        )
    })
    .await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("connect");
    assert_eq!(accepted.kind, ListenerKind::Tls);
    assert!(accepted.peer_certificate.is_none());
    assert_eq!(accepted.sni.as_deref(), Some("localhost"));
    assert_eq!(accepted.alpn, None);
    assert!(accepted.websocket.is_none());
    ping_pong(&mut accepted, &mut client).await;
}

async fn connect_with_client_cert(
    f: &Fixture,
    pair: ClientKey,
    versions: &[&'static SupportedProtocolVersion],
) -> (Accepted, tokio_rustls::client::TlsStream<TcpStream>) {
    let listener = bind(ListenerKind::Tls, &f.ca, &[]).await;
    let config = client_config(&f.ca, Some(pair), versions, &[]);
    let (accepted, client) = within(async {
        tokio::join!(
            accept_one(&listener),
            tls_connect(listener.local_addr(), config)
        )
    })
    .await;
    (accepted.expect("handshake"), client.expect("connect"))
}

#[tokio::test]
async fn tls_with_client_certificate_from_ferrite_ca() {
    let f = fixture();
    let (cert_pem, key_pem) = f.ca.issue_client_cert("thing-1").expect("issue");
    let pair = parse_pair(&cert_pem, &key_pem);
    let der = pair.0[0].clone();
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (mut accepted, mut client) =
            connect_with_client_cert(&f, (pair.0.clone(), pair.1.clone_key()), versions).await;
        let peer = accepted.peer_certificate.clone().expect("peer certificate");
        assert_eq!(peer.der, der.as_ref());
        assert_eq!(peer.certificate_id, ferrite_types::certificate_id(&der));
        assert_eq!(peer, PeerCertificate::from_der(&der).expect("parse"));
        assert_eq!(peer.subject_common_name.as_deref(), Some("thing-1"));
        ping_pong(&mut accepted, &mut client).await;
    }
}

#[tokio::test]
async fn tls_accepts_client_certificate_from_unknown_ca() {
    let f = fixture();
    let other = fixture();
    let (cert_pem, key_pem) = other.ca.issue_client_cert("stranger").expect("issue");
    let (mut accepted, mut client) =
        connect_with_client_cert(&f, parse_pair(&cert_pem, &key_pem), ALL_VERSIONS).await;
    let peer = accepted.peer_certificate.clone().expect("peer certificate");
    assert_eq!(peer.subject_common_name.as_deref(), Some("stranger"));
    assert!(peer.issuer.contains("Ferrite Root CA"));
    ping_pong(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn tls_accepts_self_signed_client_certificate() {
    let f = fixture();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "self-made");
    let cert = params.self_signed(&key).expect("self signed");
    let pair = parse_pair(&cert.pem(), &key.serialize_pem());
    let (accepted, _client) = connect_with_client_cert(&f, pair, ALL_VERSIONS).await;
    let peer = accepted.peer_certificate.expect("peer certificate");
    assert_eq!(peer.subject_common_name.as_deref(), Some("self-made"));
    assert_eq!(peer.subject, peer.issuer);
}

/// Presents a fixed certificate with a fixed signing key, skipping rustls' client-side
/// check that they belong together: that is exactly the lie the server must catch.
#[derive(Debug)]
struct MismatchedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for MismatchedClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn tls_rejects_client_without_the_certificate_key() {
    let f = fixture();
    let (cert_pem, _) = f.ca.issue_client_cert("victim").expect("issue");
    let (_, wrong_key_pem) = f.ca.issue_client_cert("attacker").expect("issue");
    let (chain, wrong_key) = parse_pair(&cert_pem, &wrong_key_pem);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(wrong_key)
        .expect("signing key");
    let certified = Arc::new(CertifiedKey::new(chain, signing_key));

    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let listener = bind(ListenerKind::Tls, &f.ca, &[]).await;
        let mut roots = RootCertStore::empty();
        roots.add(f.ca.ca_cert_der().clone()).expect("root");
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_cert_resolver(Arc::new(MismatchedClientCert(certified.clone())));
        let addr = listener.local_addr();
        let (accepted, client) = within(async {
            tokio::join!(accept_one(&listener), async {
                // In TLS 1.3 the client finishes first and only learns of the rejection
                // when it next reads.
                let mut tls = tls_connect(addr, Arc::new(config)).await?;
                let mut buf = [0u8; 1];
                match tls.read(&mut buf).await? {
                    0 => Err(std::io::Error::other("closed")),
                    _ => Ok(()),
                }
            })
        })
        .await;
        let err = accepted.expect_err("server must reject the handshake");
        let TransportError::TlsHandshake { source, .. } = &err else {
            panic!("unexpected error {err}");
        };
        // Rejected for the forged handshake signature, not for anything else.
        let cause = source
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert_eq!(
            cause,
            Some(&rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadSignature
            )),
            "{err}"
        );
        assert!(client.is_err(), "client must not get a working connection");
    }
}

#[tokio::test]
async fn tls_negotiates_alpn() {
    let f = fixture();
    let listener = bind(ListenerKind::Tls, &f.ca, &[b"x-amzn-mqtt-ca", b"mqtt"]).await;
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[b"x-amzn-mqtt-ca"]);
    let (accepted, client) = within(async {
        tokio::join!(
            accept_one(&listener),
            tls_connect(listener.local_addr(), config)
        )
    })
    .await;
    let accepted = accepted.expect("handshake");
    let client = client.expect("connect");
    assert_eq!(accepted.alpn.as_deref(), Some(&b"x-amzn-mqtt-ca"[..]));
    assert_eq!(
        client.get_ref().1.alpn_protocol(),
        Some(&b"x-amzn-mqtt-ca"[..])
    );
}

#[tokio::test]
async fn tls_handshake_that_never_completes_times_out() {
    let f = fixture();
    let listener = bind(ListenerKind::Tls, &f.ca, &[]).await;
    // Connects but never says anything.
    let _silent = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let (tcp, peer) = within(listener.accept()).await.expect("accept");
    let timeout = Duration::from_millis(200);
    let err = within(listener.handshake(tcp, peer, timeout))
        .await
        .expect_err("must time out");
    match err {
        TransportError::HandshakeTimeout { peer: p, after } => {
            assert_eq!(p, peer);
            assert_eq!(after, timeout);
        }
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn stalled_handshake_does_not_block_other_clients() {
    let f = fixture();
    let listener = bind(ListenerKind::Tls, &f.ca, &[]).await;
    let _silent = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let (tcp, peer) = within(listener.accept()).await.expect("accept");
    let stalled = {
        let listener = listener.clone();
        tokio::spawn(async move { listener.handshake(tcp, peer, WAIT * 2).await })
    };
    let config = client_config(&f.ca, None, ALL_VERSIONS, &[]);
    let (accepted, client) = within(async {
        tokio::join!(
            accept_one(&listener),
            tls_connect(listener.local_addr(), config)
        )
    })
    .await;
    accepted.expect("second client handshake");
    client.expect("second client connect");
    assert!(!stalled.is_finished());
    stalled.abort();
}

// ---------------------------------------------------------------- WebSocket

async fn ws_pair(
    listener: &Listener,
    path: &str,
    protocol: Option<&'static str>,
) -> (
    Result<Accepted, TransportError>,
    Result<WsClient<TcpStream>, tungstenite::Error>,
) {
    let addr = listener.local_addr();
    let url = format!("ws://{addr}{path}");
    within(async {
        tokio::join!(accept_one(listener), async {
            let tcp = TcpStream::connect(addr).await?;
            let (ws, response) =
                tokio_tungstenite::client_async(ws_request(&url, protocol), tcp).await?;
            if let Some(protocol) = protocol {
                assert_eq!(
                    response
                        .headers()
                        .get("Sec-WebSocket-Protocol")
                        .and_then(|v| v.to_str().ok()),
                    Some(protocol)
                );
            }
            Ok(ws)
        })
    })
    .await
}

#[tokio::test]
async fn ws_frames_follow_flushes_and_reads_span_frames() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let (accepted, client) = ws_pair(&listener, "/mqtt", Some("mqtt")).await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("client");
    assert_eq!(accepted.kind, ListenerKind::Ws);
    assert!(accepted.peer_certificate.is_none());
    let request = accepted.websocket.take().expect("upgrade request");
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/mqtt");
    assert_eq!(request.query, None);
    let host = listener.local_addr().to_string();
    assert_eq!(request.host.as_deref(), Some(host.as_str()));
    assert_eq!(request.header("sec-websocket-protocol"), Some("mqtt"));
    assert_eq!(request.header("upgrade"), Some("websocket"));
    check_ws_framing(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn ws_accepts_old_mqttv31_subprotocol() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let (accepted, client) = ws_pair(&listener, "/mqtt", Some("mqttv3.1")).await;
    accepted.expect("handshake");
    client.expect("client");
}

#[tokio::test]
async fn ws_answers_ping_and_close_is_eof() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let (accepted, client) = ws_pair(&listener, "/mqtt", Some("mqtt")).await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("client");

    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        accepted
            .stream
            .read_to_end(&mut received)
            .await
            .expect("read to eof");
        // Sends our Close reply.
        accepted.stream.shutdown().await.expect("shutdown");
        received
    });
    client
        .send(Message::Ping(bytes::Bytes::from_static(b"are you there")))
        .await
        .expect("ping");
    assert_eq!(
        next_message(&mut client).await,
        Message::Pong(bytes::Bytes::from_static(b"are you there"))
    );
    client
        .send(Message::binary(b"last".to_vec()))
        .await
        .expect("send");
    client.close(None).await.expect("close");
    let received = within(reader).await.expect("reader task");
    assert_eq!(received, b"last");
    // The server's Close reply ends the client stream cleanly.
    loop {
        match within(client.next()).await {
            Some(Ok(Message::Close(_))) => {}
            None => break,
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn ws_text_frame_is_a_read_error() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let (accepted, client) = ws_pair(&listener, "/mqtt", Some("mqtt")).await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("client");
    client.send(Message::text("hello")).await.expect("send");
    let mut buf = [0u8; 8];
    let err = within(accepted.stream.read(&mut buf))
        .await
        .expect_err("text must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn ws_oversized_message_is_a_read_error() {
    let f = fixture();
    let listener = Arc::new(
        Arc::into_inner(bind(ListenerKind::Ws, &f.ca, &[]).await)
            .expect("sole owner")
            .with_max_ws_message_size(1024),
    );
    let (accepted, client) = ws_pair(&listener, "/mqtt", Some("mqtt")).await;
    let mut accepted = accepted.expect("handshake");
    let mut client = client.expect("client");
    client
        .send(Message::binary(vec![7u8; 2048]))
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let err = within(accepted.stream.read(&mut buf))
        .await
        .expect_err("too big");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn ws_wrong_path_gets_404() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let (accepted, client) = ws_pair(&listener, "/other", Some("mqtt")).await;
    match accepted.expect_err("rejected") {
        TransportError::WebSocketRejected { status, .. } => assert_eq!(status, 404),
        other => panic!("unexpected error {other}"),
    }
    match client.expect_err("rejected") {
        tungstenite::Error::Http(response) => assert_eq!(response.status().as_u16(), 404),
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn ws_without_mqtt_subprotocol_is_rejected() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    for protocol in [None, Some("chat")] {
        let (accepted, client) = ws_pair(&listener, "/mqtt", protocol).await;
        match accepted.expect_err("rejected") {
            TransportError::WebSocketRejected { status, .. } => assert_eq!(status, 400),
            other => panic!("unexpected error {other}"),
        }
        match client.expect_err("rejected") {
            tungstenite::Error::Http(response) => assert_eq!(response.status().as_u16(), 400),
            other => panic!("unexpected error {other}"),
        }
    }
}

#[tokio::test]
async fn ws_handshake_that_never_completes_times_out() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let mut half = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    // Half an HTTP request, then nothing.
    half.write_all(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (tcp, peer) = within(listener.accept()).await.expect("accept");
    let err = within(listener.handshake(tcp, peer, Duration::from_millis(200)))
        .await
        .expect_err("must time out");
    assert!(
        matches!(err, TransportError::HandshakeTimeout { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn wss_over_tls_works() {
    let f = fixture();
    let listener = bind(ListenerKind::Wss, &f.ca, &[]).await;
    let (cert_pem, key_pem) = f.ca.issue_client_cert("ws-thing").expect("issue");
    let config = client_config(
        &f.ca,
        Some(parse_pair(&cert_pem, &key_pem)),
        ALL_VERSIONS,
        &[],
    );
    let addr = listener.local_addr();
    let url = format!("wss://localhost:{}/mqtt", addr.port());
    let (accepted, client) = within(async {
        tokio::join!(accept_one(&listener), async {
            let tls = tls_connect(addr, config).await.expect("tls connect");
            tokio_tungstenite::client_async(ws_request(&url, Some("mqtt")), tls).await
        })
    })
    .await;
    let mut accepted = accepted.expect("handshake");
    let (mut client, _) = client.expect("client");
    assert_eq!(accepted.kind, ListenerKind::Wss);
    assert_eq!(accepted.sni.as_deref(), Some("localhost"));
    let request = accepted.websocket.take().expect("upgrade request");
    assert_eq!(request.path, "/mqtt");
    let host = format!("localhost:{}", addr.port());
    assert_eq!(request.host.as_deref(), Some(host.as_str()));
    let peer = accepted.peer_certificate.clone().expect("certificate");
    assert_eq!(peer.subject_common_name.as_deref(), Some("ws-thing"));
    check_ws_framing(&mut accepted, &mut client).await;
}

#[tokio::test]
async fn ws_request_keeps_raw_query_and_header_order() {
    let f = fixture();
    for kind in [ListenerKind::Ws, ListenerKind::Wss] {
        let listener = bind(kind, &f.ca, &[]).await;
        let addr = listener.local_addr();
        // A presigned URL as the Device SDK builds it: percent-encoded, with the session
        // token appended after signing.
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fiotdevicegateway%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc123&X-Amz-Security-Token=a%2Bb%3D";
        let extra = [
            ("X-Amz-CustomAuthorizer-Name", "my-authorizer"),
            ("x-token", "first"),
            ("X-Token", "second"),
        ];
        let request_text = raw_upgrade_request(&format!("/mqtt?{query}"), &extra);
        let config = client_config(&f.ca, None, ALL_VERSIONS, &[]);
        let (accepted, response) = within(async {
            tokio::join!(accept_one(&listener), async {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                if kind == ListenerKind::Wss {
                    let tls = TlsConnector::from(config)
                        .connect(ServerName::try_from("localhost").expect("name"), tcp)
                        .await
                        .expect("tls");
                    raw_upgrade(tls, &request_text).await.0
                } else {
                    raw_upgrade(tcp, &request_text).await.0
                }
            })
        })
        .await;
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        let request = accepted.expect("handshake").websocket.expect("request");
        assert_eq!(request.path, "/mqtt");
        assert_eq!(request.query.as_deref(), Some(query));
        assert_eq!(request.host.as_deref(), Some("localhost"));
        let mut expected = owned_headers(&RAW_UPGRADE_HEADERS);
        expected.extend(owned_headers(&[
            ("x-amz-customauthorizer-name", "my-authorizer"),
            ("x-token", "first"),
            ("x-token", "second"),
        ]));
        assert_eq!(request.headers, expected, "{kind}");
        // The query and header values carry credentials: not in debug output.
        let debug = format!("{request:?}");
        assert!(
            !debug.contains("abc123") && !debug.contains("my-authorizer"),
            "{debug}"
        );
    }
}

#[tokio::test]
async fn ws_oversized_upgrade_head_gets_431() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let addr = listener.local_addr();
    // Exactly the cap and no blank line: the server reads it all and refuses. (With more,
    // the server would close with unread bytes, and the reset could beat the response.)
    let mut request = b"GET /mqtt HTTP/1.1\r\nx-filler: ".to_vec();
    request.resize(MAX_HTTP_HEAD, b'a');
    let (accepted, response) = within(async {
        tokio::join!(accept_one(&listener), async {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(&request).await.expect("write");
            let mut response = Vec::new();
            tcp.read_to_end(&mut response).await.expect("read");
            response
        })
    })
    .await;
    match accepted.expect_err("refused") {
        TransportError::HttpHeadTooLarge { limit, .. } => assert_eq!(limit, MAX_HTTP_HEAD),
        other => panic!("unexpected error {other}"),
    }
    assert!(
        response.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn ws_upgrade_we_cannot_parse_gets_400() {
    let f = fixture();
    let listener = bind(ListenerKind::Ws, &f.ca, &[]).await;
    let addr = listener.local_addr();
    // Valid for tungstenite, but more headers than we parse (and than hyper accepts).
    let extra: Vec<(String, String)> = (0..100).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = raw_upgrade_request("/mqtt", &extra);
    let (accepted, response) = within(async {
        tokio::join!(accept_one(&listener), async {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(request.as_bytes()).await.expect("write");
            let mut response = Vec::new();
            tcp.read_to_end(&mut response).await.expect("read");
            response
        })
    })
    .await;
    match accepted.expect_err("refused") {
        TransportError::WebSocketRejected { status, .. } => assert_eq!(status, 400),
        other => panic!("unexpected error {other}"),
    }
    assert!(
        response.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
}
