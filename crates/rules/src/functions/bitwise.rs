//! Bitwise functions on Int-converted arguments (Decimals and numeric strings rounded toward
//! zero), in two's complement: `bitnot(13)` is `-14` (AWS's example showing 2 is wrong, as is
//! `bitxor`'s example written with `bitor`).

use super::{FnContext, FnError, arg};
use crate::convert::to_int_down;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn binary(args: &[Value], op: fn(i64, i64) -> i64) -> Out {
    Ok(
        match (to_int_down(arg(args, 0)), to_int_down(arg(args, 1))) {
            (Some(a), Some(b)) => Value::Int(op(a, b)),
            _ => Value::Undefined,
        },
    )
}

pub fn bitand(args: &[Value], _ctx: &dyn FnContext) -> Out {
    binary(args, |a, b| a & b)
}

pub fn bitor(args: &[Value], _ctx: &dyn FnContext) -> Out {
    binary(args, |a, b| a | b)
}

pub fn bitxor(args: &[Value], _ctx: &dyn FnContext) -> Out {
    binary(args, |a, b| a ^ b)
}

pub fn bitnot(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(to_int_down(arg(args, 0)).map_or(Value::Undefined, |a| Value::Int(!a)))
}
