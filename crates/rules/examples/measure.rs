//! Rough per-operation costs of the value model and function library, single-threaded:
//! `cargo run --release -p ferrite-rules --example measure`. Criterion benches of whole-rule
//! evaluation belong with the evaluator; this isolates the pieces it will be built from.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use ferrite_rules::json::{from_payload, to_payload};
use ferrite_rules::{MessageContext, SqlVersion, Value, ops, resolve};

fn measure(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{name:<48} {ns:>9.1} ns/op  {:>12.0} op/s", 1e9 / ns);
}

fn main() {
    let v = SqlVersion::V2016_03_23;
    let payload = Bytes::from_static(
        br#"{"temp":35.5,"humidity":61,"device":"sensor-0042","ok":true,"loc":{"lat":47.6,"lon":-122.3}}"#,
    );
    assert!(payload.len() <= 100);
    let ctx = MessageContext {
        sql_version: v,
        topic: "sensors/sensor-0042/data".into(),
        account_id: "123456789012".into(),
        timestamp_ms: 1_481_825_251_155,
        ..MessageContext::default()
    };
    let doc = from_payload(&payload, v);
    let thirty = Value::Int(30);

    measure("serde_json::Value parse, for reference", 1_000_000, || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&payload)).unwrap());
    });
    measure("parse 92-byte JSON payload", 1_000_000, || {
        black_box(from_payload(black_box(&payload), v));
    });
    measure("temp > 30 (field access + compare)", 10_000_000, || {
        black_box(ops::gt(&black_box(&doc).field("temp"), &thirty));
    });
    let topic = resolve("topic", 1, v).unwrap();
    let two = [Value::Int(2)];
    measure("topic(2)", 10_000_000, || {
        black_box(topic.call(black_box(&two), &ctx).unwrap());
    });
    measure("resolve(\"Round\", 1, v)", 1_000_000, || {
        black_box(resolve(black_box("Round"), 1, v).unwrap());
    });
    let six = [
        (resolve("round", 1, v).unwrap(), vec![doc.field("temp")]),
        (resolve("upper", 1, v).unwrap(), vec![doc.field("device")]),
        (
            resolve("abs", 1, v).unwrap(),
            vec![doc.field("loc").field("lon")],
        ),
        (
            resolve("concat", 2, v).unwrap(),
            vec![doc.field("device"), Value::from("-x")],
        ),
        (resolve("timestamp", 0, v).unwrap(), vec![]),
        (resolve("sqrt", 1, v).unwrap(), vec![doc.field("humidity")]),
    ];
    measure(
        "six functions (round upper abs concat timestamp sqrt)",
        1_000_000,
        || {
            for (f, args) in &six {
                black_box(f.call(black_box(args), &ctx).unwrap());
            }
        },
    );
    let out = Value::object([
        ("temp", doc.field("temp")),
        ("id", Value::from("sensor-0042")),
        ("missing", Value::Undefined),
    ]);
    measure("serialise 3-member result", 1_000_000, || {
        black_box(to_payload(black_box(&out)));
    });
    let regex = resolve("regexp_matches", 2, v).unwrap();
    let regex_args = [doc.field("device"), Value::from("^sensor-\\d+$")];
    measure("regexp_matches (cached pattern)", 1_000_000, || {
        black_box(regex.call(black_box(&regex_args), &ctx).unwrap());
    });
    let parse_time = resolve("parse_time", 3, v).unwrap();
    let pt_args = [
        Value::from("yyyy-MM-dd'T'HH:mm:ss.SSSZZ"),
        Value::Int(1_481_825_251_155),
        Value::from("America/New_York"),
    ];
    measure("parse_time with an IANA zone", 200_000, || {
        black_box(parse_time.call(black_box(&pt_args), &ctx).unwrap());
    });
}
