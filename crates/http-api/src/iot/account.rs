//! The account's settings: endpoints, indexing and event configurations.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) fn describe_endpoint(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().describe_endpoint(input(v)?)?)
}

pub(super) async fn get_indexing_configuration(cx: &Call<'_>) -> Result<Value, ApiError> {
    Ok(cx.registry().get_indexing_configuration().await?)
}

pub(super) async fn update_indexing_configuration(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx.registry().update_indexing_configuration(v).await?)
}

pub(super) async fn describe_event_configurations(cx: &Call<'_>) -> Result<Value, ApiError> {
    Ok(cx.registry().describe_event_configurations().await?)
}

pub(super) async fn update_event_configurations(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx.registry().update_event_configurations(v).await?)
}
