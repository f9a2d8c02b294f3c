"""The rules engine end to end, driven as users drive AWS: boto3 creates, replaces, disables and
enables topic rules; paho devices publish; the rules' republish actions (SQL filter and
transform, substitution templates, MQTT 5 headers) reach an MQTT subscriber; Basic Ingest
reaches its rule only; an error action fires when an action fails. Runs on both backends."""

import json
import queue
import time

import paho.mqtt.client as mqtt

from conftest import ACCOUNT_ID, WAIT

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"


def republish(topic, qos=1, **extra):
    return {"republish": {"roleArn": ROLE, "topic": topic, "qos": qos, **extra}}




def until_output(device, sub, topic, payload, timeout=WAIT):
    """Rule changes apply within moments, not before the API call returns: publish until the
    rule's output arrives (or a previous state's output stops)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        device.publish(topic, payload)
        try:
            return sub.get(timeout=0.3)
        except queue.Empty:
            continue
    raise AssertionError(f"no rule output for {topic} within {timeout} s")


def drain(sub):
    while True:
        try:
            sub.get(timeout=0.2)
        except queue.Empty:
            return


def test_republish_filters_transforms_and_applies_changes_live(iot, mqtt_port, clients):
    iot.create_topic_rule(ruleName="hot", topicRulePayload={
        "sql": "SELECT temp, topic(2) AS id, clientid() AS device FROM 'sensors/+/data' WHERE temp > 30",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [republish("alerts/${topic(2)}/${upper(room)}")],
    })
    sub = clients("watcher")
    sub.connect(mqtt_port)
    sub.subscribe("alerts/#")
    dev = clients("dev1")
    dev.connect(mqtt_port)

    first = until_output(dev, sub, "sensors/dev1/data", json.dumps({"temp": 40, "room": "lab"}))
    assert first.topic == "alerts/dev1/LAB"
    assert json.loads(first.payload) == {"temp": 40, "id": "dev1", "device": "dev1"}
    drain(sub)
    dev.publish("sensors/dev1/data", json.dumps({"temp": 20, "room": "lab"}))
    sub.expect_none()

    iot.disable_topic_rule(ruleName="hot")
    deadline = time.monotonic() + WAIT
    while True:
        dev.publish("sensors/dev1/data", json.dumps({"temp": 50, "room": "x"}))
        try:
            sub.get(timeout=0.3)
        except queue.Empty:
            break
        assert time.monotonic() < deadline, "disable did not apply"
    iot.enable_topic_rule(ruleName="hot")
    assert until_output(dev, sub, "sensors/dev1/data", json.dumps({"temp": 50, "room": "x"})).topic == "alerts/dev1/X"
    drain(sub)

    iot.replace_topic_rule(ruleName="hot", topicRulePayload={
        "sql": "SELECT VALUE 'replaced' FROM 'sensors/#'",
        "actions": [republish("alerts/replaced")],
    })
    deadline = time.monotonic() + WAIT
    while True:
        out = until_output(dev, sub, "sensors/dev1/data", json.dumps({"temp": 1}))
        if out.topic == "alerts/replaced":
            assert json.loads(out.payload) == "replaced"
            break
        assert time.monotonic() < deadline, "replace did not apply"


def test_republish_sets_mqtt5_headers(iot, mqtt_port, clients):
    iot.create_topic_rule(ruleName="headers", topicRulePayload={
        "sql": "SELECT * FROM 'in/+'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [republish("out/${topic(2)}", headers={
            "contentType": "application/json",
            "responseTopic": "replies/${topic(2)}",
            "userProperties": [{"key": "origin", "value": "${clientid()}"}],
        })],
    })
    sub = clients("v5", protocol=mqtt.MQTTv5)
    sub.connect(mqtt_port)
    sub.subscribe("out/#")
    dev = clients("dev5")
    dev.connect(mqtt_port)
    msg = until_output(dev, sub, "in/x", b'{"a": 1}')
    assert msg.topic == "out/x"
    assert msg.properties.ContentType == "application/json"
    assert msg.properties.ResponseTopic == "replies/x"
    assert ("origin", "dev5") in msg.properties.UserProperty


def test_basic_ingest_reaches_only_its_rule(iot, mqtt_port, clients):
    iot.create_topic_rule(ruleName="ingest", topicRulePayload={
        "sql": "SELECT *, topic() AS t FROM 'not/used' WHERE n > 0",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [republish("ingested")],
    })
    spy = clients("spy")
    spy.connect(mqtt_port)
    spy.subscribe("#")
    dev = clients("dev")
    dev.connect(mqtt_port)
    out = until_output(dev, spy, "$aws/rules/ingest/plant/7", b'{"n": 1}')
    assert out.topic == "ingested"
    assert json.loads(out.payload) == {"n": 1, "t": "plant/7"}
    drain(spy)
    dev.publish("$aws/rules/ingest/plant/7", b'{"n": 0}')
    dev.publish("$aws/rules/unknown/x", b'{"n": 1}')
    spy.expect_none()


def test_an_error_action_receives_aws_error_message(iot, mqtt_port, clients):
    iot.create_topic_rule(ruleName="fragile", topicRulePayload={
        "sql": "SELECT * FROM 'fragile/#'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [republish("out/${target}")],
        "errorAction": republish("errors/fragile"),
    })
    ops = clients("ops")
    ops.connect(mqtt_port)
    ops.subscribe("errors/#")
    dev = clients("dev9")
    dev.connect(mqtt_port)
    msg = until_output(dev, ops, "fragile/x", b'{"target": "+"}')
    error = json.loads(msg.payload)
    assert error["ruleName"] == "fragile"
    assert error["topic"] == "fragile/x"
    assert error["clientId"] == "dev9"
    assert error["failures"][0]["failedAction"] == "RepublishAction"
