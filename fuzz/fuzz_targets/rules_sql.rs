//! Fuzzes the AWS IoT SQL parser (statements and template expressions, every SQL version) and
//! checks that whatever it accepts prints as SQL that parses back to the same tree.
//! `cargo +nightly fuzz run rules_sql`; the same body runs on stable over a fixed corpus in
//! `crates/rules-sql/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrite_rules_sql::fuzzing::check_parse_roundtrip(data);
});
