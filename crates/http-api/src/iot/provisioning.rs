//! Provisioning templates and their versions, and running them: RegisterThing and
//! CreateProvisioningClaim.

use std::collections::BTreeMap;

use serde::Deserialize;
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterThing {
    template_body: String,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

pub(super) async fn register_thing(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: RegisterThing = input(v)?;
    Ok(cx
        .fleet()
        .register_thing_api(&cx.scope, &req.template_body, req.parameters)
        .await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateProvisioningClaim {
    template_name: String,
}

pub(super) async fn create_provisioning_claim(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let req: CreateProvisioningClaim = input(v)?;
    Ok(cx
        .fleet()
        .create_provisioning_claim(&cx.scope, &req.template_name)
        .await?)
}
