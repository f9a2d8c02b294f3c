//! The authorizer function's answer, checked as AWS checks a Lambda's: `isAuthenticated`
//! (boolean), `principalId` (`[a-zA-Z0-9]{1,128}`), `policyDocuments` (at most 10, each a
//! policy object or a JSON string holding one), `disconnectAfterInSeconds` and
//! `refreshAfterInSeconds` (300 to 86,400). A function may also answer the whole response as
//! a JSON string (a Python Lambda returning `json.dumps(...)`), which AWS accepts.
//!
//! Everything but `isAuthenticated` is required only when the client is authenticated; what is
//! present is checked either way, so TestInvokeAuthorizer reports a broken answer as such.

use std::time::Duration;

use ferrite_policy::Policy;
use serde_json::Value;

/// At most this many policy documents per answer.
pub const MAX_POLICY_DOCUMENTS: usize = 10;
/// Lower bound of `disconnectAfterInSeconds` and `refreshAfterInSeconds`.
pub const MIN_SECONDS: u64 = 300;
/// Upper bound of `disconnectAfterInSeconds` and `refreshAfterInSeconds`.
pub const MAX_SECONDS: u64 = 86_400;
const MAX_PRINCIPAL_ID: usize = 128;

/// A validated answer.
#[derive(Debug, Clone)]
pub struct AuthorizerResponse {
    /// `isAuthenticated`.
    pub is_authenticated: bool,
    /// `principalId`.
    pub principal_id: Option<String>,
    /// Parsed; [`Policy::document`] gives each document's text.
    pub policies: Vec<Policy>,
    /// `disconnectAfterInSeconds`.
    pub disconnect_after: Option<Duration>,
    /// `refreshAfterInSeconds`.
    pub refresh_after: Option<Duration>,
}

/// Why an answer is unusable; the text says which member is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidResponse(pub String);

fn invalid(message: impl Into<String>) -> InvalidResponse {
    InvalidResponse(message.into())
}

/// Parses and checks the function's response body.
pub fn parse(body: &[u8]) -> Result<AuthorizerResponse, InvalidResponse> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the response is not JSON: {e}")))?;
    if let Value::String(inner) = &value {
        value = serde_json::from_str(inner)
            .map_err(|e| invalid(format!("the response string is not JSON: {e}")))?;
    }
    let Value::Object(obj) = value else {
        return Err(invalid("the response is not a JSON object"));
    };
    let is_authenticated = obj
        .get("isAuthenticated")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid("isAuthenticated is missing or not a boolean"))?;
    let required =
        |member: &str| invalid(format!("{member} is required when isAuthenticated is true"));

    let principal_id = match obj.get("principalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if valid_principal_id(p) => Some(p.clone()),
        Some(_) => {
            return Err(invalid(
                "principalId must be 1 to 128 alphanumeric characters",
            ));
        }
    };
    let policies = match obj.get("policyDocuments") {
        None | Some(Value::Null) => None,
        Some(Value::Array(docs)) => Some(parse_policies(docs)?),
        Some(_) => return Err(invalid("policyDocuments must be a list")),
    };
    let disconnect_after = seconds(&obj, "disconnectAfterInSeconds")?;
    let refresh_after = seconds(&obj, "refreshAfterInSeconds")?;

    if is_authenticated {
        if principal_id.is_none() {
            return Err(required("principalId"));
        }
        if policies.is_none() {
            return Err(required("policyDocuments"));
        }
        if disconnect_after.is_none() {
            return Err(required("disconnectAfterInSeconds"));
        }
        if refresh_after.is_none() {
            return Err(required("refreshAfterInSeconds"));
        }
    }
    Ok(AuthorizerResponse {
        is_authenticated,
        principal_id,
        policies: policies.unwrap_or_default(),
        disconnect_after,
        refresh_after,
    })
}

fn valid_principal_id(p: &str) -> bool {
    (1..=MAX_PRINCIPAL_ID).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse_policies(docs: &[Value]) -> Result<Vec<Policy>, InvalidResponse> {
    if docs.len() > MAX_POLICY_DOCUMENTS {
        return Err(invalid(format!(
            "policyDocuments has {} documents; at most {MAX_POLICY_DOCUMENTS} are allowed",
            docs.len()
        )));
    }
    docs.iter()
        .enumerate()
        .map(|(i, doc)| {
            let text = match doc {
                Value::String(s) => s.clone(),
                Value::Object(_) => doc.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "policyDocuments[{i}] is neither a policy object nor a JSON string"
                    )));
                }
            };
            Policy::parse(&text)
                .map_err(|e| invalid(format!("policyDocuments[{i}] is not a valid policy: {e}")))
        })
        .collect()
}

fn seconds(
    obj: &serde_json::Map<String, Value>,
    member: &str,
) -> Result<Option<Duration>, InvalidResponse> {
    match obj.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (MIN_SECONDS..=MAX_SECONDS).contains(&n) => Ok(Some(Duration::from_secs(n))),
            _ => Err(invalid(format!(
                "{member} must be an integer from {MIN_SECONDS} to {MAX_SECONDS}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;

    fn ok_response() -> Value {
        json!({
            "isAuthenticated": true,
            "principalId": "user42",
            "policyDocuments": [serde_json::from_str::<Value>(POLICY).unwrap(), POLICY],
            "disconnectAfterInSeconds": 3600,
            "refreshAfterInSeconds": 300,
        })
    }

    fn parse_value(v: &Value) -> Result<AuthorizerResponse, InvalidResponse> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn a_complete_answer_with_object_and_string_policies() {
        let r = parse_value(&ok_response()).unwrap();
        assert!(r.is_authenticated);
        assert_eq!(r.principal_id.as_deref(), Some("user42"));
        assert_eq!(r.policies.len(), 2);
        assert_eq!(r.policies[1].document(), POLICY);
        assert_eq!(r.disconnect_after, Some(Duration::from_secs(3600)));
        assert_eq!(r.refresh_after, Some(Duration::from_secs(300)));
    }

    #[test]
    fn an_answer_given_as_a_json_string_is_read() {
        let body = json!(ok_response().to_string()).to_string();
        assert!(parse(body.as_bytes()).unwrap().is_authenticated);
    }

    #[test]
    fn a_refusal_needs_nothing_else() {
        let r = parse_value(&json!({"isAuthenticated": false})).unwrap();
        assert!(!r.is_authenticated);
        assert!(r.policies.is_empty());
    }

    #[test]
    fn every_broken_member_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("isAuthenticated", json!("yes"), "isAuthenticated"),
            ("principalId", json!("has space"), "principalId"),
            ("principalId", json!("x".repeat(129)), "principalId"),
            ("principalId", json!(""), "principalId"),
            (
                "policyDocuments",
                json!("{}"),
                "policyDocuments must be a list",
            ),
            ("policyDocuments", json!(vec![POLICY; 11]), "at most 10"),
            ("policyDocuments", json!([42]), "policyDocuments[0]"),
            (
                "policyDocuments",
                json!(["not json"]),
                "policyDocuments[0] is not a valid policy",
            ),
            (
                "disconnectAfterInSeconds",
                json!(299),
                "disconnectAfterInSeconds",
            ),
            (
                "disconnectAfterInSeconds",
                json!(86_401),
                "disconnectAfterInSeconds",
            ),
            (
                "refreshAfterInSeconds",
                json!("300"),
                "refreshAfterInSeconds",
            ),
            ("refreshAfterInSeconds", json!(-1), "refreshAfterInSeconds"),
        ];
        for (member, value, expect) in cases {
            let mut r = ok_response();
            r[member] = value;
            let e = parse_value(&r).unwrap_err();
            assert!(e.0.contains(expect), "{member}: {e}");
        }
        for member in [
            "principalId",
            "policyDocuments",
            "disconnectAfterInSeconds",
            "refreshAfterInSeconds",
        ] {
            let mut r = ok_response();
            r.as_object_mut().unwrap().remove(member);
            let e = parse_value(&r).unwrap_err();
            assert_eq!(
                e.0,
                format!("{member} is required when isAuthenticated is true")
            );
        }
        assert!(parse(b"<html>").unwrap_err().0.contains("not JSON"));
        assert!(parse(b"[]").unwrap_err().0.contains("not a JSON object"));
        assert!(
            parse(b"\"nope\"")
                .unwrap_err()
                .0
                .contains("string is not JSON")
        );
    }
}
