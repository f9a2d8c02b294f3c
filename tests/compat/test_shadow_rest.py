"""iot-data shadow REST through boto3 (GetThingShadow, UpdateThingShadow, DeleteThingShadow,
ListNamedShadowsForThing): AWS's bodies and error names, the MQTT messages a REST update
publishes, and the same shadow seen from both sides, on both storage backends."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import Client, aws_client


@pytest.fixture
def data(api_server, iot):
    return aws_client(api_server, "iot-data")


def body(resp):
    return json.loads(resp["payload"].read())


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_update_get_delete_through_rest(api_server, data):
    watcher = Client("rest-watcher")
    watcher.connect(api_server.ports["mqtt"])
    watcher.subscribe("$aws/things/heater/shadow/update/delta")
    doc = body(data.update_thing_shadow(
        thingName="heater",
        payload=json.dumps({"state": {"desired": {"temp": 21}}, "clientToken": "r1"})))
    assert doc["state"] == {"desired": {"temp": 21}}
    assert (doc["version"], doc["clientToken"]) == (1, "r1")
    # A REST update publishes the same delta an MQTT update would.
    delta = json.loads(watcher.get().payload)
    assert (delta["state"], delta["version"]) == ({"temp": 21}, 1)
    got = body(data.get_thing_shadow(thingName="heater"))
    assert got["state"] == {"desired": {"temp": 21}, "delta": {"temp": 21}}
    assert got["version"] == 1
    with pytest.raises(ClientError) as e:
        data.update_thing_shadow(thingName="heater",
                                 payload=json.dumps({"state": {"reported": {"temp": 20}}, "version": 7}))
    assert error_of(e) == ("ConflictException", 409)
    with pytest.raises(ClientError) as e:
        data.update_thing_shadow(thingName="heater", payload=b"{not json")
    assert error_of(e) == ("InvalidRequestException", 400)
    deleted = body(data.delete_thing_shadow(thingName="heater"))
    assert deleted["version"] == 1
    with pytest.raises(ClientError) as e:
        data.get_thing_shadow(thingName="heater")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    watcher.close()


def test_mqtt_and_rest_see_one_shadow(api_server, data):
    dev = Client("boiler")
    dev.connect(api_server.ports["mqtt"])
    dev.subscribe("$aws/things/boiler/shadow/update/accepted")
    dev.publish("$aws/things/boiler/shadow/update",
                json.dumps({"state": {"reported": {"on": True}}}))
    assert json.loads(dev.get().payload)["version"] == 1
    doc = body(data.update_thing_shadow(
        thingName="boiler", payload=json.dumps({"state": {"desired": {"on": False}}, "version": 1})))
    assert doc["version"] == 2
    assert json.loads(dev.get().payload)["version"] == 2  # the REST update's /accepted
    got = body(data.get_thing_shadow(thingName="boiler"))
    assert got["state"]["reported"] == {"on": True}
    assert got["state"]["delta"] == {"on": False}
    dev.close()


def test_named_shadows_are_listed_and_paged(data):
    for name in ["alpha", "beta", "gamma"]:
        data.update_thing_shadow(thingName="multi", shadowName=name,
                                 payload=json.dumps({"state": {"reported": {"n": name}}}))
    data.update_thing_shadow(thingName="multi", payload=json.dumps({"state": {"reported": {"c": 1}}}))
    first = data.list_named_shadows_for_thing(thingName="multi", pageSize=2)
    assert first["results"] == ["alpha", "beta"]
    second = data.list_named_shadows_for_thing(thingName="multi", pageSize=2,
                                               nextToken=first["nextToken"])
    assert second["results"] == ["gamma"] and "nextToken" not in second
    data.delete_thing_shadow(thingName="multi", shadowName="beta")
    assert data.list_named_shadows_for_thing(thingName="multi")["results"] == ["alpha", "gamma"]
    got = body(data.get_thing_shadow(thingName="multi", shadowName="gamma"))
    assert got["state"]["reported"] == {"n": "gamma"}
    with pytest.raises(ClientError) as e:
        data.get_thing_shadow(thingName="multi", shadowName="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404)
