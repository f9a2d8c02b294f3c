//! Runs the `cluster_envelope` fuzz target's body over a fixed pseudo-random corpus, so the
//! stable toolchain and CI exercise the same invariants as
//! `cargo +nightly fuzz run cluster_envelope`: any bus body decodes or is refused, never a
//! panic, and what decodes survives a round trip.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_cluster::envelope::{self, Sequence, fuzzing::check_decode_roundtrip};
use ferrite_fuzz_corpus::{Rng, mutate_bytes};
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS};
use ferrite_types::{Message, Origin, Protocol};

fn message(protocol: Protocol, node: &str, rich: bool) -> Message {
    Message {
        topic: "t".into(),
        payload: Bytes::from_static(b"payload"),
        qos: if rich {
            QoS::ExactlyOnce
        } else {
            QoS::AtMostOnce
        },
        retain: rich,
        properties: if rich {
            Properties {
                payload_format_indicator: Some(1),
                content_type: Some("json".into()),
                response_topic: Some("r/t".into()),
                correlation_data: Some(Bytes::from_static(b"cd")),
                user_properties: vec![("k".into(), "v".into())],
                ..Properties::default()
            }
        } else {
            Properties::default()
        },
        received_at_ms: 1_700_000_000_000,
        expires_at_ms: rich.then_some(1_700_000_001_000),
        origin: Arc::new(Origin {
            client_id: rich.then(|| "c".into()),
            principal: rich.then(|| "p".into()),
            source_ip: Some(if rich { "::1" } else { "10.0.0.1" }.parse().unwrap()),
            protocol,
            node: node.into(),
        }),
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let seq = Sequence {
        incarnation: 7,
        seq: 1,
    };
    let batches = [
        vec![message(Protocol::Mqtt(ProtocolVersion::V5), "n", true)],
        vec![
            message(Protocol::Mqtt(ProtocolVersion::V311), "n", false),
            message(Protocol::Http, "other", false),
            message(Protocol::Service("shadow"), "n", true),
        ],
    ];
    batches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let refs: Vec<&Message> = b.iter().collect();
            // One batch asks for confirmations (the receipts' flag), one does not.
            envelope::encode_with("f", "n", seq, i == 1, &refs)
                .payload
                .to_vec()
        })
        .collect()
}

#[test]
fn fuzz_body_over_deterministic_corpus() {
    let seeds = seeds();
    for seed in &seeds {
        assert!(
            check_decode_roundtrip(seed),
            "seed {seed:02x?} did not decode"
        );
    }
    let mut rng = Rng::new();
    let mut productive = 0;
    for _ in 0..100_000 {
        let input = if rng.below(8) == 0 {
            rng.noise(64)
        } else {
            let mut v = seeds[rng.below(seeds.len())].clone();
            mutate_bytes(&mut rng, &mut v);
            v
        };
        if check_decode_roundtrip(&input) {
            productive += 1;
        }
    }
    // Guards against a corpus the header checks reject wholesale.
    assert!(productive > 1_000, "only {productive} inputs decoded");
}
