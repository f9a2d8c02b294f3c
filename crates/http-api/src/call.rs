//! One authenticated call: who makes it, from where, and in which region and account, as the
//! operation handlers see it.

use std::net::SocketAddr;
use std::sync::Arc;

use ferrite_broker::Permissions;
use ferrite_registry::{Registry, Scope};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::RequestError;
use crate::{ApiError, ApiState, DataServices};

/// Who is calling.
pub(crate) enum Caller {
    /// A SigV4 signature by a configured access key: the account's administrator.
    Iam { access_key_id: String },
    /// A device on the device port, authenticated by its client certificate and confined to
    /// what its IoT policies allow.
    Device {
        certificate_id: String,
        permissions: Arc<dyn Permissions>,
    },
}

pub(crate) struct Call<'a> {
    pub state: &'a ApiState,
    /// The region of the signature's scope (or the configured one for devices) and the
    /// account, for ARNs.
    pub scope: Scope,
    pub caller: Caller,
    /// The client's address, when the listener reported it.
    pub peer: Option<SocketAddr>,
    /// This API's address as the client reached it (`http://{host}` on the API listener,
    /// `https://{host}` on the device port), for URLs the service hands out (a destination's
    /// `enableUrl`).
    pub api_url: String,
}

impl Call<'_> {
    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    pub fn rules(&self) -> &ferrite_rules_service::TopicRules {
        &self.state.rules
    }

    pub fn provisioning(&self) -> &ferrite_provisioning_service::ProvisioningTemplates {
        &self.state.provisioning
    }

    pub fn fleet(&self) -> &ferrite_provisioning_service::FleetProvisioning {
        &self.state.fleet
    }

    pub fn bulk(&self) -> &ferrite_provisioning_service::BulkRegistration {
        &self.state.bulk
    }

    pub fn jobs(&self) -> &ferrite_jobs_service::Jobs {
        &self.state.jobs
    }

    /// The data plane's services; without them (an API served without a broker) the
    /// data-plane operations are not implemented.
    pub fn data(&self, op: ferrite_api_model::Operation) -> Result<&DataServices, ApiError> {
        self.state
            .data
            .as_ref()
            .ok_or_else(|| RequestError::not_implemented(op).into())
    }

    /// Whether the caller may do `action` on `{kind}/{resource}`: IAM callers may do anything,
    /// devices what their policies allow.
    pub fn allows(&self, action: &str, kind: &str, resource: &str) -> bool {
        match &self.caller {
            Caller::Iam { .. } => true,
            Caller::Device { permissions, .. } => permissions.allows(action, kind, resource),
        }
    }

    /// The authenticated principal: the access key id or the certificate id.
    pub fn principal(&self) -> &str {
        match &self.caller {
            Caller::Iam { access_key_id } => access_key_id,
            Caller::Device { certificate_id, .. } => certificate_id,
        }
    }
}

/// The validated input as the operation's request type. The model already checked types and
/// constraints, so a failure here is a member the request type reads differently.
pub(crate) fn input<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| RequestError::Invalid(e.to_string()).into())
}
