//! Job templates: CreateJobTemplate (from a document, a document source or an existing job),
//! DescribeJobTemplate, ListJobTemplates and DeleteJobTemplate. CreateJob with a
//! `jobTemplateArn` takes a template's document and configurations (see `jobs.rs`).

use ferrite_jobs::{Job, JobConfig, JobDocument, JobError, MaintenanceWindow};
use ferrite_registry::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use ferrite_registry::{Scope, encode, epoch_secs, parse_arn, token};
use ferrite_storage::{Expect, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kinds::{JOB, JOB_TEMPLATE};
use crate::{Jobs, JobsError, Output, no_job, template_arn};

/// AWS's page size for ListJobTemplates when `maxResults` is absent.
const LIST_PAGE_DEFAULT: usize = 50;

/// A stored job template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobTemplate {
    /// The key of the template's tags.
    pub id: String,
    pub job_template_id: String,
    pub description: String,
    pub document: JobDocument,
    /// Everything but `schedulingConfig`, which templates do not carry.
    #[serde(flatten)]
    pub config: JobConfig,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_package_versions: Vec<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobTemplate {
    pub job_template_id: String,
    pub job_arn: Option<String>,
    pub document_source: Option<String>,
    pub document: Option<String>,
    pub description: String,
    #[serde(flatten)]
    pub config: JobConfig,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    #[serde(default)]
    pub destination_package_versions: Vec<String>,
}

/// The input of DescribeJobTemplate and DeleteJobTemplate.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateId {
    pub job_template_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJobTemplates {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

fn no_template(id: &str) -> JobsError {
    JobsError::NotFound(format!("Job template {id} does not exist."))
}

impl Jobs {
    pub(crate) async fn template(&self, id: &str) -> Result<(JobTemplate, u64), JobsError> {
        self.docs
            .get::<JobTemplate>(JOB_TEMPLATE, id)
            .await?
            .ok_or_else(|| no_template(id))
    }

    pub async fn create_job_template(
        &self,
        scope: &Scope,
        req: CreateJobTemplate,
    ) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        check_create_tags(&req.tags)?;
        // A job as the basis: its document and configurations, under the request's own.
        let basis = match &req.job_arn {
            Some(arn) => {
                let (kind, job_id) = parse_arn(scope, arn)?;
                if kind != "job" {
                    return Err(JobError::InvalidRequest(format!(
                        "{arn} is not the ARN of a job."
                    ))
                    .into());
                }
                let (job, _) = self
                    .docs
                    .get::<Job>(JOB, job_id)
                    .await?
                    .ok_or_else(|| no_job(job_id))?;
                Some(job)
            }
            None => None,
        };
        let document = match (&basis, &req.document, &req.document_source) {
            (Some(job), None, None) => job.document.clone(),
            _ => JobDocument::from_request(req.document.clone(), req.document_source.clone())?,
        };
        let mut config = match &basis {
            Some(job) => req.config.clone().or(&job.config),
            None => req.config.clone(),
        };
        config.scheduling_config = None;
        config.check(now)?;
        for w in &req.maintenance_windows {
            w.check()?;
        }
        let id = req.job_template_id.as_str();
        let template = JobTemplate {
            id: uuid::Uuid::new_v4().to_string(),
            job_template_id: id.to_owned(),
            description: req.description.clone(),
            document,
            config,
            maintenance_windows: req.maintenance_windows.clone(),
            destination_package_versions: if req.destination_package_versions.is_empty() {
                basis
                    .map(|j| j.destination_package_versions)
                    .unwrap_or_default()
            } else {
                req.destination_package_versions.clone()
            },
            created_at_ms: now,
        };
        self.docs
            .retry_wrote(|| async {
                if self.store().get(JOB_TEMPLATE, id).await?.is_some() {
                    return Err(JobsError::Conflict {
                        message: format!("Job template {id} already exists."),
                        resource_id: id.to_owned(),
                    });
                }
                let mut writes = vec![Write::put(
                    JOB_TEMPLATE,
                    id,
                    Expect::Absent,
                    encode(&template),
                )];
                writes.extend(initial_tags(&template.id, &req.tags)?);
                Ok((writes, ()))
            })
            .await?;
        Ok(json!({"jobTemplateArn": template_arn(scope, id), "jobTemplateId": id}))
    }

    pub async fn describe_job_template(
        &self,
        scope: &Scope,
        req: JobTemplateId,
    ) -> Result<Output, JobsError> {
        let (t, _) = self.template(&req.job_template_id).await?;
        let mut out = json!({
            "jobTemplateArn": template_arn(scope, &t.job_template_id),
            "jobTemplateId": t.job_template_id,
            "description": t.description,
            "createdAt": epoch_secs(t.created_at_ms),
        });
        match &t.document {
            JobDocument::Inline(d) => out["document"] = json!(d),
            JobDocument::Source(s) => out["documentSource"] = json!(s),
        }
        if let Value::Object(config) = serde_json::to_value(&t.config).expect("configs serialise") {
            for (k, v) in config {
                out[k] = v;
            }
        }
        if !t.maintenance_windows.is_empty() {
            out["maintenanceWindows"] = json!(t.maintenance_windows);
        }
        if !t.destination_package_versions.is_empty() {
            out["destinationPackageVersions"] = json!(t.destination_package_versions);
        }
        Ok(out)
    }

    pub async fn list_job_templates(
        &self,
        scope: &Scope,
        req: ListJobTemplates,
    ) -> Result<Output, JobsError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (items, next) = self
            .docs
            .page(
                JOB_TEMPLATE,
                "",
                req.next_token.as_deref(),
                limit,
                |_, t: JobTemplate| {
                    Some(json!({
                        "jobTemplateArn": template_arn(scope, &t.job_template_id),
                        "jobTemplateId": t.job_template_id,
                        "description": t.description,
                        "createdAt": epoch_secs(t.created_at_ms),
                    }))
                },
            )
            .await?;
        Ok(token::listing("jobTemplates", items, next))
    }

    pub async fn delete_job_template(&self, req: JobTemplateId) -> Result<Output, JobsError> {
        let id = req.job_template_id.as_str();
        self.docs
            .retry_wrote(|| async {
                let (t, version) = self.template(id).await?;
                let writes = vec![
                    Write::delete(JOB_TEMPLATE, id, Expect::Version(version)),
                    drop_tags(&t.id),
                ];
                Ok::<_, JobsError>((writes, ()))
            })
            .await?;
        Ok(json!({}))
    }
}
