//! The policy document grammar (IAM JSON as AWS IoT accepts it): validation with AWS's
//! messages and compilation into [`Statement`]s.
//!
//! Choices pinned by tests: `Version` may be `2012-10-17` or `2008-10-17` or absent (IAM's
//! default, `2008-10-17`); only `2012-10-17` documents have policy variables, elsewhere `${...}`
//! is literal text, as in IAM. Element names and `Effect` values are case-sensitive. A document
//! may have at most [`MAX_DOCUMENT_CHARS`] characters once whitespace is removed.

use serde_json::{Map, Value};

use crate::condition::{self, Condition};
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax};
use crate::statement::{Effect, Element, Statement};

/// AWS IoT's quota on a policy document: characters, whitespace excluded.
pub const MAX_DOCUMENT_CHARS: usize = 2048;

/// The `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`: the current language, with policy variables.
    V2012_10_17,
    /// `2008-10-17` (or no `Version`): `${...}` is literal text.
    V2008_10_17,
}

pub(crate) struct Parsed {
    pub(crate) version: Version,
    pub(crate) statements: Vec<Statement>,
}

pub(crate) fn parse(document: &str) -> Result<Parsed, PolicyError> {
    let counted = document.chars().filter(|c| !c.is_whitespace()).count();
    if counted > MAX_DOCUMENT_CHARS {
        return Err(PolicyError::too_large(counted, MAX_DOCUMENT_CHARS));
    }
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(document) else {
        return Err(PolicyError::syntax());
    };
    for key in root.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::unsupported_element(key));
        }
    }
    let version = match root.get("Version") {
        None => Version::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(_) => {
            return Err(PolicyError::malformed(
                "The policy must contain a valid version string",
            ));
        }
    };
    if root.get("Id").is_some_and(|id| !id.is_string()) {
        return Err(PolicyError::wrong_type("Id", "a string"));
    }
    let variables = version == Version::V2012_10_17;
    let statements = match root.get("Statement") {
        None => return Err(PolicyError::missing_field("Statement")),
        Some(Value::Object(statement)) => vec![parse_statement(statement, variables)?],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(PolicyError::malformed(
                "Policy must contain at least one statement",
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(statement) => parse_statement(statement, variables),
                _ => Err(PolicyError::wrong_type(
                    "Statement",
                    "an object or an array of objects",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(PolicyError::wrong_type(
                "Statement",
                "an object or an array of objects",
            ));
        }
    };
    Ok(Parsed {
        version,
        statements,
    })
}

fn parse_statement(st: &Map<String, Value>, variables: bool) -> Result<Statement, PolicyError> {
    for key in st.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(PolicyError::malformed(
                    "Policy document should not specify a principal.",
                ));
            }
            _ => return Err(PolicyError::unsupported_element(key)),
        }
    }
    if st.get("Sid").is_some_and(|sid| !sid.is_string()) {
        return Err(PolicyError::wrong_type("Sid", "a string"));
    }
    let effect = match st.get("Effect") {
        None => return Err(PolicyError::missing_field("Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => {
            return Err(PolicyError::malformed(format_args!("Invalid effect: {e}")));
        }
        Some(_) => return Err(PolicyError::wrong_type("Effect", "a string")),
    };
    let (negated, actions) = pick(st, "Action", "NotAction")?;
    let actions = strings(actions, if negated { "NotAction" } else { "Action" })?;
    if actions.is_empty() {
        return Err(PolicyError::malformed(
            "Policy statement must contain actions.",
        ));
    }
    let action_syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    let mut patterns = Vec::with_capacity(actions.len());
    for action in &actions {
        validate_action(action)?;
        patterns.push(Pattern::compile(action, action_syntax, &mut Vec::new()));
    }
    let actions = Element::new(negated, patterns, Vec::new(), true);

    let (negated, resources) = pick(st, "Resource", "NotResource")?;
    let resources = strings(resources, if negated { "NotResource" } else { "Resource" })?;
    if resources.is_empty() {
        return Err(PolicyError::malformed(
            "Policy statement must contain resources.",
        ));
    }
    let invalid: Vec<&str> = resources
        .iter()
        .copied()
        .filter(|r| !valid_resource(r))
        .collect();
    if !invalid.is_empty() {
        return Err(PolicyError::invalid_resources(&invalid));
    }
    let syntax = Syntax {
        wildcards: true,
        variables,
    };
    let mut table = Vec::new();
    let patterns = resources
        .iter()
        .map(|r| Pattern::compile(r, syntax, &mut table))
        .collect();
    let resources = Element::new(negated, patterns, table, false);

    let conditions: Vec<Condition> = match st.get("Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, variables)?,
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        conditions: conditions.into(),
    })
}

/// The value of `name` or `negated_name` (exactly one must be present) and which one it was.
fn pick<'a>(
    st: &'a Map<String, Value>,
    name: &str,
    negated_name: &str,
) -> Result<(bool, &'a Value), PolicyError> {
    match (st.get(name), st.get(negated_name)) {
        (Some(_), Some(_)) => Err(PolicyError::both(name, negated_name)),
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (None, None) => Err(PolicyError::missing_field(name)),
    }
}

fn strings<'a>(value: &'a Value, element: &str) -> Result<Vec<&'a str>, PolicyError> {
    let wrong = || PolicyError::wrong_type(element, "a string or an array of strings");
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().ok_or_else(wrong)).collect(),
        _ => Err(wrong()),
    }
}

/// `*`, or `vendor:name` with an alphanumeric vendor (`iot`, `greengrass`, `iotjobsdata`);
/// the name may use wildcards.
fn validate_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = action.split_once(':') else {
        return Err(PolicyError::malformed(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ));
    };
    if vendor.is_empty()
        || !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(PolicyError::malformed(format_args!(
            "Vendor {vendor} is not valid"
        )));
    }
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ':') {
        return Err(PolicyError::malformed(format_args!(
            "Action {action} is not valid"
        )));
    }
    Ok(())
}

/// `*`, or an ARN with its six components (`arn:partition:service:region:account:resource`).
fn valid_resource(resource: &str) -> bool {
    if resource == "*" {
        return true;
    }
    let mut parts = resource.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next().is_some_and(|partition| !partition.is_empty())
        && parts.next().is_some_and(|service| !service.is_empty())
        && parts.next().is_some()
        && parts.next().is_some()
        && parts.next().is_some_and(|name| !name.is_empty())
}
