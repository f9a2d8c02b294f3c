"""Rule actions that deliver to queues and object stores, with rules created through boto3 and
messages from paho: `sqs` into RabbitMQ (read back with pika; skipped, saying so, without
FERRITE_TEST_AMQP_URL), `s3` into a bucket directory, and both forwarded to an AWS-compatible
endpoint — moto's server on a free port, read back with boto3 — when `[targets.*]` sets
`forward_endpoint`. The servers get their `[targets]` from a config file (FERRITE_CONFIG)."""

import base64
import json
import os
import time
import uuid

import pytest

from conftest import (ACCOUNT_ID, REGION, WAIT, Client, aws_client, moto_client, start_api_server,
                      stop_api_server)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
# How often a message is published again while a new rule is not yet applied.
REPUBLISH_EVERY = 0.3


def server_with_targets(tmp_path, targets_toml):
    config = tmp_path / "ferrite.toml"
    config.write_text(targets_toml)
    return start_api_server("embedded", {"FERRITE_CONFIG": str(config)})


def mqtt_client(server, client_id):
    c = Client(client_id)
    c.connect(server.ports["mqtt"])
    return c


def publish_until(dev, topic, payload, arrived):
    """Publishes until `arrived(wait)` returns something (it waits up to `wait` seconds each
    time): a new rule applies within moments of CreateTopicRule, not before it returns."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        dev.publish(topic, payload)
        got = arrived(REPUBLISH_EVERY)
        if got is not None:
            return got
    raise AssertionError(f"nothing arrived within {WAIT} s of publishing to {topic}")


def file_arrival(path):
    def arrived(wait):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if path.exists():
                return path.read_bytes()
            time.sleep(0.02)
        return None

    return arrived


# --- sqs → RabbitMQ ---------------------------------------------------------------------


@pytest.fixture
def rabbit():
    url = os.environ.get("FERRITE_TEST_AMQP_URL")
    if not url:
        print("!! FERRITE_TEST_AMQP_URL is not set: the sqs → RabbitMQ test is SKIPPED")
        pytest.skip("FERRITE_TEST_AMQP_URL is not set (no RabbitMQ)")
    try:
        import pika
    except ImportError:
        print("!! pika is not installed: the sqs → RabbitMQ test is SKIPPED")
        pytest.skip("pika is not installed")
    conn = pika.BlockingConnection(pika.URLParameters(url))
    yield url, conn.channel()
    conn.close()


def test_sqs_action_delivers_to_a_rabbitmq_queue(tmp_path, rabbit):
    url, channel = rabbit
    plain, encoded = f"compat-{uuid.uuid4()}", f"compat-{uuid.uuid4()}"
    for q in (plain, encoded):
        # As a consumer declares it, and as the action does: durable.
        channel.queue_declare(q, durable=True)
    server = server_with_targets(tmp_path, f'[targets.sqs]\namqp_url = "{url}"\n')
    try:
        iot = aws_client(server)
        iot.create_topic_rule(
            ruleName="to_rabbit",
            topicRulePayload={
                "sql": "SELECT temp, topic(2) AS id FROM 'sensors/+/q'",
                "awsIotSqlVersion": "2016-03-23",
                "actions": [
                    {"sqs": {"roleArn": ROLE, "useBase64": False,
                             "queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{plain}"}},
                    {"sqs": {"roleArn": ROLE, "useBase64": True,
                             "queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{encoded}"}},
                ],
            },
        )
        dev = mqtt_client(server, "dev-sqs")

        def next_in(queue_name):
            def arrived(wait):
                for method, props, body in channel.consume(queue_name, inactivity_timeout=wait):
                    channel.cancel()
                    if method is None:
                        return None
                    channel.basic_ack(method.delivery_tag)
                    return props, body
                return None

            return arrived

        props, body = publish_until(dev, "sensors/d9/q", b'{"temp": 3}', next_in(plain))
        assert json.loads(body) == {"temp": 3, "id": "d9"}
        assert props.delivery_mode == 2
        got = next_in(encoded)(WAIT)
        assert got is not None, f"nothing in {encoded}"
        assert json.loads(base64.b64decode(got[1])) == {"temp": 3, "id": "d9"}
        dev.close()
    finally:
        stop_api_server(server)
        for q in (plain, encoded):
            channel.queue_delete(q)


# --- s3 → a directory -------------------------------------------------------------------


def test_s3_action_writes_objects_into_a_bucket_directory(tmp_path):
    root = tmp_path / "buckets"
    server = server_with_targets(tmp_path, f"[targets.s3]\nroot = {json.dumps(str(root))}\n")
    try:
        iot = aws_client(server)
        iot.create_topic_rule(
            ruleName="to_dir",
            topicRulePayload={
                "sql": "SELECT * FROM 'plant/+/data'",
                "actions": [{"s3": {"roleArn": ROLE, "bucketName": "telemetry",
                                    "key": "${topic(2)}/${clientid()}.json",
                                    "cannedAcl": "bucket-owner-full-control"}}],
            },
        )
        dev = mqtt_client(server, "dev-s3")
        body = publish_until(dev, "plant/p7/data", b'{"kw": 12}',
                             file_arrival(root / "telemetry" / "p7" / "dev-s3.json"))
        assert json.loads(body) == {"kw": 12}
        dev.close()
    finally:
        stop_api_server(server)


# --- forwarding to an AWS-compatible endpoint (moto) --------------------------------------


def test_sqs_and_s3_actions_forward_to_an_aws_compatible_endpoint(tmp_path, moto):
    sqs, s3 = moto_client(moto, "sqs"), moto_client(moto, "s3")
    queue_url = sqs.create_queue(QueueName="forwarded")["QueueUrl"]
    s3.create_bucket(Bucket="fwd-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    server = server_with_targets(tmp_path, f"""
[targets.sqs]
forward_endpoint = "{moto}"
[targets.s3]
forward_endpoint = "{moto}"
[targets.forward]
region = "{REGION}"
access_key_id = "AKIDMOTO"
secret_access_key = "moto-secret"
""")
    try:
        iot = aws_client(server)
        iot.create_topic_rule(
            ruleName="forwarded",
            topicRulePayload={
                "sql": "SELECT temp, topic(2) AS id FROM 'fwd/+/data'",
                "awsIotSqlVersion": "2016-03-23",
                "actions": [
                    {"sqs": {"roleArn": ROLE, "queueUrl": queue_url}},
                    {"sqs": {"roleArn": ROLE, "queueUrl": queue_url, "useBase64": True}},
                    {"s3": {"roleArn": ROLE, "bucketName": "fwd-bucket",
                            "key": "in/${topic(2)}/reading 1.json", "cannedAcl": "private"}},
                ],
            },
        )
        dev = mqtt_client(server, "dev-fwd")

        def received(wait):
            r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=max(1, round(wait)))
            return r.get("Messages") or None

        messages = publish_until(dev, "fwd/d4/data", b'{"temp": 30}', received)
        bodies = [m["Body"] for m in messages]
        deadline = time.monotonic() + WAIT
        while len(bodies) < 2 and time.monotonic() < deadline:
            bodies += [m["Body"] for m in received(1) or []]
        expected = {"temp": 30, "id": "d4"}
        plain = [b for b in bodies if b.startswith("{")]
        encoded = [b for b in bodies if not b.startswith("{")]
        assert plain and json.loads(plain[0]) == expected, bodies
        assert encoded and json.loads(base64.b64decode(encoded[0])) == expected, bodies

        def stored(wait):
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    return s3.get_object(Bucket="fwd-bucket", Key="in/d4/reading 1.json")["Body"].read()
                except s3.exceptions.NoSuchKey:
                    time.sleep(0.05)
            return None

        body = stored(WAIT)
        assert body is not None, "the object was not forwarded"
        assert json.loads(body) == expected
        dev.close()
    finally:
        stop_api_server(server)
