//! Jobs: CreateJob, DescribeJob, ListJobs, UpdateJob, CancelJob, DeleteJob, GetJobDocument
//! and AssociateTargetsWithJob.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use ferrite_jobs::{
    AbortConfig, Job, JobConfig, JobDocument, JobError, JobExecution, JobProcessDetails, JobStatus,
    PresignedUrlConfig, RetryConfig, RolloutConfig, SchedulingConfig, TargetSelection,
    TimeoutConfig,
};
use ferrite_registry::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use ferrite_registry::{Scope, decode, encode, epoch_secs, parse_arn, token};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::executions::{execution_changed, execution_writes};
use crate::kinds::JOB;
use crate::targets::{check_target, group_name};
use crate::templates::JobTemplate;
use crate::timers::{Action, schedule};
use crate::{Jobs, JobsError, Output, job_arn, no_job};

/// AWS's page size for ListJobs when `maxResults` is absent.
const LIST_PAGE_DEFAULT: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJob {
    pub job_id: String,
    pub targets: Vec<String>,
    pub document_source: Option<String>,
    pub document: Option<String>,
    pub description: Option<String>,
    pub target_selection: Option<TargetSelection>,
    #[serde(flatten)]
    pub config: JobConfig,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub namespace_id: Option<String>,
    pub job_template_arn: Option<String>,
    #[serde(default)]
    pub document_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub destination_package_versions: Vec<String>,
}

/// The input of DescribeJob and GetJobDocument.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobId {
    pub job_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJobs {
    pub status: Option<JobStatus>,
    pub target_selection: Option<TargetSelection>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub thing_group_name: Option<String>,
    pub thing_group_id: Option<String>,
    pub namespace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJob {
    pub job_id: String,
    pub description: Option<String>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub abort_config: Option<AbortConfig>,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
    pub namespace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelJob {
    pub job_id: String,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteJob {
    pub job_id: String,
    #[serde(default)]
    pub force: bool,
    pub namespace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociateTargetsWithJob {
    pub job_id: String,
    pub targets: Vec<String>,
    pub comment: Option<String>,
    pub namespace_id: Option<String>,
}

/// `${aws:iot:parameter:<name>}` placeholders of a template's document replaced by
/// `documentParameters`.
fn substitute_parameters(document: &str, parameters: &BTreeMap<String, String>) -> String {
    parameters.iter().fold(document.to_owned(), |doc, (k, v)| {
        doc.replace(&format!("${{aws:iot:parameter:{k}}}"), v)
    })
}

/// CreateJob's, CancelJob's and AssociateTargetsWithJob's output.
fn job_ref(scope: &Scope, job: &Job) -> Output {
    let mut out = json!({"jobArn": job_arn(scope, &job.job_id), "jobId": job.job_id});
    if let Some(d) = &job.description {
        out["description"] = json!(d);
    }
    out
}

/// DescribeJob's `job` (a `Job` shape).
fn job_json(scope: &Scope, job: &Job, details: &JobProcessDetails) -> Output {
    let mut out = json!({
        "jobArn": job_arn(scope, &job.job_id),
        "jobId": job.job_id,
        "targetSelection": job.target_selection.as_str(),
        "status": job.status,
        "forceCanceled": job.force_canceled,
        "targets": job.targets,
        "createdAt": epoch_secs(job.created_at_ms),
        "lastUpdatedAt": epoch_secs(job.last_updated_at_ms),
        "jobProcessDetails": details.to_json(),
        "isConcurrent": false,
    });
    let optional = [
        ("reasonCode", job.reason_code.as_ref().map(|v| json!(v))),
        ("comment", job.comment.as_ref().map(|v| json!(v))),
        ("description", job.description.as_ref().map(|v| json!(v))),
        ("completedAt", job.completed_at_ms.map(epoch_secs)),
        ("namespaceId", job.namespace_id.as_ref().map(|v| json!(v))),
        (
            "jobTemplateArn",
            job.job_template_arn.as_ref().map(|v| json!(v)),
        ),
        (
            "documentParameters",
            (!job.document_parameters.is_empty()).then(|| json!(job.document_parameters)),
        ),
        (
            "destinationPackageVersions",
            (!job.destination_package_versions.is_empty())
                .then(|| json!(job.destination_package_versions)),
        ),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            out[name] = v;
        }
    }
    if let Value::Object(config) = serde_json::to_value(&job.config).expect("configs serialise") {
        for (k, v) in config {
            out[k] = v;
        }
    }
    out
}

fn summary_json(scope: &Scope, job: &Job) -> Output {
    let mut out = json!({
        "jobArn": job_arn(scope, &job.job_id),
        "jobId": job.job_id,
        "targetSelection": job.target_selection.as_str(),
        "status": job.status,
        "createdAt": epoch_secs(job.created_at_ms),
        "lastUpdatedAt": epoch_secs(job.last_updated_at_ms),
        "isConcurrent": false,
    });
    if let Some(t) = job.completed_at_ms {
        out["completedAt"] = epoch_secs(t);
    }
    out
}

impl Jobs {
    async fn job(&self, job_id: &str) -> Result<(Job, u64), JobsError> {
        self.docs
            .get::<Job>(JOB, job_id)
            .await?
            .ok_or_else(|| no_job(job_id))
    }

    /// The template a `jobTemplateArn` names.
    async fn template_of(&self, scope: &Scope, arn: &str) -> Result<JobTemplate, JobsError> {
        let (kind, id) = parse_arn(scope, arn)?;
        if kind != "jobtemplate" {
            return Err(JobError::InvalidRequest(format!(
                "{arn} is not the ARN of a job template."
            ))
            .into());
        }
        Ok(self.template(id).await?.0)
    }

    pub async fn create_job(&self, scope: &Scope, req: CreateJob) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        for t in &req.targets {
            check_target(scope, t)?;
        }
        Job::check_targets(&req.targets)?;
        check_create_tags(&req.tags)?;
        let template = match &req.job_template_arn {
            Some(arn) => Some(self.template_of(scope, arn).await?),
            None => None,
        };
        let document = match (&template, &req.document, &req.document_source) {
            (Some(t), None, None) => match &t.document {
                JobDocument::Inline(d) => {
                    let d = substitute_parameters(d, &req.document_parameters);
                    ferrite_jobs::check_document(&d)?;
                    JobDocument::Inline(d)
                }
                source => source.clone(),
            },
            _ => JobDocument::from_request(req.document.clone(), req.document_source.clone())?,
        };
        let mut config = match &template {
            Some(t) => req.config.clone().or(&t.config),
            None => req.config.clone(),
        };
        if let Some(t) = template
            .as_ref()
            .filter(|t| !t.maintenance_windows.is_empty())
        {
            let scheduling = config
                .scheduling_config
                .get_or_insert_with(SchedulingConfig::default);
            if scheduling.maintenance_windows.is_empty() {
                scheduling.maintenance_windows = t.maintenance_windows.clone();
            }
        }
        config.check(now)?;
        let things = self.resolve_targets(scope, &req.targets).await?;
        let scheduled = config.scheduled_start_ms().is_some_and(|s| s > now);
        let mut targets: Vec<String> = Vec::new();
        for t in &req.targets {
            if !targets.contains(t) {
                targets.push(t.clone());
            }
        }
        let mut job = Job {
            id: uuid::Uuid::new_v4().to_string(),
            job_id: req.job_id.clone(),
            target_selection: req.target_selection.unwrap_or_default(),
            status: if scheduled {
                JobStatus::Scheduled
            } else {
                JobStatus::InProgress
            },
            targets,
            document,
            description: req.description.clone(),
            config,
            namespace_id: req.namespace_id.clone(),
            job_template_arn: req.job_template_arn.clone(),
            document_parameters: req.document_parameters.clone(),
            destination_package_versions: req.destination_package_versions.clone(),
            created_at_ms: now,
            last_updated_at_ms: now,
            completed_at_ms: None,
            force_canceled: false,
            reason_code: None,
            comment: None,
        };
        // A scheduled job begins its executions when it starts; its start and end are
        // timers written with it.
        let (begin_writes, executions, rest) = if scheduled {
            (Vec::new(), Vec::new(), false)
        } else {
            self.begin_executions(&job, &things, now)
        };
        let mut timers = Vec::new();
        if let Some(start) = job.config.scheduled_start_ms().filter(|_| scheduled) {
            let start_job = Action::Start {
                job: job.job_id.clone(),
            };
            timers.push(schedule(&start_job, start));
        }
        if let Some((end, _)) = job.config.scheduled_end() {
            let end_job = Action::End {
                job: job.job_id.clone(),
            };
            timers.push(schedule(&end_job, end));
        }
        if !scheduled && !rest {
            let details: JobProcessDetails = executions.iter().map(|e| e.status).collect();
            job.complete_if_done(&details, now);
        }
        let job_id = job.job_id.as_str();
        self.docs
            .retry_wrote(|| async {
                if self.store().get(JOB, job_id).await?.is_some() {
                    return Err(JobsError::AlreadyExists {
                        message: format!("Job {job_id} already exists."),
                        resource_id: job_id.to_owned(),
                        resource_arn: job_arn(scope, job_id),
                    });
                }
                let mut writes = vec![Write::put(JOB, job_id, Expect::Absent, encode(&job))];
                writes.extend(initial_tags(&job.id, &req.tags)?);
                writes.extend(begin_writes.iter().cloned());
                writes.extend(timers.iter().cloned());
                Ok((writes, ()))
            })
            .await?;
        self.wake_timers();
        self.announce(
            std::iter::once(RegistryChange::JobCreated {
                job: job_id.to_owned(),
            })
            .chain(executions.iter().map(execution_changed)),
        );
        Ok(job_ref(scope, &job))
    }

    pub async fn describe_job(&self, scope: &Scope, req: JobId) -> Result<Output, JobsError> {
        let (job, _) = self.job(&req.job_id).await?;
        let details = self.process_details(&job.job_id).await?;
        let mut out = json!({"job": job_json(scope, &job, &details)});
        // AWS: true while the job is rolling out executions.
        out["job"]["isConcurrent"] =
            json!(job.status == JobStatus::InProgress && self.rollout_pending(&job.job_id).await?);
        if let Some(s) = job.document.source() {
            out["documentSource"] = json!(s);
        }
        Ok(out)
    }

    pub async fn get_job_document(&self, req: JobId) -> Result<Output, JobsError> {
        let (job, _) = self.job(&req.job_id).await?;
        // A document kept at its source is not fetched: it has no text here.
        Ok(match job.document.inline() {
            Some(d) => json!({"document": d}),
            None => json!({}),
        })
    }

    pub async fn list_jobs(&self, scope: &Scope, req: ListJobs) -> Result<Output, JobsError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let group = match (&req.thing_group_name, &req.thing_group_id) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(id)) => Some(self.group_named_by_id(scope, id).await?),
            (None, None) => None,
        };
        let (items, next) = self
            .docs
            .page(JOB, "", req.next_token.as_deref(), limit, |_, job: Job| {
                if req.status.is_some_and(|s| s != job.status)
                    || req
                        .target_selection
                        .is_some_and(|s| s != job.target_selection)
                    || req
                        .namespace_id
                        .as_ref()
                        .is_some_and(|ns| job.namespace_id.as_ref() != Some(ns))
                {
                    return None;
                }
                if let Some(g) = &group
                    && !job.targets.iter().any(|t| group_name(t) == Some(g))
                {
                    return None;
                }
                Some(summary_json(scope, &job))
            })
            .await?;
        Ok(token::listing("jobs", items, next))
    }

    /// The name of the group with id `id` among the groups jobs target (a group no job
    /// targets selects nothing, whatever its name).
    async fn group_named_by_id(&self, scope: &Scope, id: &str) -> Result<String, JobsError> {
        let mut groups = BTreeSet::new();
        self.docs
            .scan_until(JOB, "", None, |r| {
                let job: Job = decode(r)?;
                groups.extend(
                    job.targets
                        .iter()
                        .filter_map(|t| group_name(t))
                        .map(str::to_owned),
                );
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        for g in groups {
            let req = serde_json::from_value(json!({ "thingGroupName": g }))
                .expect("a group name request");
            // A targeted group deleted since matches no id.
            if let Ok(out) = self.registry.describe_thing_group(scope, req).await
                && out["thingGroupId"] == id
            {
                return Ok(g);
            }
        }
        Ok(String::new())
    }

    pub async fn update_job(&self, req: UpdateJob) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        let job_id = req.job_id.as_str();
        self.docs
            .retry_wrote(|| async {
                let (mut job, version) = self.job(job_id).await?;
                job.check_update()?;
                if let Some(d) = &req.description {
                    job.description = Some(d.clone());
                }
                let c = &mut job.config;
                if let Some(v) = &req.presigned_url_config {
                    c.presigned_url_config = Some(v.clone());
                }
                if let Some(v) = &req.job_executions_rollout_config {
                    c.job_executions_rollout_config = Some(v.clone());
                }
                if let Some(v) = &req.abort_config {
                    c.abort_config = Some(v.clone());
                }
                if let Some(v) = &req.timeout_config {
                    c.timeout_config = Some(v.clone());
                }
                if let Some(v) = &req.job_executions_retry_config {
                    c.job_executions_retry_config = Some(v.clone());
                }
                job.config.check(now)?;
                job.last_updated_at_ms = now;
                let write = Write::put(JOB, job_id, Expect::Version(version), encode(&job));
                Ok::<_, JobsError>((vec![write], ()))
            })
            .await?;
        self.announce([RegistryChange::JobChanged {
            job: job_id.to_owned(),
        }]);
        Ok(json!({}))
    }

    pub async fn cancel_job(&self, scope: &Scope, req: CancelJob) -> Result<Output, JobsError> {
        let job = self
            .cancel_job_as(
                &req.job_id,
                req.force,
                req.reason_code.clone(),
                req.comment.clone(),
                false,
            )
            .await?
            .expect("a cancellation that is not conditional applies or fails");
        Ok(job_ref(scope, &job))
    }

    /// CancelJob, and the service's own cancellations (abort criteria, a scheduled end): the
    /// job first, then its executions swept and its rollout dropped. With `only_in_progress`
    /// a job no longer IN_PROGRESS is left alone (`None`).
    pub(crate) async fn cancel_job_as(
        &self,
        job_id: &str,
        force: bool,
        reason_code: Option<String>,
        comment: Option<String>,
        only_in_progress: bool,
    ) -> Result<Option<Job>, JobsError> {
        let now = self.clock.now_ms();
        let (job, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut job, version) = self.job(job_id).await?;
                if only_in_progress && job.status != JobStatus::InProgress {
                    return Ok((Vec::new(), None));
                }
                job.cancel(force, reason_code.clone(), comment.clone(), now)?;
                let write = Write::put(JOB, job_id, Expect::Version(version), encode(&job));
                Ok::<_, JobsError>((vec![write], Some(job)))
            })
            .await?;
        if job.is_none() {
            return Ok(None);
        }
        self.announce([RegistryChange::JobChanged {
            job: job_id.to_owned(),
        }]);
        self.drop_rollout(job_id).await?;
        self.sweep_executions(job_id, |e| e.cancel_for_job(force, now))
            .await?;
        Ok(job)
    }

    pub async fn delete_job(&self, req: DeleteJob) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        let job_id = req.job_id.as_str();
        let (_, marked) = self
            .docs
            .retry_wrote(|| async {
                let (mut job, version) = self.job(job_id).await?;
                job.check_delete(req.force)?;
                if job.status == JobStatus::DeletionInProgress {
                    return Ok((Vec::new(), ()));
                }
                job.status = JobStatus::DeletionInProgress;
                job.last_updated_at_ms = now;
                let write = Write::put(JOB, job_id, Expect::Version(version), encode(&job));
                Ok::<_, JobsError>((vec![write], ()))
            })
            .await?;
        if marked {
            self.announce([RegistryChange::JobChanged {
                job: job_id.to_owned(),
            }]);
        }
        self.drop_rollout(job_id).await?;
        self.delete_executions(job_id).await?;
        let (deleted, _) = self
            .docs
            .retry_wrote(|| async {
                let Some((job, version)) = self.docs.get::<Job>(JOB, job_id).await? else {
                    return Ok((Vec::new(), false));
                };
                let writes = vec![
                    Write::delete(JOB, job_id, Expect::Version(version)),
                    drop_tags(&job.id),
                ];
                Ok::<_, JobsError>((writes, true))
            })
            .await?;
        if deleted {
            self.announce([RegistryChange::JobDeleted {
                job: job_id.to_owned(),
            }]);
        }
        Ok(json!({}))
    }

    pub async fn associate_targets_with_job(
        &self,
        scope: &Scope,
        req: AssociateTargetsWithJob,
    ) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        for t in &req.targets {
            check_target(scope, t)?;
        }
        let job_id = req.job_id.as_str();
        let ((job, queued), _) = self
            .docs
            .retry_wrote(|| async {
                let (mut job, version) = self.job(job_id).await?;
                job.check_associate()?;
                for t in &req.targets {
                    if !job.targets.contains(t) {
                        job.targets.push(t.clone());
                    }
                }
                Job::check_targets(&job.targets)?;
                if req.comment.is_some() {
                    job.comment = req.comment.clone();
                }
                job.last_updated_at_ms = now;
                let mut writes = vec![Write::put(
                    JOB,
                    job_id,
                    Expect::Version(version),
                    encode(&job),
                )];
                let mut queued = Vec::new();
                for thing in self.resolve_targets(scope, &req.targets).await? {
                    if self.executions_on_thing(&thing, job_id).await?.is_empty() {
                        let e = JobExecution::queued(job_id, &thing, 1, now);
                        writes.extend(execution_writes(&e, Expect::Absent));
                        queued.push(e);
                    }
                }
                Ok::<_, JobsError>((writes, (job, queued)))
            })
            .await?;
        self.announce(
            std::iter::once(RegistryChange::JobChanged {
                job: job_id.to_owned(),
            })
            .chain(queued.iter().map(execution_changed)),
        );
        Ok(job_ref(scope, &job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parameters_fill_their_placeholders() {
        let params = BTreeMap::from([("url".to_owned(), "https://x/y".to_owned())]);
        assert_eq!(
            substitute_parameters(
                r#"{"get":"${aws:iot:parameter:url}","keep":"${aws:iot:parameter:other}"}"#,
                &params
            ),
            r#"{"get":"https://x/y","keep":"${aws:iot:parameter:other}"}"#
        );
    }
}
