"""Lifecycle events as AWS IoT publishes them: a paho subscriber of `$aws/events/...` sees
connect, clean and unclean disconnect (with the right disconnectReason), subscribe and
unsubscribe; a rule created with boto3 selecting from `$aws/events/presence/+/+` sees them and
republishes them to an ordinary topic. Registry events follow UpdateEventConfigurations."""

import json
import queue
import re
import socket
import time

import paho.mqtt.client as mqtt

from conftest import ACCOUNT_ID, WAIT, Client, Ferrite

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")




def event(sub, topic, timeout=WAIT):
    """The next message on `topic`, skipping others (e.g. the watcher's own events)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no event on {topic}")
        try:
            m = sub.get(timeout=left)
        except queue.Empty:
            raise AssertionError(f"no event on {topic}")
        if m.topic == topic:
            return json.loads(m.payload)


def test_lifecycle_events_reach_a_subscriber(mqtt_port, clients):
    watcher = clients("watcher")
    watcher.connect(mqtt_port)
    watcher.subscribe("$aws/events/#")

    dev = clients("paho-dev")
    dev.connect(mqtt_port)
    connected = event(watcher, "$aws/events/presence/connected/paho-dev")
    assert connected["eventType"] == "connected"
    assert connected["clientId"] == "paho-dev"
    assert connected["ipAddress"] == "127.0.0.1"
    assert SESSION_ID.match(connected["sessionIdentifier"])
    assert isinstance(connected["versionNumber"], int)
    assert isinstance(connected["timestamp"], int) and connected["timestamp"] > 1_600_000_000_000
    assert "principalIdentifier" in connected

    dev.subscribe("devices/paho-dev/#")
    subscribed = event(watcher, "$aws/events/subscriptions/subscribed/paho-dev")
    assert subscribed["eventType"] == "subscribed"
    assert subscribed["topics"] == ["devices/paho-dev/#"]
    assert subscribed["sessionIdentifier"] == connected["sessionIdentifier"]

    dev.c.unsubscribe("devices/paho-dev/#")
    unsubscribed = event(watcher, "$aws/events/subscriptions/unsubscribed/paho-dev")
    assert unsubscribed["eventType"] == "unsubscribed"
    assert unsubscribed["topics"] == ["devices/paho-dev/#"]

    dev.close()
    clean = event(watcher, "$aws/events/presence/disconnected/paho-dev")
    assert clean["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert clean["clientInitiatedDisconnect"] is True
    assert clean["versionNumber"] == connected["versionNumber"]
    assert clean["sessionIdentifier"] == connected["sessionIdentifier"]

    # Unclean: the socket goes away without DISCONNECT.
    lost = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="paho-lost")
    lost.connect("127.0.0.1", mqtt_port)
    lost.loop(timeout=1.0)
    again = event(watcher, "$aws/events/presence/connected/paho-lost")
    lost.socket().shutdown(socket.SHUT_RDWR)
    lost.socket().close()
    unclean = event(watcher, "$aws/events/presence/disconnected/paho-lost")
    assert unclean["disconnectReason"] == "CONNECTION_LOST"
    assert unclean["clientInitiatedDisconnect"] is False
    assert unclean["versionNumber"] == again["versionNumber"]


def test_a_rule_on_presence_topics_sees_lifecycle_events(iot, mqtt_port, clients):
    iot.create_topic_rule(ruleName="presence", topicRulePayload={
        "sql": "SELECT * FROM '$aws/events/presence/+/+'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"roleArn": ROLE, "topic": "presence/${topic(4)}/${clientId}", "qos": 1}}],
    })
    sub = clients("presence-sub")
    sub.connect(mqtt_port)
    sub.subscribe("presence/#")

    # The rule applies within moments of CreateTopicRule: connect until it acts.
    deadline = time.monotonic() + WAIT
    while True:
        assert time.monotonic() < deadline, "the rule never republished a lifecycle event"
        dev = Client("ruled-dev")
        dev.connect(mqtt_port)
        dev.close()
        try:
            first = sub.get(timeout=0.5)
            break
        except queue.Empty:
            continue
    seen = {first.topic: json.loads(first.payload)}
    while "presence/disconnected/ruled-dev" not in seen:
        m = sub.get(timeout=WAIT)
        seen[m.topic] = json.loads(m.payload)
    gone = seen["presence/disconnected/ruled-dev"]
    assert gone["eventType"] == "disconnected"
    assert gone["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"


def test_registry_events_follow_the_event_configuration(iot, mqtt_port, clients):
    watcher = clients("registry-watcher")
    watcher.connect(mqtt_port)
    watcher.subscribe("$aws/events/thing/#")
    iot.create_thing(thingName="before")
    iot.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})
    assert iot.describe_event_configurations()["eventConfigurations"]["THING"] == {"Enabled": True}
    created = iot.create_thing(thingName="lamp", attributePayload={"attributes": {"color": "red"}})
    e = event(watcher, "$aws/events/thing/lamp/created")
    assert e["eventType"] == "THING_EVENT" and e["operation"] == "CREATED"
    assert e["thingId"] == created["thingId"]
    assert e["accountId"] == ACCOUNT_ID
    assert e["attributes"] == {"color": "red"}
    assert e["versionNumber"] == 1
    iot.delete_thing(thingName="lamp")
    e = event(watcher, "$aws/events/thing/lamp/deleted")
    assert e["operation"] == "DELETED" and e["thingId"] == created["thingId"]
    iot.update_event_configurations(eventConfigurations={"THING": {"Enabled": False}})
    iot.create_thing(thingName="after")
    watcher.expect_none(timeout=0.5)


def test_a_certificate_device_is_named_by_its_certificate_and_revocation_is_auth_error(
        iot, api_server, mqtt_port, clients):
    from test_device_auth import Device

    watcher = clients("cert-watcher")
    watcher.connect(mqtt_port)
    watcher.subscribe("$aws/events/presence/+/sensor-ev")
    dev = Device(iot, api_server, "sensor-ev")
    c = dev.connect()
    connected = event(watcher, "$aws/events/presence/connected/sensor-ev")
    assert connected["principalIdentifier"] == dev.cert_id
    iot.update_certificate(certificateId=dev.cert_id, newStatus="INACTIVE")
    c.disconnects.get(timeout=WAIT)
    c.c.loop_stop()
    revoked = event(watcher, "$aws/events/presence/disconnected/sensor-ev")
    assert revoked["disconnectReason"] == "AUTH_ERROR"
    assert revoked["clientInitiatedDisconnect"] is False
    assert revoked["principalIdentifier"] == dev.cert_id
    assert revoked["versionNumber"] == connected["versionNumber"]


def test_a_client_flooding_past_the_publish_limit_is_throttled():
    """With AWS's per-connection publish limit switched on, a client that keeps publishing
    faster than it allows is disconnected (MQTT 5: 0x96) and its disconnect says THROTTLED."""
    f = Ferrite({"FERRITE_MQTT_MAX_PUBLISHES_PER_SEC": "10", "FERRITE_MQTT_THROTTLE_GRACE_SECS": "1"})
    try:
        port = f.ports["mqtt"]
        watcher = Client("throttle-watcher")
        watcher.connect(port)
        watcher.subscribe("$aws/events/presence/disconnected/+")
        flood = Client("flooder", protocol=mqtt.MQTTv5)
        flood.connect(port)
        deadline = time.monotonic() + WAIT
        while flood.disconnects.empty():
            assert time.monotonic() < deadline, "never throttled"
            flood.c.publish("flood/t", b"x", qos=0)
        rc = flood.disconnects.get(timeout=WAIT)
        # The broker sends DISCONNECT 0x96 and closes. A client still writing its flood may
        # have the connection reset under it first (the broker closes with the flood unread),
        # and then paho reports the lost connection (0x80) instead of the DISCONNECT; the
        # lifecycle event below is the broker's own account either way.
        assert rc.value in (0x96, 0x80), rc
        gone = event(watcher, "$aws/events/presence/disconnected/flooder")
        assert gone["disconnectReason"] == "THROTTLED"
        assert gone["clientInitiatedDisconnect"] is False
        flood.c.loop_stop()
        watcher.close()
    finally:
        f.close()
