//! A local AWS-compatible endpoint for the forwarding tests: it records each request with
//! the verdict of Ferrite's own SigV4 verifier on its signature (written to AWS's
//! specification, and what boto3's signatures pass) and answers what the test sets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method as AxumMethod, Uri};
use ferrite_auth::sigv4::{Payload, SecretKey, SignedRequest, Verified, Verifier};
use ferrite_config::ForwardConfig;
use ferrite_types::Clock;
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// How long a test waits for the endpoint to be called.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// One request the endpoint received.
pub(crate) struct Hit {
    pub method: AxumMethod,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The verifier's verdict on the request's signature.
    pub verified: Result<Verified, String>,
}

/// What the endpoint answers: status, content type, body.
pub(crate) type Answer = Arc<Mutex<(u16, &'static str, String)>>;

/// A running endpoint: its URL, its requests, and what it answers (200 `{}` at first).
pub(crate) async fn endpoint() -> (String, mpsc::UnboundedReceiver<Hit>, Answer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let answer: Answer = Arc::new(Mutex::new((200, "application/json", "{}".into())));
    let reply = answer.clone();
    let verifier = Arc::new(Verifier::new(HashMap::from([(
        "AKIDFORWARD".to_owned(),
        SecretKey::new("forward-secret"),
    )])));
    let app = axum::Router::new().fallback(
        move |method: AxumMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (tx, reply, verifier) = (tx.clone(), reply.clone(), verifier.clone());
            async move {
                let request = SignedRequest {
                    method: method.as_str(),
                    path: uri.path(),
                    query: uri.query().unwrap_or_default(),
                    headers: &headers,
                    payload: Payload::Bytes(&body),
                };
                let verified = verifier
                    .verify(&request, Clock::system().now_system_time())
                    .map_err(|e| e.to_string());
                let _ = tx.send(Hit {
                    method,
                    uri,
                    headers,
                    body,
                    verified,
                });
                let (status, content_type, body) = reply.lock().clone();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    body,
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx, answer)
}

/// The next request, waiting at most [`WAIT`].
pub(crate) async fn next(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

/// The keys the endpoint accepts, in region `eu-central-1`.
pub(crate) fn keys() -> ForwardConfig {
    ForwardConfig {
        region: "eu-central-1".into(),
        access_key_id: "AKIDFORWARD".into(),
        secret_access_key: "forward-secret".into(),
    }
}
