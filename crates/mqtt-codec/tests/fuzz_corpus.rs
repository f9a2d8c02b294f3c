//! Runs the fuzz target's body on the stable toolchain over a deterministic corpus: random
//! bytes, and single-byte mutations of valid packets (which reach much deeper into the
//! decoder than noise does). `cargo +nightly fuzz run decode` explores further.

use bytes::BytesMut;
use ferrite_mqtt_codec::fuzzing::check_decode_roundtrip;
use ferrite_mqtt_codec::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let props = Properties {
        session_expiry_interval: Some(30),
        content_type: Some("a/b".into()),
        user_properties: vec![("k".into(), "v".into())],
        ..Default::default()
    };
    let id = PacketId::new(7).unwrap();
    let packets = vec![
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 30,
            client_id: "c".into(),
            will: Some(Will {
                topic: "w".into(),
                payload: "x".into(),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties {
                    will_delay_interval: Some(5),
                    ..Default::default()
                },
            }),
            username: Some("u".into()),
            password: Some("p".into()),
            properties: props.clone(),
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "a/b".into(),
            packet_id: Some(id),
            payload: "hello".into(),
            properties: Properties {
                topic_alias: Some(1),
                ..props.clone()
            },
        }),
        Packet::Subscribe(Subscribe {
            packet_id: id,
            filters: vec![(
                "a/#".into(),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    ..Default::default()
                },
            )],
            properties: Properties {
                subscription_identifiers: vec![3],
                ..Default::default()
            },
        }),
        Packet::SubAck(SubAck {
            packet_id: id,
            reasons: vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized],
            properties: Properties::default(),
        }),
        Packet::PubAck(PubAck {
            packet_id: id,
            reason: ReasonCode::NoMatchingSubscribers,
            properties: Properties::default(),
        }),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::KeepAliveTimeout,
            properties: Properties {
                reason_string: Some("r".into()),
                ..Default::default()
            },
        }),
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason: ReasonCode::Success,
            properties: Properties {
                receive_maximum: Some(10),
                ..Default::default()
            },
        }),
    ];
    let mut out = Vec::new();
    for p in &packets {
        for v in [ProtocolVersion::V5, ProtocolVersion::V311] {
            let v = if let Packet::Connect(c) = p {
                c.protocol
            } else {
                v
            };
            let mut b = BytesMut::new();
            if encode(p, v, &mut b).is_ok() {
                out.push(b.to_vec());
            }
        }
    }
    out
}

#[test]
fn random_inputs_never_panic_and_decoded_packets_round_trip() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..100_000 {
        let len = (rng.next() % 64) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check_decode_roundtrip(&data);
    }
}

#[test]
fn mutated_valid_packets_never_panic_and_round_trip() {
    let mut rng = XorShift(42);
    let seeds = seeds();
    assert!(seeds.len() >= 10);
    for seed in &seeds {
        check_decode_roundtrip(seed);
        for _ in 0..5_000 {
            let mut data = seed.clone();
            for _ in 0..=(rng.next() % 3) {
                let i = (rng.next() as usize) % data.len();
                data[i] = rng.next() as u8;
            }
            if rng.next().is_multiple_of(4) {
                data.truncate((rng.next() as usize) % data.len());
            }
            check_decode_roundtrip(&data);
        }
    }
}
