//! Fuzzes the MQTT decoder (both protocol versions) and checks that every packet it accepts
//! survives an encode/decode round trip. `cargo +nightly fuzz run decode`; the same body runs
//! on stable over a fixed corpus in `crates/mqtt-codec/tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrite_mqtt_codec::fuzzing::check_decode_roundtrip(data);
});
