//! Whole statements, from SQL text to the payload actions receive: `golden/statements.json`.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_rules::functions::MessageContext;
use ferrite_rules::{Evaluation, SqlVersion, compile};
use serde_json::Value as Json;

fn payload(spec: &Json) -> Bytes {
    if let Some(text) = spec.get("$text").and_then(Json::as_str) {
        return Bytes::from(text.to_owned());
    }
    if let Some(b64) = spec.get("$bytes").and_then(Json::as_str) {
        return Bytes::from(STANDARD.decode(b64).expect("base64"));
    }
    Bytes::from(serde_json::to_vec(spec).expect("json"))
}

#[test]
fn golden_statements() {
    let file: Json =
        serde_json::from_str(include_str!("golden/statements.json")).expect("golden file parses");
    let cases = file["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let sql = case["sql"].as_str().expect("sql");
        let version = case
            .get("version")
            .and_then(Json::as_str)
            .map_or(SqlVersion::V2016_03_23, |v| {
                SqlVersion::parse(v).expect("version")
            });
        let compiled = compile(sql, version);
        if let Some(want) = case.get("error").and_then(Json::as_str) {
            match compiled {
                Err(e) if e.to_string().contains(want) => {}
                Err(e) => failures.push(format!("{sql}: error {e:?}, want '{want}'")),
                Ok(_) => failures.push(format!("{sql}: compiled, want error '{want}'")),
            }
            continue;
        }
        let compiled = match compiled {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{sql}: {e}"));
                continue;
            }
        };
        let ctx = MessageContext {
            sql_version: version,
            topic: case
                .get("topic")
                .and_then(Json::as_str)
                .unwrap_or("sensors/dev1/data")
                .to_owned(),
            client_id: Some("client-1".into()),
            account_id: "123456789012".into(),
            timestamp_ms: 1_481_825_251_155,
            ..MessageContext::default()
        };
        let raw = payload(&case["payload"]);
        // The engine parses only the fields a rule reads: that must change nothing.
        let pruned = ferrite_rules::json::from_payload_fields(&raw, version, &compiled.fields());
        let full = compiled.evaluate(&raw, &ctx).map(|e| match e {
            Evaluation::Selected(s) => Some(s.payload()),
            Evaluation::Filtered => None,
        });
        let lean = compiled
            .evaluate_parsed(pruned, &raw, &ctx)
            .map(|e| match e {
                Evaluation::Selected(s) => Some(s.payload()),
                Evaluation::Filtered => None,
            });
        if full.as_ref().ok() != lean.as_ref().ok() {
            failures.push(format!("{sql}: pruned parse differs: {full:?} vs {lean:?}"));
        }
        // Number text a JSON reader into doubles would blur (`0.3` against `0.30000000000000004`
        // reads fine; 34 digits and `21.50` do not): the payload's exact bytes.
        if let Some(want) = case.get("expect_text").and_then(Json::as_str) {
            match compiled.evaluate(&raw, &ctx) {
                Ok(Evaluation::Selected(s)) if s.payload() == want.as_bytes() => {}
                other => failures.push(format!(
                    "{sql}\n    got  {:?}\n    want {want}",
                    other.map(|e| match e {
                        Evaluation::Selected(s) =>
                            String::from_utf8_lossy(&s.payload()).into_owned(),
                        Evaluation::Filtered => "$filtered".to_owned(),
                    })
                )),
            }
            continue;
        }
        let got = match compiled.evaluate(&raw, &ctx) {
            Ok(Evaluation::Filtered) => serde_json::json!({"$filtered": true}),
            Ok(Evaluation::Selected(s)) => {
                let out = s.payload();
                if out.is_empty() {
                    serde_json::json!({"$empty": true})
                } else {
                    match serde_json::from_slice::<Json>(&out) {
                        Ok(j) => j,
                        Err(_) => serde_json::json!({"$bytes": STANDARD.encode(&out)}),
                    }
                }
            }
            Err(e) => serde_json::json!({"$failed": e.to_string()}),
        };
        let want = &case["expect"];
        // serde_json keeps 2 and 2.0 apart, as an Int and a Decimal are.
        if got != *want {
            failures.push(format!("{sql}\n    got  {got}\n    want {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The constructs of one statement, by name, for [`every_construct_has_a_statement`].
fn constructs(statement: &ferrite_rules_sql::Statement, out: &mut BTreeSet<&'static str>) {
    use ferrite_rules_sql::{ExprKind, Select};
    fn expr(e: &ferrite_rules_sql::Expr, out: &mut BTreeSet<&'static str>) {
        // Exhaustive: a new kind of expression does not compile until it is named here, and
        // then fails the test until statements.json uses it.
        let kind = match &e.kind {
            ExprKind::Literal(_) => "literal",
            ExprKind::Field(_) => "field",
            ExprKind::Var(_) => "variable",
            ExprKind::Path { segments, .. } => {
                for s in segments {
                    out.insert(match s {
                        ferrite_rules_sql::Segment::Field(_) => "path .name",
                        ferrite_rules_sql::Segment::Index(_) => "path [index]",
                    });
                }
                "path"
            }
            ExprKind::Call { .. } => "call",
            ExprKind::Cast { .. } => "cast",
            ExprKind::Unary { .. } => "unary",
            ExprKind::Binary { .. } => "binary",
            ExprKind::Case { operand, else_, .. } => {
                out.insert(if operand.is_some() {
                    "CASE v WHEN"
                } else {
                    "CASE WHEN"
                });
                if else_.is_some() {
                    out.insert("CASE ... ELSE");
                }
                "case"
            }
            ExprKind::Object(_) => "object literal",
            ExprKind::Array(_) => "array literal",
            ExprKind::Subquery(q) => {
                select(&q.select, out);
                if q.where_.is_some() {
                    out.insert("nested WHERE");
                }
                "nested SELECT"
            }
            ExprKind::Star => "* argument",
        };
        out.insert(kind);
        e.for_each_child(|c| expr(c, out));
    }
    fn select(s: &Select, out: &mut BTreeSet<&'static str>) {
        match s {
            Select::Value(_) => {
                out.insert("SELECT VALUE");
            }
            Select::Items(items) => {
                for item in items {
                    if matches!(item.expr.kind, ExprKind::Star) {
                        out.insert(if item.alias.is_some() {
                            "* AS"
                        } else {
                            "SELECT *"
                        });
                    } else {
                        expr(&item.expr, out);
                    }
                    if item.alias.as_ref().is_some_and(|a| a.segments.len() > 1) {
                        out.insert("dotted alias");
                    }
                }
            }
        }
    }
    if !statement.sets.is_empty() {
        out.insert("SET");
    }
    for set in &statement.sets {
        expr(&set.value, out);
    }
    match &statement.select {
        Select::Value(e) => {
            out.insert("SELECT VALUE");
            if !matches!(e.kind, ExprKind::Star) {
                expr(e, out);
            }
        }
        items => select(items, out),
    }
    if let Some(w) = &statement.where_ {
        out.insert("WHERE");
        expr(w, out);
    }
}

#[test]
fn every_construct_has_a_statement() {
    let file: Json =
        serde_json::from_str(include_str!("golden/statements.json")).expect("golden file parses");
    let mut seen = BTreeSet::new();
    for case in file["cases"].as_array().expect("cases") {
        let version = case
            .get("version")
            .and_then(Json::as_str)
            .map_or(SqlVersion::V2016_03_23, |v| {
                SqlVersion::parse(v).expect("version")
            });
        seen.insert(version.as_str());
        let Ok(statement) = ferrite_rules_sql::parse(case["sql"].as_str().expect("sql"), version)
        else {
            seen.insert("refused statement");
            continue;
        };
        constructs(&statement, &mut seen);
        let payload = &case["payload"];
        if payload.get("$text").is_some() || payload.get("$bytes").is_some() {
            seen.insert("non-JSON payload");
        }
        for marker in ["$filtered", "$empty", "$bytes", "$failed"] {
            if case["expect"].get(marker).is_some() {
                seen.insert(marker);
            }
        }
    }
    let required = [
        "2015-10-08",
        "2016-03-23",
        "beta",
        "refused statement",
        "literal",
        "field",
        "variable",
        "path",
        "path .name",
        "path [index]",
        "call",
        "cast",
        "unary",
        "binary",
        "case",
        "CASE v WHEN",
        "CASE WHEN",
        "CASE ... ELSE",
        "object literal",
        "array literal",
        "nested SELECT",
        "nested WHERE",
        "* argument",
        "SELECT VALUE",
        "SELECT *",
        "* AS",
        "dotted alias",
        "SET",
        "WHERE",
        "non-JSON payload",
        "$filtered",
        "$empty",
        "$bytes",
        "$failed",
    ];
    let missing: Vec<_> = required.iter().filter(|r| !seen.contains(*r)).collect();
    assert!(
        missing.is_empty(),
        "statements.json has no case for: {missing:?}"
    );
}

#[test]
fn templates_see_the_incoming_message_and_variables() {
    let compiled = compile(
        "SET @room = upper(room) SELECT temp AS t FROM 'sensors/+/data'",
        SqlVersion::V2016_03_23,
    )
    .expect("compiles");
    let ctx = MessageContext {
        sql_version: SqlVersion::V2016_03_23,
        topic: "sensors/dev1/data".into(),
        account_id: "1".into(),
        ..MessageContext::default()
    };
    let raw = Bytes::from_static(br#"{"temp": 21, "room": "lab"}"#);
    let Evaluation::Selected(selected) = compiled.evaluate(&raw, &ctx).expect("evaluates") else {
        panic!("filtered");
    };
    let t = compiled
        .template("alerts/${topic(2)}/${@room}/$${temp}/${temp + 1}/${t}")
        .expect("template compiles");
    assert!(!t.is_constant());
    // `t` is a SELECT alias, not visible to templates: it renders as nothing.
    assert_eq!(
        t.render(&selected, &raw, &ctx).expect("renders"),
        "alerts/dev1/LAB/${temp}/22/"
    );
    assert!(compiled.template("x/${topic(}").is_err());
    assert!(compiled.template("x/${topic()").is_err());
    assert!(compiled.template("plain/$/text").expect("ok").is_constant());
    assert_eq!(
        t.fields(),
        ferrite_rules::json::Fields::Only(vec!["t".into(), "temp".into()])
    );
    assert_eq!(
        compiled.fields(),
        ferrite_rules::json::Fields::Only(vec!["room".into(), "temp".into()])
    );
    let star = compile("SELECT * FROM 'a'", SqlVersion::V2016_03_23).expect("compiles");
    assert_eq!(star.fields(), ferrite_rules::json::Fields::All);
    let nested = compile(
        "SELECT (SELECT v FROM e WHERE n = 1) AS x FROM 'a'",
        SqlVersion::V2016_03_23,
    )
    .expect("compiles");
    assert_eq!(
        nested.fields(),
        ferrite_rules::json::Fields::Only(vec!["e".into()])
    );
}
