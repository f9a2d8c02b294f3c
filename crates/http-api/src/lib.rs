//! The AWS API edge. Every request of the `iot`, `iot-data` and `iot-jobs-data` REST-JSON
//! planes goes through one path (`request.rs`): body limit, authentication (SigV4; on the
//! device port a client certificate instead), routing to an [`Operation`] (by method, path and
//! the signature's service), decoding and validation against the botocore model
//! (`ferrite-api-model`), one handler per operation grouped by service and resource family
//! (`iot/`, `data/`), and encoding of the output or of an AWS-shaped error through the one
//! [`error_response`]. Operations Ferrite does not implement yet answer with an error naming
//! them.
//!
//! The handlers call the services they need through concrete handles: the registry, the topic
//! rule API, the jobs API, and for the data plane the broker, the shadow service and the device authorizer
//! ([`DataServices`]). The one unsigned request served is the `enableUrl` of a topic rule
//! destination's confirmation request (`GET /confirmdestination/{token}`): the token is the
//! credential, as on AWS.
//! [`serve_api`] serves the API listener; [`serve_device_connection`] serves the HTTP
//! connections of the device port. The caller (the `server` crate) mounts [`router`] beside
//! `/health` and `/metrics`.

// Unit tests spawn helper servers: the lint policy binds the crate's own code, which the
// non-test build still checks.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

mod call;
mod data;
mod dispatch;
mod error;
mod iot;
mod jobs_data;
mod request;
mod serve;

use std::collections::HashMap;
use std::sync::Arc;

use ferrite_auth::sigv4::{SecretKey, Verifier};
use ferrite_broker::Broker;
use ferrite_identity::IotAuthorizer;
use ferrite_registry::Registry;
use ferrite_rules_service::TopicRules;
use ferrite_shadow_service::Shadows;

pub use error::{ApiError, RequestError, error_response};
pub use ferrite_api_model::Operation;
pub use serve::{refuse_busy, serve_api, serve_device_connection};

/// Largest request body accepted; AWS's biggest control-plane documents (policies, job
/// documents, rule payloads) are far smaller.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Everything a request needs.
pub struct ApiState {
    pub verifier: Verifier<HashMap<String, SecretKey>>,
    pub account_id: String,
    pub registry: Registry,
    /// Topic rules and topic rule destinations.
    pub rules: TopicRules,
    /// Provisioning templates and their versions.
    pub provisioning: ferrite_provisioning_service::ProvisioningTemplates,
    /// Templates at run time: RegisterThing and CreateProvisioningClaim.
    pub fleet: ferrite_provisioning_service::FleetProvisioning,
    /// Bulk registration: thing registration tasks.
    pub bulk: ferrite_provisioning_service::BulkRegistration,
    /// Jobs, job executions and job templates.
    pub jobs: ferrite_jobs_service::Jobs,
    /// Test hook: `POST /_ferrite/reset` (SigV4-signed, any service) empties the registry.
    pub test_hooks: bool,
    /// The data plane's services; `None` (the API alone, in tests): iot-data operations answer
    /// NotImplementedException and client certificates authenticate nothing.
    pub data: Option<DataServices>,
}

/// What the data plane and certificate-authenticated device calls run on.
pub struct DataServices {
    /// Publish and the retained messages.
    pub broker: Broker,
    /// Shadow REST calls, served in the same queue as MQTT shadow requests.
    pub shadows: Shadows,
    /// What a client certificate on the device port may do.
    pub devices: IotAuthorizer,
    /// The region in ARNs for certificate-authenticated callers (they sign nothing).
    pub region: String,
}

/// The axum router serving every AWS operation (as the fallback, so the caller's own routes
/// such as `/health` take precedence).
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new()
        .fallback(request::handle)
        .with_state(state)
}
