//! The device port (`listeners.https`, AWS's 443) of a running server: HTTP requests reach
//! the same app as the API port (health, SigV4-signed AWS calls), and MQTT reaches the
//! broker over ALPN `x-amzn-mqtt-ca` and over WebSocket at `/mqtt`.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::BytesMut;
use ferrite_config::AccessKey;
use ferrite_mqtt_codec::{Packet, ProtocolVersion, decode, encode};
use ferrite_test_support::{TestServer, WAIT, connect_packet};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const AKID: &str = "AKIAFERRITEDEVICE001";
const SECRET: &str = "device/port/test/secret/000000000000000000";

async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.aws.credentials = vec![AccessKey {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
        }];
    })
    .await
}

fn https_addr(srv: &TestServer) -> SocketAddr {
    srv.addrs().https.expect("https listener")
}

type ClientKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// A certificate and key issued by the server's own CA.
fn thing_cert(srv: &TestServer, name: &str) -> ClientKey {
    let ca = ferrite_transport::ensure_ca(&srv.data_dir(), &[]).expect("load the server's ca");
    let (cert, key) = ca.issue_client_cert(name).expect("issue");
    (
        vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
        PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
    )
}

async fn tls(srv: &TestServer, alpn: &[&[u8]], client: Option<ClientKey>) -> TlsStream<TcpStream> {
    let ca = std::fs::read(srv.ca_file()).expect("ca file");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).expect("ca pem"))
        .expect("root");
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
    let mut config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(https_addr(srv)).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(
        WAIT,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("tls in time")
    .expect("tls handshake")
}

/// Sends one HTTP/1.1 request (with `Connection: close`) and returns the response text.
async fn http(mut stream: TlsStream<TcpStream>, head: &str, body: &str) -> String {
    let request = format!(
        "{head}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    // The server closes after the response; a TLS close without close_notify is fine.
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time");
    String::from_utf8(response).expect("utf-8 response")
}

fn signed_list_things(host: &str) -> String {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iot")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let url = format!("https://{host}/things");
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        [("host", host)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut head = format!("GET /things HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in instructions.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head
}

#[tokio::test]
async fn health_is_served_whatever_the_client_offers() {
    let srv = server().await;
    let cases: [(&[&[u8]], bool); 4] = [
        (&[b"http/1.1"], false),
        (&[], false),
        (&[b"h2"], false),
        (&[b"x-amzn-http-ca"], true),
    ];
    for (alpn, certificate) in cases {
        let client = certificate.then(|| thing_cert(&srv, "http-thing"));
        let stream = tls(&srv, alpn, client).await;
        let response = http(stream, "GET /health HTTP/1.1\r\nhost: localhost\r\n", "").await;
        assert!(
            response.starts_with("HTTP/1.1 200 "),
            "{alpn:?}: {response}"
        );
        assert!(response.ends_with("{\"status\":\"ok\"}"), "{response}");
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn aws_api_calls_work_as_on_the_api_port() {
    let srv = server().await;
    let host = format!("localhost:{}", https_addr(&srv).port());

    let response = http(
        tls(&srv, &[b"http/1.1"], None).await,
        &signed_list_things(&host),
        "",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    let body = response.split("\r\n\r\n").nth(1).expect("body");
    let json: serde_json::Value = serde_json::from_str(body).expect("json body");
    assert_eq!(json["things"], serde_json::json!([]), "{json}");

    // Unsigned: refused with an AWS error, exactly as the API port refuses it.
    let unsigned = format!("GET /things HTTP/1.1\r\nhost: {host}\r\n");
    let device = http(tls(&srv, &[], None).await, &unsigned, "").await;
    let api = ferrite_test_support::http_get(srv.api_addr(), "/things").await;
    let status = |r: &str| r.lines().next().unwrap_or_default().to_owned();
    let error_type = |r: &str| {
        r.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("x-amzn-errortype:"))
            .map(str::to_owned)
    };
    assert!(status(&device).starts_with("HTTP/1.1 4"), "{device}");
    assert_eq!(status(&device), status(&api));
    assert!(error_type(&device).is_some(), "{device}");
    assert_eq!(error_type(&device), error_type(&api));
    srv.shutdown().await;
}

async fn read_packet<S>(stream: &mut S) -> Packet
where
    S: tokio::io::AsyncRead + Unpin,
{
    let mut buf = BytesMut::new();
    loop {
        if let Some(packet) = decode(&mut buf, ProtocolVersion::V5, usize::MAX).expect("valid") {
            return packet;
        }
        let n = tokio::time::timeout(WAIT, stream.read_buf(&mut buf))
            .await
            .expect("packet in time")
            .expect("read");
        assert_ne!(n, 0, "closed before a packet arrived");
    }
}

fn connect_bytes(client_id: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    let connect = connect_packet(ProtocolVersion::V5, client_id, true);
    encode(&Packet::Connect(connect), ProtocolVersion::V5, &mut buf).expect("encode");
    buf
}

#[tokio::test]
async fn mqtt_ca_alpn_reaches_the_broker() {
    let srv = server().await;
    let mut stream = tls(
        &srv,
        &[b"x-amzn-mqtt-ca"],
        Some(thing_cert(&srv, "mqtt-thing")),
    )
    .await;
    stream
        .write_all(&connect_bytes("mqtt-thing"))
        .await
        .expect("send connect");
    // Whether the broker lets this certificate in is policy's business; that a CONNACK
    // comes back at all shows the bytes reached it.
    let packet = read_packet(&mut stream).await;
    assert!(matches!(packet, Packet::ConnAck(_)), "{packet:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn websocket_on_mqtt_path_reaches_the_broker() {
    let srv = server().await;
    let stream = tls(&srv, &[b"http/1.1"], None).await;
    let url = format!("wss://localhost:{}/mqtt", https_addr(&srv).port());
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(request, stream))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    ws.send(Message::binary(connect_bytes("ws-client").to_vec()))
        .await
        .expect("send connect");
    let frame = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("reply in time")
        .expect("a frame")
        .expect("websocket ok");
    let Message::Binary(data) = frame else {
        panic!("expected a binary frame, got {frame:?}");
    };
    let mut data = &data[..];
    let packet = read_packet(&mut data).await;
    assert!(matches!(packet, Packet::ConnAck(_)), "{packet:?}");
    srv.shutdown().await;
}

/// SigV4's URI encoding: everything but unreserved characters as `%XX`.
fn uri_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `wss://{host}/mqtt` URL presigned as the Device SDK does (service `iotdevicegateway`).
fn presigned_mqtt_url(host: &str) -> String {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(std::time::Duration::from_secs(300));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iotdevicegateway")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let url = format!("https://{host}/mqtt");
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        [("host", host)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(name, value)| format!("{name}={}", uri_encode(value)))
        .collect();
    format!("wss://{host}/mqtt?{}", query.join("&"))
}

#[tokio::test]
async fn a_sigv4_websocket_is_closed_at_its_maximum_lifetime() {
    // A one-second lifetime stands for AWS's 24 hours.
    let srv = TestServer::start_with(|c| {
        c.aws.credentials = vec![AccessKey {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
        }];
        c.mqtt.websocket_max_lifetime_secs = 1;
    })
    .await;
    let stream = tls(&srv, &[b"http/1.1"], None).await;
    let host = format!("localhost:{}", https_addr(&srv).port());
    let mut request = presigned_mqtt_url(&host)
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(request, stream))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    ws.send(Message::binary(connect_bytes("ws-ttl").to_vec()))
        .await
        .expect("send connect");
    let mut packets = Vec::new();
    while packets.len() < 2 {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
            .expect("a frame")
            .expect("websocket ok");
        if let Message::Binary(data) = frame {
            let mut data = &data[..];
            packets.push(read_packet(&mut data).await);
        }
    }
    let [Packet::ConnAck(ack), Packet::Disconnect(d)] = &packets[..] else {
        panic!("expected CONNACK then DISCONNECT, got {packets:?}");
    };
    assert_eq!(ack.reason, ferrite_mqtt_codec::ReasonCode::Success);
    assert_eq!(d.reason, ferrite_mqtt_codec::ReasonCode::MaximumConnectTime);
    srv.shutdown().await;
}

#[tokio::test]
async fn https_address_is_in_listeners_json() {
    let srv = server().await;
    let text = std::fs::read_to_string(srv.data_dir().join("listeners.json")).expect("read");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        json["https"].as_str(),
        Some(https_addr(&srv).to_string().as_str())
    );
    srv.shutdown().await;
}
