//! Topic rules.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .create_topic_rule(&cx.scope, &cx.api_url, input(v)?)
        .await?)
}

pub(super) async fn get_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.rules().get_topic_rule(&cx.scope, input(v)?).await?)
}

pub(super) async fn replace_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .replace_topic_rule(&cx.scope, &cx.api_url, input(v)?)
        .await?)
}

pub(super) async fn delete_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.rules().delete_topic_rule(input(v)?).await?)
}

pub(super) async fn enable_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.rules().enable_topic_rule(input(v)?).await?)
}

pub(super) async fn disable_topic_rule(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.rules().disable_topic_rule(input(v)?).await?)
}

pub(super) async fn list_topic_rules(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.rules().list_topic_rules(&cx.scope, input(v)?).await?)
}
