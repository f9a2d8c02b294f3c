//! Runs the `provisioning_template` fuzz target's body over a fixed pseudo-random corpus grown
//! from the golden templates, so the stable toolchain and CI exercise the same invariants as
//! `cargo +nightly fuzz run provisioning_template`.

use std::path::Path;

use ferrite_fuzz_corpus::{Rng, TextMutations, mutate_text};
use ferrite_provisioning::fuzzing::check_template;
use serde_json::Value;

/// Fragments that move the parser and evaluator between their states.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    " ",
    "\u{0}",
    "null",
    "true",
    "0",
    "-1",
    "99999999999",
    "1.5e3",
    "\"x\"",
    "\"\"",
    "{\"Ref\": \"AWS::NoValue\"}",
    "{\"Ref\": \"thing\"}",
    "{\"Ref\": \"AWS::IoT::Certificate::Id\"}",
    "{\"Fn::Join\": [\"\", [\"a\", \"b\"]]}",
    "{\"Fn::Select\": [\"1\", [\"a\"]]}",
    "{\"Fn::Split\": [\",\", \"a,b\"]}",
    "{\"Fn::Sub\": \"${thing.ThingName}${!x}\"}",
    "{\"Fn::GetAtt\": [\"thing\", \"ThingName\"]}",
    "{\"Fn::If\": [\"C\", \"a\", \"b\"]}",
    "{\"Fn::FindInMap\": [\"M\", \"a\", \"b\"]}",
    "{\"Fn::Equals\": [\"a\", \"a\"]}",
    "{\"Fn::Not\": [{\"Condition\": \"C\"}]}",
    "{\"Fn::And\": [{\"Condition\": \"C\"}, {\"Condition\": \"C\"}]}",
    "\"Conditions\": {\"C\": {\"Fn::Equals\": [\"a\", \"b\"]}},",
    "\"Mappings\": {\"M\": {\"a\": {\"b\": \"v\"}}},",
    "\"Condition\": \"C\",",
    "\"Type\": \"AWS::IoT::Policy\",",
    "\"ThingName\": ",
    "\"OverrideSettings\": {\"ThingGroups\": \"MERGE\"},",
    "${",
    "é",
    "\u{1F600}",
];

fn seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
                    .expect("json");
            let body = match (case.get("templateBody"), case.get("template")) {
                (Some(Value::String(raw)), _) => raw.clone(),
                (_, Some(template)) => serde_json::to_string_pretty(template).expect("json"),
                _ => String::new(),
            };
            let parameters = case
                .get("parameters")
                .map(Value::to_string)
                .unwrap_or_default();
            format!("{body}\u{0}{parameters}")
        })
        .collect()
}

#[test]
fn fuzz_body_over_deterministic_corpus() {
    let seeds = seeds();
    let mut evaluated_seeds = 0;
    for seed in &seeds {
        if check_template(seed.as_bytes()) == 2 {
            evaluated_seeds += 1;
        }
    }
    assert!(
        evaluated_seeds >= 20,
        "only {evaluated_seeds} seeds evaluated"
    );
    let seed_texts: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let mutations = TextMutations {
        fragments: FRAGMENTS,
        seeds: &seed_texts,
        max_delete: 16,
        max_splice: 200,
    };
    let mut rng = Rng::new();
    let mut parsed = 0;
    let iterations = 30_000;
    for _ in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate_text(&mut rng, &mut input, &mutations);
        if check_template(input.as_bytes()) > 0 {
            parsed += 1;
        }
    }
    for _ in 0..2_000 {
        check_template(&rng.noise(64));
    }
    eprintln!("{parsed} of {iterations} mutated templates parsed");
    // Guards against mutations so heavy that nothing reaches the evaluator.
    assert!(parsed > iterations / 20, "only {parsed} templates parsed");
}

/// A chain of policies each doubling the previous name would grow exponentially; the
/// length cap stops it with an error instead of exhausting memory.
#[test]
fn doubling_reference_chain_is_capped() {
    let mut resources = serde_json::Map::new();
    resources.insert(
        "p0".into(),
        serde_json::json!({"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "abcdefghij"}}),
    );
    for i in 1..10 {
        let prev = format!("p{}", i - 1);
        resources.insert(
            format!("p{i}"),
            serde_json::json!({"Type": "AWS::IoT::Policy", "Properties": {"PolicyName":
                {"Fn::Join": ["", [{"Ref": prev}, {"Ref": prev}, {"Ref": prev}, {"Ref": prev},
                                   {"Ref": prev}, {"Ref": prev}, {"Ref": prev}, {"Ref": prev}]]}}}),
        );
    }
    let body = serde_json::json!({ "Resources": resources }).to_string();
    let template = ferrite_provisioning::Template::parse(&body).expect("valid template");
    let err = template
        .evaluate(&Default::default(), &Default::default())
        .expect_err("names grow past the caps");
    assert!(!err.is_template_fault(), "{err}");
}

/// Conditions referring to earlier ones twice each are decided once each (memoised).
#[test]
fn condition_chain_is_memoised() {
    let mut conditions = serde_json::Map::new();
    conditions.insert("c0".into(), serde_json::json!({"Fn::Equals": ["a", "a"]}));
    for i in 1..60 {
        let prev = format!("c{}", i - 1);
        conditions.insert(
            format!("c{i}"),
            serde_json::json!({"Fn::And": [{"Condition": prev}, {"Condition": prev}]}),
        );
    }
    let body = serde_json::json!({
        "Conditions": conditions,
        "DeviceConfiguration": {"x": {"Fn::If": ["c59", "yes", "no"]}}
    })
    .to_string();
    let template = ferrite_provisioning::Template::parse(&body).expect("valid template");
    let plan = template
        .evaluate(&Default::default(), &Default::default())
        .expect("evaluates");
    assert_eq!(plan.device_configuration["x"], "yes");
}
