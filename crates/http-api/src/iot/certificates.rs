//! Device certificates: issue, register, describe, list, change status, delete.

use serde_json::Value;

use crate::ApiError;
use crate::call::{Call, input};

pub(super) async fn create_keys_and_certificate(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_keys_and_certificate(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn create_certificate_from_csr(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .create_certificate_from_csr(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn register_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .register_certificate(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn register_certificate_without_ca(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .register_certificate_without_ca(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn describe_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .describe_certificate(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_certificates(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_certificates(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn list_certificates_by_ca(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .list_certificates_by_ca(&cx.scope, input(v)?)
        .await?)
}

pub(super) async fn update_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx.registry().update_certificate(input(v)?).await?)
}

pub(super) async fn delete_certificate(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    Ok(cx
        .registry()
        .delete_certificate(&cx.scope, input(v)?)
        .await?)
}
