//! Billing groups and their members.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_billing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_billing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_billing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_billing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_billing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_billing_group(input(v)?).await?)
}

pub(super) async fn delete_billing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_billing_group(input(v)?).await?)
}

pub(super) async fn list_billing_groups(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_billing_groups(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn add_thing_to_billing_group(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .add_thing_to_billing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn remove_thing_from_billing_group(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .remove_thing_from_billing_group(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_things_in_billing_group(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_things_in_billing_group(input(v)?)
        .await?)
}
