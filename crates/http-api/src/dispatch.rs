//! Hands an authenticated, decoded call to its service's dispatcher. `iot-jobs-data` has no
//! handler yet: its operations answer `NotImplementedException`, naming the operation.

use ferrite_api_model::{Operation, Service};
use serde_json::Value;

use crate::call::Call;
use crate::error::RequestError;
use crate::{ApiError, data, iot};

pub(crate) async fn dispatch(cx: &Call<'_>, op: Operation, v: Value) -> Result<Value, ApiError> {
    match op.service() {
        Service::Iot => iot::dispatch(cx, op, v).await,
        Service::IotData => data::dispatch(cx, op, v).await,
        Service::IotJobsData => Err(RequestError::not_implemented(op).into()),
    }
}
