//! Math functions. AWS computes most of them in double precision ("Decimal arguments are
//! rounded to double precision before function application"), which is what `f64` is; results
//! that are not real numbers (`sqrt(-1)`, `ln(0)`) are `Undefined`.

use ferrite_rules_sql::SqlVersion;

use super::{FnContext, FnError, arg};
use crate::convert::{Num, f64_to_i64, round_half_away, to_decimal, to_int_down, to_number};
use crate::ops;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn double(args: &[Value], ctx: &dyn FnContext, op: fn(f64) -> f64) -> Out {
    Ok(to_decimal(arg(args, 0)).map_or(Value::Undefined, |x| {
        Value::decimal(op(x), ctx.sql_version())
    }))
}

/// An Int result when it fits, the (whole) Decimal otherwise.
fn whole(d: f64, version: SqlVersion) -> Value {
    f64_to_i64(d).map_or_else(|| Value::decimal(d, version), Value::Int)
}

pub fn abs(args: &[Value], ctx: &dyn FnContext) -> Out {
    let v = ctx.sql_version();
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => i
            .checked_abs()
            .map_or_else(|| Value::decimal((i as f64).abs(), v), Value::Int),
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
    Ok(match (to_decimal(arg(args, 0)), to_decimal(arg(args, 1))) {
        (Some(y), Some(x)) => Value::decimal(y.atan2(x), ctx.sql_version()),
        _ => Value::Undefined,
    })
}

pub fn ceil(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => whole(d.ceil(), ctx.sql_version()),
        None => Value::Undefined,
    })
}

pub fn floor(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => whole(d.floor(), ctx.sql_version()),
        None => Value::Undefined,
    })
}

/// `round(x)`: halves away from zero (`round(-1.5)` is `-2`), as AWS's examples show; its
/// table's "rounded down" is wrong.
pub fn round(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => round_half_away(d)
            .map_or_else(|| Value::decimal(d.round(), ctx.sql_version()), Value::Int),
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

/// `nanvl(a, b)`: `a` unless it is `Undefined`, `Null` (or a NaN, which our Decimals never are).
pub fn nanvl(args: &[Value], _ctx: &dyn FnContext) -> Out {
    let a = arg(args, 0);
    Ok(match a {
        Value::Undefined | Value::Null => arg(args, 1).clone(),
        Value::Decimal(d) if d.is_nan() => arg(args, 1).clone(),
        _ => a.clone(),
    })
}

pub fn power(args: &[Value], ctx: &dyn FnContext) -> Out {
    Ok(match (to_decimal(arg(args, 0)), to_decimal(arg(args, 1))) {
        (Some(x), Some(y)) => Value::decimal(x.powf(y), ctx.sql_version()),
        _ => Value::Undefined,
    })
}

/// `rand()`: uniform in [0, 1).
pub fn rand(_args: &[Value], _ctx: &dyn FnContext) -> Out {
    // Not through Value::decimal: an exact 0.0 stays a Decimal in every version, so the type
    // of rand() never changes.
    Ok(Value::Decimal(rand::random::<f64>()))
}

pub fn sign(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i.signum()),
        Some(Num::Dec(d)) => Value::Int(if d > 0.0 {
            1
        } else if d < 0.0 {
            -1
        } else {
            0
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
/// trailing zeros stripped — so a whole result is an Int (`trunc(2.3, 0)` = `2`). The cut is
/// made on the number's shortest decimal text, as AWS's decimal arithmetic would, so
/// `trunc(0.29, 2)` is `0.29` even though the double is 0.28999….
pub fn trunc(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some(digits) = to_int_down(arg(args, 1)) else {
        return Ok(Value::Undefined);
    };
    let places = digits.clamp(0, 34) as usize;
    Ok(match to_number(arg(args, 0)) {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => {
            let t = truncate_decimal(d, places);
            if t.fract() == 0.0 {
                whole(t, ctx.sql_version())
            } else {
                Value::decimal(t, ctx.sql_version())
            }
        }
        None => Value::Undefined,
    })
}

fn truncate_decimal(d: f64, places: usize) -> f64 {
    // `{:e}` gives the shortest round-tripping digits: "-2.3123e0", "1e-7".
    let text = format!("{d:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // The decimal point sits after `exp + 1` digits; keep that many plus `places`.
    let keep = exp + 1 + places as i64;
    if keep <= 0 {
        return 0.0;
    }
    let keep = keep as usize;
    let kept = if keep >= digits.len() {
        return d;
    } else {
        &digits[..keep]
    };
    let cut: f64 = format!(
        "{}{kept}e{}",
        if negative { "-" } else { "" },
        exp + 1 - keep as i64
    )
    .parse()
    .unwrap_or(d);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_works_on_decimal_text() {
        assert_eq!(truncate_decimal(2.3123, 2), 2.31);
        assert_eq!(truncate_decimal(2.888, 2), 2.88);
        assert_eq!(truncate_decimal(0.29, 2), 0.29);
        assert_eq!(truncate_decimal(-2.888, 1), -2.8);
        assert_eq!(truncate_decimal(1e-7, 3), 0.0);
        assert_eq!(truncate_decimal(123.456, 0), 123.0);
        assert_eq!(truncate_decimal(1.5e20, 2), 1.5e20);
        assert_eq!(truncate_decimal(0.125, 34), 0.125);
    }
}
