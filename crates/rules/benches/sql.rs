//! The rules engine's evaluation speed, one core: parse, compile, and evaluate per message
//! (payload parse, WHERE, SELECT, output serialisation), for the issue's goal rules:
//! `SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30` on a 100-byte JSON
//! payload (goal ≥ 1,000,000 evaluations/s) and a rule with six functions and a CASE (goal
//! ≥ 200,000/s). `cargo bench -p ferrite-rules --bench sql`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrite_rules::functions::MessageContext;
use ferrite_rules::json::from_payload_fields;
use ferrite_rules::{Evaluation, SqlVersion, compile};

const SIMPLE: &str = "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30";
const RICH: &str = "SELECT upper(room) AS room, round(temp * 1.8 + 32) AS f, \
    substring(serial, 0, 4) AS prefix, abs(delta) AS d, concat(site, '-', topic(2)) AS key, \
    timestamp() AS ts, CASE status WHEN 'ok' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END AS level \
    FROM 'sensors/+/data' WHERE temp > 30";
/// 100 bytes.
const PAYLOAD: &[u8] = br#"{"temp":31.5,"hum":48,"room":"lab-2","serial":"AB12CD34","site":"plant7","delta":-2,"status":"ok"}"#;

fn context() -> MessageContext {
    MessageContext {
        sql_version: SqlVersion::V2016_03_23,
        topic: "sensors/dev1/data".into(),
        client_id: Some("dev1".into()),
        account_id: "123456789012".into(),
        timestamp_ms: 1_700_000_000_000,
        ..MessageContext::default()
    }
}

fn benches(c: &mut Criterion) {
    let payload = Bytes::from_static(PAYLOAD);
    let ctx = context();
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_simple", |b| {
        b.iter(|| ferrite_rules_sql::parse(black_box(SIMPLE), SqlVersion::V2016_03_23))
    });
    g.bench_function("compile_simple", |b| {
        b.iter(|| compile(black_box(SIMPLE), SqlVersion::V2016_03_23))
    });
    for (name, sql) in [("simple", SIMPLE), ("six_functions_and_case", RICH)] {
        let rule = compile(sql, SqlVersion::V2016_03_23).expect("compiles");
        assert!(matches!(
            rule.evaluate(&payload, &ctx),
            Ok(Evaluation::Selected(_))
        ));
        // As the engine runs a rule: parse only the fields it reads, evaluate, serialise.
        let fields = rule.fields();
        g.bench_function(format!("evaluate_{name}"), |b| {
            b.iter(|| {
                let input =
                    from_payload_fields(black_box(&payload), SqlVersion::V2016_03_23, &fields);
                match rule.evaluate_parsed(input, &payload, &ctx) {
                    Ok(Evaluation::Selected(s)) => s.payload(),
                    _ => Bytes::new(),
                }
            })
        });
    }
    g.finish();
}

criterion_group!(sql, benches);
criterion_main!(sql);
