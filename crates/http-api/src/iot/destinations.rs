//! Topic rule destinations.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_topic_rule_destination(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .create_topic_rule_destination(&cx.scope, &cx.api_url, input(v)?)
        .await?)
}

pub(super) async fn get_topic_rule_destination(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .get_topic_rule_destination(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_topic_rule_destination(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .update_topic_rule_destination(&cx.scope, &cx.api_url, input(v)?)
        .await?)
}

pub(super) async fn delete_topic_rule_destination(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .delete_topic_rule_destination(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_topic_rule_destinations(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .list_topic_rule_destinations(&cx.scope, input(v)?)
        .await?)
}

/// The signed ConfirmTopicRuleDestination: the destination becomes DISABLED, to be enabled
/// with UpdateTopicRuleDestination (an unsigned GET of the same path, the `enableUrl`, is
/// served before authentication and enables it).
pub(super) async fn confirm_topic_rule_destination(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .rules()
        .confirm_topic_rule_destination(input(v)?, false)
        .await?)
}
