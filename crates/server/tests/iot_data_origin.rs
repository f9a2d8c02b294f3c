//! iot-data Publish stamps its message with the caller as origin (what the rules SQL's
//! `principal()` and `sourceip()` will read): the access key id of a SigV4 caller on the API
//! port, the certificate id of a device on the device port, and the caller's IP.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::{config, iot_ok, send, signed};
use ferrite_server::Server;
use ferrite_test_support::WAIT;
use ferrite_types::{Origin, Protocol};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn origin(server: &Server, topic: &str) -> Origin {
    let retained = server
        .broker
        .retained(topic)
        .expect("the message is retained");
    (*retained.origin).clone()
}

fn http_origin(principal: &str) -> Origin {
    Origin {
        client_id: None,
        principal: Some(Arc::from(principal)),
        source_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        protocol: Protocol::Http,
        node: ferrite_types::message::local_node(),
    }
}

#[tokio::test]
async fn sigv4_publish_names_the_access_key_and_the_caller_ip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(config(dir.path()))
        .await
        .expect("server starts");
    let api = server.addrs.api.expect("api listener");

    let response = send(
        api,
        signed(
            api,
            "iotdata",
            "POST",
            "/topics/origin-iam?retain=true",
            "hi",
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert_eq!(origin(&server, "origin-iam"), http_origin(common::AKID));
    server.shutdown().await;
}

#[tokio::test]
async fn certificate_publish_names_the_certificate_and_the_caller_ip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(config(dir.path()))
        .await
        .expect("server starts");
    let api = server.addrs.api.expect("api listener");

    let created = iot_ok(api, "POST", "/keys-and-certificate?setAsActive=true", "{}").await;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    });
    iot_ok(
        api,
        "POST",
        "/policies/publish-all",
        &json!({ "policyDocument": policy.to_string() }).to_string(),
    )
    .await;
    iot_ok(
        api,
        "PUT",
        "/target-policies/publish-all",
        &json!({ "target": created["certificateArn"] }).to_string(),
    )
    .await;

    let cert = created["certificatePem"].as_str().expect("certificate pem");
    let key = created["keyPair"]["PrivateKey"]
        .as_str()
        .expect("private key");
    let ca = std::fs::read(&server.ca_file).expect("ca file");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).expect("ca pem"))
        .expect("root");
    let tls =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client cert");
    let https = server.addrs.https.expect("https listener");
    let tcp = TcpStream::connect(https).await.expect("connect");
    let mut stream = tokio::time::timeout(
        WAIT,
        TlsConnector::from(Arc::new(tls))
            .connect(ServerName::try_from("localhost").expect("name"), tcp),
    )
    .await
    .expect("tls in time")
    .expect("tls handshake");
    let request = format!(
        "POST /topics/origin-device?retain=true HTTP/1.1\r\nhost: localhost:{}\r\n\
         content-length: 2\r\nconnection: close\r\n\r\nhi",
        https.port()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    // The server closes after the response; a TLS close without close_notify is fine.
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time");
    let response = String::from_utf8(response).expect("utf-8");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");

    let certificate_id = created["certificateId"].as_str().expect("certificate id");
    assert_eq!(
        origin(&server, "origin-device"),
        http_origin(certificate_id)
    );
    server.shutdown().await;
}
