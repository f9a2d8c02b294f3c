//! Type tests, `cast`, collection access and `transform`.

use std::sync::Arc;

use super::{FnContext, FnError, arg};
use crate::convert::{CastType, cast, to_int_nearest};
use crate::json::write_json;
use crate::value::{Object, Value};

type Out = Result<Value, FnError>;

/// `cast` through the registry: the type keyword as a String second argument. The binder's
/// fast path parses the keyword once and calls [`crate::cast`].
pub fn cast_fn(args: &[Value], ctx: &dyn FnContext) -> Out {
    let version = ctx.sql_version();
    Ok(arg(args, 1)
        .as_str()
        .and_then(|t| CastType::parse(t, version))
        .map_or(Value::Undefined, |t| cast(arg(args, 0), t, version)))
}

/// `get(collection, key)`: an array element at a 0-based index (Int-converted), a string's
/// character at a 0-based index (0-based for strings too, whatever one edit of AWS's table
/// says), or an object member by String key (not converted). Anything else `Undefined`.
pub fn get(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(get_item(arg(args, 0), arg(args, 1)))
}

/// What `get(collection, key)` (and the bracket index `collection[key]`) reads.
pub fn get_item(collection: &Value, key: &Value) -> Value {
    match collection {
        Value::Array(_) => to_int_nearest(key).map_or(Value::Undefined, |i| collection.index(i)),
        Value::String(s) => to_int_nearest(key)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| s.chars().nth(i))
            .map_or(Value::Undefined, |c| Value::from(c.to_string())),
        Value::Object(_) => key
            .as_str()
            .map_or(Value::Undefined, |k| collection.field(k)),
        _ => Value::Undefined,
    }
}

/// `get_or_default(expression, default)`: `default` (or `Undefined` without one) when the
/// expression is `Null`, `Undefined` or failed — the evaluator turns a failure into
/// `Undefined` before the call (see `FunctionDef::catches_first_arg_errors`).
pub fn get_or_default(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(match arg(args, 0) {
        Value::Null | Value::Undefined => arg(args, 1).clone(),
        v => v.clone(),
    })
}

pub fn is_null(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(Value::Bool(arg(args, 0).is_null()))
}

pub fn is_undefined(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(Value::Bool(arg(args, 0).is_undefined()))
}

pub fn transform_fn(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(transform(arg(args, 0), arg(args, 1), arg(args, 2)))
}

/// The largest array `transform` returns, in bytes of JSON (AWS: 128 KiB).
pub const ENRICH_ARRAY_LIMIT: usize = 128 * 1024;

/// `transform('enrichArray', object, array)`: each object of `array` with `object`'s members
/// added (`object`'s value wins on a shared key). Pinned where AWS is silent: elements that are
/// not objects are left out, and a result over [`ENRICH_ARRAY_LIMIT`] is `Undefined`. Any other
/// mode, or arguments of other types, give `Undefined`.
pub fn transform(mode: &Value, object: &Value, array: &Value) -> Value {
    let (Some("enrichArray"), Some(extra), Some(items)) =
        (mode.as_str(), object.as_object(), array.as_array())
    else {
        return Value::Undefined;
    };
    let enriched: Vec<Value> = items
        .iter()
        .filter_map(Value::as_object)
        .map(|element| {
            let mut merged: Object = element.clone();
            for (k, v) in extra {
                merged.insert(Arc::clone(k), v.clone());
            }
            Value::Object(Arc::new(merged))
        })
        .collect();
    let result = Value::array(enriched);
    let mut json = Vec::new();
    write_json(&result, &mut json);
    if json.len() > ENRICH_ARRAY_LIMIT {
        return Value::Undefined;
    }
    result
}
