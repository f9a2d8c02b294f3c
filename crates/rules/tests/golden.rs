//! Golden tables: `tests/golden/*.json` list calls (a function name or an operator) with their
//! arguments, the SQL version and message context, and the value, failure or resolution error
//! AWS documents or we pinned. Every registered function must appear in them.
//!
//! Values are JSON, read without version typing so `2` is an Int and `2.0` a Decimal, plus
//! `{"$undefined": true}` and `{"$bytes": "<base64>"}` for what JSON cannot spell.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine;
use bytes::Bytes;
use ferrite_rules::functions::{self, ResolveError};
use ferrite_rules::{FnError, MessageContext, SqlVersion, Value, ops};
use serde_json::Value as Json;

fn value(json: &Json) -> Value {
    match json {
        Json::Object(m) if m.contains_key("$undefined") => Value::Undefined,
        Json::Object(m) if m.contains_key("$bytes") => {
            let b64 = m["$bytes"].as_str().expect("$bytes is base64 text");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("valid base64");
            Value::bytes(Bytes::from(raw))
        }
        Json::Object(m) => Value::object(m.iter().map(|(k, v)| (k.as_str(), value(v)))),
        Json::Array(items) => Value::array(items.iter().map(value).collect()),
        other => ferrite_rules::json::from_serde(other, SqlVersion::V2015_10_08),
    }
}

fn context(defaults: &Json, overrides: Option<&Json>, version: SqlVersion) -> MessageContext {
    let mut merged = defaults.as_object().cloned().unwrap_or_default();
    if let Some(Json::Object(o)) = overrides {
        merged.extend(o.clone());
    }
    let s = |k: &str| merged.get(k).and_then(Json::as_str).map(str::to_owned);
    MessageContext {
        sql_version: version,
        topic: s("topic").unwrap_or_default(),
        client_id: s("client_id"),
        principal: s("principal"),
        source_ip: s("source_ip").map(|ip| ip.parse().expect("an IP address")),
        account_id: s("account_id").unwrap_or_default(),
        trace_id: s("trace_id"),
        timestamp_ms: merged
            .get("timestamp_ms")
            .and_then(Json::as_i64)
            .unwrap_or(0),
        payload_format_indicator: merged
            .get("payload_format_indicator")
            .and_then(Json::as_u64)
            .map(|f| f as u8),
        content_type: s("content_type"),
        response_topic: s("response_topic"),
        correlation_data: s("correlation_data").map(|b| {
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("base64 correlation data"),
            )
        }),
        user_properties: merged
            .get("user_properties")
            .and_then(Json::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap().to_owned(),
                            p[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn operator(op: &str, args: &[Value], v: SqlVersion) -> Option<Value> {
    let a = args.first();
    let b = args.get(1);
    let both = || (a.unwrap(), b.unwrap());
    Some(match op {
        "AND" => ops::and(both().0, both().1),
        "OR" => ops::or(both().0, both().1),
        "NOT" => ops::not(a.unwrap()),
        "=" => ops::eq(both().0, both().1),
        "<>" => ops::ne(both().0, both().1),
        "<" => ops::lt(both().0, both().1),
        "<=" => ops::le(both().0, both().1),
        ">" => ops::gt(both().0, both().1),
        ">=" => ops::ge(both().0, both().1),
        "+" => ops::add(both().0, both().1, v),
        "-" if args.len() == 1 => ops::neg(a.unwrap(), v),
        "-" => ops::sub(both().0, both().1, v),
        "*" => ops::mul(both().0, both().1, v),
        "/" => ops::div(both().0, both().1, v),
        "%" => ops::rem(both().0, both().1, v),
        "IN" => ops::in_array(both().0, both().1),
        "CONTAINS" => ops::contains(both().0, both().1),
        _ => return None,
    })
}

fn same(expected: &Value, actual: &Value, approx: bool) -> bool {
    match (expected, actual) {
        (Value::Decimal(e), Value::Decimal(a)) if approx => {
            (e - a).abs() <= 1e-12 * e.abs().max(1.0)
        }
        _ => expected == actual,
    }
}

fn resolve_error_kind(e: &ResolveError) -> &'static str {
    match e {
        ResolveError::Unknown(_) => "unknown",
        ResolveError::Arity { .. } => "arity",
        ResolveError::Version { .. } => "version",
        ResolveError::Unsupported(_) => "unsupported",
    }
}

fn error_kind(e: &FnError) -> &'static str {
    match e {
        FnError::Unsupported(_) => "unsupported",
        FnError::Unavailable(_) => "unavailable",
        FnError::Failed { .. } => "failed",
    }
}

/// Runs every case of one golden file; returns the function names it exercised.
fn run_file(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("golden file");
    let doc: Json = serde_json::from_str(&text).expect("golden file is JSON");
    let defaults = doc.get("context").cloned().unwrap_or(Json::Null);
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for (i, case) in doc["cases"].as_array().expect("cases").iter().enumerate() {
        let name = case["fn"].as_str().expect("fn");
        let version = case
            .get("version")
            .and_then(Json::as_str)
            .map_or(SqlVersion::V2016_03_23, |v| {
                SqlVersion::parse(v).expect("a SQL version")
            });
        let args: Vec<Value> = case["args"]
            .as_array()
            .map_or_else(Vec::new, |a| a.iter().map(value).collect());
        let ctx = context(&defaults, case.get("context"), version);
        let approx = case.get("approx").and_then(Json::as_bool).unwrap_or(false);
        let label = format!("{}#{i} {name}{:?} ({version})", path.display(), args);

        if let Some(out) = operator(name, &args, version) {
            let want = value(&case["expect"]);
            if !same(&want, &out, approx) {
                failures.push(format!("{label}: expected {want:?}, got {out:?}"));
            }
            continue;
        }
        seen.insert(name.to_ascii_lowercase());
        let resolved = functions::resolve(name, args.len(), version);
        if let Some(kind) = case.get("resolve").and_then(Json::as_str) {
            match resolved {
                Err(e) if resolve_error_kind(&e) == kind => {}
                other => failures.push(format!(
                    "{label}: expected resolve error {kind}, got {other:?}"
                )),
            }
            continue;
        }
        let f = match resolved {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{label}: does not resolve: {e}"));
                continue;
            }
        };
        match (
            f.call(&args, &ctx),
            case.get("error").and_then(Json::as_str),
        ) {
            (Err(e), Some(kind)) if error_kind(&e) == kind => {}
            (Ok(out), None) => {
                let want = value(&case["expect"]);
                if !same(&want, &out, approx) {
                    failures.push(format!("{label}: expected {want:?}, got {out:?}"));
                }
            }
            (other, kind) => {
                failures.push(format!("{label}: expected error {kind:?}, got {other:?}"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    seen
}

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn functions_golden() {
    let seen = run_file(&golden_dir().join("functions.json"));
    let missing: Vec<_> = functions::all()
        .iter()
        .map(|f| f.name.to_ascii_lowercase())
        .filter(|n| !seen.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a golden case: {missing:?}"
    );
}

#[test]
fn operators_golden() {
    run_file(&golden_dir().join("operators.json"));
}
