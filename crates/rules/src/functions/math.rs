//! Math functions. AWS computes most of them in double precision ("Decimal arguments are
//! rounded to double precision before function application"), which is what `f64` is; results
//! that are not real numbers (`sqrt(-1)`, `ln(0)`) are `Undefined`. `abs`, `ceil`, `floor`,
//! `round`, `sign`, `trunc` and `mod` are exact on 34-digit Decimals.

use ferrite_rules_sql::SqlVersion;

use super::{FnContext, FnError, arg};
use crate::convert::{Num, to_double, to_int_down, to_number};
use crate::decimal::{Decimal, Rounding};
use crate::ops;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn double(args: &[Value], ctx: &dyn FnContext, op: fn(f64) -> f64) -> Out {
    Ok(to_double(arg(args, 0)).map_or(Value::Undefined, |x| {
        Value::double(op(x), ctx.sql_version())
    }))
}

/// `d` rounded to a whole number: an Int when it fits, the (whole) Decimal otherwise.
fn whole(d: Decimal, mode: Rounding, version: SqlVersion) -> Value {
    match d.to_i64(mode) {
        Some(i) => Value::Int(i),
        None => Value::decimal(d.round_to_integer(mode), version),
    }
}

pub fn abs(args: &[Value], ctx: &dyn FnContext) -> Out {
    let v = ctx.sql_version();
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => i
            .checked_abs()
            .map_or_else(|| Value::decimal(Decimal::from_i64(i).abs(), v), Value::Int),
        Some(Num::Dec(d)) => Value::decimal(d.abs(), v),
        None => Value::Undefined,
    })
}

pub fn acos(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::acos)
}

pub fn asin(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::asin)
}

pub fn atan(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::atan)
}

/// `atan2(y, x)`: AWS's example (`atan2(1, 0)` = π/2) fixes the order, whatever its prose says.
pub fn atan2(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match (to_double(arg(args, 0)), to_double(arg(args, 1))) {
        (Some(y), Some(x)) => Value::double(y.atan2(x), ctx.sql_version()),
        _ => Value::Undefined,
    })
}

pub fn ceil(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => whole(d, Rounding::Ceiling, ctx.sql_version()),
        None => Value::Undefined,
    })
}

pub fn floor(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => whole(d, Rounding::Floor, ctx.sql_version()),
        None => Value::Undefined,
    })
}

/// `round(x)`: halves away from zero (`round(-1.5)` is `-2`), as AWS's examples show; its
/// table's "rounded down" is wrong.
pub fn round(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => whole(d, Rounding::HalfAway, ctx.sql_version()),
        None => Value::Undefined,
    })
}

pub fn cos(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::cos)
}

pub fn cosh(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::cosh)
}

pub fn exp(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::exp)
}

pub fn ln(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::ln)
}

pub fn log(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::log10)
}

/// `mod(a, b)` and `remainder(a, b)`: the `%` operator.
pub fn modulo(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(ops::rem(arg(args, 0), arg(args, 1), ctx.sql_version()))
}

/// `nanvl(a, b)`: `a` unless it is `Undefined` or `Null` (or a NaN, which our Decimals never
/// are).
pub fn nanvl(args: &[Value], _ctx: &dyn FnContext) -> Out {
    let a = arg(args, 0);
    Ok(match a {
        Value::Undefined | Value::Null => arg(args, 1).clone(),
        _ => a.clone(),
    })
}

pub fn power(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match (to_double(arg(args, 0)), to_double(arg(args, 1))) {
        (Some(x), Some(y)) => Value::double(x.powf(y), ctx.sql_version()),
        _ => Value::Undefined,
    })
}

/// `rand()`: uniform in [0, 1).
pub fn rand(_args: &[Value], _ctx: &dyn FnContext) -> Out {
    // Not through Value::decimal: an exact 0.0 stays a Decimal in every version, so the type
    // of rand() never changes.
    let d = Decimal::from_f64(rand::random::<f64>()).unwrap_or(Decimal::ZERO);
    Ok(Value::Decimal(d))
}

pub fn sign(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i.signum()),
        Some(Num::Dec(d)) => Value::Int(if d.is_zero() {
            0
        } else if d.is_negative() {
            -1
        } else {
            1
        }),
        None => Value::Undefined,
    })
}

pub fn sin(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::sin)
}

pub fn sinh(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::sinh)
}

pub fn sqrt(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::sqrt)
}

pub fn tan(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::tan)
}

pub fn tanh(args: &[Value], ctx: &dyn FnContext) -> Out {
    double(args, ctx, f64::tanh)
}

/// `trunc(x, n)`: `x` cut to `n` decimal places (`n` rounded toward zero, clamped to 0–34),
/// trailing zeros stripped — so a whole result is an Int (`trunc(2.3, 0)` = `2`). Exact on the
/// decimal digits: `trunc(0.29, 2)` is `0.29`.
pub fn trunc(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some(digits) = to_int_down(arg(args, 1)) else {
        return Ok(Value::Undefined);
    };
    let places = digits.clamp(0, 34) as u32;
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => {
            let t = d.truncate(places);
            if t.is_integer() {
                whole(t, Rounding::Down, ctx.sql_version())
            } else {
                Value::decimal(t, ctx.sql_version())
            }
        }
        None => Value::Undefined,
    })
}
