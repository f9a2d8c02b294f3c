//! Response encoding: an operation's output, as JSON keyed by member names, becomes the status,
//! headers and body botocore expects; error shapes become AWS's error responses.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::error::EncodeError;
use crate::generated::Operation;
use crate::path::Path;
use crate::service::{Service, error_status};
use crate::shape::{Location, Member, ShapeId, ShapeKind, TimestampFormat};
use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const JSON: &str = "application/json";

/// Encodes `output` (a JSON object keyed by output member names) for `op`.
///
/// Members bound to headers become headers, a `statusCode` member the status, and a payload
/// member the whole body; other members form the JSON body, with `null` and unknown members
/// left out and timestamps (epoch seconds or RFC 3339 text) written as epoch seconds. A blob
/// payload given as a string is base64-decoded into the raw body; given as any other JSON value
/// (e.g. a shadow document) it is written as that JSON.
pub fn encode_response(op: Operation, output: &Value) -> Result<EncodedResponse, EncodeError> {
    let mut response = EncodedResponse {
        status: op.success_code(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let Some(id) = op.def().output else {
        return Ok(response);
    };
    let service = op.service();
    let members = match &service.shape(id).kind {
        ShapeKind::Structure(s) => s.members,
        _ => &[],
    };
    let empty = Map::new();
    let fields = match output {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err(EncodeError::NotAnObject),
    };
    let encoder = Encoder { service };
    let mut body = Map::new();
    let mut payload_seen = false;
    for member in members {
        let value = fields.get(member.name).filter(|v| !v.is_null());
        let path = Path::Member(&Path::Root, member.name);
        match member.location {
            Location::Body if member.payload => {
                payload_seen = true;
                if let Some(value) = value {
                    encoder.payload(member, value, &mut response)?;
                }
            }
            Location::Body => {
                if let Some(json) = value
                    .map(|v| encoder.json(member.target, v, path))
                    .transpose()?
                {
                    body.insert(member.wire_name().to_owned(), json);
                }
            }
            Location::Header => {
                if let Some(value) = value {
                    let text = encoder.header_text(member, value)?;
                    response.headers.push((member.wire_name().to_owned(), text));
                }
            }
            Location::Headers => {
                for (key, v) in value.and_then(Value::as_object).into_iter().flatten() {
                    let name = format!("{}{key}", member.wire_name());
                    response
                        .headers
                        .push((name, scalar_text(v).unwrap_or_default()));
                }
            }
            Location::StatusCode => {
                if let Some(value) = value {
                    let invalid = EncodeError::InvalidBinding {
                        member: member.name,
                        binding: "status code",
                    };
                    let status = value.as_u64().and_then(|s| u16::try_from(s).ok());
                    response.status = status.filter(|s| (100..600).contains(s)).ok_or(invalid)?;
                }
            }
            Location::Uri | Location::Querystring => {}
        }
    }
    if !payload_seen {
        response.body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        response
            .headers
            .push(("content-type".to_owned(), JSON.to_owned()));
    }
    Ok(response)
}

/// Encodes an error response: the shape's status, `x-amzn-ErrorType` (which botocore reads
/// first) and a JSON body of the shape's members, e.g. `{"message": "..."}`.
pub fn encode_error(
    service: Service,
    error_shape_name: &str,
    fields: &Value,
) -> Result<EncodedResponse, EncodeError> {
    let unknown = || EncodeError::UnknownErrorShape {
        service,
        name: error_shape_name.to_owned(),
    };
    let status = error_status(service, error_shape_name).ok_or_else(unknown)?;
    let (id, shape) = service
        .shape_by_name(error_shape_name)
        .ok_or_else(unknown)?;
    let body = match fields {
        Value::Null => Value::Object(Map::new()),
        fields => Encoder { service }.json(id, fields, Path::Root)?,
    };
    let headers = vec![
        ("x-amzn-ErrorType".to_owned(), shape.name.to_owned()),
        ("content-type".to_owned(), JSON.to_owned()),
    ];
    Ok(EncodedResponse {
        status,
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// Text of a scalar for a header; `None` for structures, lists and maps.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Encoder {
    service: Service,
}

impl Encoder {
    fn payload(
        &self,
        member: &Member,
        value: &Value,
        response: &mut EncodedResponse,
    ) -> Result<(), EncodeError> {
        let shape = self.service.shape(member.target);
        let (body, content_type) = match (&shape.kind, value) {
            (ShapeKind::Blob(_), Value::String(b64)) => {
                let raw = BASE64.decode(b64).map_err(|_| EncodeError::InvalidBase64 {
                    member: member.name,
                })?;
                (raw, "application/octet-stream")
            }
            (ShapeKind::String(_), Value::String(text)) => {
                (text.clone().into_bytes(), "text/plain")
            }
            (ShapeKind::Blob(_) | ShapeKind::String(_), other) => {
                (serde_json::to_vec(other).unwrap_or_default(), JSON)
            }
            _ => {
                let path = Path::Member(&Path::Root, member.name);
                let json = self.json(member.target, value, path)?;
                (serde_json::to_vec(&json).unwrap_or_default(), JSON)
            }
        };
        response.body = body;
        response
            .headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        Ok(())
    }

    fn header_text(&self, member: &Member, value: &Value) -> Result<String, EncodeError> {
        let invalid = || EncodeError::InvalidBinding {
            member: member.name,
            binding: "header",
        };
        if member.json_value {
            return Ok(BASE64.encode(serde_json::to_vec(value).unwrap_or_default()));
        }
        let shape = self.service.shape(member.target);
        match (&shape.kind, value) {
            (ShapeKind::Timestamp(format), _) => {
                let t = timestamp::from_value(value).ok_or_else(invalid)?;
                match member.timestamp_format.or(*format) {
                    Some(TimestampFormat::UnixTimestamp) => {
                        Ok(timestamp::to_epoch_value(t).to_string())
                    }
                    Some(TimestampFormat::Iso8601) => {
                        let text = timestamp::to_epoch_value(t);
                        Ok(timestamp::format_rfc3339(t).unwrap_or_else(|| text.to_string()))
                    }
                    _ => Ok(timestamp::format_http_date(t)),
                }
            }
            (ShapeKind::List { .. }, Value::Array(items)) => {
                let items: Option<Vec<String>> = items.iter().map(scalar_text).collect();
                Ok(items.ok_or_else(invalid)?.join(","))
            }
            _ => scalar_text(value).ok_or_else(invalid),
        }
    }

    /// Rebuilds a value for the wire: structures keep only their members, under wire names,
    /// without nulls; timestamps become epoch seconds.
    fn json(&self, id: ShapeId, value: &Value, path: Path<'_>) -> Result<Value, EncodeError> {
        let shape = self.service.shape(id);
        Ok(match (&shape.kind, value) {
            (ShapeKind::Structure(s), Value::Object(obj)) => {
                let mut out = Map::new();
                for m in s.members {
                    if let Some(v) = obj.get(m.name).filter(|v| !v.is_null()) {
                        let child = Path::Member(&path, m.name);
                        out.insert(m.wire_name().to_owned(), self.json(m.target, v, child)?);
                    }
                }
                Value::Object(out)
            }
            (ShapeKind::List { member, .. }, Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.json(*member, item, Path::Index(&path, i)))
                    .collect::<Result<_, _>>()?,
            ),
            (
                ShapeKind::Map {
                    value: value_shape, ..
                },
                Value::Object(obj),
            ) => Value::Object(
                obj.iter()
                    .map(|(k, v)| Ok((k.clone(), self.json(*value_shape, v, Path::Key(&path, k))?)))
                    .collect::<Result<_, EncodeError>>()?,
            ),
            (ShapeKind::Timestamp(_), _) => timestamp::from_value(value)
                .map(timestamp::to_epoch_value)
                .ok_or_else(|| EncodeError::InvalidTimestamp {
                    path: path.to_string(),
                })?,
            _ => value.clone(),
        })
    }
}
