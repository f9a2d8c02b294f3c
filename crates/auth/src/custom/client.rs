//! The HTTP client that calls authorizer functions (and sends the rules engine's topic rule
//! destination confirmations, HTTP and Lambda actions, forwarded actions): one request per
//! call, over plain HTTP (endpoints on the same host) or HTTPS (rustls with ring, webpki
//! roots), on a connection of its own. Authorizer calls are rare next to the traffic they
//! admit (results are cached), so a connection pool would buy little for its state.
//!
//! Whoever calls [`post`] or [`post_json`] bounds it with a timeout; when that fires, the
//! dropped future takes the connection down with it (the connection task is aborted), so a
//! function that never answers costs nothing after its deadline.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Response bodies beyond this are refused: a valid answer (ten policies of 2,048 characters
/// and a few fields) is far smaller.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why a call did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // the fields are named for what they hold
pub enum ClientError {
    /// The function's address is not a usable URL.
    #[error("{0} is not an http:// or https:// URL")]
    BadUrl(String),
    /// Connecting, TLS, or the HTTP exchange failed.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The response body broke off or exceeded its limit ([`MAX_RESPONSE_BYTES`] unless the
    /// caller chose another).
    #[error("the response from {url} is larger than {limit} bytes or broken: {reason}")]
    BadBody {
        url: String,
        limit: usize,
        reason: String,
    },
}

/// Status and body of a response.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The whole body.
    pub body: Bytes,
}

/// Aborts the connection task when the call ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// POSTs `body` (JSON) to `url` as a custom authorizer call and reads the whole response.
pub async fn post_authorizer(url: &str, body: Vec<u8>) -> Result<Response, ClientError> {
    post_json(url, &[("user-agent", "ferrite-custom-authorizer")], body).await
}

/// POSTs `body` (JSON) to `url` with `headers` (name, value) besides `host` and
/// `content-type`, and reads the whole response.
pub async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Response, ClientError> {
    let mut all = Vec::with_capacity(headers.len() + 1);
    all.push(("content-type", "application/json"));
    all.extend_from_slice(headers);
    send(Method::POST, url, &all, Bytes::from(body)).await
}

/// POSTs `body` to `url` with exactly `headers` (name, value) besides `host`, and reads the
/// whole response. The rules engine's HTTP actions choose their own content type.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response, ClientError> {
    send(Method::POST, url, headers, body).await
}

/// Sends one request with `headers` (name, value) besides `host`, which is the URL's
/// authority (what a signature over the request covers), and reads the whole response.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response, ClientError> {
    send_limited(method, url, headers, body, MAX_RESPONSE_BYTES).await
}

/// [`send`], refusing response bodies over `max_bytes` instead of [`MAX_RESPONSE_BYTES`]
/// (bulk registration reads whole input files).
pub async fn send_limited(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    max_bytes: usize,
) -> Result<Response, ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ClientError::BadUrl(url.to_owned()))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(ClientError::BadUrl(url.to_owned())),
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::BadUrl(url.to_owned()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let unreachable = |reason: String| ClientError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    // An IPv6 literal comes bracketed in the URL and must be bare to connect.
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tcp = TcpStream::connect((bare_host.as_str(), port))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tcp.set_nodelay(true).ok();

    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| ClientError::BadUrl(format!("{url}: {e}")))?;

    if https {
        let name =
            ServerName::try_from(bare_host).map_err(|_| ClientError::BadUrl(url.to_owned()))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(format!("TLS: {e}")))?;
        exchange(tls, request, url, max_bytes).await
    } else {
        exchange(tcp, request, url, max_bytes).await
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    url: &str,
    max_bytes: usize,
) -> Result<Response, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let unreachable = |e: hyper::Error| ClientError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(unreachable)?;
    // Owned by the guard: the connection task is aborted when this call returns.
    #[allow(clippy::disallowed_methods)]
    let _connection = AbortOnDrop(tokio::spawn(async move {
        // The call sees the connection's failures through its response; nothing to add here.
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map_err(|e| ClientError::BadBody {
            url: url.to_owned(),
            limit: max_bytes,
            reason: e.to_string(),
        })?
        .to_bytes();
    Ok(Response { status, body })
}

/// The TLS client configuration for https:// functions, built once.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}
