//! Things: create, describe, update, delete, list.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_thing(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().create_thing(&cx.scope, input(v)?).await?)
}

pub(super) async fn describe_thing(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().describe_thing(&cx.scope, input(v)?).await?)
}

pub(super) async fn update_thing(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_thing(input(v)?).await?)
}

pub(super) async fn delete_thing(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_thing(input(v)?).await?)
}

pub(super) async fn list_things(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_things(&cx.scope, input(v)?).await?)
}
