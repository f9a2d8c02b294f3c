//! Serving the app over HTTP/1.1: on the API listener, and on the connections of the device
//! port (`listeners.https`, AWS's 443) that the transport recognised as HTTP rather than MQTT
//! (WebSocket upgrades on `/mqtt` go to the broker before they get here). Every request
//! carries the client's address as `ConnectInfo<SocketAddr>`, and on the device port the
//! client certificate, when there is one, as a [`PeerCertificate`] extension.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use ferrite_transport::{HttpConn, PeerCertificate};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Marks requests that came over the device port (TLS), so URLs handed back say `https`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DevicePort;

/// How long a kept-alive device-port connection may take to send the next request head
/// (the first one was read during the handshake, under the connect timeout).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the API listener until `cancel`, then stops accepting and returns once the
/// requests in flight are answered (idle keep-alive connections are closed).
pub async fn serve_api(listener: TcpListener, app: Router, cancel: CancellationToken) {
    let shutdown = async move { cancel.cancelled().await };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "http listener failed");
    }
}

/// Serves an HTTP connection of the device port until the client closes it, or, once `cancel`
/// fires, until the response in flight is sent.
pub async fn serve_device_connection(conn: HttpConn, app: Router, cancel: CancellationToken) {
    let peer = conn.peer_addr;
    if let Err(e) = serve_connection(conn.stream, peer, conn.peer_certificate, app, cancel).await {
        tracing::debug!(%peer, error = %e, "device port http connection failed");
    }
}

/// Answers an HTTP connection beyond `server.max_connections` with 503 and closes it.
pub async fn refuse_busy(mut conn: HttpConn) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\
connection: close\r\n\r\n";
    // Best effort: the client may be gone already.
    if conn.stream.write_all(BUSY).await.is_ok() {
        let _ = conn.stream.shutdown().await;
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    peer_certificate: Option<PeerCertificate>,
    app: Router,
    cancel: CancellationToken,
) -> hyper::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(DevicePort);
        if let Some(certificate) = &peer_certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        app.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Extension;
    use axum::routing::get;
    use tokio::io::AsyncReadExt;

    async fn whoami(
        ConnectInfo(peer): ConnectInfo<SocketAddr>,
        certificate: Option<Extension<PeerCertificate>>,
    ) -> String {
        let subject = certificate.map_or_else(|| "none".to_owned(), |c| c.0.subject.clone());
        format!("{peer} {subject}")
    }

    /// Any parsed certificate will do: the CA's own.
    fn certificate() -> PeerCertificate {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ferrite_transport::ensure_ca(dir.path(), &[]).expect("ca");
        PeerCertificate::from_der(ca.ca_cert_der()).expect("parse")
    }

    async fn round_trip(certificate: Option<PeerCertificate>, request: &[u8]) -> String {
        let app = Router::new().route("/whoami", get(whoami));
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(serve_connection(
            server,
            SocketAddr::from(([192, 0, 2, 7], 4711)),
            certificate,
            app,
            CancellationToken::new(),
        ));
        client.write_all(request).await.expect("write");
        let mut response = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            client.read_to_string(&mut response),
        )
        .await
        .expect("response in time")
        .expect("read");
        task.await.expect("task").expect("served");
        response
    }

    #[tokio::test]
    async fn requests_carry_the_peer_and_its_client_certificate() {
        let request = b"GET /whoami HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let response = round_trip(Some(certificate()), request).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(
            response.ends_with("192.0.2.7:4711 O=Ferrite, CN=Ferrite Root CA"),
            "{response}"
        );
        let response = round_trip(None, request).await;
        assert!(response.ends_with("192.0.2.7:4711 none"), "{response}");
    }

    #[tokio::test]
    async fn keep_alive_serves_every_request_of_the_connection() {
        let request = b"GET /whoami HTTP/1.1\r\nhost: x\r\n\r\n\
GET /whoami HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let response = round_trip(Some(certificate()), request).await;
        assert_eq!(response.matches("HTTP/1.1 200 ").count(), 2, "{response}");
        assert_eq!(
            response.matches("CN=Ferrite Root CA").count(),
            2,
            "{response}"
        );
    }
}
