//! The AWS IoT provisioning template API: CreateProvisioningTemplate,
//! DescribeProvisioningTemplate, UpdateProvisioningTemplate, DeleteProvisioningTemplate,
//! ListProvisioningTemplates and the template versions (Create/Describe/Delete/
//! ListProvisioningTemplateVersions), with tags, stored through
//! `ferrite_storage::RegistryStore` beside the registry.
//!
//! A template is one document of kind [`TEMPLATE_KIND`] keyed by its name, holding its
//! settings and its (at most five) versions, so every operation is one conditional write in
//! the registry's optimistic cycle ([`ferrite_registry::Documents`]). Every body is parsed and
//! checked by `ferrite_provisioning` for the template's type before it is stored, so what the
//! API accepts is what provisioning can evaluate. Durable changes are announced on the shared
//! [`ChangeFeed`] (`ProvisioningTemplateChanged`/`Deleted`) for the provisioning runtime.
//! [`ProvisioningTemplates::template`] is what that runtime reads.
//!
//! The runtime: [`FleetProvisioning`] (`runtime`) runs templates: the MQTT fleet provisioning
//! API ([`FleetProvisioningDevice`], `mqtt`), the control plane's RegisterThing and
//! CreateProvisioningClaim, with certificate ownership tokens and pre-provisioning hooks.
//!
//! Bulk registration: [`BulkRegistration`] (`bulk`) runs thing registration tasks, each line of
//! a JSON-lines file in a bucket directory through the control plane's RegisterThing.

pub mod bulk;
mod error;
pub mod jit;
pub mod mqtt;
pub mod runtime;
mod templates;
#[cfg(test)]
mod tests;
mod versions;

use std::sync::Arc;

use ferrite_registry::{Documents, Scope};
use ferrite_storage::RegistryStore;
use ferrite_types::{ChangeFeed, Clock, InProcessFeed, RegistryChange};

pub use bulk::{Buckets, BulkRegistration};
pub use error::ProvisioningError;
pub use jit::JustInTime;
pub use mqtt::FleetProvisioningDevice;
pub use runtime::{FleetProvisioning, ProvisionFailure, Requester};
pub use templates::{
    CreateProvisioningTemplate, ListProvisioningTemplates, ProvisioningHook, StoredTemplate,
    TemplateName, TemplateVersion, UpdateProvisioningTemplate,
};
pub use versions::{
    CreateProvisioningTemplateVersion, ListProvisioningTemplateVersions, TemplateVersionRef,
};

/// The record kind of provisioning templates, keyed by template name.
pub const TEMPLATE_KIND: &str = "provisioning-template";

/// What the server registers with the registry so that TagResource, UntagResource and
/// ListTagsForResource accept `provisioningtemplate/{name}` ARNs.
pub const TAGGABLE: ferrite_registry::tags::Taggable = ferrite_registry::tags::Taggable {
    arn_type: "provisioningtemplate",
    kind: TEMPLATE_KIND,
};

/// AWS: a template has at most five versions.
pub const MAX_VERSIONS: usize = 5;

pub type Output = serde_json::Value;

/// The provisioning template API over one store: a cheap handle, cloned into the HTTP edge.
#[derive(Clone)]
pub struct ProvisioningTemplates {
    pub(crate) docs: Documents,
    changes: Arc<dyn ChangeFeed>,
    clock: Clock,
}

impl ProvisioningTemplates {
    /// The API over `store`, with a change feed of its own and the system clock.
    pub fn new(store: Arc<dyn RegistryStore>) -> ProvisioningTemplates {
        ProvisioningTemplates {
            docs: Documents::new(store),
            changes: Arc::new(InProcessFeed::default()),
            clock: Clock::system(),
        }
    }

    /// Announces changes on `feed` (the server shares one feed between every service).
    pub fn with_change_feed(mut self, feed: Arc<dyn ChangeFeed>) -> ProvisioningTemplates {
        self.changes = feed;
        self
    }

    /// Reads wall time from `clock` (creation and modification dates).
    pub fn with_clock(mut self, clock: Clock) -> ProvisioningTemplates {
        self.clock = clock;
        self
    }

    /// The template named `name`, for the provisioning runtime.
    pub async fn template(&self, name: &str) -> Result<Option<StoredTemplate>, ProvisioningError> {
        Ok(self
            .docs
            .get(TEMPLATE_KIND, name)
            .await?
            .map(|(template, _)| template))
    }

    fn changed(&self, name: &str) {
        self.changes
            .publish(RegistryChange::ProvisioningTemplateChanged {
                template: name.to_owned(),
            });
    }
}

/// `arn:aws:iot:{region}:{account}:provisioningtemplate/{name}`.
fn template_arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("provisioningtemplate/{name}"))
}

fn no_template(name: &str) -> ProvisioningError {
    ProvisioningError::NotFound(format!("The provisioning template {name} does not exist."))
}
