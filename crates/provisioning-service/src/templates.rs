//! Templates: CreateProvisioningTemplate, DescribeProvisioningTemplate,
//! UpdateProvisioningTemplate, DeleteProvisioningTemplate and ListProvisioningTemplates, and
//! the stored document.

use ferrite_provisioning::{Template, TemplateKind};
use ferrite_registry::tags::{Tag, drop_tags, initial_tags};
use ferrite_registry::{Scope, encode, epoch_secs, token};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    Output, ProvisioningError, ProvisioningTemplates, TEMPLATE_KIND, no_template, template_arn,
};

/// AWS's default `payloadVersion` of a pre-provisioning hook.
const DEFAULT_PAYLOAD_VERSION: &str = "2020-04-01";

/// Templates per ListProvisioningTemplates page without `maxResults`: the model's maximum, so
/// a listing without paging sees every template of a typical account.
const LIST_PAGE_DEFAULT: usize = 250;

/// A pre-provisioning hook: the function RegisterThing asks before provisioning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningHook {
    pub target_arn: String,
    #[serde(default)]
    pub payload_version: Option<String>,
}

/// One version of a template's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersion {
    pub version_id: i64,
    pub body: String,
    pub created_at_ms: i64,
}

/// A stored provisioning template with its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTemplate {
    /// The key of the template's tags: a template deleted and created again under its name
    /// does not inherit the old one's tags.
    pub(crate) id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub provisioning_role_arn: String,
    pub pre_provisioning_hook: Option<ProvisioningHook>,
    /// `FLEET_PROVISIONING` or `JITP`; fixed at creation.
    pub template_type: String,
    pub default_version_id: i64,
    /// Version ids are never reused, even after a version is deleted.
    pub(crate) next_version_id: i64,
    pub created_at_ms: i64,
    pub modified_at_ms: i64,
    /// In version order.
    pub versions: Vec<TemplateVersion>,
}

impl StoredTemplate {
    /// The template's type.
    pub fn kind(&self) -> TemplateKind {
        TemplateKind::parse(&self.template_type).unwrap_or(TemplateKind::FleetProvisioning)
    }

    /// The default version's body: what provisioning runs.
    pub fn default_body(&self) -> &str {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map_or("", |v| v.body.as_str())
    }

    pub(crate) fn version(&self, id: i64) -> Option<&TemplateVersion> {
        self.versions.iter().find(|v| v.version_id == id)
    }

    fn hook_json(&self) -> Option<Output> {
        self.pre_provisioning_hook.as_ref().map(|h| {
            json!({
                "targetArn": h.target_arn,
                "payloadVersion": h.payload_version.as_deref().unwrap_or(DEFAULT_PAYLOAD_VERSION),
            })
        })
    }

    fn summary(&self, scope: &Scope) -> Output {
        let mut item = json!({
            "templateArn": template_arn(scope, &self.name),
            "templateName": self.name,
            "creationDate": epoch_secs(self.created_at_ms),
            "lastModifiedDate": epoch_secs(self.modified_at_ms),
            "enabled": self.enabled,
            "type": self.template_type,
        });
        if let Some(d) = &self.description {
            item["description"] = json!(d);
        }
        item
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProvisioningTemplate {
    pub template_name: String,
    pub description: Option<String>,
    pub template_body: String,
    pub enabled: Option<bool>,
    pub provisioning_role_arn: String,
    pub pre_provisioning_hook: Option<ProvisioningHook>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(rename = "type")]
    pub template_type: Option<String>,
}

/// The input of DescribeProvisioningTemplate and DeleteProvisioningTemplate.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateName {
    pub template_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProvisioningTemplate {
    pub template_name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub default_version_id: Option<i64>,
    pub provisioning_role_arn: Option<String>,
    pub pre_provisioning_hook: Option<ProvisioningHook>,
    pub remove_pre_provisioning_hook: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListProvisioningTemplates {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// Parses and checks `body` for a template of `kind`: what CreateProvisioningTemplate and
/// CreateProvisioningTemplateVersion accept.
pub(crate) fn check_body(body: &str, kind: TemplateKind) -> Result<(), ProvisioningError> {
    Template::parse(body)?.check_kind(kind)?;
    Ok(())
}

fn check_hook(hook: &ProvisioningHook, kind: TemplateKind) -> Result<(), ProvisioningError> {
    if kind == TemplateKind::Jitp {
        return Err(ProvisioningError::InvalidRequest(
            "A pre-provisioning hook is only supported for FLEET_PROVISIONING templates."
                .to_owned(),
        ));
    }
    if !hook.target_arn.starts_with("arn:") {
        return Err(ProvisioningError::InvalidRequest(format!(
            "The pre-provisioning hook target {} is not a function ARN.",
            hook.target_arn
        )));
    }
    Ok(())
}

impl ProvisioningTemplates {
    pub async fn create_provisioning_template(
        &self,
        scope: &Scope,
        req: CreateProvisioningTemplate,
    ) -> Result<Output, ProvisioningError> {
        let kind = match req.template_type.as_deref() {
            None => TemplateKind::FleetProvisioning,
            Some(t) => TemplateKind::parse(t).ok_or_else(|| {
                ProvisioningError::InvalidRequest(format!("Unknown template type {t}."))
            })?,
        };
        check_body(&req.template_body, kind)?;
        if let Some(hook) = &req.pre_provisioning_hook {
            check_hook(hook, kind)?;
        }
        let name = req.template_name.as_str();
        let now = self.clock.now_ms();
        let template = StoredTemplate {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            description: req.description.clone(),
            enabled: req.enabled.unwrap_or(false),
            provisioning_role_arn: req.provisioning_role_arn.clone(),
            pre_provisioning_hook: req.pre_provisioning_hook.clone(),
            template_type: kind.as_str().to_owned(),
            default_version_id: 1,
            next_version_id: 2,
            created_at_ms: now,
            modified_at_ms: now,
            versions: vec![TemplateVersion {
                version_id: 1,
                body: req.template_body.clone(),
                created_at_ms: now,
            }],
        };
        let arn = template_arn(scope, name);
        self.docs
            .retry_wrote(|| async {
                if self.docs.store().get(TEMPLATE_KIND, name).await?.is_some() {
                    return Err(ProvisioningError::AlreadyExists {
                        message: format!("The provisioning template {name} already exists."),
                        resource_arn: arn.clone(),
                    });
                }
                let mut writes = vec![Write::put(
                    TEMPLATE_KIND,
                    name,
                    Expect::Absent,
                    encode(&template),
                )];
                writes.extend(initial_tags(&template.id, &req.tags)?);
                Ok((writes, ()))
            })
            .await?;
        self.changed(name);
        Ok(json!({"templateArn": arn, "templateName": name, "defaultVersionId": 1}))
    }

    pub async fn describe_provisioning_template(
        &self,
        scope: &Scope,
        req: TemplateName,
    ) -> Result<Output, ProvisioningError> {
        let t = self
            .template(&req.template_name)
            .await?
            .ok_or_else(|| no_template(&req.template_name))?;
        let mut out = t.summary(scope);
        out["defaultVersionId"] = json!(t.default_version_id);
        out["templateBody"] = json!(t.default_body());
        out["provisioningRoleArn"] = json!(t.provisioning_role_arn);
        if let Some(hook) = t.hook_json() {
            out["preProvisioningHook"] = hook;
        }
        Ok(out)
    }

    pub async fn update_provisioning_template(
        &self,
        req: UpdateProvisioningTemplate,
    ) -> Result<Output, ProvisioningError> {
        let remove_hook = req.remove_pre_provisioning_hook.unwrap_or(false);
        if remove_hook && req.pre_provisioning_hook.is_some() {
            return Err(ProvisioningError::InvalidRequest(
                "preProvisioningHook and removePreProvisioningHook cannot both be given."
                    .to_owned(),
            ));
        }
        let name = req.template_name.as_str();
        let now = self.clock.now_ms();
        self.docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<StoredTemplate>(TEMPLATE_KIND, name)
                    .await?
                    .ok_or_else(|| no_template(name))?;
                if let Some(d) = &req.description {
                    t.description = Some(d.clone());
                }
                if let Some(e) = req.enabled {
                    t.enabled = e;
                }
                if let Some(id) = req.default_version_id {
                    if t.version(id).is_none() {
                        return Err(ProvisioningError::NotFound(format!(
                            "Version {id} of the provisioning template {name} does not exist."
                        )));
                    }
                    t.default_version_id = id;
                }
                if let Some(role) = &req.provisioning_role_arn {
                    t.provisioning_role_arn = role.clone();
                }
                if let Some(hook) = &req.pre_provisioning_hook {
                    check_hook(hook, t.kind())?;
                    t.pre_provisioning_hook = Some(hook.clone());
                }
                if remove_hook {
                    t.pre_provisioning_hook = None;
                }
                t.modified_at_ms = now;
                let write = Write::put(TEMPLATE_KIND, name, Expect::Version(version), encode(&t));
                Ok::<_, ProvisioningError>((vec![write], ()))
            })
            .await?;
        self.changed(name);
        Ok(json!({}))
    }

    pub async fn delete_provisioning_template(
        &self,
        req: TemplateName,
    ) -> Result<Output, ProvisioningError> {
        let name = req.template_name.as_str();
        self.docs
            .retry_wrote(|| async {
                let (t, version) = self
                    .docs
                    .get::<StoredTemplate>(TEMPLATE_KIND, name)
                    .await?
                    .ok_or_else(|| no_template(name))?;
                let writes = vec![
                    Write::delete(TEMPLATE_KIND, name, Expect::Version(version)),
                    drop_tags(&t.id),
                ];
                Ok::<_, ProvisioningError>((writes, ()))
            })
            .await?;
        self.changes
            .publish(RegistryChange::ProvisioningTemplateDeleted {
                template: name.to_owned(),
            });
        Ok(json!({}))
    }

    pub async fn list_provisioning_templates(
        &self,
        scope: &Scope,
        req: ListProvisioningTemplates,
    ) -> Result<Output, ProvisioningError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (items, next) = self
            .docs
            .page(
                TEMPLATE_KIND,
                "",
                req.next_token.as_deref(),
                limit,
                |_, t: StoredTemplate| Some(t.summary(scope)),
            )
            .await?;
        Ok(token::listing("templates", items, next))
    }
}
