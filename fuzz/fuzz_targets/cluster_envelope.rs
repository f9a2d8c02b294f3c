//! Fuzzes the decoder of message batches other nodes send on the bus, and checks that every
//! batch it accepts survives an encode/decode round trip. `cargo +nightly fuzz run
//! cluster_envelope`; the same body runs on stable over a fixed corpus in
//! `crates/cluster/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrite_cluster::envelope::fuzzing::check_decode_roundtrip(data);
});
