//! Golden tables: `tests/golden/*.json` list calls (a function name or an operator) with their
//! arguments, the SQL version and message context, and the value, failure or resolution error
//! AWS documents or we pinned.
//!
//! Values are JSON, read without version typing so `2` is an Int and `2.0` a Decimal, plus
//! `{"$undefined": true}`, `{"$bytes": "<base64>"}` and `{"$decimal": "<digits>"}` (more
//! digits than a double holds) for what JSON cannot spell. Decimals compare by value. A case may
//! give `shape` instead of `expect` for results that change every call (`rand`, `newuuid`).
//!
//! Every case runs twice: calling the function (or operator) directly, and through the whole
//! engine as `SELECT VALUE f(a0, a1, ...)` with the arguments as payload fields, so the binder
//! and evaluator cannot drift from the library. The second run is skipped where a payload
//! cannot carry the arguments as they are (raw bytes; whole decimals, which 2016-03-23 reads as
//! Ints).
//!
//! Coverage is checked, not hoped for: every registered function and every operator of the AST
//! must have the cases [`required_function_cases`] and [`operators_golden`] list, so a
//! new function or operator without goldens fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use bytes::Bytes;
use ferrite_rules::functions::{self, FunctionDef, ResolveError};
use ferrite_rules::{
    CastType, Evaluation, FnError, MessageContext, SqlVersion, Value, compile, json, ops,
};
use ferrite_rules_sql::{BinaryOp, UnaryOp};
use serde_json::Value as Json;

fn value(json: &Json) -> Value {
    match json {
        Json::Object(m) if m.contains_key("$undefined") => Value::Undefined,
        // A Decimal with more digits than a double holds.
        Json::Object(m) if m.contains_key("$decimal") => {
            let text = m["$decimal"].as_str().expect("$decimal is number text");
            Value::Decimal(ferrite_rules::Decimal::parse(text).expect("a decimal"))
        }
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

/// The golden name of every operator the parser produces. Exhaustive matches: a new operator
/// in the AST does not compile until it is named here, and then fails
/// [`operators_golden`] until operators.json has its cases.
fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Or => "OR",
        BinaryOp::And => "AND",
        BinaryOp::Eq => "=",
        BinaryOp::NotEq => "<>",
        BinaryOp::Lt => "<",
        BinaryOp::LtEq => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::GtEq => ">=",
        BinaryOp::In => "IN",
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Mod => "%",
    }
}

fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "NEG",
        UnaryOp::Not => "NOT",
    }
}

const BINARY_OPS: [BinaryOp; 14] = [
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::NotEq,
    BinaryOp::Lt,
    BinaryOp::LtEq,
    BinaryOp::Gt,
    BinaryOp::GtEq,
    BinaryOp::In,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
];

const UNARY_OPS: [UnaryOp; 2] = [UnaryOp::Neg, UnaryOp::Not];

/// The coverage key of an operator case: `-` with one argument is negation (`NEG`).
fn operator_key(op: &str, argc: usize) -> String {
    if op == "-" && argc == 1 {
        "NEG".to_owned()
    } else {
        op.to_owned()
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
            let (e, a) = (e.to_f64(), a.to_f64());
            (e - a).abs() <= 1e-12 * e.abs().max(1.0)
        }
        _ => expected == actual,
    }
}

/// Checks a result that cannot be a constant.
fn has_shape(shape: &str, v: &Value) -> bool {
    match (shape, v) {
        ("unit_interval", Value::Decimal(d)) => (0.0..1.0).contains(&d.to_f64()),
        ("uuid", Value::String(s)) => {
            let groups: Vec<_> = s.split('-').map(str::len).collect();
            groups == [8, 4, 4, 4, 12]
                && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
                && s.as_bytes()[14] == b'4'
        }
        _ => false,
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

/// What the cases of one function or operator showed.
#[derive(Debug, Default)]
struct Seen {
    /// A call that produced a value other than Undefined (or a `shape`).
    value: bool,
    /// A call whose result was Undefined.
    undefined: bool,
    /// A call with an Undefined argument.
    undefined_arg: bool,
    /// A call with a Null argument.
    null_arg: bool,
    /// A call with an Undefined argument whose result was Undefined.
    undefined_in_out: bool,
    /// A call under 2015-10-08 that resolved.
    v2015_call: bool,
    /// Refused under 2015-10-08 for needing a later version.
    version_refused: bool,
    /// Refused for its number of arguments.
    arity: bool,
    /// A call that reached the (absent) service.
    unavailable: bool,
}

fn contains_type(v: &Value, test: &dyn Fn(&Value) -> bool) -> bool {
    test(v)
        || match v {
            Value::Array(items) => items.iter().any(|i| contains_type(i, test)),
            Value::Object(members) => members.values().any(|m| contains_type(m, test)),
            _ => false,
        }
}

/// The call as a whole statement, `SELECT VALUE <call> FROM 'x'` over a payload holding the
/// arguments as `a0`, `a1`, ...; `None` where a payload cannot carry the arguments unchanged.
fn through_engine(
    name: &str,
    args: &[Value],
    version: SqlVersion,
    ctx: &MessageContext,
    is_operator: bool,
) -> Option<Result<Result<Value, FnError>, String>> {
    let whole_decimal = |v: &Value| matches!(v, Value::Decimal(d) if d.is_integer());
    if args
        .iter()
        .any(|a| contains_type(a, &|v| matches!(v, Value::Bytes(_))))
        || (version.at_least_2016() && args.iter().any(|a| contains_type(a, &whole_decimal)))
    {
        return None;
    }
    let fields: Vec<String> = (0..args.len()).map(|i| format!("a{i}")).collect();
    let expr = if is_operator {
        match (name, args.len()) {
            ("CONTAINS", _) => return None,
            ("NOT", 1) => "NOT a0".to_owned(),
            ("-", 1) => "-a0".to_owned(),
            (op, 2) => format!("a0 {op} a1"),
            _ => return None,
        }
    } else if name.eq_ignore_ascii_case("cast") {
        let ty = args.get(1)?.as_str()?;
        CastType::parse(ty, version)?;
        format!("cast(a0 AS {ty})")
    } else {
        format!("{name}({})", fields.join(", "))
    };
    let sql = format!("SELECT VALUE {expr} FROM 'x'");
    let compiled = match compile(&sql, version) {
        Ok(c) => c,
        Err(e) => return Some(Err(format!("{sql}: {e}"))),
    };
    let payload = json::to_payload(&Value::object(
        fields.iter().map(String::as_str).zip(args.iter().cloned()),
    ));
    Some(Ok(compiled.evaluate(&payload, ctx).map(|e| match e {
        Evaluation::Selected(s) => s.output,
        Evaluation::Filtered => unreachable!("no WHERE"),
    })))
}

/// Runs every case of one golden file; returns what each function or operator was shown
/// doing (lowercase function names; operators as written, negation as `NEG`).
fn run_file(path: &Path) -> BTreeMap<String, Seen> {
    let text = std::fs::read_to_string(path).expect("golden file");
    let doc: Json = serde_json::from_str(&text).expect("golden file is JSON");
    let defaults = doc.get("context").cloned().unwrap_or(Json::Null);
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
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
        let is_operator = operator(name, &args, version).is_some();
        let key = if is_operator {
            operator_key(name, args.len())
        } else {
            name.to_ascii_lowercase()
        };
        let s = seen.entry(key).or_default();
        s.undefined_arg |= args.iter().any(Value::is_undefined);
        s.null_arg |= args.iter().any(Value::is_null);

        // The direct call: the operator, or the function as the registry resolves it.
        let direct: Result<Value, FnError> = if let Some(out) = operator(name, &args, version) {
            Ok(out)
        } else {
            let resolved = functions::resolve(name, args.len(), version);
            if let Some(kind) = case.get("resolve").and_then(Json::as_str) {
                match resolved {
                    Err(e) if resolve_error_kind(&e) == kind => {
                        s.version_refused |= kind == "version";
                        s.arity |= kind == "arity";
                    }
                    other => failures.push(format!(
                        "{label}: expected resolve error {kind}, got {other:?}"
                    )),
                }
                continue;
            }
            match resolved {
                Ok(f) => f.call(&args, &ctx),
                Err(e) => {
                    failures.push(format!("{label}: does not resolve: {e}"));
                    continue;
                }
            }
        };
        s.v2015_call |= version == SqlVersion::V2015_10_08;

        let check = |how: &str, got: &Result<Value, FnError>, failures: &mut Vec<String>| {
            let ok = match (got, case.get("error").and_then(Json::as_str)) {
                (Err(e), Some(kind)) => error_kind(e) == kind,
                (Ok(out), None) => match case.get("shape").and_then(Json::as_str) {
                    Some(shape) => has_shape(shape, out),
                    None => same(&value(&case["expect"]), out, approx),
                },
                _ => false,
            };
            if !ok {
                let want = case
                    .get("error")
                    .or_else(|| case.get("shape"))
                    .map_or_else(|| format!("{:?}", value(&case["expect"])), Json::to_string);
                failures.push(format!("{label} {how}: expected {want}, got {got:?}"));
            }
        };
        check("called", &direct, &mut failures);
        s.undefined_in_out |=
            args.iter().any(Value::is_undefined) && matches!(direct, Ok(Value::Undefined));
        match &direct {
            Ok(Value::Undefined) => s.undefined = true,
            Ok(_) => s.value = true,
            Err(FnError::Unavailable(_)) => s.unavailable = true,
            Err(_) => {}
        }
        match through_engine(name, &args, version, &ctx, is_operator) {
            None => {}
            Some(Err(compile_error)) => {
                failures.push(format!("{label} in SQL: does not compile: {compile_error}"))
            }
            Some(Ok(got)) => check("in SQL", &got, &mut failures),
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

/// Functions whose result is never Undefined, whatever the arguments (AWS's tables give a
/// Boolean for every type).
const TOTAL_FUNCTIONS: [&str; 2] = ["isnull", "isundefined"];

/// Functions whose result changes every call: their cases give a `shape`.
const UNPREDICTABLE: [&str; 2] = ["rand", "newuuid"];

/// What every function must have cases for; the unmet requirements, named.
fn required_function_cases(f: &FunctionDef, s: &Seen) -> Vec<&'static str> {
    let name = f.name.to_ascii_lowercase();
    let mut missing = Vec::new();
    let mut need = |ok: bool, what: &'static str| {
        if !ok {
            missing.push(what);
        }
    };
    if !f.supported {
        // machinelearning_predict: refused by name; its only case says so.
        return missing;
    }
    if f.external {
        // The plain context has no services: argument validation (Undefined without a call)
        // and the attempted call (Unavailable) are what a golden can show. Results with a
        // service behind them are tested in tests/lookups.rs.
        need(s.undefined, "wrong argument types (Undefined, no call)");
        need(s.unavailable, "a valid call reaching the service");
    } else {
        need(s.value, "a call producing a value (or a shape)");
    }
    let takes_args = f.max_args.is_none_or(|m| m > 0);
    if takes_args && !f.external {
        need(s.undefined_arg, "an Undefined argument");
        need(s.null_arg, "a Null argument");
        if !TOTAL_FUNCTIONS.contains(&name.as_str()) {
            need(s.undefined, "invalid arguments giving Undefined");
        }
    }
    if f.max_args.is_some() {
        need(s.arity, "a wrong number of arguments");
    }
    if f.since == SqlVersion::V2015_10_08 {
        need(s.v2015_call, "a call under 2015-10-08");
    } else {
        need(s.version_refused, "refusal under 2015-10-08");
    }
    missing
}

#[test]
fn functions_golden() {
    let seen = run_file(&golden_dir().join("functions.json"));
    let empty = Seen::default();
    let mut missing = Vec::new();
    for f in functions::all() {
        let s = seen.get(&f.name.to_ascii_lowercase()).unwrap_or(&empty);
        let unmet = required_function_cases(f, s);
        if !unmet.is_empty() {
            missing.push(format!("{}: {}", f.name, unmet.join(", ")));
        }
    }
    assert!(
        missing.is_empty(),
        "functions without the golden cases they need:\n{}",
        missing.join("\n")
    );
    let registered: BTreeSet<String> = functions::all()
        .iter()
        .map(|f| f.name.to_ascii_lowercase())
        .collect();
    for name in UNPREDICTABLE.iter().chain(TOTAL_FUNCTIONS.iter()) {
        assert!(registered.contains(*name), "{name} is no longer registered");
    }
}

#[test]
fn operators_golden() {
    let seen = run_file(&golden_dir().join("operators.json"));
    let empty = Seen::default();
    let names = BINARY_OPS
        .iter()
        .map(|op| binary_name(*op))
        .chain(UNARY_OPS.iter().map(|op| unary_name(*op)));
    let mut missing = Vec::new();
    for name in names {
        let s = seen.get(name).unwrap_or(&empty);
        let mut unmet = Vec::new();
        if !s.value {
            unmet.push("a defined result");
        }
        if !s.undefined_in_out {
            unmet.push("an Undefined operand giving Undefined");
        }
        if !s.null_arg {
            unmet.push("a Null operand");
        }
        if !s.v2015_call {
            unmet.push("a case under 2015-10-08");
        }
        if !unmet.is_empty() {
            missing.push(format!("{name}: {}", unmet.join(", ")));
        }
    }
    assert!(
        missing.is_empty(),
        "operators without the golden cases they need:\n{}",
        missing.join("\n")
    );
}
