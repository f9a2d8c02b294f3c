"""paho-mqtt (MQTT 3.1.1 and 5) against a real ferrite process: TCP, TLS, WebSocket."""

import queue
import shutil
import signal
import ssl
import subprocess

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import WAIT, Client


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_subscribe_every_qos(ferrite, protocol, qos):
    sub = Client("sub", protocol)
    sub.connect(ferrite.ports["mqtt"])
    sub.subscribe("sensors/+/temp", qos=2)
    pub = Client("pub", protocol)
    pub.connect(ferrite.ports["mqtt"])
    pub.publish("sensors/1/temp", b"21.5", qos=qos)
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == ("sensors/1/temp", b"21.5", qos, False)
    sub.close()
    pub.close()


def test_retained_message_delivered_on_subscribe(ferrite):
    pub = Client("pub")
    pub.connect(ferrite.ports["mqtt"])
    pub.publish("status/door", b"open", qos=1, retain=True)
    sub = Client("sub")
    sub.connect(ferrite.ports["mqtt"])
    sub.subscribe("status/door")
    m = sub.get()
    assert (m.payload, m.retain) == (b"open", True)


def test_persistent_session_receives_messages_sent_while_offline(ferrite):
    dev = Client("device-1", clean=False)
    flags, _ = dev.connect(ferrite.ports["mqtt"])
    dev.subscribe("cmd/device-1", qos=1)
    dev.close()
    app = Client("app")
    app.connect(ferrite.ports["mqtt"])
    app.publish("cmd/device-1", b"reboot", qos=1)
    dev = Client("device-1", clean=False)
    flags, _ = dev.connect(ferrite.ports["mqtt"])
    assert flags.session_present
    assert dev.get().payload == b"reboot"


def test_persistent_session_and_retained_survive_kill_9(ferrite):
    dev = Client("device-2", clean=False)
    dev.connect(ferrite.ports["mqtt"])
    dev.subscribe("cmd/#", qos=1)
    dev.close()
    app = Client("app")
    app.connect(ferrite.ports["mqtt"])
    for i in range(20):
        app.publish("cmd/x", f"m{i}".encode(), qos=1)
    app.publish("cfg", b"v1", qos=1, retain=True)
    ferrite.restart(signal.SIGKILL)
    dev = Client("device-2", clean=False)
    flags, _ = dev.connect(ferrite.ports["mqtt"])
    assert flags.session_present
    assert [dev.get().payload for _ in range(20)] == [f"m{i}".encode() for i in range(20)]
    fresh = Client("fresh")
    fresh.connect(ferrite.ports["mqtt"])
    fresh.subscribe("cfg")
    assert fresh.get().payload == b"v1"


def test_last_will_on_network_failure(ferrite):
    watcher = Client("watcher")
    watcher.connect(ferrite.ports["mqtt"])
    watcher.subscribe("lwt/#")
    dev = Client("dev")
    dev.c.will_set("lwt/dev", b"offline", qos=1)
    dev.connect(ferrite.ports["mqtt"])
    dev.c.loop_stop()
    dev.c.socket().close()  # no DISCONNECT: an abnormal close
    m = watcher.get()
    assert (m.topic, m.payload) == ("lwt/dev", b"offline")


def test_mqtt5_properties_and_shared_subscription(ferrite):
    a = Client("a", mqtt.MQTTv5)
    a.connect(ferrite.ports["mqtt"])
    a.subscribe("$share/workers/jobs/#")
    b = Client("b", mqtt.MQTTv5)
    b.connect(ferrite.ports["mqtt"])
    b.subscribe("$share/workers/jobs/#")
    pub = Client("p", mqtt.MQTTv5)
    pub.connect(ferrite.ports["mqtt"])
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("trace", "42")]
    props.ResponseTopic = "replies/p"
    props.CorrelationData = b"\x01"
    props.ContentType = "text/plain"
    for i in range(10):
        pub.publish("jobs/1", f"j{i}".encode(), qos=1, properties=props)
    got = []
    for c in (a, b):
        while True:
            try:
                got.append(c.get(timeout=0.5))
            except queue.Empty:
                break
    assert sorted(m.payload for m in got) == sorted(f"j{i}".encode() for i in range(10))
    m = got[0]
    assert m.properties.UserProperty == [("trace", "42")]
    assert m.properties.ResponseTopic == "replies/p"
    assert m.properties.CorrelationData == b"\x01"
    assert m.properties.ContentType == "text/plain"


def test_mqtt5_session_expiry_capped_in_connack(ferrite):
    c = Client("e", mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF
    _, ack_props = c.connect(ferrite.ports["mqtt"], properties=props)
    assert ack_props.SessionExpiryInterval == 3600
    assert ack_props.TopicAliasMaximum == 8


def test_tls_listener_requires_credentials_even_on_loopback(ferrite):
    # Anonymous access is for the plain listeners only; TLS clients need a registered
    # certificate, a SigV4 URL or a custom authorizer (test_device_auth.py covers those).
    c = Client("tls-anonymous")
    c.c.tls_set(ca_certs=ferrite.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    c.c.connect("localhost", ferrite.ports["mqtts"])
    c.c.loop_start()
    c.disconnects.get(timeout=WAIT)
    assert c.connacks.empty()
    c.c.loop_stop()


def test_tls_rejects_clients_that_do_not_trust_the_ca(ferrite):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="untrusting")
    c.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # system roots only
    with pytest.raises(ssl.SSLError):
        c.connect("localhost", ferrite.ports["mqtts"])


def test_websocket_listener(ferrite):
    ws = Client("ws-client", mqtt.MQTTv5, transport="websockets")
    ws.c.ws_set_options(path="/mqtt")
    ws.connect(ferrite.ports["ws"], host="localhost")
    ws.subscribe("web/#")
    pub = Client("pub")
    pub.connect(ferrite.ports["mqtt"])
    pub.publish("web/1", b"x" * 100_000)
    m = ws.get()
    assert (m.topic, len(m.payload)) == ("web/1", 100_000)


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto-clients not installed")
def test_mosquitto_clients_quickstart(ferrite):
    port = str(ferrite.ports["mqtt"])
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "hello/#", "-C", "1", "-v", "-q", "1", "-i", "quickstart-sub"],
                           stdout=subprocess.PIPE, text=True)
    # The subscriber is ready once the broker holds its session; publishing retained
    # makes the order irrelevant.
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "hello/world", "-m", "hi", "-q", "1", "-r"], check=True, timeout=WAIT)
    out, _ = sub.communicate(timeout=WAIT)
    assert out.strip() == "hello/world hi"
