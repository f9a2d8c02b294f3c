//! Principals (certificates) attached to things.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn attach_thing_principal(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .attach_thing_principal(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn detach_thing_principal(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().detach_thing_principal(input(v)?).await?)
}

pub(super) async fn list_thing_principals(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_thing_principals(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_thing_principals_v2(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_thing_principals_v2(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_principal_things(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_principal_things(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_principal_things_v2(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_principal_things_v2(&cx.scope, input(v)?)
        .await?)
}
