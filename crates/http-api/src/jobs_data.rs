//! The `iot-jobs-data` plane: GetPendingJobExecutions, StartNextPendingJobExecution,
//! DescribeJobExecution (`$next` included) and UpdateJobExecution, served by the jobs service
//! with the same decisions as its MQTT API. Over HTTPS timestamps are seconds since the epoch
//! and `jobDocument` is a string. Only SigV4 callers reach this plane for now (see
//! `request.rs`).

use ferrite_api_model::Operation;
use ferrite_jobs::device::{execution_mqtt, pending_lists};
use ferrite_jobs::{DeviceUpdate, ExecutionStatus, StatusDetails};
use ferrite_jobs_service::DeviceExecution;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::call::{Call, input};
use crate::error::RequestError;

pub(crate) async fn dispatch(cx: &Call<'_>, op: Operation, v: Value) -> Result<Value, ApiError> {
    match op {
        Operation::GetPendingJobExecutions => get_pending(cx, v).await,
        Operation::StartNextPendingJobExecution => start_next(cx, v).await,
        Operation::JobsDescribeJobExecution => describe(cx, v).await,
        Operation::UpdateJobExecution => update(cx, v).await,
        other => Err(RequestError::not_implemented(other).into()),
    }
}

/// A device's execution over HTTPS: the MQTT form with the document as text.
fn execution_http(d: &DeviceExecution, with_document: bool, now_ms: i64) -> Value {
    let mut v = execution_mqtt(&d.execution, None, now_ms);
    if with_document && let Some(doc) = &d.document {
        v["jobDocument"] = json!(doc);
    }
    v
}

fn now_ms() -> i64 {
    ferrite_types::Clock::system().now_ms()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thing {
    thing_name: String,
}

async fn get_pending(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: Thing = input(v)?;
    let pending = cx.jobs().pending_executions(&req.thing_name).await?;
    Ok(pending_lists(pending.iter().map(|(e, _)| e).collect()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartNext {
    thing_name: String,
    status_details: Option<StatusDetails>,
    step_timeout_in_minutes: Option<i64>,
}

async fn start_next(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: StartNext = input(v)?;
    let d = cx
        .jobs()
        .start_next(
            &req.thing_name,
            req.status_details.as_ref(),
            req.step_timeout_in_minutes,
        )
        .await?;
    Ok(match d {
        Some(d) => json!({"execution": execution_http(&d, true, now_ms())}),
        None => json!({}),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Describe {
    thing_name: String,
    job_id: String,
    include_job_document: Option<bool>,
    execution_number: Option<u64>,
}

async fn describe(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: Describe = input(v)?;
    let d = cx
        .jobs()
        .describe_for_device(&req.thing_name, &req.job_id, req.execution_number)
        .await?;
    let with_document = req.include_job_document.unwrap_or(true);
    Ok(match d {
        Some(d) => json!({"execution": execution_http(&d, with_document, now_ms())}),
        None => json!({}),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    thing_name: String,
    job_id: String,
    status: ExecutionStatus,
    status_details: Option<StatusDetails>,
    step_timeout_in_minutes: Option<i64>,
    expected_version: Option<u64>,
    #[serde(default)]
    include_job_execution_state: bool,
    #[serde(default)]
    include_job_document: bool,
    execution_number: Option<u64>,
}

async fn update(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: Update = input(v)?;
    let update = DeviceUpdate {
        status: Some(req.status),
        status_details: req.status_details,
        expected_version: req.expected_version,
        step_timeout_minutes: req.step_timeout_in_minutes,
    };
    let d = cx
        .jobs()
        .update_for_device(&req.thing_name, &req.job_id, req.execution_number, &update)
        .await?;
    let mut out = json!({});
    if req.include_job_execution_state {
        out["executionState"] = json!(d.execution.state());
    }
    if req.include_job_document
        && let Some(doc) = &d.document
    {
        out["jobDocument"] = json!(doc);
    }
    Ok(out)
}
