//! Fuzzes the provisioning template parser and evaluator: arbitrary bytes as a template body
//! and (after the first NUL byte) a parameters object; nothing may panic, and evaluation must
//! be deterministic. `cargo +nightly fuzz run provisioning_template`; the same body runs on
//! stable over a fixed corpus in `crates/provisioning/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrite_provisioning::fuzzing::check_template(data);
});
