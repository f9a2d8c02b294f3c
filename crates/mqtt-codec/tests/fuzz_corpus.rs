//! Runs the `decode` fuzz target's body over a fixed pseudo-random corpus, so the stable
//! toolchain and CI exercise the same invariants as `cargo +nightly fuzz run decode`.

mod common;

use bytes::Bytes;
use common::{encode_vec, hex, pid};
use ferrite_fuzz_corpus::{Rng, mutate_bytes};
use ferrite_mqtt_codec::fuzzing::check_decode_roundtrip;
use ferrite_mqtt_codec::*;

fn rich_properties() -> Properties {
    Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(9),
        content_type: Some("json".into()),
        response_topic: Some("r/t".into()),
        correlation_data: Some(Bytes::from_static(b"cd")),
        subscription_identifiers: vec![3],
        session_expiry_interval: Some(60),
        assigned_client_identifier: Some("a".into()),
        server_keep_alive: Some(30),
        authentication_method: Some("m".into()),
        authentication_data: Some(Bytes::from_static(b"ad")),
        request_problem_information: Some(1),
        will_delay_interval: Some(4),
        request_response_information: Some(1),
        response_information: Some("ri".into()),
        server_reference: Some("sr".into()),
        reason_string: Some("why".into()),
        receive_maximum: Some(10),
        topic_alias_maximum: Some(5),
        topic_alias: Some(2),
        maximum_qos: Some(1),
        retain_available: Some(0),
        user_properties: vec![("k".into(), "v".into())],
        maximum_packet_size: Some(1000),
        wildcard_subscription_available: Some(1),
        subscription_identifier_available: Some(1),
        shared_subscription_available: Some(0),
    }
}

/// Valid packets to mutate; encoding drops the properties each packet type does not allow.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        "10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 74 65 73 74",
        "10 1c 00 04 4d 51 54 54 04 ee 00 0a 00 02 63 31 00 01 77 00 03 62 79 65 00 01 75 00 01 70",
        "20 02 00 00",
        "30 0a 00 03 61 2f 62 68 65 6c 6c 6f",
        "3b 06 00 01 74 00 0a 78",
        "40 02 00 0a",
        "62 02 00 0c",
        "82 0c 00 01 00 03 61 2f 23 01 00 01 62 02",
        "90 06 00 01 00 01 02 80",
        "a2 07 00 02 00 03 61 2f 23",
        "b0 05 00 01 00 11 00",
        "c0 00",
        "e0 07 8b 05 11 00 00 00 00",
        "f0 0f 18 0d 15 00 05 53 43 52 41 4d 16 00 02 01 02",
    ]
    .iter()
    .map(|s| hex(s))
    .collect();
    let props = rich_properties();
    let v5 = ProtocolVersion::V5;
    let rich = [
        Packet::Connect(Connect {
            protocol: v5,
            clean_start: true,
            keep_alive: 5,
            client_id: "id".into(),
            will: Some(Will {
                topic: "w".into(),
                payload: Bytes::from_static(b"p"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: props.clone(),
            }),
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"pw")),
            properties: props.clone(),
        }),
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason: ReasonCode::Success,
            properties: props.clone(),
        }),
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "a/b".into(),
            packet_id: Some(pid(9)),
            payload: Bytes::from_static(b"payload"),
            properties: props.clone(),
        }),
        Packet::Subscribe(Subscribe {
            packet_id: pid(4),
            filters: vec![(
                "$share/g/t".into(),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: false,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                },
            )],
            properties: props.clone(),
        }),
        Packet::PubRec(PubAck {
            packet_id: pid(2),
            reason: ReasonCode::QuotaExceeded,
            properties: props.clone(),
        }),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::ServerMoved,
            properties: props,
        }),
    ];
    seeds.extend(rich.iter().map(|p| encode_vec(p, v5)));
    // The same packets for a 3.1.1 peer: no properties, mapped reason codes.
    let v311 = ProtocolVersion::V311;
    seeds.extend(rich.iter().skip(1).map(|p| encode_vec(p, v311)));
    seeds
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    mutate_bytes(rng, input);
    // Keep the remaining length honest half the time, so mutations reach the body parser.
    if input.len() >= 2 && input.len() < 129 && rng.below(2) == 0 {
        input[1] = (input.len() - 2) as u8;
    }
}

#[test]
fn fuzz_body_over_deterministic_corpus() {
    let seeds = seeds();
    // Every seed must itself round-trip.
    for seed in &seeds {
        assert!(
            check_decode_roundtrip(seed) >= 1,
            "seed {seed:02x?} did not decode"
        );
    }
    let mut rng = Rng::new();
    let mut productive = 0;
    for _ in 0..200_000 {
        let input = match rng.below(4) {
            // Pure noise.
            0 => rng.noise(48),
            // Noise behind a plausible fixed header.
            1 => {
                let len = rng.below(40);
                let mut v = vec![rng.byte() & 0xF0 | [0, 2][rng.below(2)], len as u8];
                v.extend((0..len).map(|_| rng.byte()));
                v
            }
            // Mutated valid packet, sometimes followed by another.
            _ => {
                let mut v = seeds[rng.below(seeds.len())].clone();
                mutate(&mut rng, &mut v);
                if rng.below(4) == 0 {
                    v.extend_from_slice(&seeds[rng.below(seeds.len())]);
                }
                v
            }
        };
        if check_decode_roundtrip(&input) > 0 {
            productive += 1;
        }
    }
    // Guards against a corpus that the fixed-header checks reject wholesale.
    eprintln!("{productive} of 200000 inputs decoded at least one packet");
    assert!(
        productive > 10_000,
        "only {productive} inputs decoded anything"
    );
}
