//! The AMQP link against a real RabbitMQ (`FERRITE_TEST_AMQP_URL`, which scripts/test.sh
//! exports when RabbitMQ answers; without it these tests skip, saying so).

use lapin::options::{BasicGetOptions, QueueDeleteOptions};

use super::*;

fn amqp_url(test: &str) -> Option<String> {
    let url = std::env::var("FERRITE_TEST_AMQP_URL").ok();
    if url.is_none() {
        eprintln!("!! SKIPPED {test}: FERRITE_TEST_AMQP_URL is not set (no RabbitMQ)");
    }
    url
}

fn unique_queue() -> String {
    format!("ferrite-test-{}", uuid::Uuid::new_v4())
}

/// The test's own connection, as a consumer would have.
async fn channel(url: &str) -> (Connection, Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    (conn, channel)
}

async fn get(channel: &Channel, queue: &str) -> Option<lapin::message::BasicGetMessage> {
    channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
}

async fn delete(channel: &Channel, queue: &str) {
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}

#[test]
fn passwords_never_reach_messages() {
    assert_eq!(
        redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
        "amqp://guest:***@127.0.0.1:5672/%2f"
    );
    assert_eq!(redact("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
    assert_eq!(redact("amqp://u@h/v"), "amqp://u:***@h/v");
}

#[tokio::test]
async fn an_unreachable_broker_is_a_transient_failure_without_its_password() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let links = Links::default();
    let link = links.link(&format!("amqp://guest:s3cret@127.0.0.1:{port}/%2f"));
    let err = link.publish("q", b"x").await.unwrap_err();
    assert!(err.retry);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
    assert!(!err.message.contains("s3cret"), "{}", err.message);
}

#[tokio::test]
async fn a_confirmed_publish_left_a_persistent_message_in_a_durable_queue() {
    let Some(url) = amqp_url("a_confirmed_publish_left_a_persistent_message_in_a_durable_queue")
    else {
        return;
    };
    let links = Links::default();
    let queue = unique_queue();
    links
        .link(&url)
        .publish(&queue, b"{\"t\":1}")
        .await
        .unwrap();
    assert!(
        Arc::ptr_eq(&links.link(&url), &links.link(&url)),
        "one link per URL"
    );

    let (_conn, ch) = channel(&url).await;
    let got = get(&ch, &queue).await.expect("the message is in the queue");
    assert_eq!(got.delivery.data, b"{\"t\":1}");
    assert_eq!(*got.delivery.properties.delivery_mode(), Some(PERSISTENT));
    // The action declared it durable: declaring it otherwise is refused.
    let err = ch
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert!(is_precondition_failed(&err), "{err}");
    let (_conn, ch) = channel(&url).await;
    delete(&ch, &queue).await;
}

#[tokio::test]
async fn a_queue_that_exists_with_other_properties_is_used_as_it_is() {
    let Some(url) = amqp_url("a_queue_that_exists_with_other_properties_is_used_as_it_is") else {
        return;
    };
    let queue = unique_queue();
    let (_conn, ch) = channel(&url).await;
    // A consumer's transient queue.
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let links = Links::default();
    let link = links.link(&url);
    let other = unique_queue();
    link.publish(&other, b"elsewhere").await.unwrap();
    let before = link.live.lock().await.clone().unwrap();
    link.publish(&queue, b"first").await.unwrap();
    link.publish(&queue, b"second").await.unwrap();
    assert_eq!(get(&ch, &queue).await.unwrap().delivery.data, b"first");
    assert_eq!(get(&ch, &queue).await.unwrap().delivery.data, b"second");
    // The refused declaration closed a channel of its own, not the shared one.
    let after = link.live.lock().await.clone().unwrap();
    assert!(Arc::ptr_eq(&before, &after) && after.channel.status().connected());
    delete(&ch, &queue).await;
    delete(&ch, &other).await;
}

#[tokio::test]
async fn a_closed_connection_is_reopened_and_a_deleted_queue_declared_again() {
    let Some(url) = amqp_url("a_closed_connection_is_reopened_and_a_deleted_queue_declared_again")
    else {
        return;
    };
    let queue = unique_queue();
    let links = Links::default();
    let link = links.link(&url);
    link.publish(&queue, b"1").await.unwrap();
    let first = link.live.lock().await.clone().unwrap();
    first
        .connection
        .close(200, "closed by the test".into())
        .await
        .unwrap();
    link.publish(&queue, b"2").await.unwrap();
    let second = link.live.lock().await.clone().unwrap();
    assert!(!Arc::ptr_eq(&first, &second), "a new connection");

    let (_conn, ch) = channel(&url).await;
    delete(&ch, &queue).await;
    // The queue went behind the link's back: the message comes back rather than vanish, and
    // the next attempt (the action's retry) declares the queue again.
    let err = link.publish(&queue, b"3").await.unwrap_err();
    assert!(err.retry, "{}", err.message);
    link.publish(&queue, b"4").await.unwrap();
    assert_eq!(get(&ch, &queue).await.unwrap().delivery.data, b"4");
    delete(&ch, &queue).await;
}
