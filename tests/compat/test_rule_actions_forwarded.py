"""Rule actions forwarded to an AWS-compatible endpoint: one Ferrite server whose `[targets.*]`
sections all set `forward_endpoint` to moto's server, rules created through boto3 exactly as
for AWS, messages from paho, and every result read back from moto with boto3 — DynamoDB items
(dynamoDB, dynamoDBv2), a Kinesis record, a Firehose record in its S3 destination, an SNS
message in a subscribed SQS queue, CloudWatch Logs events and a CloudWatch metric. A failure
moto reports (a table that does not exist) reaches the rule's error action. A new rule applies
moments after CreateTopicRule returns, so each test publishes until its result shows."""

import json
import queue
import time
import uuid

import pytest

from conftest import (ACCOUNT_ID, REGION, WAIT, Client, aws_client, moto_client, start_api_server,
                      stop_api_server)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
# How long one publish is given to show before the next.
ROUND = 0.5
SECTIONS = ("dynamodb", "kinesis", "firehose", "sns", "cloudwatch_logs", "cloudwatch_metric")


@pytest.fixture(scope="module")
def server(moto, tmp_path_factory):
    lines = []
    for section in SECTIONS:
        lines += [f"[targets.{section}]", f'forward_endpoint = "{moto}"']
    lines += ["[targets.forward]", f'region = "{REGION}"', 'access_key_id = "AKIDMOTO"',
              'secret_access_key = "moto-secret"']
    config = tmp_path_factory.mktemp("forwarded") / "ferrite.toml"
    config.write_text("\n".join(lines) + "\n")
    f = start_api_server("embedded", {"FERRITE_CONFIG": str(config)})
    yield f
    stop_api_server(f)


@pytest.fixture
def iot(server):
    return aws_client(server)


@pytest.fixture
def device(server):
    c = Client(f"dev-{uuid.uuid4().hex[:8]}")
    c.connect(server.ports["mqtt"])
    yield c
    c.close()


def create_rule(iot, sql, actions, error_action=None):
    payload = {"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": actions}
    if error_action:
        payload["errorAction"] = error_action
    name = f"fwd_{uuid.uuid4().hex[:12]}"
    iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
    return name


def publish_until(device, topic, payload, found):
    """Publishes `payload` until `found()` returns something other than None (checking for
    ROUND seconds after each publish)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        device.publish(topic, payload)
        round_end = time.monotonic() + ROUND
        while True:
            got = found()
            if got is not None:
                return got
            if time.monotonic() > round_end:
                break
            time.sleep(0.05)
    raise AssertionError(f"nothing arrived within {WAIT} s of publishing to {topic}")


def wait_for(found, what):
    """Waits for `found()` to return something other than None, without publishing."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got = found()
        if got is not None:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{what} did not arrive within {WAIT} s")


# --- DynamoDB -----------------------------------------------------------------------------


def test_dynamodb_actions_put_items(moto, iot, device):
    ddb = moto_client(moto, "dynamodb")
    ddb.create_table(
        TableName="fwd-readings",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"},
                   {"AttributeName": "seq", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                              {"AttributeName": "seq", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST")
    ddb.create_table(
        TableName="fwd-devices",
        KeySchema=[{"AttributeName": "device", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "device", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")
    create_rule(iot, "SELECT *, topic(2) AS device FROM 'ddb/+/data'", [
        {"dynamoDB": {"roleArn": ROLE, "tableName": "fwd-readings",
                      "hashKeyField": "id", "hashKeyValue": "${topic(2)}", "hashKeyType": "STRING",
                      "rangeKeyField": "seq", "rangeKeyValue": "${seq}",
                      "rangeKeyType": "NUMBER", "payloadField": "data"}},
        {"dynamoDBv2": {"roleArn": ROLE, "putItem": {"tableName": "fwd-devices"}}},
    ])
    payload = {"seq": 7, "temp": 21.5, "on": True, "none": None, "tags": ["a", 1],
               "meta": {"fw": "1.2"}}

    def item(table, key):
        def found():
            return ddb.get_item(TableName=table, Key=key).get("Item")
        return found

    got = publish_until(device, "ddb/d1/data", json.dumps(payload).encode(),
                        item("fwd-readings", {"id": {"S": "d1"}, "seq": {"N": "7"}}))
    assert got["id"] == {"S": "d1"} and got["seq"] == {"N": "7"}, got
    # The SELECT output, a JSON object, is one map attribute named by payloadField.
    assert got["data"] == {"M": {
        "seq": {"N": "7"}, "temp": {"N": "21.5"}, "on": {"BOOL": True}, "none": {"NULL": True},
        "tags": {"L": [{"S": "a"}, {"N": "1"}]}, "meta": {"M": {"fw": {"S": "1.2"}}},
        "device": {"S": "d1"},
    }}, got
    # dynamoDBv2: each top-level attribute its own.
    got = wait_for(item("fwd-devices", {"device": {"S": "d1"}}), "the dynamoDBv2 item")
    assert got == {
        "device": {"S": "d1"}, "seq": {"N": "7"}, "temp": {"N": "21.5"}, "on": {"BOOL": True},
        "none": {"NULL": True}, "tags": {"L": [{"S": "a"}, {"N": "1"}]},
        "meta": {"M": {"fw": {"S": "1.2"}}},
    }, got


def test_a_refused_forward_reaches_the_error_action(server, iot, device):
    watcher = Client(f"watch-{uuid.uuid4().hex[:8]}")
    watcher.connect(server.ports["mqtt"])
    watcher.subscribe("fwd/errors/#")
    try:
        create_rule(
            iot, "SELECT * FROM 'ddb-missing/+'",
            [{"dynamoDBv2": {"roleArn": ROLE, "putItem": {"tableName": "no-such-table"}}}],
            {"republish": {"roleArn": ROLE, "topic": "fwd/errors/${topic(2)}", "qos": 1}})
        deadline = time.monotonic() + WAIT
        message = None
        while message is None and time.monotonic() < deadline:
            device.publish("ddb-missing/x", b'{"a": 1}')
            try:
                message = watcher.get(timeout=ROUND)
            except queue.Empty:  # the rule is not applied yet
                pass
        assert message is not None, "the error action was not called"
        error = json.loads(message.payload)
        [failure] = error["failures"]
        assert failure["failedAction"] == "DynamoDBv2Action"
        assert failure["failedResource"] == "no-such-table"
        assert "ResourceNotFoundException" in failure["errorMessage"], failure
    finally:
        watcher.close()


# --- Kinesis and Firehose -------------------------------------------------------------------


def test_kinesis_action_puts_a_record(moto, iot, device):
    kinesis = moto_client(moto, "kinesis")
    kinesis.create_stream(StreamName="fwd-stream", ShardCount=1)
    create_rule(iot, "SELECT temp FROM 'kin/+/data'", [
        {"kinesis": {"roleArn": ROLE, "streamName": "fwd-stream",
                     "partitionKey": "${topic(2)}"}},
    ])
    shard = kinesis.describe_stream(StreamName="fwd-stream")["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(StreamName="fwd-stream", ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def records():
        return kinesis.get_records(ShardIterator=iterator)["Records"] or None

    got = publish_until(device, "kin/k1/data", b'{"temp": 4, "x": 0}', records)
    assert json.loads(got[0]["Data"]) == {"temp": 4}
    assert got[0]["PartitionKey"] == "k1"


def test_firehose_action_puts_records_with_the_separator(moto, iot, device):
    s3 = moto_client(moto, "s3")
    s3.create_bucket(Bucket="fwd-firehose",
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    firehose = moto_client(moto, "firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="fwd-delivery",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::fwd-firehose", "Prefix": "in/"})
    create_rule(iot, "SELECT temp FROM 'fh/+/data'", [
        {"firehose": {"roleArn": ROLE, "deliveryStreamName": "fwd-delivery",
                      "separator": "\n"}},
    ])

    def objects():
        return s3.list_objects_v2(Bucket="fwd-firehose", Prefix="in/").get("Contents")

    got = publish_until(device, "fh/f1/data", b'{"temp": 9}', objects)
    body = s3.get_object(Bucket="fwd-firehose", Key=got[0]["Key"])["Body"].read()
    assert body == b'{"temp":9}\n'


# --- SNS --------------------------------------------------------------------------------------


def test_sns_action_publishes_to_the_topic(moto, iot, device):
    sns, sqs = moto_client(moto, "sns"), moto_client(moto, "sqs")
    topic_arn = sns.create_topic(Name="fwd-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="fwd-alerts-sub")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    create_rule(iot, "SELECT temp, topic(2) AS id FROM 'sns/+/raw'", [
        {"sns": {"roleArn": ROLE, "targetArn": topic_arn, "messageFormat": "RAW"}},
    ])
    # With messageFormat JSON the SELECT output is SNS's per-protocol structure.
    create_rule(iot, "SELECT * FROM 'sns/+/json'", [
        {"sns": {"roleArn": ROLE, "targetArn": topic_arn, "messageFormat": "JSON"}},
    ])

    def notification(matches):
        def found():
            r = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = r.get("Messages") or []
            if messages:
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)])
            bodies = [json.loads(m["Body"]) for m in messages]
            return next((b for b in bodies if matches(b["Message"])), None)
        return found

    got = publish_until(device, "sns/s1/raw", b'{"temp": 40}',
                        notification(lambda m: m.startswith("{")))
    assert got["TopicArn"] == topic_arn
    assert json.loads(got["Message"]) == {"temp": 40, "id": "s1"}
    structure = {"default": "to others", "sqs": "to queues"}
    got = publish_until(device, "sns/s1/json", json.dumps(structure).encode(),
                        notification(lambda m: not m.startswith("{")))
    assert got["Message"] == "to queues", got


# --- CloudWatch Logs and metrics ------------------------------------------------------------


def test_cloudwatch_logs_action_puts_log_events(moto, iot, device):
    logs = moto_client(moto, "logs")
    logs.create_log_group(logGroupName="/ferrite/fwd")
    create_rule(iot, "SELECT temp FROM 'cwl/+/data'", [
        {"cloudwatchLogs": {"roleArn": ROLE, "logGroupName": "/ferrite/fwd"}},
    ])
    create_rule(iot, "SELECT * FROM 'cwl/+/batch'", [
        {"cloudwatchLogs": {"roleArn": ROLE, "logGroupName": "/ferrite/fwd",
                            "batchMode": True}},
    ])

    def events(*messages):
        """The group's events with these messages, once each has arrived."""
        def found():
            got = logs.filter_log_events(logGroupName="/ferrite/fwd")["events"]
            picked = [next((e for e in got if e["message"] == m), None) for m in messages]
            return None if None in picked else picked
        return found

    [got] = publish_until(device, "cwl/c1/data", b'{"temp": 12}', events('{"temp":12}'))
    # The action writes into a log stream of its own, which it created.
    streams = logs.describe_log_streams(logGroupName="/ferrite/fwd")["logStreams"]
    assert got["logStreamName"] in [s["logStreamName"] for s in streams]

    now = int(time.time() * 1000)
    batch = [{"timestamp": now - 1000, "message": "batch two"},
             {"timestamp": now - 2000, "message": "batch one"}]
    first, second = publish_until(device, "cwl/c1/batch", json.dumps(batch).encode(),
                                  events("batch one", "batch two"))
    assert (first["timestamp"], second["timestamp"]) == (now - 2000, now - 1000)


def test_cloudwatch_metric_action_puts_metric_data(moto, iot, device):
    cloudwatch = moto_client(moto, "cloudwatch")
    create_rule(iot, "SELECT * FROM 'cwm/+/data'", [
        {"cloudwatchMetric": {"roleArn": ROLE, "metricNamespace": "Ferrite/${topic(2)}",
                              "metricName": "Temperature", "metricValue": "${temp}",
                              "metricUnit": "None", "metricTimestamp": "${ts}"}},
    ])
    ts = int(time.time()) - 60

    def metrics():
        return cloudwatch.list_metrics(Namespace="Ferrite/m1")["Metrics"] or None

    got = publish_until(device, "cwm/m1/data", json.dumps({"temp": 23.5, "ts": ts}).encode(),
                        metrics)
    assert got[0]["MetricName"] == "Temperature"
    stats = cloudwatch.get_metric_statistics(
        Namespace="Ferrite/m1", MetricName="Temperature", StartTime=ts - 60, EndTime=ts + 60,
        Period=60, Statistics=["Maximum", "SampleCount"])
    [point] = stats["Datapoints"]
    assert point["Maximum"] == 23.5
    assert point["Unit"] == "None"
    assert int(point["Timestamp"].timestamp()) in range(ts - 60, ts + 1)
