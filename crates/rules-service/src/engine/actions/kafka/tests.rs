//! The kafka action's settings, records and partitioning; and, when `FERRITE_TEST_KAFKA_BROKERS`
//! names a broker, a record produced and fetched back.

use bytes::Bytes;
use ferrite_rules::{Evaluation, SqlVersion};
use serde_json::json;

use super::*;

fn targets(brokers: &[&str]) -> KafkaTargets {
    KafkaTargets {
        brokers: brokers.iter().map(|b| (*b).to_owned()).collect(),
    }
}

#[test]
fn murmur2_matches_the_java_client() {
    // Kafka's own vectors (UtilsTest.testMurmur2).
    for (input, hash) in [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ] {
        assert_eq!(murmur2(input.as_bytes()), hash, "{input}");
    }
}

#[test]
fn keyed_records_go_where_the_java_producer_puts_them_and_unkeyed_ones_rotate() {
    let next = AtomicUsize::new(0);
    let three = [0, 1, 2];
    let seven = [0, 1, 2, 3, 4, 5, 6];
    // toPositive(murmur2("21")) = 1173551340: 0 mod 3, 3 mod 7.
    assert_eq!(choose_partition(Some(b"21"), &three, &next), Some(0));
    assert_eq!(choose_partition(Some(b"21"), &seven, &next), Some(3));
    assert_eq!(choose_partition(Some(b"foobar"), &seven, &next), Some(0));
    let unkeyed: Vec<_> = (0..4)
        .map(|_| choose_partition(None, &three, &next).unwrap())
        .collect();
    assert_eq!(unkeyed, [0, 1, 2, 0]);
    assert_eq!(choose_partition(None, &[], &next), None);
}

#[test]
fn brokers_come_from_the_targets_or_bootstrap_servers() {
    let props = json!({"bootstrap.servers": "k1:9092, k2:9092"});
    let s = settings(&props, &targets(&[])).unwrap();
    assert_eq!(s.brokers, ["k1:9092", "k2:9092"]);
    assert!(!s.tls);
    assert_eq!(s.sasl, None);
    let s = settings(&props, &targets(&["local:9092"])).unwrap();
    assert_eq!(s.brokers, ["local:9092"]);
    let err = settings(&json!({}), &targets(&[])).unwrap_err();
    assert!(err.contains("[targets.kafka].brokers"), "{err}");
}

#[test]
fn security_protocols_and_sasl_mechanisms() {
    let t = targets(&["k:9093"]);
    let s = settings(&json!({"security.protocol": "SSL"}), &t).unwrap();
    assert!(s.tls && s.sasl.is_none());
    let s = settings(
        &json!({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.scram.username": "u", "sasl.scram.password": "p"}),
        &t,
    )
    .unwrap();
    assert!(s.tls);
    assert_eq!(s.sasl, Some(Sasl::ScramSha512("u".into(), "p".into())));
    let s = settings(
        &json!({"security.protocol": "SASL_PLAINTEXT",
                "sasl.plain.username": "u", "sasl.plain.password": "p"}),
        &t,
    )
    .unwrap();
    assert!(!s.tls);
    assert_eq!(s.sasl, Some(Sasl::Plain("u".into(), "p".into())));
    for (props, says) in [
        (
            json!({"security.protocol": "SASL_SSL"}),
            "sasl.plain.username",
        ),
        (
            json!({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}),
            "GSSAPI is not supported",
        ),
        (json!({"security.protocol": "TLS"}), "TLS is not supported"),
    ] {
        let err = settings(&props, &t).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
}

fn job(sql: &CompiledSql, topic: &str, payload: &str) -> Job {
    let raw = Bytes::from(payload.to_owned());
    let ctx = crate::engine::context::test_context_with(topic, raw.clone(), 0, None);
    let Evaluation::Selected(selected) = sql.evaluate(&raw, &ctx).unwrap() else {
        panic!("filtered")
    };
    let payload = selected.payload();
    Job::new(Arc::from("r"), ctx, selected, payload, None)
}

#[test]
fn records_carry_the_rendered_topic_key_partition_and_headers() {
    let sql = ferrite_rules::compile("SELECT temp FROM 'sensors/+/data'", SqlVersion::V2016_03_23)
        .unwrap();
    let config = json!({
        "destinationArn": "arn:aws:iot:us-east-1:123456789012:ruledestination/vpc/x",
        "topic": "readings-${topic(2)}",
        "key": "${clientid()}",
        "partition": "${room}",
        "clientProperties": {"bootstrap.servers": "k:9092"},
        "headers": [{"key": "source", "value": "${topic()}"}],
    });
    let kafka = Kafka::from_config(&config, &sql, &targets(&[])).unwrap();
    let prepared = kafka
        .prepare(
            &job(&sql, "sensors/d1/data", r#"{"temp": 21, "room": 4}"#),
            1_700_000_000_123,
        )
        .unwrap();
    assert_eq!(prepared.topic, "readings-d1");
    assert_eq!(prepared.partition, Some(4));
    let record = prepared.record;
    assert_eq!(record.key.as_deref(), Some(&b"dev1"[..]));
    assert_eq!(
        serde_json::from_slice::<Value>(record.value.as_deref().unwrap()).unwrap(),
        json!({"temp": 21})
    );
    assert_eq!(record.headers["source"], b"sensors/d1/data");
    assert_eq!(record.timestamp.timestamp_millis(), 1_700_000_000_123);
    assert_eq!(kafka.resource(), "readings-${topic(2)}");

    // A partition that is not a number fails for good; no key and no partition leave both
    // to the partitioner.
    let err = kafka
        .prepare(&job(&sql, "sensors/d1/data", r#"{"room": "x"}"#), 0)
        .unwrap_err();
    assert!(
        !err.retry && err.message.contains("partition"),
        "{}",
        err.message
    );
    let plain = Kafka::from_config(
        &json!({"topic": "t", "clientProperties": {"bootstrap.servers": "k:9092"}}),
        &sql,
        &targets(&[]),
    )
    .unwrap();
    let prepared = plain
        .prepare(&job(&sql, "sensors/d1/data", r#"{"temp": 1}"#), 0)
        .unwrap();
    assert_eq!((prepared.partition, prepared.record.key), (None, None));
}

#[test]
fn actions_without_a_topic_or_brokers_are_refused() {
    let sql = ferrite_rules::compile("SELECT * FROM 'a'", SqlVersion::V2016_03_23).unwrap();
    assert!(
        Kafka::from_config(&json!({"clientProperties": {}}), &sql, &targets(&["k:1"])).is_err()
    );
    assert!(Kafka::from_config(&json!({"topic": "t"}), &sql, &targets(&[])).is_err());
}

#[tokio::test]
async fn an_unreachable_cluster_fails_transiently_within_the_timeout() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let producer = Producer::new(Settings {
        brokers: vec![addr],
        tls: false,
        sasl: None,
    });
    let sql = ferrite_rules::compile("SELECT * FROM 'a'", SqlVersion::V2016_03_23).unwrap();
    let kafka = Kafka {
        producer,
        ..Kafka::from_config(
            &json!({"topic": "t", "partition": "0"}),
            &sql,
            &targets(&["x:1"]),
        )
        .unwrap()
    };
    let err = kafka
        .prepare(&job(&sql, "a", "{}"), 0)
        .map(|p| kafka.producer.produce(p));
    let err = err.unwrap().await.unwrap_err();
    assert!(err.retry, "{}", err.message);
}

/// Needs a broker: `FERRITE_TEST_KAFKA_BROKERS=127.0.0.1:9092`.
#[tokio::test]
async fn a_record_reaches_a_real_broker() {
    let Ok(brokers) = std::env::var("FERRITE_TEST_KAFKA_BROKERS") else {
        eprintln!(
            "!! SKIPPED a_record_reaches_a_real_broker: FERRITE_TEST_KAFKA_BROKERS is not set (no Kafka broker)"
        );
        return;
    };
    let brokers: Vec<String> = brokers.split(',').map(str::to_owned).collect();
    let topic = format!("ferrite-test-{}", uuid::Uuid::new_v4());
    let client = ClientBuilder::new(brokers.clone()).build().await.unwrap();
    client
        .controller_client()
        .unwrap()
        .create_topic(&topic, 2, 1, 5_000)
        .await
        .unwrap();
    let sql = ferrite_rules::compile("SELECT * FROM 'a'", SqlVersion::V2016_03_23).unwrap();
    let kafka = Kafka::from_config(
        &json!({"topic": topic, "key": "k1", "headers": [{"key": "h", "value": "v"}]}),
        &sql,
        &KafkaTargets { brokers },
    )
    .unwrap();
    kafka.execute(&job(&sql, "a", r#"{"n": 1}"#)).await.unwrap();
    let partition = choose_partition(Some(b"k1"), &[0, 1], &AtomicUsize::new(0)).unwrap();
    let pc = client
        .partition_client(topic.as_str(), partition, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let (records, _) = pc.fetch_records(0, 1..1_000_000, 5_000).await.unwrap();
    let record = &records[0].record;
    assert_eq!(record.key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(record.value.as_deref(), Some(&br#"{"n":1}"#[..]));
    assert_eq!(record.headers["h"], b"v");
}
