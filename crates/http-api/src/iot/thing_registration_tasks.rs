//! Bulk registration: Start/Describe/List/StopThingRegistrationTask and
//! ListThingRegistrationTaskReports, run by the provisioning service's `BulkRegistration`.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn start(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .bulk()
        .start_thing_registration_task(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .bulk()
        .describe_thing_registration_task(input(v)?)
        .await?)
}

pub(super) async fn list(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.bulk().list_thing_registration_tasks(input(v)?).await?)
}

pub(super) async fn stop(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.bulk().stop_thing_registration_task(input(v)?).await?)
}

pub(super) async fn reports(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .bulk()
        .list_thing_registration_task_reports(input(v)?)
        .await?)
}
