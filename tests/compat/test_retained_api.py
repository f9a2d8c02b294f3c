"""iot-data GetRetainedMessage and ListRetainedMessages through boto3: what devices retained
over MQTT, read back through the API, with AWS's shapes and paging."""

import base64
import json

import paho.mqtt.client as mqtt
import pytest
from botocore.exceptions import ClientError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import Client, aws_client


@pytest.fixture
def data(api_server, iot):
    return aws_client(api_server, "iot-data")


def test_retained_messages_are_read_and_listed(api_server, data):
    dev = Client("retainer", mqtt.MQTTv5)
    dev.connect(api_server.ports["mqtt"])
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("site", "lab")]
    dev.publish("plant/b/state", b"running", qos=1, retain=True, properties=props)
    dev.publish("plant/a/state", b"idle", qos=0, retain=True)
    dev.publish("plant/c/state", b"off", qos=1, retain=True)
    dev.publish("plant/not-retained", b"x", qos=1)

    got = data.get_retained_message(topic="plant/b/state")
    assert (got["topic"], got["payload"], got["qos"]) == ("plant/b/state", b"running", 1)
    assert got["lastModifiedTime"] > 0
    assert json.loads(got["userProperties"]) == [{"site": "lab"}]

    first = data.list_retained_messages(maxResults=2)
    assert [t["topic"] for t in first["retainedTopics"]] == ["plant/a/state", "plant/b/state"]
    assert first["retainedTopics"][1]["payloadSize"] == len(b"running")
    rest = data.list_retained_messages(maxResults=2, nextToken=first["nextToken"])
    assert [t["topic"] for t in rest["retainedTopics"]] == ["plant/c/state"]
    assert "nextToken" not in rest

    # An empty retained publish deletes it, as MQTT says.
    dev.publish("plant/c/state", b"", qos=1, retain=True)
    with pytest.raises(ClientError) as e:
        data.get_retained_message(topic="plant/c/state")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    dev.close()
