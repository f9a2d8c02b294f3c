//! Device shadows over REST: Get/Update/DeleteThingShadow and ListNamedShadowsForThing, served
//! by the shadow service in the same queue as MQTT requests. Devices need
//! `iot:{Get,Update,Delete}ThingShadow` on `thing/{thing}[/{shadow}]` and
//! `iot:ListNamedShadowsForThing` on `thing/{thing}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_api_model::Operation;
use ferrite_shadow::Operation as ShadowOp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{decode_payload, decode_token};
use crate::ApiError;
use crate::call::{Call, input};
use crate::error::RequestError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShadowInput {
    thing_name: String,
    shadow_name: Option<String>,
    /// The body, base64.
    payload: Option<String>,
}

pub(super) async fn get_thing_shadow(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    shadow_call(cx, Operation::GetThingShadow, ShadowOp::Get, v).await
}

pub(super) async fn update_thing_shadow(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    shadow_call(cx, Operation::UpdateThingShadow, ShadowOp::Update, v).await
}

pub(super) async fn delete_thing_shadow(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    shadow_call(cx, Operation::DeleteThingShadow, ShadowOp::Delete, v).await
}

/// The three calls differ only in the shadow operation and the policy action.
async fn shadow_call(
    cx: &Call<'_>,
    op: Operation,
    shadow_op: ShadowOp,
    v: Value,
) -> Result<Value, ApiError> {
    let data = cx.data(op)?;
    let input: ShadowInput = input(v)?;
    let resource = match &input.shadow_name {
        Some(s) => format!("{}/{s}", input.thing_name),
        None => input.thing_name.clone(),
    };
    if !cx.allows(&format!("iot:{}", op.name()), "thing", &resource) {
        return Err(RequestError::Forbidden(
            "The certificate's policies do not allow this shadow call.",
        )
        .into());
    }
    let payload = decode_payload(input.payload)?;
    let body = data
        .shadows
        .rest(
            shadow_op,
            &input.thing_name,
            input.shadow_name.as_deref(),
            &payload,
        )
        .await?;
    Ok(json!({ "payload": STANDARD.encode(body) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListNamedInput {
    thing_name: String,
    next_token: Option<String>,
    page_size: Option<usize>,
}

pub(super) async fn list_named_shadows_for_thing(
    cx: &Call<'_>,
    v: Value,
) -> Result<Value, ApiError> {
    let data = cx.data(Operation::ListNamedShadowsForThing)?;
    let input: ListNamedInput = input(v)?;
    if !cx.allows("iot:ListNamedShadowsForThing", "thing", &input.thing_name) {
        return Err(RequestError::Forbidden(
            "The certificate's policies do not allow listing these shadows.",
        )
        .into());
    }
    let after = decode_token(input.next_token.as_deref())?;
    let limit = input.page_size.unwrap_or(25).clamp(1, 100);
    let (names, more) = data
        .shadows
        .list_named(&input.thing_name, after.as_deref(), limit)
        .await?;
    let now = ferrite_types::clock::system_now_ms() / 1000;
    let mut out = json!({ "results": names, "timestamp": now });
    if more && let Some(last) = names.last() {
        out["nextToken"] = json!(STANDARD.encode(last));
    }
    Ok(out)
}
