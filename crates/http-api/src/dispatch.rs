//! Hands an authenticated, decoded call to its service's dispatcher.

use ferrite_api_model::{Operation, Service};
use serde_json::Value;

use crate::call::Call;
use crate::{ApiError, data, iot, jobs_data};

pub(crate) async fn dispatch(cx: &Call<'_>, op: Operation, v: Value) -> Result<Value, ApiError> {
    match op.service() {
        Service::Iot => iot::dispatch(cx, op, v).await,
        Service::IotData => data::dispatch(cx, op, v).await,
        Service::IotJobsData => jobs_data::dispatch(cx, op, v).await,
    }
}
