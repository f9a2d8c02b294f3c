"""Device Shadow service over MQTT, end to end against a real ferrite process: paho clients on the
plain listener (classic and named shadows, persistent sessions, durability across kill -9) and the
AWS IoT Device SDK v2 shadow clients (V1 `IotShadowClient` on MQTT 3.1.1 and the request-response
`IotShadowClientV2` on MQTT 5) with a certificate and a thing-scoped policy over mutual TLS.

Payload shapes follow AWS's developer guide ("Device Shadow service documents") and
crates/shadow (ferrite_shadow), which produces them: responses travel through the broker to every
authorised subscriber, `clientToken` is echoed on every response, timestamps are epoch seconds."""

import json
import queue
import signal
import time

import pytest

from conftest import ACCOUNT_ID, REGION, WAIT, Client
from test_device_auth import Device, sdk_client, sdk_stop

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT_ID}"
QOS1 = 1


class Shadows:
    """A paho client talking to the shadow service: requests go out with `request`, responses are
    awaited by topic with `wait` (messages on other topics are kept for later `wait`s)."""

    def __init__(self, client):
        self.c = client
        self.kept = []  # (topic, payload dict) received but not yet asked for

    def subscribe(self, *filters):
        for f in filters:
            self.c.subscribe(f, qos=QOS1)

    def request(self, topic, doc):
        payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.c.publish(topic, payload, qos=QOS1)

    def wait(self, topic, timeout=WAIT):
        """The next message on `topic`, as parsed JSON."""
        for i, (t, doc) in enumerate(self.kept):
            if t == topic:
                del self.kept[i]
                return doc
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing on {topic} within {timeout}s; got {self.kept}")
            try:
                m = self.c.get(timeout=left)
            except queue.Empty:
                raise AssertionError(f"nothing on {topic} within {timeout}s; got {self.kept}")
            doc = json.loads(m.payload)
            if m.topic == topic:
                return doc
            self.kept.append((m.topic, doc))

    def received(self, topic):
        """Messages on `topic` that already arrived (does not wait)."""
        while True:
            try:
                m = self.c.messages.get_nowait()
            except queue.Empty:
                break
            self.kept.append((m.topic, json.loads(m.payload)))
        return [doc for t, doc in self.kept if t == topic]

    def close(self):
        self.c.close()


def connect(port, client_id, clean=True):
    c = Client(client_id, clean=clean)
    c.connect(port)
    return c


def prefix(thing, shadow=None):
    base = f"$aws/things/{thing}/shadow"
    return f"{base}/name/{shadow}" if shadow else base


def response_filters(p):
    """What AWS's own SDKs subscribe to: `P/get/+`, `P/delete/+` and the update responses. A `+`
    at the end never matches the request topics themselves."""
    return (f"{p}/get/+", f"{p}/update/+", f"{p}/delete/+")


def assert_ts(value, before, after):
    """A shadow timestamp: integer epoch seconds taken while the request was handled."""
    assert isinstance(value, int) and not isinstance(value, bool), value
    assert before - 1 <= value <= after + 1, (value, before, after)


# --- paho, plain TCP ------------------------------------------------------------------------

def test_classic_shadow_update_delta_get_conflict_delete(ferrite):
    s = Shadows(connect(ferrite.ports["mqtt"], "lamp-app"))
    p = prefix("lamp")
    s.subscribe(*response_filters(p))

    # A desired change creates the shadow at version 1 and tells the device what to change.
    t0 = int(time.time())
    s.request(f"{p}/update", {"state": {"desired": {"color": "red"}}, "clientToken": "t1"})
    accepted = s.wait(f"{p}/update/accepted")
    t1 = int(time.time())
    assert accepted["state"] == {"desired": {"color": "red"}}
    assert accepted["version"] == 1
    assert accepted["clientToken"] == "t1"
    assert set(accepted["metadata"]) == {"desired"}
    assert set(accepted["metadata"]["desired"]) == {"color"}
    assert_ts(accepted["metadata"]["desired"]["color"]["timestamp"], t0, t1)
    assert_ts(accepted["timestamp"], t0, t1)

    delta = s.wait(f"{p}/update/delta")
    assert delta["state"] == {"color": "red"}  # flat: no "desired" wrapper
    assert delta["version"] == 1
    assert delta["clientToken"] == "t1"
    assert delta["metadata"] == {"color": {"timestamp": accepted["metadata"]["desired"]["color"]["timestamp"]}}
    assert_ts(delta["timestamp"], t0, t1)

    documents = s.wait(f"{p}/update/documents")
    assert documents["current"]["state"] == {"desired": {"color": "red"}}
    assert documents["current"]["version"] == 1
    assert documents["current"]["metadata"] == accepted["metadata"]
    assert "delta" not in documents["current"]["state"]
    # A new shadow had no state before this update.
    previous = documents.get("previous") or {}
    assert not (previous.get("state") or {}).get("desired")
    assert not (previous.get("state") or {}).get("reported")
    assert documents["clientToken"] == "t1"
    assert_ts(documents["timestamp"], t0, t1)

    # The device reports the desired state: accepted, documents, but no delta (nothing differs).
    s.request(f"{p}/update", {"state": {"reported": {"color": "red"}}, "clientToken": "t2"})
    accepted = s.wait(f"{p}/update/accepted")
    assert accepted["state"] == {"reported": {"color": "red"}}
    assert accepted["version"] == 2
    assert accepted["clientToken"] == "t2"
    assert set(accepted["metadata"]) == {"reported"}
    documents = s.wait(f"{p}/update/documents")
    assert documents["previous"]["version"] == 1
    assert documents["previous"]["state"] == {"desired": {"color": "red"}}
    assert documents["current"]["version"] == 2
    assert documents["current"]["state"] == {"desired": {"color": "red"}, "reported": {"color": "red"}}
    assert documents["clientToken"] == "t2"
    assert s.received(f"{p}/update/delta") == []  # the service sends delta before documents

    # GET: the full document, no delta section because desired == reported.
    s.request(f"{p}/get", {"clientToken": "g1"})
    got = s.wait(f"{p}/get/accepted")
    assert got["state"] == {"desired": {"color": "red"}, "reported": {"color": "red"}}
    assert got["version"] == 2
    assert got["clientToken"] == "g1"
    assert set(got["metadata"]) == {"desired", "reported"}
    assert got["metadata"]["desired"]["color"] == documents["current"]["metadata"]["desired"]["color"]
    assert got["metadata"]["reported"]["color"] == accepted["metadata"]["reported"]["color"]
    assert isinstance(got["timestamp"], int)
    assert s.received(f"{p}/update/delta") == []

    # Optimistic locking: an update against an old version is refused and changes nothing.
    s.request(f"{p}/update", {"state": {"desired": {"color": "blue"}}, "version": 1, "clientToken": "t3"})
    rejected = s.wait(f"{p}/update/rejected")
    assert rejected["code"] == 409
    assert rejected["message"] == "Version conflict"
    assert rejected["clientToken"] == "t3"
    # Not JSON at all.
    s.request(f"{p}/update", b"{not json")
    rejected = s.wait(f"{p}/update/rejected")
    assert rejected["code"] == 400
    assert rejected["message"] == "Invalid JSON"
    assert "clientToken" not in rejected
    s.request(f"{p}/get", {"clientToken": "g2"})
    got = s.wait(f"{p}/get/accepted")
    assert (got["version"], got["state"]["desired"], got["clientToken"]) == (2, {"color": "red"}, "g2")
    assert s.received(f"{p}/update/accepted") == []

    # The right version is accepted; the delta lists what the device still has to do.
    s.request(f"{p}/update", {"state": {"desired": {"color": "green"}}, "version": 2, "clientToken": "t4"})
    accepted = s.wait(f"{p}/update/accepted")
    assert (accepted["version"], accepted["state"], accepted["clientToken"]) == \
        (3, {"desired": {"color": "green"}}, "t4")
    delta = s.wait(f"{p}/update/delta")
    assert (delta["version"], delta["state"]) == (3, {"color": "green"})
    s.wait(f"{p}/update/documents")
    s.request(f"{p}/get", {"clientToken": "g3"})
    got = s.wait(f"{p}/get/accepted")
    assert got["state"] == {"desired": {"color": "green"}, "reported": {"color": "red"},
                            "delta": {"color": "green"}}
    assert got["version"] == 3

    # DELETE answers the deleted document's version; the shadow is gone afterwards.
    t0 = int(time.time())
    s.request(f"{p}/delete", {"clientToken": "d1"})
    deleted = s.wait(f"{p}/delete/accepted")
    assert deleted["version"] == 3
    assert deleted["clientToken"] == "d1"
    assert_ts(deleted["timestamp"], t0, int(time.time()))
    assert set(deleted) <= {"version", "timestamp", "clientToken"}

    s.request(f"{p}/get", {"clientToken": "g4"})
    rejected = s.wait(f"{p}/get/rejected")
    assert rejected["code"] == 404
    assert rejected["message"] == "No shadow exists with name: 'lamp'"
    assert rejected["clientToken"] == "g4"
    s.request(f"{p}/delete", {"clientToken": "d2"})
    rejected = s.wait(f"{p}/delete/rejected")
    assert (rejected["code"], rejected["clientToken"]) == (404, "d2")

    # Deleting a shadow does not reset its version: a re-created shadow continues the numbering.
    s.request(f"{p}/update", {"state": {"reported": {"color": "green"}}})
    accepted = s.wait(f"{p}/update/accepted")
    assert accepted["version"] == 4
    assert "clientToken" not in accepted
    s.request(f"{p}/get", b"")  # an empty GET payload is a valid request
    got = s.wait(f"{p}/get/accepted")
    assert got["state"] == {"reported": {"color": "green"}}
    assert got["version"] == 4
    assert "clientToken" not in got
    s.close()


def test_responses_reach_every_subscriber_not_only_the_requester(ferrite):
    # Apps watch `/update/documents` (or `/accepted`) for any change a device or another app makes.
    watcher = Shadows(connect(ferrite.ports["mqtt"], "watcher"))
    watcher.subscribe("$aws/things/+/shadow/update/documents")
    app = Shadows(connect(ferrite.ports["mqtt"], "app"))
    app.subscribe(f"{prefix('pump')}/update/accepted")
    app.request(f"{prefix('pump')}/update", {"state": {"reported": {"rpm": 1200}}, "clientToken": "w1"})
    assert app.wait(f"{prefix('pump')}/update/accepted")["version"] == 1
    documents = watcher.wait(f"{prefix('pump')}/update/documents")
    assert documents["current"]["state"] == {"reported": {"rpm": 1200}}
    assert documents["clientToken"] == "w1"
    watcher.close()
    app.close()


def test_named_shadow_is_independent_of_the_classic_shadow(ferrite):
    s = Shadows(connect(ferrite.ports["mqtt"], "lamp-config-app"))
    classic, named = prefix("lamp"), prefix("lamp", "config")
    s.subscribe(*response_filters(classic), *response_filters(named))

    s.request(f"{classic}/update", {"state": {"desired": {"color": "red"}}, "clientToken": "c1"})
    assert s.wait(f"{classic}/update/accepted")["version"] == 1
    assert s.wait(f"{classic}/update/delta")["state"] == {"color": "red"}
    s.wait(f"{classic}/update/documents")

    # The named shadow starts its own version sequence and answers on its own topics.
    s.request(f"{named}/update", {"state": {"desired": {"interval": 30}, "reported": {"interval": 60}},
                                  "clientToken": "n1"})
    accepted = s.wait(f"{named}/update/accepted")
    assert accepted["state"] == {"desired": {"interval": 30}, "reported": {"interval": 60}}
    assert accepted["version"] == 1
    assert accepted["clientToken"] == "n1"
    assert set(accepted["metadata"]) == {"desired", "reported"}
    assert isinstance(accepted["metadata"]["desired"]["interval"]["timestamp"], int)
    delta = s.wait(f"{named}/update/delta")
    assert (delta["state"], delta["version"], delta["clientToken"]) == ({"interval": 30}, 1, "n1")
    documents = s.wait(f"{named}/update/documents")
    assert documents["current"]["state"] == {"desired": {"interval": 30}, "reported": {"interval": 60}}
    assert documents["current"]["version"] == 1
    # Nothing about the named shadow on the classic topics.
    assert s.received(f"{classic}/update/accepted") == []
    assert s.received(f"{classic}/update/delta") == []

    s.request(f"{named}/update", {"state": {"desired": {"interval": 45}}, "version": 7, "clientToken": "n2"})
    rejected = s.wait(f"{named}/update/rejected")
    assert (rejected["code"], rejected["message"], rejected["clientToken"]) == (409, "Version conflict", "n2")

    s.request(f"{named}/get", {"clientToken": "ng1"})
    got = s.wait(f"{named}/get/accepted")
    assert got["state"] == {"desired": {"interval": 30}, "reported": {"interval": 60}, "delta": {"interval": 30}}
    assert got["version"] == 1
    assert got["clientToken"] == "ng1"
    s.request(f"{classic}/get", {"clientToken": "cg1"})
    got = s.wait(f"{classic}/get/accepted")
    assert got["state"] == {"desired": {"color": "red"}, "delta": {"color": "red"}}
    assert got["version"] == 1

    # Deleting the named shadow leaves the classic one alone.
    s.request(f"{named}/delete", {"clientToken": "nd1"})
    deleted = s.wait(f"{named}/delete/accepted")
    assert (deleted["version"], deleted["clientToken"]) == (1, "nd1")
    s.request(f"{named}/get", {"clientToken": "ng2"})
    rejected = s.wait(f"{named}/get/rejected")
    assert rejected["code"] == 404
    assert rejected["message"] == "No shadow exists with name: 'config'"
    assert rejected["clientToken"] == "ng2"
    s.request(f"{classic}/get", {"clientToken": "cg2"})
    got = s.wait(f"{classic}/get/accepted")
    assert (got["version"], got["state"]["desired"], got["clientToken"]) == (1, {"color": "red"}, "cg2")
    assert s.received(f"{classic}/delete/accepted") == []

    # And an unknown named shadow is simply not found.
    other = prefix("lamp", "nothing")
    s.subscribe(f"{other}/get/+")
    s.request(f"{other}/get", {})
    rejected = s.wait(f"{other}/get/rejected")
    assert (rejected["code"], rejected["message"]) == (404, "No shadow exists with name: 'nothing'")
    s.close()


def test_empty_objects_are_stored_and_state_null_clears(ferrite):
    s = Shadows(connect(ferrite.ports["mqtt"], "vent-app"))
    p = prefix("vent")
    s.subscribe(*response_filters(p))

    # An explicit `{}` is a value: echoed, stored and returned, also in place of a scalar.
    s.request(f"{p}/update", {"state": {"desired": {"a": {"b": 1}, "d": {}, "s": 5}}})
    assert s.wait(f"{p}/update/accepted")["version"] == 1
    s.request(f"{p}/update", {"state": {"desired": {"s": {}}}, "clientToken": "e2"})
    accepted = s.wait(f"{p}/update/accepted")
    assert accepted["state"] == {"desired": {"s": {}}}
    assert accepted["metadata"] == {"desired": {"s": {}}}
    s.request(f"{p}/get", {})
    got = s.wait(f"{p}/get/accepted")
    assert got["state"]["desired"] == {"a": {"b": 1}, "d": {}, "s": {}}

    # `"state": null` is echoed as null with a bare stamp and clears both sections.
    t0 = int(time.time())
    s.request(f"{p}/update", {"state": None, "clientToken": "n1"})
    accepted = s.wait(f"{p}/update/accepted")
    t1 = int(time.time())
    assert accepted["state"] is None
    assert set(accepted["metadata"]) == {"timestamp"}
    assert_ts(accepted["metadata"]["timestamp"], t0, t1)
    assert (accepted["version"], accepted["clientToken"]) == (3, "n1")
    s.request(f"{p}/get", {})
    got = s.wait(f"{p}/get/accepted")
    assert (got["state"], got["version"]) == ({}, 3)
    s.close()


def test_offline_device_gets_the_delta_when_it_reconnects(ferrite):
    port = ferrite.ports["mqtt"]
    p = prefix("dev")
    device = connect(port, "dev", clean=False)
    device.subscribe(f"{p}/update/delta", qos=1)
    device.close()

    app = Shadows(connect(port, "dev-app"))
    app.subscribe(f"{p}/update/accepted")
    app.request(f"{p}/update", {"state": {"desired": {"firmware": "2.0"}}, "clientToken": "ota-1"})
    assert app.wait(f"{p}/update/accepted")["version"] == 1

    device = Client("dev", clean=False)
    flags, _ = device.connect(port)
    assert flags.session_present
    m = device.get()
    assert (m.topic, m.qos) == (f"{p}/update/delta", 1)
    delta = json.loads(m.payload)
    assert delta["state"] == {"firmware": "2.0"}
    assert delta["version"] == 1
    assert delta["clientToken"] == "ota-1"

    # The device applies it and reports; the shadow then has nothing left to do.
    dev = Shadows(device)
    dev.subscribe(f"{p}/update/accepted", f"{p}/get/+")
    dev.request(f"{p}/update", {"state": {"reported": {"firmware": "2.0"}}, "version": 1})
    assert dev.wait(f"{p}/update/accepted")["version"] == 2
    dev.request(f"{p}/get", {"clientToken": "boot"})
    got = dev.wait(f"{p}/get/accepted")
    assert got["state"] == {"desired": {"firmware": "2.0"}, "reported": {"firmware": "2.0"}}
    assert got["version"] == 2
    assert dev.received(f"{p}/update/delta") == []
    dev.close()
    app.close()


def test_shadow_survives_kill_9(ferrite):
    p = prefix("boiler")
    s = Shadows(connect(ferrite.ports["mqtt"], "boiler-app"))
    s.subscribe(*response_filters(p))
    s.request(f"{p}/update", {"state": {"desired": {"temp": 55}, "reported": {"temp": 40}}})
    assert s.wait(f"{p}/update/accepted")["version"] == 1
    s.request(f"{p}/update", {"state": {"reported": {"temp": 50, "pressure": [1.5, 1.6]}},
                              "clientToken": "before"})
    accepted = s.wait(f"{p}/update/accepted")
    assert accepted["version"] == 2
    s.request(f"{p}/get", {})
    before = s.wait(f"{p}/get/accepted")
    s.close()

    ferrite.restart(signal.SIGKILL)

    s = Shadows(connect(ferrite.ports["mqtt"], "boiler-app"))
    s.subscribe(*response_filters(p))
    s.request(f"{p}/get", {"clientToken": "after"})
    got = s.wait(f"{p}/get/accepted")
    assert got["version"] == 2
    assert got["state"] == {"desired": {"temp": 55}, "reported": {"temp": 50, "pressure": [1.5, 1.6]},
                            "delta": {"temp": 55}}
    assert got["metadata"] == before["metadata"]
    assert got["clientToken"] == "after"
    # Versions continue after the restart: locking on the stored version works.
    s.request(f"{p}/update", {"state": {"reported": {"temp": 55}}, "version": 2, "clientToken": "v3"})
    accepted = s.wait(f"{p}/update/accepted")
    assert (accepted["version"], accepted["clientToken"]) == (3, "v3")
    s.close()


# --- AWS IoT Device SDK v2 over mutual TLS --------------------------------------------------

def shadow_policy(thing):
    """The policy of AWS's shadow sample: connect as the thing, use only its shadow topics.
    `*` in a policy resource also matches `/`, so `shadow/*` covers named shadows too."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/{thing}"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": f"{ARN}:topic/$aws/things/{thing}/shadow/*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": f"{ARN}:topicfilter/$aws/things/{thing}/shadow/*"},
        ],
    }


def test_awsiotsdk_shadow_client_mqtt311(iot, api_server):
    from awscrt import mqtt
    from awsiot import iotshadow, mqtt_connection_builder

    thing = "sdk-lamp"
    dev = Device(iot, api_server, thing, policy=shadow_policy(thing))
    conn = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost", port=api_server.ports["mqtts"], cert_filepath=dev.cert_file,
        pri_key_filepath=dev.key_file, ca_filepath=api_server.ca_file, client_id=thing,
        clean_session=True, keep_alive_secs=30,
    )
    conn.connect().result(WAIT)
    try:
        shadow = iotshadow.IotShadowClient(conn)
        accepted, rejected, deltas, gets = queue.Queue(), queue.Queue(), queue.Queue(), queue.Queue()
        qos = mqtt.QoS.AT_LEAST_ONCE
        for fut, _ in (
            shadow.subscribe_to_update_shadow_accepted(
                iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos, accepted.put),
            shadow.subscribe_to_update_shadow_rejected(
                iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos, rejected.put),
            shadow.subscribe_to_shadow_delta_updated_events(
                iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing), qos, deltas.put),
            shadow.subscribe_to_get_shadow_accepted(
                iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos, gets.put),
        ):
            assert fut.result(WAIT) == qos  # granted, not refused by the policy

        shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
            thing_name=thing, client_token="sdk-1",
            state=iotshadow.ShadowState(desired={"color": "red", "brightness": 80}),
        ), qos).result(WAIT)
        resp = accepted.get(timeout=WAIT)
        assert isinstance(resp, iotshadow.UpdateShadowResponse)
        assert resp.state.desired == {"color": "red", "brightness": 80}
        assert resp.version == 1
        assert resp.client_token == "sdk-1"
        assert set(resp.metadata.desired) == {"color", "brightness"}
        assert resp.timestamp is not None
        delta = deltas.get(timeout=WAIT)
        assert isinstance(delta, iotshadow.ShadowDeltaUpdatedEvent)
        assert delta.state == {"color": "red", "brightness": 80}
        assert delta.version == 1

        # The device reports part of it; the delta keeps only what still differs.
        shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
            thing_name=thing, client_token="sdk-2", version=1,
            state=iotshadow.ShadowState(reported={"color": "red", "brightness": 20}),
        ), qos).result(WAIT)
        resp = accepted.get(timeout=WAIT)
        assert (resp.version, resp.client_token, resp.state.reported) == \
            (2, "sdk-2", {"color": "red", "brightness": 20})

        shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="sdk-g"),
                                  qos).result(WAIT)
        got = gets.get(timeout=WAIT)
        assert isinstance(got, iotshadow.GetShadowResponse)
        assert got.state.desired == {"color": "red", "brightness": 80}
        assert got.state.reported == {"color": "red", "brightness": 20}
        assert got.state.delta == {"brightness": 80}
        assert got.version == 2
        assert got.client_token == "sdk-g"

        shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
            thing_name=thing, client_token="sdk-3", version=1,
            state=iotshadow.ShadowState(reported={"brightness": 80}),
        ), qos).result(WAIT)
        err = rejected.get(timeout=WAIT)
        assert isinstance(err, iotshadow.ErrorResponse)
        assert (err.code, err.message, err.client_token) == (409, "Version conflict", "sdk-3")
        assert accepted.empty()
    finally:
        conn.disconnect().result(WAIT)


def test_awsiotsdk_shadow_client_v2_request_response(iot, api_server):
    import awsiot
    from awscrt import mqtt_request_response
    from awsiot import iotshadow, mqtt5_client_builder

    thing = "sdk-v2-lamp"
    dev = Device(iot, api_server, thing, policy=shadow_policy(thing))
    client, events = sdk_client(
        mqtt5_client_builder.mtls_from_path,
        endpoint="localhost", port=api_server.ports["mqtts"], cert_filepath=dev.cert_file,
        pri_key_filepath=dev.key_file, ca_filepath=api_server.ca_file, client_id=thing,
    )
    client.start()
    assert events["connected"].wait(WAIT), events["failed"].queue
    try:
        shadow = iotshadow.IotShadowClientV2(client, mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4, max_streaming_subscriptions=2,
            operation_timeout_in_seconds=int(WAIT)))
        deltas, status = queue.Queue(), queue.Queue()
        stream = shadow.create_shadow_delta_updated_stream(
            iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing),
            awsiot.ServiceStreamOptions(incoming_event_listener=deltas.put,
                                        subscription_status_listener=status.put))
        stream.open()
        established = status.get(timeout=WAIT)
        assert established.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED, \
            established

        # The V2 client puts a UUID clientToken in each request and only completes when a response
        # echoing it arrives.
        resp = shadow.update_shadow(iotshadow.UpdateShadowRequest(
            thing_name=thing, state=iotshadow.ShadowState(desired={"mode": "eco"}))).result(WAIT)
        assert isinstance(resp, iotshadow.UpdateShadowResponse)
        assert resp.state.desired == {"mode": "eco"}
        assert resp.version == 1
        delta = deltas.get(timeout=WAIT)
        assert (delta.state, delta.version) == ({"mode": "eco"}, 1)

        got = shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(WAIT)
        assert got.state.desired == {"mode": "eco"}
        assert got.state.delta == {"mode": "eco"}
        assert got.state.reported is None
        assert got.version == 1

        with pytest.raises(awsiot.V2ServiceException) as e:
            shadow.update_shadow(iotshadow.UpdateShadowRequest(
                thing_name=thing, version=5,
                state=iotshadow.ShadowState(reported={"mode": "eco"}))).result(WAIT)
        assert e.value.modeled_error is not None, e.value.inner_error
        assert (e.value.modeled_error.code, e.value.modeled_error.message) == (409, "Version conflict")

        with pytest.raises(awsiot.V2ServiceException) as e:
            shadow.get_named_shadow(iotshadow.GetNamedShadowRequest(
                thing_name=thing, shadow_name="settings")).result(WAIT)
        assert e.value.modeled_error is not None, e.value.inner_error
        assert (e.value.modeled_error.code, e.value.modeled_error.message) == \
            (404, "No shadow exists with name: 'settings'")

        resp = shadow.update_named_shadow(iotshadow.UpdateNamedShadowRequest(
            thing_name=thing, shadow_name="settings",
            state=iotshadow.ShadowState(reported={"unit": "C"}))).result(WAIT)
        assert (resp.version, resp.state.reported) == (1, {"unit": "C"})

        deleted = shadow.delete_shadow(iotshadow.DeleteShadowRequest(thing_name=thing)).result(WAIT)
        assert isinstance(deleted, iotshadow.DeleteShadowResponse)
        assert deleted.version == 1
        with pytest.raises(awsiot.V2ServiceException) as e:
            shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(WAIT)
        assert e.value.modeled_error.code == 404
        # The named shadow is still there.
        got = shadow.get_named_shadow(iotshadow.GetNamedShadowRequest(
            thing_name=thing, shadow_name="settings")).result(WAIT)
        assert (got.version, got.state.reported) == (1, {"unit": "C"})
        assert deltas.empty()  # reported-only and named updates are not classic deltas
    finally:
        stream = shadow = None
        sdk_stop(client, events)
