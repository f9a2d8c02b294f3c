//! Tags on any taggable resource.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn tag_resource(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().tag_resource(&cx.scope, input(v)?).await?)
}

pub(super) async fn untag_resource(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().untag_resource(&cx.scope, input(v)?).await?)
}

pub(super) async fn list_tags_for_resource(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_tags_for_resource(&cx.scope, input(v)?)
        .await?)
}
