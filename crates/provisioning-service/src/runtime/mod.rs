//! Fleet provisioning at run time: the operations behind the MQTT fleet provisioning API
//! (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing with a certificate
//! ownership token) and the control plane's RegisterThing and CreateProvisioningClaim.
//!
//! RegisterThing reads the template (which must exist, be enabled and be of type
//! `FLEET_PROVISIONING`), redeems the ownership token for its certificate, asks the
//! pre-provisioning hook when the template has one, evaluates the default version's body with
//! the device's parameters (and the hook's overrides) and the certificate's id as
//! `AWS::IoT::Certificate::Id`, and applies the plan through the registry ([`apply`]).
//! Certificates created over MQTT start `PENDING_ACTIVATION` (as the SDK's documentation says);
//! the template's `Status` sets theirs.

mod apply;
mod failure;
mod hook;
mod ownership;
mod subject;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrite_provisioning::{Builtins, CertificateSource, Template, TemplateKind};
use ferrite_registry::{Documents, Registry, RegistryError, Scope, epoch_secs};
use ferrite_types::Clock;
use serde_json::{Value, json};

use crate::{ProvisioningTemplates, template_arn};
pub use apply::Applied;
use apply::TargetCertificate;
pub use failure::ProvisionFailure;
pub use hook::HOOK_TIMEOUT;
pub use ownership::{OWNERSHIP_KIND, TOKEN_LIFETIME_MS};

/// AWS: a provisioning claim certificate is valid for five minutes. [VERIFY]
const CLAIM_LIFETIME_MS: i64 = 5 * 60 * 1000;

/// Who sent an MQTT provisioning request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester<'a> {
    pub client_id: Option<&'a str>,
    /// The claim certificate's id (the connection's principal).
    pub principal: Option<&'a str>,
}

/// Fleet provisioning over one registry: a cheap handle.
#[derive(Clone)]
pub struct FleetProvisioning {
    registry: Registry,
    pub(crate) templates: ProvisioningTemplates,
    docs: Documents,
    /// The region and account of requests that carry none (MQTT, JITP).
    pub(crate) scope: Scope,
    /// `[aws.functions]`: the endpoints that play pre-provisioning hooks.
    functions: Arc<BTreeMap<String, String>>,
    pub(crate) clock: Clock,
}

fn registry_failure(e: RegistryError) -> ProvisionFailure {
    ProvisionFailure::from_registry(e)
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

impl FleetProvisioning {
    pub fn new(
        registry: Registry,
        templates: ProvisioningTemplates,
        scope: Scope,
        functions: BTreeMap<String, String>,
    ) -> FleetProvisioning {
        FleetProvisioning {
            docs: Documents::new(templates.docs.store().clone()),
            registry,
            templates,
            scope,
            functions: Arc::new(functions),
            clock: Clock::system(),
        }
    }

    /// Reads wall time from `clock` (token expiry).
    pub fn with_clock(mut self, clock: Clock) -> FleetProvisioning {
        self.clock = clock;
        self
    }

    /// CreateKeysAndCertificate over MQTT: a new key pair and an inactive certificate, with its
    /// ownership token.
    pub async fn create_keys_and_certificate(&self) -> Result<Value, ProvisionFailure> {
        let out = self
            .registry
            .issue_pending_activation(&self.scope, None)
            .await
            .map_err(registry_failure)?;
        let id = text(&out, "certificateId");
        let token = ownership::issue(&self.docs, &id, self.clock.now_ms()).await?;
        Ok(json!({
            "certificateId": id,
            "certificatePem": out["certificatePem"],
            "privateKey": out["keyPair"]["PrivateKey"],
            "certificateOwnershipToken": token,
        }))
    }

    /// CreateCertificateFromCsr over MQTT: an inactive certificate for the CSR's key, with
    /// its ownership token.
    pub async fn create_certificate_from_csr(&self, csr: &str) -> Result<Value, ProvisionFailure> {
        let out = self
            .registry
            .issue_pending_activation(&self.scope, Some(csr.to_owned()))
            .await
            .map_err(|e| match e {
                RegistryError::InvalidRequest(m) => ProvisionFailure::InvalidCsr(m),
                other => registry_failure(other),
            })?;
        let id = text(&out, "certificateId");
        let token = ownership::issue(&self.docs, &id, self.clock.now_ms()).await?;
        Ok(json!({
            "certificateId": id,
            "certificatePem": out["certificatePem"],
            "certificateOwnershipToken": token,
        }))
    }

    /// RegisterThing over MQTT: provisions the certificate `token` is bound to with the
    /// template `template_name`. Answers `deviceConfiguration` and `thingName`.
    pub async fn register_thing(
        &self,
        template_name: &str,
        token: &str,
        parameters: BTreeMap<String, String>,
        requester: Requester<'_>,
    ) -> Result<Value, ProvisionFailure> {
        let not_found = || {
            ProvisionFailure::TemplateNotFound(format!(
                "The provisioning template {template_name} does not exist."
            ))
        };
        let template = self
            .templates
            .template(template_name)
            .await?
            .ok_or_else(not_found)?;
        if template.kind() != TemplateKind::FleetProvisioning {
            return Err(not_found());
        }
        if !template.enabled {
            return Err(ProvisionFailure::InvalidParameters(format!(
                "The provisioning template {template_name} is disabled."
            )));
        }
        let certificate_id = ownership::redeem(&self.docs, token, self.clock.now_ms()).await?;
        let certificate = self
            .registry
            .certificate_for_auth(&certificate_id)
            .await
            .map_err(registry_failure)?
            .ok_or_else(|| {
                ProvisionFailure::InvalidToken(
                    "The certificate of this ownership token no longer exists.".into(),
                )
            })?;
        let parameters = match &template.pre_provisioning_hook {
            None => parameters,
            Some(h) => {
                let arn = template_arn(&self.scope, template_name);
                let input = hook::HookInput {
                    claim_certificate_id: requester.principal,
                    certificate_id: &certificate_id,
                    certificate_pem: &certificate.certificate_pem,
                    template_arn: &arn,
                    client_id: requester.client_id,
                    parameters: &parameters,
                };
                hook::ask(&self.functions, &h.target_arn, input).await?
            }
        };
        let body = Template::parse(template.default_body())
            .map_err(|e| ProvisionFailure::Internal(e.aws_message()))?;
        let plan = body
            .evaluate(
                &parameters,
                &Builtins::new().with_certificate_id(certificate_id.clone()),
            )
            .map_err(|e| ProvisionFailure::InvalidParameters(e.aws_message()))?;
        if let Some(c) = &plan.certificate
            && c.source != CertificateSource::Id(certificate_id.clone())
        {
            return Err(ProvisionFailure::InvalidParameters(
                "The template's certificate must be the certificate being provisioned.".into(),
            ));
        }
        let target = TargetCertificate {
            id: &certificate_id,
            fresh: true,
        };
        let applied = apply::apply(&self.registry, &self.scope, &plan, Some(target)).await?;
        let mut out = json!({"deviceConfiguration": plan.device_configuration});
        if let Some(thing) = applied.thing_name {
            out["thingName"] = json!(thing);
        }
        Ok(out)
    }

    /// The control plane's RegisterThing: provisions with `template_body` directly. The
    /// template names its certificate by id, by CSR (issued here) or by PEM (registered
    /// under its registered CA). Answers `certificatePem` and `resourceArns`.
    pub async fn register_thing_api(
        &self,
        scope: &Scope,
        template_body: &str,
        parameters: BTreeMap<String, String>,
    ) -> Result<Value, ProvisionFailure> {
        let template = Template::parse(template_body)
            .map_err(|e| ProvisionFailure::InvalidPayload(e.aws_message()))?;
        let plan = template
            .evaluate(&parameters, &Builtins::new())
            .map_err(|e| ProvisionFailure::InvalidParameters(e.aws_message()))?;
        let certificate = match plan.certificate.as_ref().map(|c| &c.source) {
            None => None,
            Some(CertificateSource::Id(id)) => {
                let pem = self
                    .registry
                    .certificate_for_auth(id)
                    .await
                    .map_err(registry_failure)?
                    .ok_or_else(|| {
                        ProvisionFailure::InvalidParameters(format!(
                            "The certificate {id} does not exist."
                        ))
                    })?
                    .certificate_pem;
                Some((id.clone(), pem, false))
            }
            Some(CertificateSource::SigningRequest(csr)) => {
                let out = self
                    .registry
                    .create_certificate_from_csr(
                        scope,
                        request(json!({"certificateSigningRequest": csr, "setAsActive": false})),
                    )
                    .await
                    .map_err(registry_failure)?;
                Some((
                    text(&out, "certificateId"),
                    text(&out, "certificatePem"),
                    true,
                ))
            }
            Some(CertificateSource::Pem {
                certificate_pem,
                ca_certificate_pem,
            }) => {
                let register = json!({"certificatePem": certificate_pem,
                    "caCertificatePem": ca_certificate_pem, "status": "INACTIVE"});
                let id = match self
                    .registry
                    .register_certificate(scope, request(register))
                    .await
                {
                    Ok(out) => text(&out, "certificateId"),
                    // Registered by an earlier run: the same certificate.
                    Err(RegistryError::AlreadyExists { resource_id, .. }) => resource_id,
                    Err(e) => return Err(registry_failure(e)),
                };
                Some((id, certificate_pem.clone(), false))
            }
        };
        let target = certificate
            .as_ref()
            .map(|(id, _, fresh)| TargetCertificate { id, fresh: *fresh });
        let applied = apply::apply(&self.registry, scope, &plan, target).await?;
        let mut out = json!({"resourceArns": applied.resource_arns});
        if let Some((_, pem, _)) = certificate {
            out["certificatePem"] = json!(pem);
        }
        Ok(out)
    }

    /// CreateProvisioningClaim: an active claim certificate and its keys, under a policy that
    /// allows the fleet provisioning API of `template_name` only. [VERIFY: the policy AWS
    /// attaches; the expiration is reported, not enforced.]
    pub async fn create_provisioning_claim(
        &self,
        scope: &Scope,
        template_name: &str,
    ) -> Result<Value, ProvisionFailure> {
        if self.templates.template(template_name).await?.is_none() {
            return Err(ProvisionFailure::TemplateNotFound(format!(
                "The provisioning template {template_name} does not exist."
            )));
        }
        let policy_name = format!("FerriteProvisioningClaim-{template_name}");
        let topic = |t: &str| scope.arn(&format!("topic/{t}"));
        let filter = |t: &str| scope.arn(&format!("topicfilter/{t}"));
        let document = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
                {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
                    topic("$aws/certificates/create/*"),
                    topic("$aws/certificates/create-from-csr/*"),
                    topic(&format!("$aws/provisioning-templates/{template_name}/provision/*")),
                ]},
                {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
                    filter("$aws/certificates/create/*"),
                    filter("$aws/certificates/create-from-csr/*"),
                    filter(&format!("$aws/provisioning-templates/{template_name}/provision/*")),
                ]},
            ],
        });
        let create = json!({"policyName": policy_name, "policyDocument": document.to_string()});
        match self.registry.create_policy(scope, request(create)).await {
            Ok(_) | Err(RegistryError::AlreadyExists { .. }) => {}
            Err(e) => return Err(registry_failure(e)),
        }
        let out = self
            .registry
            .create_keys_and_certificate(scope, request(json!({"setAsActive": true})))
            .await
            .map_err(registry_failure)?;
        self.registry
            .attach_policy(
                scope,
                request(json!({"policyName": policy_name, "target": out["certificateArn"]})),
            )
            .await
            .map_err(registry_failure)?;
        Ok(json!({
            "certificateId": out["certificateId"],
            "certificatePem": out["certificatePem"],
            "keyPair": out["keyPair"],
            "expiration": epoch_secs(self.clock.now_ms() + CLAIM_LIFETIME_MS),
        }))
    }

    /// JITP: runs the template of CA `ca_certificate_id`'s `registrationConfig` for the
    /// certificate just registered under it. `None` when the CA has no template; else the
    /// thing provisioned, if the template has one.
    pub async fn provision_just_in_time(
        &self,
        certificate_id: &str,
        ca_certificate_id: &str,
    ) -> Result<Option<Option<String>>, ProvisionFailure> {
        let ca = self
            .registry
            .describe_ca_certificate(
                &self.scope,
                request(json!({"certificateId": ca_certificate_id})),
            )
            .await
            .map_err(registry_failure)?;
        let config = &ca["registrationConfig"];
        let body = match (
            config["templateBody"].as_str(),
            config["templateName"].as_str(),
        ) {
            (Some(body), _) => body.to_owned(),
            (None, Some(name)) => {
                let template = self
                    .templates
                    .template(name)
                    .await?
                    .filter(|t| t.kind() == TemplateKind::Jitp && t.enabled)
                    .ok_or_else(|| {
                        ProvisionFailure::TemplateNotFound(format!(
                            "The JITP template {name} does not exist or is disabled."
                        ))
                    })?;
                template.default_body().to_owned()
            }
            (None, None) => return Ok(None),
        };
        let pem = self
            .registry
            .certificate_for_auth(certificate_id)
            .await
            .map_err(registry_failure)?
            .ok_or_else(|| {
                ProvisionFailure::InvalidParameters(format!(
                    "The certificate {certificate_id} does not exist."
                ))
            })?
            .certificate_pem;
        let plan = Template::parse(&body)
            .map_err(|e| ProvisionFailure::InvalidParameters(e.aws_message()))?
            .evaluate(&BTreeMap::new(), &subject::builtins(certificate_id, &pem))
            .map_err(|e| ProvisionFailure::InvalidParameters(e.aws_message()))?;
        if let Some(c) = &plan.certificate
            && c.source != CertificateSource::Id(certificate_id.to_owned())
        {
            return Err(ProvisionFailure::InvalidParameters(
                "The template's certificate must be the certificate being provisioned.".into(),
            ));
        }
        let target = TargetCertificate {
            id: certificate_id,
            fresh: true,
        };
        let applied = apply::apply(&self.registry, &self.scope, &plan, Some(target)).await?;
        Ok(Some(applied.thing_name))
    }

    /// Deletes the expired ownership tokens, and with each the certificate it was bound to
    /// unless that certificate was provisioned: AWS deletes a certificate that was neither
    /// activated nor attached to a thing or policy within the token's hour. Returns the
    /// certificates deleted.
    pub async fn sweep_expired(&self) -> Result<Vec<String>, ProvisionFailure> {
        let mut deleted = Vec::new();
        for id in ownership::sweep(&self.docs, self.clock.now_ms()).await? {
            let Some(cert) = self
                .registry
                .certificate_for_auth(&id)
                .await
                .map_err(registry_failure)?
            else {
                continue;
            };
            if cert.status == ferrite_types::CertStatus::Active {
                continue;
            }
            // Without forceDelete, a certificate with things or policies attached is kept.
            match self
                .registry
                .delete_certificate(&self.scope, request(json!({"certificateId": id})))
                .await
            {
                Ok(_) => deleted.push(id),
                Err(RegistryError::DeleteConflict(_) | RegistryError::NotFound(_)) => {}
                Err(e) => return Err(registry_failure(e)),
            }
        }
        Ok(deleted)
    }
}

/// A registry request from the JSON its operation takes.
fn request<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("provisioning builds well-formed registry requests")
}
