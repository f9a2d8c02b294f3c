//! Policies attached to principals and other targets.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn attach_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().attach_policy(&cx.scope, input(v)?).await?)
}

pub(super) async fn detach_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().detach_policy(input(v)?).await?)
}

pub(super) async fn attach_principal_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .attach_principal_policy(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn detach_principal_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().detach_principal_policy(input(v)?).await?)
}

pub(super) async fn list_attached_policies(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_attached_policies(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_principal_policies(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_principal_policies(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_targets_for_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_targets_for_policy(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_policy_principals(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_policy_principals(&cx.scope, input(v)?)
        .await?)
}
