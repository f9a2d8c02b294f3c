//! Rule actions onto data systems, end to end in a real server, with rules created through the
//! signed API: dynamoDB and dynamoDBv2 rows in PostgreSQL (and `get_dynamodb` reading them
//! back), kinesis and firehose records in NATS JetStream, sns messages on a NATS subject and
//! at an HTTP endpoint. PostgreSQL tests need `FERRITE_TEST_POSTGRES_URL` (each works in a
//! scratch schema of its own), NATS tests `FERRITE_TEST_NATS_URL` (each uses streams and
//! subjects of its own); without them they skip, saying so. A new rule applies moments after
//! CreateTopicRule returns, so tests publish until the first result shows; targets other than
//! MQTT can only be polled for it.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use ferrite_mqtt_codec::QoS;
use ferrite_storage_postgres::testing::{ScratchSchema, test_url};
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::{TestClient, TestServer, connect_v311, publish};
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

const ROLE: &str = "arn:aws:iam::123456789012:role/rules";
/// How long a test waits for an action's result.
const WAIT: Duration = Duration::from_secs(10);
/// How often a target is polled.
const POLL: Duration = Duration::from_millis(50);
/// How long one publish is given to show before the next.
const ROUND: Duration = Duration::from_millis(500);

async fn create_rule(srv: &TestServer, name: &str, payload: Value) {
    let reply = signed_call(
        srv.api_addr(),
        "iot",
        "POST",
        &format!("/rules/{name}"),
        &payload.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "CreateTopicRule {name}: {}", reply.body);
}

async fn send(dev: &mut TestClient, topic: &str, payload: &Value) {
    let mut p = publish(topic, b"", QoS::AtLeastOnce, false);
    p.payload = Bytes::from(payload.to_string());
    dev.publish_with(p).await;
}

/// Polls `found` until it yields something, at most [`WAIT`].
async fn eventually<T, F: Future<Output = Option<T>>>(mut found: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = found().await {
            return v;
        }
        assert!(Instant::now() < deadline, "no result within {WAIT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Publishes `payload` until `found` sees what the rule did with it.
async fn publish_until<T, F: Future<Output = Option<T>>>(
    dev: &mut TestClient,
    topic: &str,
    payload: &Value,
    mut found: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        send(dev, topic, payload).await;
        let round = Instant::now() + ROUND;
        while Instant::now() < round {
            if let Some(v) = found().await {
                return v;
            }
            tokio::time::sleep(POLL).await;
        }
        assert!(Instant::now() < deadline, "no result within {WAIT:?}");
    }
}

/// Publishes `payload` until a message arrives on `sub`; returns it as JSON.
async fn publish_until_received(
    dev: &mut TestClient,
    sub: &mut TestClient,
    topic: &str,
    payload: &Value,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        send(dev, topic, payload).await;
        if let Ok(Some(ferrite_mqtt_codec::Packet::Publish(p))) = sub.recv_within(ROUND).await {
            sub.ack(&p).await;
            return serde_json::from_slice(&p.payload).expect("json output");
        }
        assert!(Instant::now() < deadline, "no output within {WAIT:?}");
    }
}

/// A scratch schema and a pool whose connections work in it.
struct Pg {
    schema: ScratchSchema,
    pool: PgPool,
}

async fn postgres(what: &str) -> Option<Pg> {
    let url = test_url(what)?;
    let schema = ScratchSchema::create(&url)
        .await
        .expect("create a scratch schema");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&schema.url())
        .await
        .expect("connect to the scratch schema");
    Some(Pg { schema, pool })
}

impl Pg {
    async fn start_server(&self) -> TestServer {
        let url = self.schema.url();
        TestServer::start_with(|c| c.targets.dynamodb.url = url).await
    }

    /// The rows of `sql` (a query of one jsonb column), as JSON.
    async fn rows(&self, sql: &str) -> Vec<Value> {
        sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| serde_json::from_str(&r.get::<String, _>(0)).expect("json row"))
                    .collect()
            })
            // Not created yet: the action creates its table on first use.
            .unwrap_or_default()
    }

    async fn done(self) {
        self.pool.close().await;
        self.schema
            .drop_schema()
            .await
            .expect("drop scratch schema");
    }
}

fn nats_url(what: &str) -> Option<String> {
    match std::env::var("FERRITE_TEST_NATS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "!! FERRITE_TEST_NATS_URL is not set: {what} is SKIPPED. Set it to a NATS server \
                 with JetStream (scripts/test.sh does when one answers on 127.0.0.1:4222)."
            );
            None
        }
    }
}

/// A name no other test or run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_writes_keyed_rows_and_get_dynamodb_reads_them() {
    let Some(pg) = postgres("dynamodb_writes_keyed_rows_and_get_dynamodb_reads_them").await else {
        return;
    };
    let srv = pg.start_server().await;
    create_rule(
        &srv,
        "store",
        json!({
            "sql": "SELECT temp, status FROM 'sensors/+/data'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"dynamoDB": {
                "roleArn": ROLE,
                "tableName": "Readings",
                "hashKeyField": "device",
                "hashKeyValue": "${topic(2)}",
                "rangeKeyField": "seq",
                "rangeKeyValue": "${seq}",
                "rangeKeyType": "NUMBER",
                "operation": "${op}",
            }}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "d1", true).await;
    let row_sql = "SELECT to_jsonb(t)::text FROM \"Readings\" t WHERE device = 'd1' AND seq = 1";

    // INSERT: the table is created with the keys as its primary key; the payload is jsonb.
    let row = publish_until(
        &mut dev,
        "sensors/d1/data",
        &json!({"seq": 1, "temp": 20, "op": "INSERT"}),
        || async { pg.rows(row_sql).await.pop() },
    )
    .await;
    assert_eq!(
        row,
        json!({"device": "d1", "seq": 1, "payload": {"temp": 20}})
    );
    let key = pg
        .rows(
            "SELECT to_jsonb(array_agg(a.attname::text ORDER BY a.attname))::text \
             FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = ANY (i.indkey::int2[]) \
             WHERE i.indrelid = '\"Readings\"'::regclass AND i.indisprimary",
        )
        .await;
    assert_eq!(key, vec![json!(["device", "seq"])]);

    // UPDATE (the operation is a template, in any case) changes the payload of that item.
    send(
        &mut dev,
        "sensors/d1/data",
        &json!({"seq": 1, "temp": 25, "status": "hot", "op": "update"}),
    )
    .await;
    eventually(|| async {
        let row = pg.rows(row_sql).await.pop()?;
        (row["payload"] == json!({"temp": 25, "status": "hot"})).then_some(())
    })
    .await;

    // get_dynamodb reads the item back, as DynamoDB's GetItem would return it.
    create_rule(
        &srv,
        "lookup",
        json!({
            "sql": format!(
                "SELECT get_dynamodb('Readings', 'device', topic(2), 'seq', seq, '{ROLE}') AS item \
                 FROM 'lookup/+'"
            ),
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"roleArn": ROLE, "topic": "out/lookup", "qos": 1}}],
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    sub.subscribe("out/#", QoS::AtLeastOnce).await;
    let got = publish_until_received(&mut dev, &mut sub, "lookup/d1", &json!({"seq": 1})).await;
    assert_eq!(
        got,
        json!({"item": {"device": "d1", "seq": 1, "payload": {"temp": 25, "status": "hot"}}})
    );
    // No such item: Undefined, so the attribute is left out. (Outputs of earlier rounds of
    // the first lookup may still be on their way.)
    send(&mut dev, "lookup/d1", &json!({"seq": 2})).await;
    loop {
        let out: Value = serde_json::from_slice(&sub.recv_publish().await.payload).unwrap();
        if out != got {
            assert_eq!(out, json!({}));
            break;
        }
    }

    // DELETE removes the item.
    send(
        &mut dev,
        "sensors/d1/data",
        &json!({"seq": 1, "op": "DELETE"}),
    )
    .await;
    eventually(|| async { pg.rows(row_sql).await.is_empty().then_some(()) }).await;

    srv.shutdown().await;
    pg.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_v2_puts_attributes_into_columns_and_the_item_column() {
    let Some(pg) = postgres("dynamodb_v2_puts_attributes_into_columns_and_the_item_column").await
    else {
        return;
    };
    // A table the user made: typed columns to query, the key as primary key, the rest in item.
    pg.pool
        .execute("CREATE TABLE devices (device text PRIMARY KEY, temp numeric, item jsonb)")
        .await
        .expect("create table");
    let srv = pg.start_server().await;
    create_rule(
        &srv,
        "state",
        json!({
            "sql": "SELECT topic(2) AS device, temp, meta FROM 'state/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"dynamoDBv2": {"roleArn": ROLE, "putItem": {"tableName": "devices"}}}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "d7", true).await;
    let row_sql = "SELECT to_jsonb(t)::text FROM devices t";
    let row = publish_until(
        &mut dev,
        "state/d7",
        &json!({"temp": 21.5, "meta": {"fw": "1.0"}}),
        || async { pg.rows(row_sql).await.pop() },
    )
    .await;
    assert_eq!(
        row,
        json!({"device": "d7", "temp": 21.5,
               "item": {"device": "d7", "temp": 21.5, "meta": {"fw": "1.0"}}})
    );
    // The same key again: the item is replaced whole (PutItem), not merged.
    send(&mut dev, "state/d7", &json!({"temp": 22})).await;
    eventually(|| async {
        let rows = pg.rows(row_sql).await;
        (rows == vec![json!({"device": "d7", "temp": 22, "item": {"device": "d7", "temp": 22}})])
            .then_some(())
    })
    .await;

    // A table that does not exist is created to hold items, and appended to.
    create_rule(
        &srv,
        "events",
        json!({
            "sql": "SELECT * FROM 'events/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"dynamoDBv2": {"roleArn": ROLE, "putItem": {"tableName": "event.log"}}}],
        }),
    )
    .await;
    let events_sql = "SELECT item::text FROM \"event.log\" ORDER BY item->>'id'";
    publish_until(
        &mut dev,
        "events/x",
        &json!({"id": "e1", "kind": "boot"}),
        || async { (!pg.rows(events_sql).await.is_empty()).then_some(()) },
    )
    .await;
    send(&mut dev, "events/x", &json!({"id": "e2", "kind": "alarm"})).await;
    eventually(|| async {
        let rows = pg.rows(events_sql).await;
        rows.iter()
            .any(|r| r == &json!({"id": "e2", "kind": "alarm"}))
            .then_some(())
    })
    .await;

    // get_dynamodb finds items by attributes without a column of their own, inside item.
    create_rule(
        &srv,
        "find",
        json!({
            "sql": format!("SELECT get_dynamodb('event.log', 'id', id, '{ROLE}').kind AS kind FROM 'find'"),
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"roleArn": ROLE, "topic": "out/find", "qos": 1}}],
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    sub.subscribe("out/#", QoS::AtLeastOnce).await;
    let got = publish_until_received(&mut dev, &mut sub, "find", &json!({"id": "e2"})).await;
    assert_eq!(got, json!({"kind": "alarm"}));

    srv.shutdown().await;
    pg.done().await;
}

#[tokio::test]
async fn a_dynamodb_action_without_a_database_fails_to_the_error_action() {
    // The embedded store is not PostgreSQL and no [targets.dynamodb] url is set.
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "nodb",
        json!({
            "sql": "SELECT * FROM 'in/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"dynamoDB": {
                "roleArn": ROLE, "tableName": "T",
                "hashKeyField": "id", "hashKeyValue": "${topic(2)}",
            }}],
            "errorAction": {"republish": {"roleArn": ROLE, "topic": "errors/nodb", "qos": 1}},
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    let got = publish_until_received(&mut dev, &mut sub, "in/x", &json!({"a": 1})).await;
    let failure = &got["failures"][0];
    assert_eq!(failure["failedAction"], "DynamoDBAction");
    assert_eq!(failure["failedResource"], "T");
    let message = failure["errorMessage"].as_str().unwrap();
    assert!(message.contains("[targets.dynamodb] url"), "{message}");
}

#[tokio::test]
async fn a_get_dynamodb_lookup_that_fails_sends_the_error_action_the_reason() {
    // No database for DynamoDB tables: the lookup fails, so the rule's evaluation does.
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "lookup",
        json!({
            "sql": format!("SELECT get_dynamodb('T', 'id', id, '{ROLE}') AS item FROM 'in/+'"),
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"roleArn": ROLE, "topic": "out/never", "qos": 1}}],
            "errorAction": {"republish": {"roleArn": ROLE, "topic": "errors/lookup", "qos": 1}},
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    sub.subscribe("errors/#", QoS::AtLeastOnce).await;
    sub.subscribe("out/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev", true).await;
    let got = publish_until_received(&mut dev, &mut sub, "in/x", &json!({"id": "a"})).await;
    assert_eq!(
        got["ruleName"], "lookup",
        "the action ran despite the failed lookup: {got}"
    );
    let failure = &got["failures"][0];
    assert_eq!(failure["failedAction"], "SqlEvaluation");
    let message = failure["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("get_dynamodb") && message.contains("[targets.dynamodb] url"),
        "{message}"
    );
}

/// The stream's records so far: (subject, headers, payload).
async fn stream_records(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> Option<Vec<(String, async_nats::HeaderMap, Bytes)>> {
    let mut stream = js.get_stream(stream).await.ok()?;
    let count = stream.info().await.ok()?.state.messages;
    let mut records = Vec::new();
    for seq in 1..=count {
        let m = stream.get_raw_message(seq).await.ok()?;
        records.push((m.subject.to_string(), m.headers.clone(), m.payload.clone()));
    }
    (!records.is_empty()).then_some(records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_records_land_in_a_jetstream_stream_with_their_partition_key() {
    let Some(url) = nats_url("kinesis_records_land_in_a_jetstream_stream_with_their_partition_key")
    else {
        return;
    };
    let nats = async_nats::connect(&url).await.expect("connect to NATS");
    let js = async_nats::jetstream::new(nats);
    // Dots are not allowed in JetStream names: the stream is named with underscores.
    let aws_name = unique("ferrite.kinesis-");
    let stream = aws_name.replace('.', "_");
    let nats_url = url.clone();
    let srv = TestServer::start_with(|c| c.targets.kinesis.nats_url = nats_url).await;
    create_rule(
        &srv,
        "to_kinesis",
        json!({
            "sql": "SELECT temp FROM 'k/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"kinesis": {
                "roleArn": ROLE, "streamName": aws_name, "partitionKey": "${topic(2)}-key",
            }}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "k1", true).await;
    let records = publish_until(&mut dev, "k/dev4", &json!({"temp": 7, "x": 1}), || {
        stream_records(&js, &stream)
    })
    .await;
    let (subject, headers, payload) = &records[0];
    assert_eq!(subject, &format!("kinesis.{stream}"));
    let key = headers
        .get("Kinesis-Partition-Key")
        .map(|v| v.as_str().to_owned());
    assert_eq!(key.as_deref(), Some("dev4-key"));
    assert_eq!(
        serde_json::from_slice::<Value>(payload).unwrap(),
        json!({"temp": 7})
    );
    srv.shutdown().await;
    js.delete_stream(&stream).await.expect("delete stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_batches_become_records_ending_in_the_separator() {
    let Some(url) = nats_url("firehose_batches_become_records_ending_in_the_separator") else {
        return;
    };
    let nats = async_nats::connect(&url).await.expect("connect to NATS");
    let js = async_nats::jetstream::new(nats);
    let stream = unique("ferrite-firehose-");
    let nats_url = url.clone();
    let srv = TestServer::start_with(|c| c.targets.firehose.nats_url = nats_url).await;
    create_rule(
        &srv,
        "to_firehose",
        json!({
            "sql": "SELECT VALUE readings FROM 'f/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"firehose": {
                "roleArn": ROLE, "deliveryStreamName": stream, "separator": "\n", "batchMode": true,
            }}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "f1", true).await;
    let records = publish_until(
        &mut dev,
        "f/x",
        &json!({"readings": [{"a": 1}, {"a": 2}]}),
        || async {
            // A batch is appended record by record: wait for the pair.
            stream_records(&js, &stream).await.filter(|r| r.len() >= 2)
        },
    )
    .await;
    let payloads: Vec<&[u8]> = records[..2].iter().map(|(_, _, p)| &p[..]).collect();
    assert_eq!(payloads, vec![&b"{\"a\":1}\n"[..], &b"{\"a\":2}\n"[..]]);
    assert_eq!(records[0].0, format!("firehose.{stream}"));
    srv.shutdown().await;
    js.delete_stream(&stream).await.expect("delete stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_publishes_to_the_topic_subject_on_nats() {
    let Some(url) = nats_url("sns_publishes_to_the_topic_subject_on_nats") else {
        return;
    };
    let nats = async_nats::connect(&url).await.expect("connect to NATS");
    let topic = unique("alerts-");
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{topic}");
    let mut subscription = nats
        .subscribe(format!("sns.{topic}"))
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush");
    let nats_url = url.clone();
    let srv = TestServer::start_with(|c| c.targets.sns.nats_url = nats_url).await;
    create_rule(
        &srv,
        "to_sns",
        json!({
            "sql": "SELECT level FROM 'alarm/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"sns": {"roleArn": ROLE, "targetArn": arn, "messageFormat": "RAW"}}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "a1", true).await;
    let deadline = Instant::now() + WAIT;
    let message = loop {
        use futures_util::StreamExt as _;
        send(&mut dev, "alarm/a1", &json!({"level": 3})).await;
        if let Ok(Some(m)) = tokio::time::timeout(ROUND, subscription.next()).await {
            break m;
        }
        assert!(Instant::now() < deadline, "no message within {WAIT:?}");
    };
    assert_eq!(
        serde_json::from_slice::<Value>(&message.payload).unwrap(),
        json!({"level": 3})
    );
    let header = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Sns-Topic-Arn"))
        .map(|v| v.as_str().to_owned());
    assert_eq!(header.as_deref(), Some(arn.as_str()));
    srv.shutdown().await;
}

type Deliveries = mpsc::UnboundedSender<(HeaderMap, Bytes)>;

async fn hook(State(tx): State<Deliveries>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = tx.send((headers, body));
    StatusCode::OK
}

#[tokio::test]
async fn sns_posts_the_json_formats_http_message_to_a_mapped_endpoint() {
    let (tx, mut deliveries) = mpsc::unbounded_channel();
    let app = Router::new().route("/hook", post(hook)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let mut endpoint = JoinSet::new();
    endpoint.spawn(async move { axum::serve(listener, app).await });
    let arn = "arn:aws:sns:us-east-1:123456789012:webhooks";
    let srv = TestServer::start_with(|c| {
        c.targets.sns.topics.insert(arn.into(), url.clone());
    })
    .await;
    create_rule(
        &srv,
        "to_http",
        json!({
            "sql": "SELECT * FROM 'notify/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"sns": {"roleArn": ROLE, "targetArn": arn, "messageFormat": "JSON"}}],
        }),
    )
    .await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "n1", true).await;
    let structure = json!({"default": "for everyone", "http": "for http endpoints"});
    let deadline = Instant::now() + WAIT;
    let (headers, body) = loop {
        send(&mut dev, "notify/x", &structure).await;
        if let Ok(Some(delivery)) = tokio::time::timeout(ROUND, deliveries.recv()).await {
            break delivery;
        }
        assert!(Instant::now() < deadline, "no delivery within {WAIT:?}");
    };
    assert_eq!(&body[..], b"for http endpoints");
    assert_eq!(headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(headers["x-amz-sns-topic-arn"], arn);
    srv.shutdown().await;
    endpoint.abort_all();
}
