//! placeholder
use super::{FnContext, FnError};
use crate::value::Value;
pub fn parse_time(_a: &[Value], _c: &dyn FnContext) -> Result<Value, FnError> { Ok(Value::Undefined) }
pub fn time_to_epoch(_a: &[Value], _c: &dyn FnContext) -> Result<Value, FnError> { Ok(Value::Undefined) }
pub fn timestamp(_a: &[Value], c: &dyn FnContext) -> Result<Value, FnError> { Ok(Value::Int(c.timestamp_ms())) }
