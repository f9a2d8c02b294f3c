"""iot-data DeleteConnection through boto3 against paho devices: the device is disconnected, its
lifecycle event says API_INITIATED_DISCONNECT, its will is published unless preventWillMessage,
cleanSession discards its persistent session, and unknown or invalid client ids are refused as
AWS refuses them. Devices on the device port are held to `iot:DeleteConnection`."""

import json
import queue
import time

import paho.mqtt.client as mqtt
import pytest
from botocore.exceptions import ClientError

from conftest import WAIT, aws_client
from test_device_auth import ARN, Device, device_https


@pytest.fixture
def data(api_server, iot):
    return aws_client(api_server, "iot-data")




def next_on(sub, *topics, timeout=WAIT):
    """The next message on each of `topics`, in any order, skipping others."""
    deadline = time.monotonic() + timeout
    got = {}
    while len(got) < len(topics):
        left = deadline - time.monotonic()
        try:
            m = sub.get(timeout=max(left, 0))
        except queue.Empty:
            raise AssertionError(f"nothing on {set(topics) - set(got)}")
        if m.topic in topics:
            got.setdefault(m.topic, m)
    return [got[t] for t in topics]


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_the_device_is_disconnected_with_api_initiated_and_its_will(mqtt_port, data, clients, protocol):
    watcher = clients("dc-watcher", reconnect=False)
    watcher.connect(mqtt_port)
    watcher.subscribe("$aws/events/presence/disconnected/+")
    watcher.subscribe("wills/#")

    dev = clients("dc-device", protocol=protocol, reconnect=False)
    dev.c.will_set("wills/dc-device", b"gone", qos=1)
    dev.connect(mqtt_port)
    data.delete_connection(clientId="dc-device")

    rc = dev.disconnects.get(timeout=WAIT)
    if protocol == mqtt.MQTTv5:
        # [VERIFY] the DISCONNECT reason AWS sends: 0x98 is MQTT 5's "Administrative action".
        assert rc.value == 0x98, rc
    else:
        assert rc.is_failure
    event, will = next_on(watcher, "$aws/events/presence/disconnected/dc-device", "wills/dc-device")
    event = json.loads(event.payload)
    assert event["eventType"] == "disconnected"
    assert event["disconnectReason"] == "API_INITIATED_DISCONNECT"
    assert event["clientInitiatedDisconnect"] is False
    assert will.payload == b"gone"

    # No longer connected: a second call finds nothing.
    assert error_of(lambda: data.delete_connection(clientId="dc-device")) == (
        404, "ResourceNotFoundException")


def test_prevent_will_message_withholds_the_will(mqtt_port, data, clients):
    watcher = clients("dc-will-watcher", reconnect=False)
    watcher.connect(mqtt_port)
    watcher.subscribe("$aws/events/presence/disconnected/+")
    watcher.subscribe("wills/#")
    dev = clients("dc-quiet", protocol=mqtt.MQTTv5, reconnect=False)
    dev.c.will_set("wills/dc-quiet", b"gone", qos=1)
    dev.connect(mqtt_port)

    data.delete_connection(clientId="dc-quiet", preventWillMessage=True)
    dev.disconnects.get(timeout=WAIT)
    # The call returned after the connection let go, which is when a will is sent: a marker
    # published now comes after any will.
    data.publish(topic="wills/marker", qos=1, payload=b"marker")
    gone = "$aws/events/presence/disconnected/dc-quiet"
    seen = {}
    while not {"wills/marker", gone} <= seen.keys():
        m = watcher.get()
        seen.setdefault(m.topic, m)
    assert "wills/dc-quiet" not in seen
    assert json.loads(seen[gone].payload)["disconnectReason"] == "API_INITIATED_DISCONNECT"


@pytest.mark.parametrize("clean", [False, True])
def test_clean_session_decides_whether_the_persistent_session_stays(mqtt_port, data, clients, clean):
    client_id = f"dc-persistent-{clean}".lower()
    dev = clients(client_id, clean=False, reconnect=False)
    dev.connect(mqtt_port)
    dev.subscribe(f"to/{client_id}", qos=1)

    data.delete_connection(clientId=client_id, cleanSession=clean)
    dev.disconnects.get(timeout=WAIT)
    data.publish(topic=f"to/{client_id}", qos=1, payload=b"while away")

    back = clients(client_id, clean=False, reconnect=False)
    flags, _ = back.connect(mqtt_port)
    if clean:
        assert not flags.session_present
        back.expect_none()
    else:
        assert flags.session_present
        assert back.get().payload == b"while away"


def test_unknown_and_invalid_client_ids_are_refused(data):
    assert error_of(lambda: data.delete_connection(clientId="never-connected")) == (
        404, "ResourceNotFoundException")
    # The model's pattern ^[^$].* : no leading `$`.
    assert error_of(lambda: data.delete_connection(clientId="$reserved")) == (
        400, "InvalidRequestException")
    assert error_of(lambda: data.delete_connection(clientId="x" * 129)) == (
        400, "InvalidRequestException")


def test_a_device_needs_iot_delete_connection_on_the_client(iot, api_server, data, clients):
    dev = Device(iot, api_server, "dc-admin-device", policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:DeleteConnection",
                       "Resource": f"{ARN}:client/dc-allowed"}],
    })
    allowed = clients("dc-allowed", reconnect=False)
    allowed.connect(api_server.ports["mqtt"])
    other = clients("dc-other", reconnect=False)
    other.connect(api_server.ports["mqtt"])

    status, code, _ = device_https(api_server, dev, "/connections/dc-other", method="DELETE")
    assert (status, code) == (403, "ForbiddenException")
    status, _, _ = device_https(api_server, dev, "/connections/dc-allowed", method="DELETE")
    assert status == 200
    allowed.disconnects.get(timeout=WAIT)
    # The refused call left its client connected: the account may still disconnect it.
    data.delete_connection(clientId="dc-other")
    other.disconnects.get(timeout=WAIT)
