//! CA certificates and the registration code that proves possession of their keys.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn get_registration_code(cx: &Call<'_>) -> Result<Value, ApiError> {
    Ok(cx.registry().get_registration_code().await?)
}

pub(super) async fn delete_registration_code(cx: &Call<'_>) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_registration_code().await?)
}

pub(super) async fn register_ca_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .register_ca_certificate(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_ca_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_ca_certificate(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_ca_certificates(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_ca_certificates(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_ca_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_ca_certificate(input(v)?).await?)
}

pub(super) async fn delete_ca_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().delete_ca_certificate(input(v)?).await?)
}
