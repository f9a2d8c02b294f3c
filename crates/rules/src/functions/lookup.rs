//! Functions that call other services through the [`FnContext`]. Names, ARNs and keys must be
//! Strings; anything else gives `Undefined` without a call. A failed call fails the rule.

use base64::Engine;

use super::{DynamoDbQuery, FnContext, FnError, RegistryApi, SecretValue, arg};
use crate::json::from_json_slice;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn strings<const N: usize>(args: &[Value]) -> Option<[&str; N]> {
    let mut out = [""; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = arg(args, i).as_str()?;
    }
    Some(out)
}

/// `aws_lambda(functionArn, inputJson)`.
pub fn aws_lambda(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some([arn]) = strings::<1>(args) else {
        return Ok(Value::Undefined);
    };
    ctx.aws_lambda(arn, arg(args, 1))
}

/// `get_dynamodb(table, partitionKeyName, partitionKeyValue[, sortKeyName, sortKeyValue],
/// roleArn)`: 4 or 6 arguments.
pub fn get_dynamodb(args: &[Value], ctx: &dyn FnContext) -> Out {
    let (Some(table_name), Some(partition_key_name)) =
        (arg(args, 0).as_str(), arg(args, 1).as_str())
    else {
        return Ok(Value::Undefined);
    };
    let (sort_key, role) = match args.len() {
        4 => (None, arg(args, 3)),
        6 => match arg(args, 3).as_str() {
            Some(name) => (Some((name, arg(args, 4))), arg(args, 5)),
            None => return Ok(Value::Undefined),
        },
        _ => return Ok(Value::Undefined),
    };
    let Some(role_arn) = role.as_str() else {
        return Ok(Value::Undefined);
    };
    ctx.get_dynamodb(&DynamoDbQuery {
        table_name,
        partition_key_name,
        partition_key_value: arg(args, 2),
        sort_key,
        role_arn,
    })
}

/// `get_registry_data('DescribeThing' | 'ListThingGroupsForThing', thingName, roleArn)`.
pub fn get_registry_data(args: &[Value], ctx: &dyn FnContext) -> Out {
    let Some([api, thing, role]) = strings::<3>(args) else {
        return Ok(Value::Undefined);
    };
    match RegistryApi::parse(api) {
        Some(api) => ctx.get_registry_data(api, thing, role),
        None => Ok(Value::Undefined),
    }
}

/// `get_secret(secretId, 'SecretString' | 'SecretBinary'[, key], roleArn)`. A JSON
/// `SecretString` is returned as an object, or its `key` member; other strings as they are
/// (a `key` then fails, as on AWS); a `SecretBinary` as base64 (a `key` fails).
pub fn get_secret(args: &[Value], ctx: &dyn FnContext) -> Out {
    let (key, role) = match args.len() {
        3 => (None, arg(args, 2)),
        _ => match arg(args, 2).as_str() {
            Some(k) => (Some(k), arg(args, 3)),
            None => return Ok(Value::Undefined),
        },
    };
    let (Some([id, kind]), Some(role)) = (strings::<2>(args), role.as_str()) else {
        return Ok(Value::Undefined);
    };
    let want_binary = match kind {
        "SecretString" => false,
        "SecretBinary" => true,
        _ => return Ok(Value::Undefined),
    };
    let secret = ctx.get_secret(id, role)?;
    match (secret, want_binary, key) {
        (SecretValue::Binary(b), true, None) => Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(b),
        )),
        (SecretValue::String(s), false, key) => {
            let parsed = from_json_slice(s.as_bytes(), ctx.sql_version())
                .ok()
                .filter(|v| v.as_object().is_some());
            match (parsed, key) {
                (Some(obj), Some(k)) => Ok(obj.field(k)),
                (Some(obj), None) => Ok(obj),
                (None, None) => Ok(Value::from(s)),
                (None, Some(_)) => Err(FnError::failed(
                    "get_secret",
                    "the secret string is not a JSON object, so it has no keys",
                )),
            }
        }
        (_, true, Some(_)) => Err(FnError::failed(
            "get_secret",
            "a key cannot be read from a SecretBinary",
        )),
        (_, true, None) => Err(FnError::failed(
            "get_secret",
            "the secret has no SecretBinary",
        )),
        (_, false, _) => Err(FnError::failed(
            "get_secret",
            "the secret has no SecretString",
        )),
    }
}

/// `get_thing_shadow(thingName[, shadowName], roleArn)`.
pub fn get_thing_shadow(args: &[Value], ctx: &dyn FnContext) -> Out {
    match args.len() {
        2 => match strings::<2>(args) {
            Some([thing, role]) => ctx.get_thing_shadow(thing, None, role),
            None => Ok(Value::Undefined),
        },
        _ => match strings::<3>(args) {
            Some([thing, shadow, role]) => ctx.get_thing_shadow(thing, Some(shadow), role),
            None => Ok(Value::Undefined),
        },
    }
}

/// `machinelearning_predict(modelId, roleArn, record)`: Amazon Machine Learning is retired;
/// Ferrite knows the name only to refuse it clearly.
pub fn machinelearning_predict(_args: &[Value], _ctx: &dyn FnContext) -> Out {
    Err(FnError::Unsupported("machinelearning_predict"))
}
