"""Rule actions onto data systems, with rules created through boto3 exactly as for AWS:
dynamoDB and dynamoDBv2 rows in PostgreSQL (read with psql) and get_dynamodb reading them back
into a republished message; kinesis and firehose records in NATS JetStream and sns messages on
a NATS subject (read with nats-py). PostgreSQL parts need FERRITE_TEST_POSTGRES_URL, NATS parts
FERRITE_TEST_NATS_URL; without them they skip, saying so. A new rule applies moments after
CreateTopicRule returns, so each test publishes until the first result shows."""

import asyncio
import json
import os
import pathlib
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import (ACCOUNT_ID, WAIT, Client, aws_client, drop_schema, postgres_schema,
                      start_api_server, stop_api_server)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
PG_URL = os.environ.get("FERRITE_TEST_POSTGRES_URL")
NATS_URL = os.environ.get("FERRITE_TEST_NATS_URL")
SNS_TOPIC = f"compat-alerts-{uuid.uuid4().hex}"
# How long one publish is given to show before the next.
ROUND = 0.5


def need_postgres():
    if not PG_URL:
        pytest.skip("!! FERRITE_TEST_POSTGRES_URL is not set: PostgreSQL rule actions SKIPPED")


def need_nats():
    if not NATS_URL:
        pytest.skip("!! FERRITE_TEST_NATS_URL is not set: JetStream and NATS rule actions SKIPPED")


@pytest.fixture(scope="module")
def server():
    schema, url = postgres_schema() if PG_URL else (None, None)
    lines = ["version = 1"]
    if url:
        lines += ["[targets.dynamodb]", f"url = {json.dumps(url)}"]
    if NATS_URL:
        for section in ("kinesis", "firehose", "sns"):
            lines += [f"[targets.{section}]", f"nats_url = {json.dumps(NATS_URL)}"]
    config = pathlib.Path(tempfile.mkdtemp(prefix="ferrite-compat-cfg-")) / "ferrite.toml"
    config.write_text("\n".join(lines) + "\n")
    f = start_api_server("embedded", {"FERRITE_CONFIG": str(config)})
    f.pg_schema = schema
    yield f
    stop_api_server(f)
    if schema:
        drop_schema(schema)


@pytest.fixture
def iot(server):
    return aws_client(server)


@pytest.fixture
def device(server):
    c = Client(f"dev-{uuid.uuid4().hex[:8]}")
    c.connect(server.ports["mqtt"])
    yield c
    c.close()


def create_rule(iot, name, sql, actions):
    iot.create_topic_rule(
        ruleName=name,
        topicRulePayload={"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": actions},
    )


def publish_until(device, topic, payload, found):
    """Publishes `payload` until `found()` returns something other than None."""
    deadline = time.monotonic() + WAIT
    while True:
        device.publish(topic, json.dumps(payload))
        round_end = time.monotonic() + ROUND
        while time.monotonic() < round_end:
            result = found()
            if result is not None:
                return result
            time.sleep(0.05)
        assert time.monotonic() < deadline, f"no result for {topic} within {WAIT}s"


def psql_rows(server, sql):
    """The rows of a one-column query returning JSON text, in the test's schema."""
    done = subprocess.run(
        ["psql", PG_URL, "-Atq", "-c", f"SET search_path TO {server.pg_schema}", "-c", sql],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        return []  # the action creates its table on first use
    return [json.loads(line) for line in done.stdout.splitlines() if line]


def test_dynamodb_rows_and_get_dynamodb(server, iot, device):
    need_postgres()
    create_rule(iot, "compat_store", "SELECT temp FROM 'compat/+/reading'", [{"dynamoDB": {
        "roleArn": ROLE, "tableName": "CompatReadings",
        "hashKeyField": "device", "hashKeyValue": "${topic(2)}",
        "rangeKeyField": "seq", "rangeKeyValue": "${seq}", "rangeKeyType": "NUMBER",
    }}])
    row_sql = "SELECT to_jsonb(t)::text FROM \"CompatReadings\" t WHERE device = 'd1' AND seq = 4"
    row = publish_until(device, "compat/d1/reading", {"seq": 4, "temp": 19},
                        lambda: next(iter(psql_rows(server, row_sql)), None))
    assert row == {"device": "d1", "seq": 4, "payload": {"temp": 19}}

    create_rule(iot, "compat_lookup",
                f"SELECT get_dynamodb('CompatReadings', 'device', topic(2), 'seq', seq, '{ROLE}')"
                " AS item FROM 'compat-lookup/+'",
                [{"republish": {"roleArn": ROLE, "topic": "compat-out/lookup", "qos": 1}}])
    watcher = Client("compat-watcher")
    watcher.connect(server.ports["mqtt"])
    try:
        watcher.subscribe("compat-out/#")

        def output():
            try:
                return json.loads(watcher.get(timeout=0.05).payload)
            except Exception:
                return None

        got = publish_until(device, "compat-lookup/d1", {"seq": 4}, output)
        assert got == {"item": {"device": "d1", "seq": 4, "payload": {"temp": 19}}}
    finally:
        watcher.close()


def test_dynamodb_v2_items(server, iot, device):
    need_postgres()
    create_rule(iot, "compat_v2", "SELECT topic(2) AS device, temp, tags FROM 'compat-v2/+'",
                [{"dynamoDBv2": {"roleArn": ROLE, "putItem": {"tableName": "compat_items"}}}])
    item = publish_until(device, "compat-v2/d9", {"temp": 3.5, "tags": ["a", "b"]},
                         lambda: next(iter(psql_rows(server, "SELECT item::text FROM compat_items")),
                                      None))
    assert item == {"device": "d9", "temp": 3.5, "tags": ["a", "b"]}


async def stream_records(stream, at_least):
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except Exception:
            return None
        if info.state.messages < at_least:
            return None
        return [await js.get_msg(stream, seq) for seq in range(1, info.state.messages + 1)]
    finally:
        await nc.close()


async def delete_stream(stream):
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def test_kinesis_records_in_jetstream(server, iot, device):
    need_nats()
    stream = f"compat-kinesis-{uuid.uuid4().hex}"
    create_rule(iot, "compat_kinesis", "SELECT temp FROM 'compat-k/+'", [{"kinesis": {
        "roleArn": ROLE, "streamName": stream, "partitionKey": "${topic(2)}",
    }}])
    records = publish_until(device, "compat-k/dev5", {"temp": 8},
                            lambda: asyncio.run(stream_records(stream, 1)))
    first = records[0]
    assert first.subject == f"kinesis.{stream}"
    assert json.loads(first.data) == {"temp": 8}
    assert first.headers["Kinesis-Partition-Key"] == "dev5"
    asyncio.run(delete_stream(stream))


def test_firehose_records_end_with_the_separator(server, iot, device):
    need_nats()
    stream = f"compat-firehose-{uuid.uuid4().hex}"
    create_rule(iot, "compat_firehose", "SELECT temp FROM 'compat-f/+'", [{"firehose": {
        "roleArn": ROLE, "deliveryStreamName": stream, "separator": ",",
    }}])
    records = publish_until(device, "compat-f/x", {"temp": 1},
                            lambda: asyncio.run(stream_records(stream, 1)))
    assert records[0].data == b'{"temp":1},'
    asyncio.run(delete_stream(stream))


def test_sns_to_a_nats_subject(server, iot, device):
    need_nats()
    arn = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{SNS_TOPIC}"
    create_rule(iot, "compat_sns", "SELECT level FROM 'compat-alarm/+'",
                [{"sns": {"roleArn": ROLE, "targetArn": arn, "messageFormat": "RAW"}}])

    async def receive():
        import nats

        nc = await nats.connect(NATS_URL)
        try:
            sub = await nc.subscribe(f"sns.{SNS_TOPIC}")
            await nc.flush()
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                device.publish("compat-alarm/a", json.dumps({"level": 2}))
                try:
                    return await sub.next_msg(timeout=ROUND)
                except nats.errors.TimeoutError:
                    continue
            raise AssertionError(f"no message within {WAIT}s")
        finally:
            await nc.close()

    msg = asyncio.run(receive())
    assert json.loads(msg.data) == {"level": 2}
    assert msg.headers["Sns-Topic-Arn"] == arn
