//! IoT policies, their versions and what evaluates them (GetEffectivePolicies, TestAuthorization).

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().create_policy(&cx.scope, input(v)?).await?)
}

pub(super) async fn get_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().get_policy(&cx.scope, input(v)?).await?)
}

pub(super) async fn list_policies(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_policies(&cx.scope, input(v)?).await?)
}

pub(super) async fn delete_policy(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_policy(input(v)?).await?)
}

pub(super) async fn create_policy_version(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_policy_version(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn get_policy_version(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .get_policy_version(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_policy_versions(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_policy_versions(input(v)?).await?)
}

pub(super) async fn set_default_policy_version(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().set_default_policy_version(input(v)?).await?)
}

pub(super) async fn delete_policy_version(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_policy_version(input(v)?).await?)
}

pub(super) async fn get_effective_policies(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .get_effective_policies(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn test_authorization(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .test_authorization(&cx.scope, input(v)?)
        .await?)
}
