//! `encode`, `decode` and the hash functions.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::Digest;

use super::{FnContext, FnError, arg};
use crate::convert::to_string;
use crate::json::from_json_slice;
use crate::value::Value;

type Out = Result<Value, FnError>;

/// Standard alphabet; padding accepted but not required, as Java's `Base64.getDecoder()`.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn scheme(v: &Value) -> Option<&str> {
    v.as_str()
}

/// `encode(value, 'base64')`. `value` may be `*`: the binder passes the raw payload as
/// `Value::Bytes` whether or not it is JSON; any other value is encoded as its string form.
pub fn encode(args: &[Value], _ctx: &dyn FnContext) -> Out {
    if !scheme(arg(args, 1)).is_some_and(|s| s.eq_ignore_ascii_case("base64")) {
        return Ok(Value::Undefined);
    }
    Ok(match arg(args, 0) {
        Value::Bytes(b) => Value::from(BASE64.encode(b.as_ref())),
        other => to_string(other).map_or(Value::Undefined, |s| {
            Value::from(BASE64.encode(s.as_bytes()))
        }),
    })
}

/// `decode(value, 'base64')`: the decoded JSON document if it is one (addressable:
/// `decode(x, 'base64').temperature`), otherwise the decoded text; `Null` when `value` is not
/// base64. The Protobuf scheme (`decode(*, 'proto', bucket, file, proto, message)`) needs a
/// descriptor from S3 and is not supported.
pub fn decode(args: &[Value], ctx: &dyn FnContext) -> Out {
    match scheme(arg(args, 1)) {
        Some(s) if s.eq_ignore_ascii_case("base64") && args.len() == 2 => {}
        Some(s) if s.eq_ignore_ascii_case("proto") => return Err(FnError::Unsupported("decode")),
        _ => return Ok(Value::Undefined),
    }
    let Some(text) = to_string(arg(args, 0)) else {
        return Ok(Value::Undefined);
    };
    let Ok(bytes) = BASE64.decode(text.trim().as_bytes()) else {
        return Ok(Value::Null);
    };
    Ok(from_json_slice(&bytes, ctx.sql_version())
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&bytes).into_owned())))
}

fn hash<D: Digest>(args: &[Value]) -> Out {
    Ok(to_string(arg(args, 0)).map_or(Value::Undefined, |s| {
        let digest = D::digest(s.as_bytes());
        let mut hex = String::with_capacity(digest.len() * 2);
        for b in digest.iter() {
            hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            hex.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        Value::from(hex)
    }))
}

pub fn md2(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<md2::Md2>(args)
}

pub fn md5(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<md5::Md5>(args)
}

pub fn sha1(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<sha1::Sha1>(args)
}

pub fn sha224(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<sha2::Sha224>(args)
}

pub fn sha256(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<sha2::Sha256>(args)
}

pub fn sha384(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<sha2::Sha384>(args)
}

pub fn sha512(args: &[Value], _ctx: &dyn FnContext) -> Out {
    hash::<sha2::Sha512>(args)
}
