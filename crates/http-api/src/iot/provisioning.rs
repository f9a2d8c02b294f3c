//! Provisioning templates and their versions.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_provisioning_template(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .create_provisioning_template(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_provisioning_template(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .describe_provisioning_template(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_provisioning_template(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .update_provisioning_template(input(v)?)
        .await?)
}

pub(super) async fn delete_provisioning_template(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .delete_provisioning_template(input(v)?)
        .await?)
}

pub(super) async fn list_provisioning_templates(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .list_provisioning_templates(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn create_provisioning_template_version(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .create_provisioning_template_version(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_provisioning_template_version(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .describe_provisioning_template_version(input(v)?)
        .await?)
}

pub(super) async fn delete_provisioning_template_version(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .delete_provisioning_template_version(input(v)?)
        .await?)
}

pub(super) async fn list_provisioning_template_versions(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .provisioning()
        .list_provisioning_template_versions(input(v)?)
        .await?)
}
