//! Request decoding: URI labels, query string, headers and body become the operation's input as
//! one JSON object keyed by member names, the shape of botocore's input dict.
//!
//! Conventions of the decoded value: timestamps are epoch seconds whatever their wire encoding;
//! blobs are base64 strings (a raw blob payload body is base64-encoded into it); `jsonvalue`
//! headers are the JSON they carry; members absent from the request are absent (JSON `null`
//! counts as absent); unknown JSON members are dropped, as AWS ignores them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::generated::Operation;
use crate::path::Path;
use crate::percent;
use crate::service::Service;
use crate::shape::{Location, Member, Shape, ShapeId, ShapeKind, TimestampFormat};
use crate::timestamp;
use crate::validate::validate_input;

/// Decodes a request addressed to `op` and validates it against the model.
///
/// `labels` come from [`resolve`](crate::resolve); `raw_query` is still percent-encoded,
/// without `?`; header names match case-insensitively.
pub fn decode_request<H, K, V>(
    op: Operation,
    labels: &[(&'static str, String)],
    raw_query: &str,
    headers: H,
    body: &[u8],
) -> Result<Value, ValidationError>
where
    H: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    let input = decode_unvalidated(op, labels, raw_query, headers, body)?;
    validate_input(op, &input)?;
    Ok(input)
}

fn decode_unvalidated<H, K, V>(
    op: Operation,
    labels: &[(&'static str, String)],
    raw_query: &str,
    headers: H,
    body: &[u8],
) -> Result<Value, ValidationError>
where
    H: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    let mut out = Map::new();
    let Some(structure) = op.input_shape().and_then(Shape::as_structure) else {
        return Ok(Value::Object(out));
    };
    let decoder = Decoder {
        service: op.service(),
    };
    let members = structure.members;
    let has = |location: Location| members.iter().any(|m| m.location == location);
    let query = if has(Location::Querystring) {
        percent::parse_query(raw_query).map_err(|_| ValidationError::InvalidPercentEncoding)?
    } else {
        Vec::new()
    };
    let headers: Vec<(K, V)> = if has(Location::Header) || has(Location::Headers) {
        headers.into_iter().collect()
    } else {
        Vec::new()
    };
    let body_members = members
        .iter()
        .any(|m| m.location == Location::Body && !m.payload);
    let body_object = if body_members {
        parse_body_object(body)?
    } else {
        None
    };

    for member in members {
        let path = Path::Member(&Path::Root, member.name);
        let value = match member.location {
            Location::Uri => labels
                .iter()
                .find(|(name, _)| *name == member.wire_name())
                .map(|(_, text)| decoder.text(member, member.target, text, path))
                .transpose()?,
            Location::Querystring => decoder.query(member, members, &query, path)?,
            Location::Header => decoder.header(member, &headers, path)?,
            Location::Headers => decoder.header_map(member, &headers),
            Location::StatusCode => None,
            Location::Body if member.payload => decoder.payload(member, body, path)?,
            Location::Body => match body_object.as_ref().and_then(|o| o.get(member.wire_name())) {
                Some(value) => decoder.json(member.target, value, path)?,
                None => None,
            },
        };
        if let Some(value) = value {
            out.insert(member.name.to_owned(), value);
        }
    }
    Ok(Value::Object(out))
}

fn parse_json(body: &[u8]) -> Result<Value, ValidationError> {
    serde_json::from_slice(body).map_err(|e| ValidationError::MalformedJson {
        reason: e.to_string(),
    })
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn parse_body_object(body: &[u8]) -> Result<Option<Map<String, Value>>, ValidationError> {
    if is_blank(body) {
        return Ok(None);
    }
    match parse_json(body)? {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        _ => Err(ValidationError::WrongType {
            path: "(body)".to_owned(),
            expected: "structure",
        }),
    }
}

fn wrong_type(path: Path<'_>, shape: &Shape) -> ValidationError {
    ValidationError::WrongType {
        path: path.to_string(),
        expected: shape.type_name(),
    }
}

struct Decoder {
    service: Service,
}

impl Decoder {
    /// A scalar carried as text in a URI label, query value or header.
    fn text(
        &self,
        member: &Member,
        target: ShapeId,
        text: &str,
        path: Path<'_>,
    ) -> Result<Value, ValidationError> {
        let shape = self.service.shape(target);
        let parsed = match shape.kind {
            ShapeKind::String(_) | ShapeKind::Blob(_) => Some(Value::String(text.to_owned())),
            ShapeKind::Integer(_) => text.parse::<i32>().ok().map(Value::from),
            ShapeKind::Long(_) => text.parse::<i64>().ok().map(Value::from),
            ShapeKind::Float(_) | ShapeKind::Double(_) => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from),
            ShapeKind::Boolean if text.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            ShapeKind::Boolean if text.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            ShapeKind::Timestamp(format) => {
                let default = match member.location {
                    Location::Header | Location::Headers => TimestampFormat::Rfc822,
                    _ => TimestampFormat::Iso8601,
                };
                let format = member.timestamp_format.or(format).unwrap_or(default);
                timestamp::parse_text(text, format).map(timestamp::to_epoch_value)
            }
            _ => None,
        };
        parsed.ok_or_else(|| wrong_type(path, shape))
    }

    fn query(
        &self,
        member: &Member,
        siblings: &[Member],
        query: &[(String, String)],
        path: Path<'_>,
    ) -> Result<Option<Value>, ValidationError> {
        let shape = self.service.shape(member.target);
        match (shape.kind, member.location_name) {
            (ShapeKind::Map { value, .. }, None) => {
                let claimed = |key: &str| {
                    siblings.iter().any(|m| {
                        m.location == Location::Querystring && m.location_name == Some(key)
                    })
                };
                let is_list = matches!(self.service.shape(value).kind, ShapeKind::List { .. });
                let mut map = Map::new();
                for (key, text) in query.iter().filter(|(k, _)| !claimed(k)) {
                    if is_list {
                        let entry = map
                            .entry(key.clone())
                            .or_insert_with(|| Value::Array(vec![]));
                        if let Value::Array(items) = entry {
                            items.push(Value::String(text.clone()));
                        }
                    } else {
                        map.entry(key.clone())
                            .or_insert_with(|| Value::String(text.clone()));
                    }
                }
                Ok((!map.is_empty()).then_some(Value::Object(map)))
            }
            (
                ShapeKind::List {
                    member: element, ..
                },
                _,
            ) => {
                let key = member.wire_name();
                let items = query
                    .iter()
                    .filter(|(k, _)| k == key)
                    .enumerate()
                    .map(|(i, (_, text))| self.text(member, element, text, Path::Index(&path, i)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((!items.is_empty()).then_some(Value::Array(items)))
            }
            _ => query
                .iter()
                .find(|(k, _)| k == member.wire_name())
                .map(|(_, text)| self.text(member, member.target, text, path))
                .transpose(),
        }
    }

    fn header<K: AsRef<str>, V: AsRef<[u8]>>(
        &self,
        member: &Member,
        headers: &[(K, V)],
        path: Path<'_>,
    ) -> Result<Option<Value>, ValidationError> {
        let name = member.wire_name();
        let Some((_, raw)) = headers
            .iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let shape = self.service.shape(member.target);
        let text = std::str::from_utf8(raw.as_ref())
            .map_err(|_| wrong_type(path, shape))?
            .trim();
        if member.json_value {
            let invalid = || ValidationError::WrongType {
                path: path.to_string(),
                expected: "base64-encoded json",
            };
            let json = BASE64.decode(text).map_err(|_| invalid())?;
            return serde_json::from_slice(&json)
                .map(Some)
                .map_err(|_| invalid());
        }
        if let ShapeKind::List {
            member: element, ..
        } = shape.kind
        {
            let items = split_header_list(text)
                .iter()
                .enumerate()
                .map(|(i, item)| self.text(member, element, item, Path::Index(&path, i)))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Some(Value::Array(items)));
        }
        self.text(member, member.target, text, path).map(Some)
    }

    /// All headers starting with the member's prefix, keyed by the rest of their (lowercase)
    /// name, as botocore's parser builds them.
    fn header_map<K: AsRef<str>, V: AsRef<[u8]>>(
        &self,
        member: &Member,
        headers: &[(K, V)],
    ) -> Option<Value> {
        let prefix = member.wire_name().to_ascii_lowercase();
        let map: Map<String, Value> = headers
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_ref().to_ascii_lowercase();
                let rest = name.strip_prefix(&prefix)?.to_owned();
                let value = String::from_utf8_lossy(v.as_ref()).trim().to_owned();
                Some((rest, Value::String(value)))
            })
            .collect();
        (!map.is_empty()).then_some(Value::Object(map))
    }

    fn payload(
        &self,
        member: &Member,
        body: &[u8],
        path: Path<'_>,
    ) -> Result<Option<Value>, ValidationError> {
        let shape = self.service.shape(member.target);
        match shape.kind {
            ShapeKind::Blob(_) if body.is_empty() => Ok(None),
            ShapeKind::Blob(_) => Ok(Some(Value::String(BASE64.encode(body)))),
            ShapeKind::String(_) if body.is_empty() => Ok(None),
            ShapeKind::String(_) => std::str::from_utf8(body)
                .map(|s| Some(Value::String(s.to_owned())))
                .map_err(|_| wrong_type(path, shape)),
            _ if is_blank(body) => Ok(None),
            _ => self.json(member.target, &parse_json(body)?, path),
        }
    }

    /// Checks a JSON value against its shape and rebuilds it keyed by member names; `None` for
    /// JSON `null`.
    fn json(
        &self,
        target: ShapeId,
        value: &Value,
        path: Path<'_>,
    ) -> Result<Option<Value>, ValidationError> {
        if value.is_null() {
            return Ok(None);
        }
        let shape = self.service.shape(target);
        let converted = match (&shape.kind, value) {
            (ShapeKind::Structure(s), Value::Object(obj)) => {
                let mut out = Map::new();
                for m in s.members {
                    if let Some(v) = obj.get(m.wire_name()) {
                        let child = Path::Member(&path, m.name);
                        if let Some(v) = self.json(m.target, v, child)? {
                            out.insert(m.name.to_owned(), v);
                        }
                    }
                }
                Value::Object(out)
            }
            (ShapeKind::List { member, .. }, Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let converted = self.json(*member, item, Path::Index(&path, i))?;
                    out.push(converted.unwrap_or(Value::Null));
                }
                Value::Array(out)
            }
            (
                ShapeKind::Map {
                    value: value_shape, ..
                },
                Value::Object(obj),
            ) => {
                let mut out = Map::new();
                for (k, v) in obj {
                    let converted = self.json(*value_shape, v, Path::Key(&path, k))?;
                    out.insert(k.clone(), converted.unwrap_or(Value::Null));
                }
                Value::Object(out)
            }
            (ShapeKind::String(_) | ShapeKind::Blob(_), Value::String(_))
            | (ShapeKind::Boolean, Value::Bool(_))
            | (ShapeKind::Float(_) | ShapeKind::Double(_), Value::Number(_)) => value.clone(),
            (ShapeKind::Integer(_), Value::Number(n)) => {
                let small = integral(n).and_then(|i| i32::try_from(i).ok());
                small
                    .map(Value::from)
                    .ok_or_else(|| wrong_type(path, shape))?
            }
            (ShapeKind::Long(_), Value::Number(n)) => integral(n)
                .map(Value::from)
                .ok_or_else(|| wrong_type(path, shape))?,
            (ShapeKind::Timestamp(_), Value::Number(_) | Value::String(_)) => {
                timestamp::from_value(value)
                    .map(timestamp::to_epoch_value)
                    .ok_or_else(|| wrong_type(path, shape))?
            }
            _ => return Err(wrong_type(path, shape)),
        };
        Ok(Some(converted))
    }
}

/// An integer, also from a float with no fractional part (some clients send `5.0`).
fn integral(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    })
}

/// Splits a list header: items separated by commas, an item in double quotes may contain
/// commas and `\"`.
fn split_header_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut item = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => item.extend(chars.next()),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.next_if(|&c| c != ',').is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                item.push(c);
            }
            item.truncate(item.trim_end().len());
        }
        items.push(item);
        if chars.next().is_none() {
            break;
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The models have no list- or map-typed query members today, so these use synthetic
    // members over real shapes.
    fn shape_id(name: &str) -> ShapeId {
        Service::Iot.shape_by_name(name).unwrap().0
    }

    fn query_value(members: &[Member], raw: &str) -> Result<Option<Value>, ValidationError> {
        let decoder = Decoder {
            service: Service::Iot,
        };
        let query = percent::parse_query(raw).unwrap();
        let member = members.last().unwrap();
        decoder.query(
            member,
            members,
            &query,
            Path::Member(&Path::Root, member.name),
        )
    }

    #[test]
    fn query_lists_are_repeated_keys_typed_by_element() {
        let ports =
            Member::new("ports", shape_id("Ports")).bind(Location::Querystring, Some("port"));
        assert_eq!(
            query_value(&[ports], "port=80&x=1&port=443").unwrap(),
            Some(json!([80, 443]))
        );
        assert_eq!(query_value(&[ports], "x=1").unwrap(), None);
        let err = query_value(&[ports], "port=80&port=eighty").unwrap_err();
        let expected = ValidationError::WrongType {
            path: "ports.2.member".into(),
            expected: "integer",
        };
        assert_eq!(err, expected);
    }

    #[test]
    fn query_maps_collect_unclaimed_keys() {
        let token = Member::new("nextToken", shape_id("NextToken"))
            .bind(Location::Querystring, Some("nextToken"));
        let attrs = Member::new("attrs", shape_id("Attributes")).bind(Location::Querystring, None);
        let value = query_value(&[token, attrs], "nextToken=t&a=1&b=2&a=3").unwrap();
        assert_eq!(value, Some(json!({"a": "1", "b": "2"})));
        let lists = Member::new("m", shape_id("AuditCheckToActionsMapping"))
            .bind(Location::Querystring, None);
        let value = query_value(&[lists], "a=1&b=2&a=3").unwrap();
        assert_eq!(value, Some(json!({"a": ["1", "3"], "b": ["2"]})));
    }

    #[test]
    fn splits_header_lists() {
        assert_eq!(split_header_list("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(split_header_list(r#""x,y", "q\"z""#), ["x,y", "q\"z"]);
    }

    #[test]
    fn accepts_whole_floats_as_integers() {
        let five = serde_json::Number::from_f64(5.0).unwrap();
        assert_eq!(integral(&five), Some(5));
        let half = serde_json::Number::from_f64(5.5).unwrap();
        assert_eq!(integral(&half), None);
    }
}
