//! The HTTP app: `/health`, Prometheus `/metrics`, and every AWS API operation
//! (`ferrite-http-api`), served on the API listener and to the HTTP connections of the
//! device port.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use ferrite_transport::{HttpConn, PeerCertificate};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a kept-alive device-port connection may take to send the next request head
/// (the first one was read during the handshake, under the connect timeout).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
}

async fn health() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        ),
    }
}

/// The app both HTTP entry points serve.
pub fn app(registry: Arc<Registry>, api: Arc<ferrite_http_api::ApiState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry })
        .merge(ferrite_http_api::router(api))
}

/// Serves the API listener until `cancel`.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) {
    let shutdown = async move { cancel.cancelled().await };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "http listener failed");
    }
}

/// Serves an HTTP connection of the device port; see [`serve_connection`].
pub async fn serve_device_connection(conn: HttpConn, app: Router, cancel: CancellationToken) {
    let peer = conn.peer_addr;
    if let Err(e) = serve_connection(conn.stream, peer, conn.peer_certificate, app, cancel).await {
        tracing::debug!(%peer, error = %e, "device port http connection failed");
    }
}

/// Serves HTTP/1.1 on `stream` with `app` until the client closes, or after the response
/// in flight once `cancel` fires. Every request carries the connection's client
/// certificate, when there is one, as a [`PeerCertificate`] extension, for
/// certificate-authenticated calls, and the client's address as a `SocketAddr` extension.
pub async fn serve_connection<S>(
    stream: S,
    peer: std::net::SocketAddr,
    peer_certificate: Option<PeerCertificate>,
    app: Router,
    cancel: CancellationToken,
) -> hyper::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(peer);
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

/// Answers an HTTP connection beyond `server.max_connections` with 503 and closes it.
pub async fn refuse_busy(mut conn: HttpConn) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\
connection: close\r\n\r\n";
    // Best effort: the client may be gone already.
    if conn.stream.write_all(BUSY).await.is_ok() {
        let _ = conn.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Extension;
    use tokio::io::AsyncReadExt;

    async fn subject(certificate: Option<Extension<PeerCertificate>>) -> String {
        certificate.map_or_else(|| "none".to_owned(), |c| c.0.subject.clone())
    }

    /// Any parsed certificate will do: the CA's own.
    fn certificate() -> PeerCertificate {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ferrite_transport::ensure_ca(dir.path(), &[]).expect("ca");
        PeerCertificate::from_der(ca.ca_cert_der()).expect("parse")
    }

    async fn round_trip(certificate: Option<PeerCertificate>, request: &[u8]) -> String {
        let app = Router::new().route("/whoami", get(subject));
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(serve_connection(
            server,
            std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
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
    async fn requests_carry_the_client_certificate() {
        let request = b"GET /whoami HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let response = round_trip(Some(certificate()), request).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(
            response.ends_with("O=Ferrite, CN=Ferrite Root CA"),
            "{response}"
        );
        let response = round_trip(None, request).await;
        assert!(response.ends_with("none"), "{response}");
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
