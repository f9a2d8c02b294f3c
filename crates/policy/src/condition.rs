//! The `Condition` element: IAM condition operators compiled at parse time and evaluated
//! against the request context.
//!
//! Semantics (IAM's): every operator block and every key in it must hold (AND); a key holds if
//! any of its values matches (OR), and for negated operators (`StringNotEquals`, ...) if none
//! does. A missing key makes the condition false, except with `...IfExists` and
//! `ForAllValues:` (vacuously true) and for `Null`, whose whole point is absence. A
//! multi-valued context key without a set qualifier is treated as `ForAnyValue:`. Variables
//! in condition values that the context cannot resolve make the condition false.

use serde_json::Value;

use crate::context::{Context, ContextValue, lookup, resolve_table};
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax, Values, Variable};
use crate::typed::{Cidr, parse_date, parse_ip, parse_number};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, actual: T, expected: T) -> bool {
        match self {
            Cmp::Eq => actual == expected,
            Cmp::Lt => actual < expected,
            Cmp::Le => actual <= expected,
            Cmp::Gt => actual > expected,
            Cmp::Ge => actual >= expected,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    kind: Kind,
    negated: bool,
    if_exists: bool,
    set: Option<SetQualifier>,
}

/// `(name, kind, negated)` for every base operator IAM defines.
const OPERATORS: &[(&str, Kind, bool)] = &[
    ("StringEquals", Kind::StringEquals, false),
    ("StringNotEquals", Kind::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Kind::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Kind::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Kind::StringLike, false),
    ("StringNotLike", Kind::StringLike, true),
    ("NumericEquals", Kind::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Kind::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Kind::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Kind::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Kind::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Kind::Numeric(Cmp::Ge), false),
    ("DateEquals", Kind::Date(Cmp::Eq), false),
    ("DateNotEquals", Kind::Date(Cmp::Eq), true),
    ("DateLessThan", Kind::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Kind::Date(Cmp::Le), false),
    ("DateGreaterThan", Kind::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Kind::Date(Cmp::Ge), false),
    ("Bool", Kind::Bool, false),
    ("BinaryEquals", Kind::Binary, false),
    ("IpAddress", Kind::Ip, false),
    ("NotIpAddress", Kind::Ip, true),
    ("ArnEquals", Kind::Arn, false),
    ("ArnLike", Kind::Arn, false),
    ("ArnNotEquals", Kind::Arn, true),
    ("ArnNotLike", Kind::Arn, true),
    ("Null", Kind::Null, false),
];

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        let (set, base) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (if_exists, base) = match base.strip_suffix("IfExists") {
            Some(rest) => (true, rest),
            None => (false, base),
        };
        let &(_, kind, negated) = OPERATORS.iter().find(|(n, _, _)| *n == base)?;
        // `Null` tests presence itself: qualifying it is meaningless and IAM refuses it.
        if kind == Kind::Null && (if_exists || set.is_some()) {
            return None;
        }
        Some(Operator {
            kind,
            negated,
            if_exists,
            set,
        })
    }
}

/// A value that is either known at parse time or contains variables.
#[derive(Debug, Clone)]
enum Typed<T> {
    Fixed(T),
    Template(Pattern),
}

impl<T: Copy> Typed<T> {
    fn get(&self, values: &Values, parse: fn(&str) -> Option<T>) -> Option<T> {
        match self {
            Typed::Fixed(v) => Some(*v),
            Typed::Template(p) => parse(&p.expand(values)?),
        }
    }
}

#[derive(Debug, Clone)]
enum Operand {
    /// Compared whole (`String*Equals*`, `Bool`, `BinaryEquals`).
    Text(Pattern),
    /// `StringLike` glob.
    Like(Pattern),
    /// `Arn*`: the six `:`-separated components, each a glob (the last one may contain `:`);
    /// or one glob over the whole ARN; or nothing (matches no ARN).
    Arn(Box<[Pattern]>),
    Number(Typed<f64>),
    Date(Typed<i128>),
    Ip(Typed<Cidr>),
    /// `Null`: `true` = the key must be absent.
    Null(bool),
}

/// One key of one operator block, e.g. `"StringEquals": {"iot:ClientId": ["a", "b"]}`.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    operator: Operator,
    key: Box<str>,
    operands: Box<[Operand]>,
    variables: Box<[Variable]>,
}

/// Keys whose value changes between two otherwise identical requests.
const TIME_KEYS: &[&str] = &["aws:CurrentTime", "aws:EpochTime"];

pub(crate) fn is_time_key(key: &str) -> bool {
    TIME_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Parses a statement's `Condition` object.
pub(crate) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = block else {
        return Err(PolicyError::wrong_type("Condition", "an object"));
    };
    let mut conditions = Vec::new();
    for (name, keys) in operators {
        let operator = Operator::parse(name).ok_or_else(|| {
            PolicyError::malformed(format_args!("Invalid Condition type : {name}"))
        })?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::wrong_type(
                &format!("Condition {name}"),
                "an object of condition keys",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::malformed(format_args!(
                "Condition {name} must contain at least one condition key"
            )));
        }
        for (key, values) in keys {
            conditions.push(Condition::parse(operator, name, key, values, variables)?);
        }
    }
    Ok(conditions)
}

/// A condition value as text: IAM accepts JSON strings, numbers and booleans.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    fn parse(
        operator: Operator,
        name: &str,
        key: &str,
        values: &Value,
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        if key.is_empty() {
            return Err(PolicyError::malformed(format_args!(
                "Condition {name} has an empty condition key"
            )));
        }
        let texts: Vec<String> = match values {
            Value::Array(items) => items.iter().map(scalar_text).collect::<Option<_>>(),
            other => scalar_text(other).map(|t| vec![t]),
        }
        .ok_or_else(|| {
            PolicyError::wrong_type(
                &format!("Condition {name} value for {key}"),
                "a string, number, boolean or an array of them",
            )
        })?;
        if texts.is_empty() {
            return Err(PolicyError::malformed(format_args!(
                "Condition {name} must have at least one value for {key}"
            )));
        }
        let mut table = Vec::new();
        let operands = texts
            .iter()
            .map(|text| compile_operand(operator.kind, text, variables, &mut table))
            .collect::<Option<Box<[Operand]>>>()
            .ok_or_else(|| {
                PolicyError::malformed(format_args!(
                    "Invalid value for condition {name} on key {key}: {}",
                    texts.join(", ")
                ))
            })?;
        Ok(Condition {
            operator,
            key: key.into(),
            operands,
            variables: table.into(),
        })
    }

    /// True if this condition reads a clock-dependent key (as its key or in a variable).
    pub(crate) fn is_time_dependent(&self) -> bool {
        is_time_key(&self.key) || self.variables.iter().any(|v| is_time_key(&v.key))
    }

    /// Evaluates the condition; keys the context lacked are pushed to `missing` if given.
    pub(crate) fn holds(&self, ctx: &dyn Context, missing: &mut Option<&mut Vec<String>>) -> bool {
        let op = self.operator;
        let actual = lookup(ctx, &self.key);
        if let Kind::Null = op.kind {
            let absent = match &actual {
                None => true,
                Some(ContextValue::Many(values)) => values.is_empty(),
                Some(ContextValue::One(_)) => false,
            };
            return self
                .operands
                .iter()
                .any(|o| matches!(o, Operand::Null(want) if *want == absent));
        }
        let values = resolve_table(ctx, &self.variables);
        if let Some(index) = values.iter().position(Option::is_none) {
            note_missing(missing, &self.variables[index].key);
            return false;
        }
        match actual {
            None => {
                if op.if_exists || op.set == Some(SetQualifier::ForAllValues) {
                    return true;
                }
                note_missing(missing, &self.key);
                false
            }
            Some(ContextValue::One(value)) => self.holds_for(&value, &values),
            Some(ContextValue::Many(items)) => match op.set {
                Some(SetQualifier::ForAllValues) => {
                    items.iter().all(|v| self.holds_for(v, &values))
                }
                _ => items.iter().any(|v| self.holds_for(v, &values)),
            },
        }
    }

    /// One context value against all operands: any operand matches (none, when negated). A
    /// context value that is not of the operator's type (a number, a date, an IP) never
    /// satisfies the condition, negated or not.
    fn holds_for(&self, actual: &str, values: &Values) -> bool {
        let any = match self.operator.kind {
            Kind::Numeric(cmp) => {
                let Some(actual) = parse_number(actual) else {
                    return false;
                };
                self.operands.iter().any(|o| match o {
                    Operand::Number(n) => n
                        .get(values, parse_number)
                        .is_some_and(|n| cmp.holds(actual, n)),
                    _ => false,
                })
            }
            Kind::Date(cmp) => {
                let Some(actual) = parse_date(actual) else {
                    return false;
                };
                self.operands.iter().any(|o| match o {
                    Operand::Date(d) => d
                        .get(values, parse_date)
                        .is_some_and(|d| cmp.holds(actual, d)),
                    _ => false,
                })
            }
            Kind::Ip => {
                let Some(actual) = parse_ip(actual) else {
                    return false;
                };
                self.operands.iter().any(|o| match o {
                    Operand::Ip(c) => c
                        .get(values, Cidr::parse)
                        .is_some_and(|c| c.contains(actual)),
                    _ => false,
                })
            }
            kind => self
                .operands
                .iter()
                .any(|o| text_matches(kind, o, actual, values)),
        };
        any != self.operator.negated
    }
}

fn text_matches(kind: Kind, operand: &Operand, actual: &str, values: &Values) -> bool {
    match operand {
        Operand::Text(p) => {
            let expanded;
            let expected = match p.as_literal() {
                Some(literal) => literal,
                None => match p.expand(values) {
                    Some(text) => {
                        expanded = text;
                        &expanded
                    }
                    None => return false,
                },
            };
            match kind {
                Kind::StringEqualsIgnoreCase => {
                    actual == expected || actual.to_lowercase() == expected.to_lowercase()
                }
                Kind::Bool => actual.eq_ignore_ascii_case(expected),
                _ => actual == expected,
            }
        }
        Operand::Like(p) => p.matches(actual, values, false),
        Operand::Arn(parts) => match &**parts {
            [whole] => whole.matches(actual, values, false),
            parts if parts.len() == 6 => {
                let mut components = actual.splitn(6, ':');
                parts.iter().all(|p| {
                    components
                        .next()
                        .is_some_and(|c| p.matches(c, values, false))
                })
            }
            _ => false,
        },
        _ => false,
    }
}

fn note_missing(missing: &mut Option<&mut Vec<String>>, key: &str) {
    if let Some(list) = missing
        && !list.iter().any(|k| k == key)
    {
        list.push(key.to_owned());
    }
}

/// Compiles one condition value for `kind`; `None` if it is not a valid value of that type.
fn compile_operand(
    kind: Kind,
    text: &str,
    variables: bool,
    table: &mut Vec<Variable>,
) -> Option<Operand> {
    let exact = Syntax {
        wildcards: false,
        variables,
    };
    let glob = Syntax {
        wildcards: true,
        variables,
    };
    let before = table.len();
    let template = |table: &mut Vec<Variable>| Pattern::compile(text, exact, table);
    Some(match kind {
        Kind::StringEquals | Kind::StringEqualsIgnoreCase | Kind::Binary => {
            Operand::Text(template(table))
        }
        Kind::Bool => {
            let p = template(table);
            if let Some(literal) = p.as_literal()
                && !literal.eq_ignore_ascii_case("true")
                && !literal.eq_ignore_ascii_case("false")
            {
                return None;
            }
            Operand::Text(p)
        }
        Kind::StringLike => Operand::Like(Pattern::compile(text, glob, table)),
        Kind::Arn => {
            // A value without `:` (typically `*`) is one glob over the whole ARN; one with
            // colons but not six components can never equal an ARN.
            let components = match split_arn(text) {
                parts if parts.len() == 6 => parts,
                _ if !text.contains(':') => vec![text],
                _ => Vec::new(),
            };
            Operand::Arn(
                components
                    .into_iter()
                    .map(|c| Pattern::compile(c, glob, table))
                    .collect(),
            )
        }
        Kind::Numeric(_) => {
            Operand::Number(typed(template(table), table.len() > before, parse_number)?)
        }
        Kind::Date(_) => Operand::Date(typed(template(table), table.len() > before, parse_date)?),
        Kind::Ip => Operand::Ip(typed(template(table), table.len() > before, Cidr::parse)?),
        Kind::Null => {
            let text = text.to_ascii_lowercase();
            Operand::Null(match text.as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            })
        }
    })
}

/// A value with variables is checked when evaluated; one without must parse now.
fn typed<T>(
    pattern: Pattern,
    has_variables: bool,
    parse: fn(&str) -> Option<T>,
) -> Option<Typed<T>> {
    if has_variables {
        return Some(Typed::Template(pattern));
    }
    Some(Typed::Fixed(parse(pattern.as_literal()?)?))
}

/// Splits an ARN into its six components at the first five `:` outside `${...}`.
fn split_arn(text: &str) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let (mut start, mut depth) = (0, 0usize);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 && parts.len() < 5 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn condition(json: &str) -> Result<Vec<Condition>, PolicyError> {
        parse_block(&serde_json::from_str(json).unwrap(), true)
    }

    fn ctx(pairs: &[(&str, ContextValue)]) -> HashMap<String, ContextValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn one(v: &str) -> ContextValue {
        ContextValue::One(v.into())
    }

    fn many(vs: &[&str]) -> ContextValue {
        ContextValue::Many(vs.iter().map(|v| v.to_string()).collect())
    }

    /// Evaluates a single-key condition block; returns (holds, missing keys).
    fn eval(json: &str, context: &HashMap<String, ContextValue>) -> (bool, Vec<String>) {
        let conditions = condition(json).unwrap();
        let mut missing = Vec::new();
        let holds = conditions
            .iter()
            .all(|c| c.holds(context, &mut Some(&mut missing)));
        (holds, missing)
    }

    fn holds(json: &str, context: &HashMap<String, ContextValue>) -> bool {
        eval(json, context).0
    }

    #[test]
    fn string_operators() {
        let c = ctx(&[("iot:ClientId", one("Sensor-1"))]);
        assert!(holds(
            r#"{"StringEquals": {"iot:ClientId": ["x", "Sensor-1"]}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"StringEquals": {"iot:ClientId": "sensor-1"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"StringEqualsIgnoreCase": {"iot:ClientId": "sensor-1"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"StringNotEquals": {"iot:ClientId": ["a", "b"]}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"StringNotEquals": {"iot:ClientId": ["a", "Sensor-1"]}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"StringNotEqualsIgnoreCase": {"iot:ClientId": "SENSOR-1"}}"#,
            &c
        ));
        assert!(holds(r#"{"StringLike": {"iot:ClientId": "Sensor-?"}}"#, &c));
        assert!(holds(r#"{"StringLike": {"iot:ClientId": "S*"}}"#, &c));
        assert!(holds(r#"{"StringNotLike": {"iot:ClientId": "x*"}}"#, &c));
        // StringEquals has no wildcards.
        assert!(!holds(r#"{"StringEquals": {"iot:ClientId": "S*"}}"#, &c));
    }

    #[test]
    fn numeric_date_bool_and_ip_operators() {
        let c = ctx(&[
            ("n", one("10")),
            ("aws:CurrentTime", one("2024-06-01T12:00:00Z")),
            ("aws:EpochTime", one("1717243200")),
            ("aws:SecureTransport", one("true")),
            ("aws:SourceIp", one("203.0.113.9")),
        ]);
        assert!(holds(r#"{"NumericEquals": {"n": 10}}"#, &c));
        assert!(holds(r#"{"NumericEquals": {"n": "10.0"}}"#, &c));
        assert!(holds(r#"{"NumericNotEquals": {"n": [1, 2]}}"#, &c));
        assert!(holds(r#"{"NumericLessThan": {"n": 11}}"#, &c));
        assert!(!holds(r#"{"NumericLessThan": {"n": 10}}"#, &c));
        assert!(holds(r#"{"NumericLessThanEquals": {"n": 10}}"#, &c));
        assert!(holds(r#"{"NumericGreaterThan": {"n": 9.5}}"#, &c));
        assert!(holds(r#"{"NumericGreaterThanEquals": {"n": 10}}"#, &c));
        assert!(holds(
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"DateLessThan": {"aws:CurrentTime": "2025-01-01"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"DateEquals": {"aws:EpochTime": "2024-06-01T12:00:00Z"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"DateLessThanEquals": {"aws:EpochTime": 1717243200}}"#,
            &c
        ));
        assert!(holds(
            r#"{"DateGreaterThanEquals": {"aws:EpochTime": "1717243200"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"DateNotEquals": {"aws:CurrentTime": "2024-06-01T12:00:01Z"}}"#,
            &c
        ));
        assert!(holds(r#"{"Bool": {"aws:SecureTransport": true}}"#, &c));
        assert!(holds(r#"{"Bool": {"aws:SecureTransport": "TRUE"}}"#, &c));
        assert!(!holds(r#"{"Bool": {"aws:SecureTransport": "false"}}"#, &c));
        assert!(holds(
            r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.0/24"]}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            &c
        ));
    }

    #[test]
    fn context_values_of_the_wrong_type_never_satisfy() {
        let c = ctx(&[("n", one("ten")), ("ip", one("nowhere"))]);
        assert!(!holds(r#"{"NumericEquals": {"n": 10}}"#, &c));
        assert!(!holds(r#"{"NumericNotEquals": {"n": 10}}"#, &c));
        assert!(!holds(r#"{"NotIpAddress": {"ip": "10.0.0.0/8"}}"#, &c));
    }

    #[test]
    fn arn_operators_match_component_wise() {
        let c = ctx(&[(
            "iot:LastWillTopic",
            one("arn:aws:iot:us-east-1:123456789012:topic/will/dev1"),
        )]);
        assert!(holds(
            r#"{"ArnEquals": {"iot:LastWillTopic": "arn:aws:iot:us-east-1:123456789012:topic/will/dev1"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"ArnLike": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/will/*"}}"#,
            &c
        ));
        // `*` stays inside its component: it cannot swallow the region and account.
        assert!(!holds(
            r#"{"ArnLike": {"iot:LastWillTopic": "arn:aws:iot:*:topic/will/*"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"ArnNotLike": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/other/*"}}"#,
            &c
        ));
        assert!(!holds(
            r#"{"ArnNotEquals": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/will/*"}}"#,
            &c
        ));
        assert!(holds(r#"{"ArnLike": {"iot:LastWillTopic": "*"}}"#, &c));
    }

    #[test]
    fn missing_keys_if_exists_and_null() {
        let c = ctx(&[("present", one("v"))]);
        assert_eq!(
            eval(r#"{"StringEquals": {"absent": "v"}}"#, &c),
            (false, vec!["absent".into()])
        );
        assert_eq!(
            eval(r#"{"StringNotEquals": {"absent": "v"}}"#, &c),
            (false, vec!["absent".into()])
        );
        assert_eq!(
            eval(r#"{"StringEqualsIfExists": {"absent": "v"}}"#, &c),
            (true, vec![])
        );
        assert!(!holds(r#"{"StringEqualsIfExists": {"present": "w"}}"#, &c));
        assert_eq!(eval(r#"{"Null": {"absent": "true"}}"#, &c), (true, vec![]));
        assert!(!holds(r#"{"Null": {"present": "true"}}"#, &c));
        assert!(holds(r#"{"Null": {"present": "false"}}"#, &c));
        assert!(!holds(r#"{"Null": {"absent": false}}"#, &c));
    }

    #[test]
    fn set_qualifiers_on_multi_valued_keys() {
        let both = ctx(&[(
            "iot:ConnectAttributes",
            many(&["PersistentConnect", "LastWill"]),
        )]);
        let will = ctx(&[("iot:ConnectAttributes", many(&["LastWill"]))]);
        let empty = ctx(&[("iot:ConnectAttributes", many(&[]))]);
        let none = ctx(&[]);
        let all =
            r#"{"ForAllValues:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}}"#;
        assert!(!holds(all, &both));
        assert!(!holds(all, &will));
        assert!(holds(all, &empty));
        assert!(holds(all, &none));
        let any = r#"{"ForAnyValue:StringEquals": {"iot:ConnectAttributes": ["LastWill"]}}"#;
        assert!(holds(any, &both));
        assert!(holds(any, &will));
        assert!(!holds(any, &empty));
        assert_eq!(
            eval(any, &none),
            (false, vec!["iot:ConnectAttributes".into()])
        );
        // Unqualified on a multi-valued key: any value may match.
        let plain = r#"{"StringEquals": {"iot:ConnectAttributes": "LastWill"}}"#;
        assert!(holds(plain, &both));
        let not_any = r#"{"ForAnyValue:StringNotEquals": {"iot:ConnectAttributes": "LastWill"}}"#;
        assert!(holds(not_any, &both));
        assert!(!holds(not_any, &will));
    }

    #[test]
    fn keys_and_operators_are_anded_values_ored() {
        let c = ctx(&[("a", one("1")), ("b", one("2"))]);
        assert!(holds(
            r#"{"StringEquals": {"a": "1", "b": ["9", "2"]}}"#,
            &c
        ));
        assert!(!holds(r#"{"StringEquals": {"a": "1", "b": "9"}}"#, &c));
        assert!(!holds(
            r#"{"StringEquals": {"a": "1"}, "NumericLessThan": {"b": 2}}"#,
            &c
        ));
    }

    #[test]
    fn variables_in_values_are_substituted_literally() {
        let c = ctx(&[
            ("iot:ClientId", one("thing-1")),
            ("iot:Connection.Thing.ThingName", one("thing-1")),
            ("star", one("*")),
            ("limit", one("5")),
            ("n", one("4")),
        ]);
        assert!(holds(
            r#"{"StringEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}}"#,
            &c
        ));
        assert!(holds(
            r#"{"StringLike": {"iot:ClientId": "${iot:Connection.Thing.ThingName}*"}}"#,
            &c
        ));
        assert!(!holds(r#"{"StringLike": {"iot:ClientId": "${star}"}}"#, &c));
        assert!(holds(r#"{"NumericLessThan": {"n": "${limit}"}}"#, &c));
        let (ok, missing) = eval(r#"{"StringNotEquals": {"iot:ClientId": "${nope}"}}"#, &c);
        assert_eq!((ok, missing), (false, vec!["nope".to_owned()]));
    }

    #[test]
    fn invalid_conditions_are_rejected_with_aws_messages() {
        let err = |json: &str| condition(json).unwrap_err().message;
        assert_eq!(
            err(r#"{"StringEqual": {"a": "b"}}"#),
            "Policy document is Malformed: Invalid Condition type : StringEqual"
        );
        assert_eq!(
            err(r#"{"NullIfExists": {"a": "true"}}"#),
            "Policy document is Malformed: Invalid Condition type : NullIfExists"
        );
        assert!(
            err(r#"{"NumericEquals": {"a": "ten"}}"#)
                .contains("Invalid value for condition NumericEquals")
        );
        assert!(err(r#"{"IpAddress": {"a": "10.0.0.0/40"}}"#).contains("Invalid value"));
        assert!(err(r#"{"DateEquals": {"a": "soon"}}"#).contains("Invalid value"));
        assert!(err(r#"{"Bool": {"a": "yes"}}"#).contains("Invalid value"));
        assert!(err(r#"{"Null": {"a": "maybe"}}"#).contains("Invalid value"));
        assert!(err(r#"{"StringEquals": {"a": []}}"#).contains("at least one value"));
        assert!(err(r#"{"StringEquals": {"a": {"x": 1}}}"#).contains("must be a string"));
        assert!(err(r#"{"StringEquals": {}}"#).contains("at least one condition key"));
        assert!(err(r#"["StringEquals"]"#).contains("Condition must be an object"));
    }

    #[test]
    fn time_dependence() {
        let c = condition(r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#).unwrap();
        assert!(c[0].is_time_dependent());
        let c = condition(r#"{"StringEquals": {"iot:ClientId": "${aws:epochtime}"}}"#).unwrap();
        assert!(c[0].is_time_dependent());
        let c = condition(r#"{"StringEquals": {"iot:ClientId": "x"}}"#).unwrap();
        assert!(!c[0].is_time_dependent());
    }
}
