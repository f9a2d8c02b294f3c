//! Thing groups and their members.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_thing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_thing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_thing_group(input(v)?).await?)
}

pub(super) async fn delete_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_thing_group(input(v)?).await?)
}

pub(super) async fn list_thing_groups(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_thing_groups(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn add_thing_to_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .add_thing_to_thing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn remove_thing_from_thing_group(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .remove_thing_from_thing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_thing_groups_for_thing(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .update_thing_groups_for_thing(input(v)?)
        .await?)
}

pub(super) async fn list_things_in_thing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().list_things_in_thing_group(input(v)?).await?)
}

pub(super) async fn list_thing_groups_for_thing(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_thing_groups_for_thing(&cx.scope, input(v)?)
        .await?)
}
