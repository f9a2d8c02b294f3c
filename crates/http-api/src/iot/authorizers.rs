//! Custom authorizers and the account's default authorizer.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_authorizer(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_authorizer(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_authorizers(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_authorizers(&cx.scope, input(v)?).await?)
}

pub(super) async fn update_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .update_authorizer(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn delete_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_authorizer(input(v)?).await?)
}

pub(super) async fn set_default_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .set_default_authorizer(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn clear_default_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().clear_default_authorizer(input(v)?).await?)
}

pub(super) async fn describe_default_authorizer(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_default_authorizer(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn test_invoke_authorizer(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().test_invoke_authorizer(input(v)?).await?)
}
