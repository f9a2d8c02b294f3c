"""iot-data shadow REST through boto3 (GetThingShadow, UpdateThingShadow, DeleteThingShadow,
ListNamedShadowsForThing): AWS's bodies and error names, the MQTT messages a REST update
publishes, and the same shadow seen from both sides, on both storage backends."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import BACKENDS, Client, aws_client, reset, start_api_server, stop_api_server


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


def test_rest_keeps_empty_objects_and_accepts_state_null(data):
    doc = body(data.update_thing_shadow(
        thingName="vent", payload=json.dumps({"state": {"desired": {"a": {"b": 1}, "d": {}}}})))
    assert doc["state"] == {"desired": {"a": {"b": 1}, "d": {}}}
    got = body(data.get_thing_shadow(thingName="vent"))
    assert got["state"]["desired"] == {"a": {"b": 1}, "d": {}}
    doc = body(data.update_thing_shadow(thingName="vent", payload=json.dumps({"state": None})))
    assert doc["state"] is None
    assert set(doc["metadata"]) == {"timestamp"}
    assert doc["version"] == 2
    got = body(data.get_thing_shadow(thingName="vent"))
    assert (got["state"], got["version"]) == ({}, 2)


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


def test_concurrent_mqtt_and_rest_updates_lose_nothing(api_server, data):
    """Devices (MQTT, reported) and apps (REST, desired) update one shadow at the same time:
    every update gets its own version and the document keeps every writer's last value."""
    devices, apps, rounds = 4, 2, 15
    topic = "$aws/things/crowd/shadow/update"
    watcher = Client("crowd-watcher")
    watcher.connect(api_server.ports["mqtt"])
    watcher.subscribe(topic + "/accepted")

    def device(i):
        c = Client(f"crowd-dev-{i}")
        c.connect(api_server.ports["mqtt"])
        c.subscribe(topic + "/accepted")
        c.subscribe(topic + "/rejected")
        for j in range(rounds):
            token = f"d{i}-{j}"
            c.publish(topic, json.dumps({"state": {"reported": {f"r{i}": j}}, "clientToken": token}))
            while True:  # each device waits for its own answer, as SDK clients do
                m = c.get()
                if json.loads(m.payload).get("clientToken") == token:
                    assert m.topic.endswith("/accepted"), m.payload
                    break
        c.close()

    def app(i):
        client = aws_client(api_server, "iot-data")
        for j in range(rounds):
            client.update_thing_shadow(
                thingName="crowd", payload=json.dumps({"state": {"desired": {f"w{i}": j}}}))

    with ThreadPoolExecutor(max_workers=devices + apps) as pool:
        futures = [pool.submit(device, i) for i in range(devices)]
        futures += [pool.submit(app, i) for i in range(apps)]
        for f in futures:
            f.result()
    total = (devices + apps) * rounds
    versions = sorted(json.loads(watcher.get().payload)["version"] for _ in range(total))
    assert versions == list(range(1, total + 1))
    got = body(data.get_thing_shadow(thingName="crowd"))
    assert got["version"] == total
    assert got["state"]["reported"] == {f"r{i}": rounds - 1 for i in range(devices)}
    assert got["state"]["desired"] == {f"w{i}": rounds - 1 for i in range(apps)}
    watcher.close()


def test_delete_thing_keeps_its_shadows_by_default(iot, data):
    # AWS: a shadow does not need its thing, and deleting the thing leaves it [VERIFY].
    iot.create_thing(thingName="keeper")
    data.update_thing_shadow(thingName="keeper", payload=json.dumps({"state": {"reported": {"a": 1}}}))
    data.update_thing_shadow(thingName="keeper", shadowName="cfg",
                             payload=json.dumps({"state": {"reported": {"b": 1}}}))
    iot.delete_thing(thingName="keeper")
    assert body(data.get_thing_shadow(thingName="keeper"))["state"]["reported"] == {"a": 1}
    assert data.list_named_shadows_for_thing(thingName="keeper")["results"] == ["cfg"]


@pytest.fixture(scope="module", params=BACKENDS)
def cascading_server(request):
    f = start_api_server(request.param, {"FERRITE_SHADOW_DELETE_WITH_THING": "true"})
    yield f
    stop_api_server(f)


def test_delete_thing_deletes_its_shadows_when_configured(cascading_server):
    reset(cascading_server)
    iot = aws_client(cascading_server)
    data = aws_client(cascading_server, "iot-data")
    iot.create_thing(thingName="doomed")
    for thing, shadow in [("doomed", None), ("doomed", "cfg"), ("doomed", "fw"), ("doomed-2", None)]:
        kw = {"shadowName": shadow} if shadow else {}
        for _ in range(2):
            data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"x": 1}}}), **kw)
    data.delete_thing_shadow(thingName="doomed", shadowName="fw")
    iot.delete_thing(thingName="doomed")
    for kw in [{}, {"shadowName": "cfg"}]:
        with pytest.raises(ClientError) as e:
            data.get_thing_shadow(thingName="doomed", **kw)
        assert error_of(e) == ("ResourceNotFoundException", 404)
    assert data.list_named_shadows_for_thing(thingName="doomed")["results"] == []
    # Gone entirely, deleted-version memory included: a new shadow starts at version 1.
    again = body(data.update_thing_shadow(thingName="doomed", shadowName="fw",
                                          payload=json.dumps({"state": {"reported": {"x": 2}}})))
    assert again["version"] == 1
    # Another thing's shadow, even with a name that extends this one, stays.
    assert body(data.get_thing_shadow(thingName="doomed-2"))["version"] == 2
