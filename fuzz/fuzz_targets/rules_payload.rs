//! Fuzzes the JSON reader every message payload goes through on its way into the rules engine
//! (ours: numbers keep 34 digits), checking it against serde_json and itself.
//! `cargo +nightly fuzz run rules_payload`; the same body runs on stable over a fixed corpus in
//! `crates/rules/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrite_rules::fuzzing::check_payload(data);
});
