//! Template versions: CreateProvisioningTemplateVersion, DescribeProvisioningTemplateVersion,
//! DeleteProvisioningTemplateVersion and ListProvisioningTemplateVersions.

use ferrite_registry::{Scope, encode, epoch_secs, token};
use ferrite_storage::{Expect, Write};
use serde::Deserialize;
use serde_json::json;

use crate::templates::{StoredTemplate, TemplateVersion, check_body};
use crate::{
    MAX_VERSIONS, Output, ProvisioningError, ProvisioningTemplates, TEMPLATE_KIND, no_template,
    template_arn,
};

/// Versions per ListProvisioningTemplateVersions page without `maxResults` (a template has
/// at most five, so one page).
const LIST_PAGE_DEFAULT: usize = 250;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProvisioningTemplateVersion {
    pub template_name: String,
    pub template_body: String,
    pub set_as_default: Option<bool>,
}

/// The input of DescribeProvisioningTemplateVersion and DeleteProvisioningTemplateVersion.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVersionRef {
    pub template_name: String,
    pub version_id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListProvisioningTemplateVersions {
    pub template_name: String,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

fn no_version(name: &str, id: i64) -> ProvisioningError {
    ProvisioningError::NotFound(format!(
        "Version {id} of the provisioning template {name} does not exist."
    ))
}

fn version_summary(t: &StoredTemplate, v: &TemplateVersion) -> Output {
    json!({
        "versionId": v.version_id,
        "creationDate": epoch_secs(v.created_at_ms),
        "isDefaultVersion": v.version_id == t.default_version_id,
    })
}

impl ProvisioningTemplates {
    pub async fn create_provisioning_template_version(
        &self,
        scope: &Scope,
        req: CreateProvisioningTemplateVersion,
    ) -> Result<Output, ProvisioningError> {
        let name = req.template_name.as_str();
        let set_default = req.set_as_default.unwrap_or(false);
        let now = self.clock.now_ms();
        let (version_id, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<StoredTemplate>(TEMPLATE_KIND, name)
                    .await?
                    .ok_or_else(|| no_template(name))?;
                check_body(&req.template_body, t.kind())?;
                if t.versions.len() >= MAX_VERSIONS {
                    return Err(ProvisioningError::VersionsLimit(format!(
                        "The provisioning template {name} already has the maximum number of versions ({MAX_VERSIONS}); delete one first."
                    )));
                }
                let id = t.next_version_id;
                t.next_version_id += 1;
                t.versions.push(TemplateVersion {
                    version_id: id,
                    body: req.template_body.clone(),
                    created_at_ms: now,
                });
                if set_default {
                    t.default_version_id = id;
                }
                t.modified_at_ms = now;
                let write = Write::put(TEMPLATE_KIND, name, Expect::Version(version), encode(&t));
                Ok::<_, ProvisioningError>((vec![write], id))
            })
            .await?;
        self.changed(name);
        Ok(json!({
            "templateArn": template_arn(scope, name),
            "templateName": name,
            "versionId": version_id,
            "isDefaultVersion": set_default,
        }))
    }

    pub async fn describe_provisioning_template_version(
        &self,
        req: TemplateVersionRef,
    ) -> Result<Output, ProvisioningError> {
        let name = req.template_name.as_str();
        let t = self
            .template(name)
            .await?
            .ok_or_else(|| no_template(name))?;
        let v = t
            .version(req.version_id)
            .ok_or_else(|| no_version(name, req.version_id))?;
        let mut out = version_summary(&t, v);
        out["templateBody"] = json!(v.body);
        Ok(out)
    }

    pub async fn delete_provisioning_template_version(
        &self,
        req: TemplateVersionRef,
    ) -> Result<Output, ProvisioningError> {
        let name = req.template_name.as_str();
        let id = req.version_id;
        let now = self.clock.now_ms();
        self.docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<StoredTemplate>(TEMPLATE_KIND, name)
                    .await?
                    .ok_or_else(|| no_template(name))?;
                if t.version(id).is_none() {
                    return Err(no_version(name, id));
                }
                if t.default_version_id == id {
                    return Err(ProvisioningError::DeleteConflict(format!(
                        "Version {id} is the default version of the provisioning template {name} and cannot be deleted."
                    )));
                }
                t.versions.retain(|v| v.version_id != id);
                t.modified_at_ms = now;
                let write = Write::put(TEMPLATE_KIND, name, Expect::Version(version), encode(&t));
                Ok::<_, ProvisioningError>((vec![write], ()))
            })
            .await?;
        self.changed(name);
        Ok(json!({}))
    }

    pub async fn list_provisioning_template_versions(
        &self,
        req: ListProvisioningTemplateVersions,
    ) -> Result<Output, ProvisioningError> {
        let name = req.template_name.as_str();
        let t = self
            .template(name)
            .await?
            .ok_or_else(|| no_template(name))?;
        let after = match token::decode(req.next_token.as_deref())? {
            Some(after) => Some(after.parse::<i64>().map_err(|_| {
                ProvisioningError::InvalidRequest("The nextToken is not valid.".to_owned())
            })?),
            None => None,
        };
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let remaining: Vec<&TemplateVersion> = t
            .versions
            .iter()
            .filter(|v| after.is_none_or(|a| v.version_id > a))
            .collect();
        let page = &remaining[..remaining.len().min(limit)];
        let next = (remaining.len() > page.len())
            .then(|| {
                page.last()
                    .map(|v| token::encode(&v.version_id.to_string()))
            })
            .flatten();
        let items = page.iter().map(|v| version_summary(&t, v)).collect();
        Ok(token::listing("versions", items, next))
    }
}
