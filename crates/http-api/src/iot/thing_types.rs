//! Thing types: create, describe, update, deprecate, delete, list.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_thing_type(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_thing_type(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_thing_type(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_thing_type(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_thing_type(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_thing_type(input(v)?).await?)
}

pub(super) async fn deprecate_thing_type(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().deprecate_thing_type(input(v)?).await?)
}

pub(super) async fn delete_thing_type(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_thing_type(input(v)?).await?)
}

pub(super) async fn list_thing_types(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_thing_types(&cx.scope, input(v)?).await?)
}
