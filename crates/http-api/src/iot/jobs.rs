//! Jobs, job executions and job templates (the `iot` control plane's side of AWS IoT Jobs).

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().create_job(&cx.scope, input(v)?).await?)
}

pub(super) async fn describe_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().describe_job(&cx.scope, input(v)?).await?)
}

pub(super) async fn list_jobs(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().list_jobs(&cx.scope, input(v)?).await?)
}

pub(super) async fn update_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().update_job(input(v)?).await?)
}

pub(super) async fn cancel_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().cancel_job(&cx.scope, input(v)?).await?)
}

pub(super) async fn delete_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().delete_job(input(v)?).await?)
}

pub(super) async fn get_job_document(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().get_job_document(input(v)?).await?)
}

pub(super) async fn associate_targets_with_job(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .jobs()
        .associate_targets_with_job(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_job_execution(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .jobs()
        .describe_job_execution(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_job_executions_for_job(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .jobs()
        .list_job_executions_for_job(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_job_executions_for_thing(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx.jobs().list_job_executions_for_thing(input(v)?).await?)
}

pub(super) async fn cancel_job_execution(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().cancel_job_execution(input(v)?).await?)
}

pub(super) async fn delete_job_execution(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().delete_job_execution(input(v)?).await?)
}

pub(super) async fn create_job_template(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().create_job_template(&cx.scope, input(v)?).await?)
}

pub(super) async fn describe_job_template(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .jobs()
        .describe_job_template(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_job_templates(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().list_job_templates(&cx.scope, input(v)?).await?)
}

pub(super) async fn delete_job_template(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.jobs().delete_job_template(input(v)?).await?)
}
