use ferrite_api_model::Operation;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::call::{Call, input};
use crate::error::RequestError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteConnectionInput {
    client_id: String,
    clean_session: Option<bool>,
    prevent_will_message: Option<bool>,
}

/// Disconnects a client connected to this node; devices need `iot:DeleteConnection` on
/// `client/{clientId}`. The model's pattern has already refused client ids that are empty,
/// too long or start with `$`.
pub(super) async fn delete_connection(cx: &Call<'_>, v: Value) -> Result<Value, ApiError> {
    let data = cx.data(Operation::DeleteConnection)?;
    let input: DeleteConnectionInput = input(v)?;
    if !cx.allows("iot:DeleteConnection", "client", &input.client_id) {
        return Err(RequestError::Forbidden(
            "The certificate's policies do not allow disconnecting this client.",
        )
        .into());
    }
    data.broker
        .delete_connection(
            &input.client_id,
            input.clean_session.unwrap_or(false),
            input.prevent_will_message.unwrap_or(false),
        )
        .await?;
    Ok(json!({}))
}
