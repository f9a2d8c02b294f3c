//! Runs the `rules_payload` fuzz target's body over a fixed pseudo-random corpus grown from
//! payloads devices send, so the stable toolchain and CI exercise the same invariants as
//! `cargo +nightly fuzz run rules_payload`.

use ferrite_fuzz_corpus::{Rng, TextMutations, mutate_text};
use ferrite_rules::fuzzing::check_payload;

const SEEDS: &[&str] = &[
    r#"{"temp": 21.5, "humidity": 40, "id": "dev-1"}"#,
    r#"{"a": 1, "b": [1, 2.50, -3E+2, 1e-7], "c": {"d": null, "e": true, "f": false}}"#,
    r#"{"a": 0.1, "b": 3.14159265358979323846264338327950288419716939937510}"#,
    r#"{"big": 123456789012345678901234567890123456789, "neg": -9223372036854775809}"#,
    r#"{"s": "esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 é", "a": "x", "a": "y"}"#,
    r#"[{"a": 1}, {"b": 2}, [], {}, "", 0, -0, 0.0, 1E999, 1E-999]"#,
    r#"  {"b": {"a": {"b": [[[[]]]]}}}  "#,
    r#""just a string""#,
    "12345.6789e-3",
    "null",
];

/// Pieces that move the reader between its states.
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
    "\n",
    "\"a\":",
    "\"b\":",
    "\\u",
    "\\ud800",
    "\\udc00",
    "0",
    "-",
    "+",
    ".",
    "e",
    "E",
    "E+",
    "1E1000",
    "9.999E999",
    "1E-1000",
    "00",
    "true",
    "null",
    "fals",
    "é",
    "\u{0}",
    "\u{7f}",
    "99999999999999999999999999999999999",
];

#[test]
fn fuzz_body_over_deterministic_corpus() {
    for seed in SEEDS {
        assert_eq!(check_payload(seed.as_bytes()), 2, "{seed}");
    }
    let mutations = TextMutations {
        fragments: FRAGMENTS,
        seeds: SEEDS,
        max_delete: 12,
        max_splice: 80,
    };
    let mut rng = Rng::new();
    let iterations = 60_000;
    let mut accepted = 0;
    for _ in 0..iterations {
        let mut input = SEEDS[rng.below(SEEDS.len())].to_owned();
        mutate_text(&mut rng, &mut input, &mutations);
        if check_payload(input.as_bytes()) > 0 {
            accepted += 1;
        }
    }
    for _ in 0..5_000 {
        check_payload(&rng.noise(48));
    }
    // Deep nesting is refused, not a stack overflow.
    check_payload("[".repeat(100_000).as_bytes());
    check_payload(format!("{}1{}", "[".repeat(127), "]".repeat(127)).as_bytes());
    eprintln!("{accepted} of {iterations} mutated payloads were JSON");
    // Guards against mutations so heavy that nothing reaches the deeper grammar.
    assert!(
        accepted > iterations / 20,
        "only {accepted} payloads were JSON"
    );
}
