//! Validation of a decoded input against the model's constraints, with AWS's messages.
//!
//! Checked: required members, string length (in characters), patterns, enum values, numeric
//! ranges, list/map sizes and blob lengths. Type mismatches are caught earlier, by decoding;
//! values of the wrong JSON type are skipped here.

use serde_json::Value;

use crate::error::{ConstraintViolations, ValidationError, Violation};
use crate::generated::Operation;
use crate::path::Path;
use crate::service::Service;
use crate::shape::{Bounds, FloatBounds, ShapeId, ShapeKind, StringShape};

/// Checks a decoded input (keyed by member names) against the operation's input shape.
pub fn validate_input(op: Operation, input: &Value) -> Result<(), ValidationError> {
    let Some(id) = op.def().input else {
        return Ok(());
    };
    let mut violations = Vec::new();
    Checker {
        service: op.service(),
        out: &mut violations,
    }
    .check(id, input, Path::Root);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ConstraintViolations(violations).into())
    }
}

struct Checker<'v> {
    service: Service,
    out: &'v mut Vec<Violation>,
}

impl Checker<'_> {
    fn fail(&mut self, path: Path<'_>, value: &Value, constraint: String) {
        let value = match value {
            Value::Null => "null".to_owned(),
            other => format!("'{}'", render(other)),
        };
        self.out.push(Violation {
            path: path.to_string(),
            value,
            constraint,
        });
    }

    fn check(&mut self, id: ShapeId, value: &Value, path: Path<'_>) {
        let shape = self.service.shape(id);
        match (&shape.kind, value) {
            (ShapeKind::Structure(s), Value::Object(obj)) => {
                for m in s.members {
                    let child = Path::Member(&path, m.name);
                    match obj.get(m.name) {
                        None | Some(Value::Null) if m.required => {
                            self.fail(child, &Value::Null, "Member must not be null".to_owned());
                        }
                        None | Some(Value::Null) => {}
                        // A `jsonvalue` member holds arbitrary JSON, not its string shape.
                        Some(_) if m.json_value => {}
                        Some(v) => self.check(m.target, v, child),
                    }
                }
            }
            (ShapeKind::String(s), Value::String(text)) => self.string(s, text, value, path),
            (ShapeKind::Integer(b) | ShapeKind::Long(b), Value::Number(n)) => {
                if let Some(n) = n.as_i64() {
                    self.int_range(*b, n, value, path);
                }
            }
            (ShapeKind::Float(b) | ShapeKind::Double(b), Value::Number(n)) => {
                if let Some(n) = n.as_f64() {
                    self.float_range(*b, n, value, path);
                }
            }
            (ShapeKind::List { member, bounds }, Value::Array(items)) => {
                self.length(*bounds, items.len(), value, path);
                for (i, item) in items.iter().enumerate() {
                    self.check(*member, item, Path::Index(&path, i));
                }
            }
            (
                ShapeKind::Map {
                    key,
                    value: value_shape,
                    bounds,
                },
                Value::Object(map),
            ) => {
                self.length(*bounds, map.len(), value, path);
                let key_shape = self.service.shape(*key);
                for (k, v) in map {
                    if let ShapeKind::String(s) = &key_shape.kind {
                        self.string(s, k, &Value::String(k.clone()), path);
                    }
                    self.check(*value_shape, v, Path::Key(&path, k));
                }
            }
            (ShapeKind::Blob(bounds), Value::String(b64)) => {
                self.length(*bounds, base64_decoded_len(b64), value, path);
            }
            _ => {}
        }
    }

    fn string(&mut self, s: &StringShape, text: &str, value: &Value, path: Path<'_>) {
        if !s.enum_values.is_empty() && !s.enum_values.contains(&text) {
            let set = s.enum_values.join(", ");
            self.fail(
                path,
                value,
                format!("Member must satisfy enum value set: [{set}]"),
            );
        }
        let bounds = Bounds {
            min: s.min,
            max: s.max,
        };
        self.length(bounds, text.chars().count(), value, path);
        if let Some(id) = s.pattern {
            let pattern = self.service.pattern(id);
            if !pattern.matches(text) {
                let source = pattern.source();
                let constraint =
                    format!("Member must satisfy regular expression pattern: {source}");
                self.fail(path, value, constraint);
            }
        }
    }

    fn length(&mut self, bounds: Bounds, len: usize, value: &Value, path: Path<'_>) {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        if let Some(min) = bounds.min.filter(|&min| len < min) {
            let constraint = format!("Member must have length greater than or equal to {min}");
            self.fail(path, value, constraint);
        }
        if let Some(max) = bounds.max.filter(|&max| len > max) {
            let constraint = format!("Member must have length less than or equal to {max}");
            self.fail(path, value, constraint);
        }
    }

    fn int_range(&mut self, bounds: Bounds, n: i64, value: &Value, path: Path<'_>) {
        if let Some(min) = bounds.min.filter(|&min| n < min) {
            let constraint = format!("Member must have value greater than or equal to {min}");
            self.fail(path, value, constraint);
        }
        if let Some(max) = bounds.max.filter(|&max| n > max) {
            let constraint = format!("Member must have value less than or equal to {max}");
            self.fail(path, value, constraint);
        }
    }

    fn float_range(&mut self, bounds: FloatBounds, n: f64, value: &Value, path: Path<'_>) {
        if let Some(min) = bounds.min.filter(|&min| n < min) {
            let constraint = format!("Member must have value greater than or equal to {min}");
            self.fail(path, value, constraint);
        }
        if let Some(max) = bounds.max.filter(|&max| n > max) {
            let constraint = format!("Member must have value less than or equal to {max}");
            self.fail(path, value, constraint);
        }
    }
}

/// Renders a value the way AWS's (Java) messages do: strings bare, lists `[a, b]`, maps
/// `{k=v}`.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

fn base64_decoded_len(b64: &str) -> usize {
    let data = b64.trim_end_matches('=').len();
    data * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_java() {
        let v = serde_json::json!({"a": ["x", 1], "b": true});
        assert_eq!(render(&v), "{a=[x, 1], b=true}");
    }

    #[test]
    fn measures_base64() {
        assert_eq!(base64_decoded_len(""), 0);
        assert_eq!(base64_decoded_len("YQ=="), 1);
        assert_eq!(base64_decoded_len("YWI="), 2);
        assert_eq!(base64_decoded_len("YWJj"), 3);
    }
}
