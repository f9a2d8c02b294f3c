//! The AWS API listener's application: every request of the `iot`, `iot-data` and
//! `iot-jobs-data` REST-JSON planes goes through one path — body limit, SigV4 verification,
//! routing to an [`Operation`] (by method, path and the signature's service), decoding and
//! validation against the botocore model (`ferrite-api-model`), one `handle` per operation,
//! and encoding of the output or of an AWS-shaped error (`x-amzn-ErrorType`, status, JSON
//! `message`). Operations Ferrite does not implement yet answer with an error naming them.
//!
//! On the device port a request without a signature but with a client certificate is
//! authenticated by the certificate ([`data_plane`]) and may call only the data plane.
//!
//! The caller (the `server` crate) mounts [`router`] beside `/health` and `/metrics`.

pub mod data_plane;
mod dispatch;
mod error;
mod request;

use std::collections::HashMap;
use std::sync::Arc;

use ferrite_auth::sigv4::{SecretKey, Verifier};
use ferrite_registry::Registry;

pub use error::ApiError;
pub use ferrite_api_model::Operation;

/// Largest request body accepted; AWS's biggest control-plane documents (policies, job
/// documents, rule payloads) are far smaller.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Everything a request needs.
pub struct ApiState {
    pub verifier: Verifier<HashMap<String, SecretKey>>,
    pub account_id: String,
    pub registry: Registry,
    /// Test hook: `POST /_ferrite/reset` (SigV4-signed, any service) empties the registry.
    pub test_hooks: bool,
    /// Publishing and certificate-authenticated device calls; `None`: iot-data Publish
    /// answers ServiceUnavailable and client certificates authenticate nothing.
    pub data_plane: Option<Arc<dyn data_plane::DataPlane>>,
}

/// The axum router serving every AWS operation (as the fallback, so the caller's own routes
/// such as `/health` take precedence).
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new()
        .fallback(request::handle)
        .with_state(state)
}
