"""Device authentication and IoT policy enforcement, end to end: certificates and policies are
created with boto3, devices connect with paho-mqtt over TLS (MQTT 3.1.1 and 5) and with the AWS
IoT Device SDK v2 (awsiotsdk: mTLS and SigV4 WebSocket), and every allowed operation works while
every denied one is refused as AWS IoT refuses it."""

import gc
import json
import os
import queue
import ssl
import tempfile
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, WAIT, Client

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT_ID}"

# The classic "thing-scoped" policy of the AWS docs: a device may connect only with its own thing
# name as client id, and use only topics under things/{its name}/.
THING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": f"{ARN}:topic/things/${{iot:Connection.Thing.ThingName}}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": f"{ARN}:topicfilter/things/${{iot:Connection.Thing.ThingName}}/*"},
    ],
}


class Device:
    """A registered device: thing, ACTIVE certificate with the policy attached, files on disk."""

    def __init__(self, iot, server, name, policy=THING_POLICY, attach_thing=True, cert=None):
        """`cert`: (certificateId, certificateArn, certificate PEM, private key PEM) of a
        certificate registered elsewhere; default: CreateKeysAndCertificate."""
        self.iot, self.server, self.name = iot, server, name
        if cert is None:
            made = iot.create_keys_and_certificate(setAsActive=True)
            cert = (made["certificateId"], made["certificateArn"], made["certificatePem"],
                    made["keyPair"]["PrivateKey"])
        self.cert_id, self.cert_arn, cert_pem, key_pem = cert
        self.dir = tempfile.mkdtemp(prefix="ferrite-device-")
        self.cert_file = os.path.join(self.dir, "cert.pem")
        self.key_file = os.path.join(self.dir, "key.pem")
        with open(self.cert_file, "w") as f:
            f.write(cert_pem)
        with open(self.key_file, "w") as f:
            f.write(key_pem)
        self.policy_name = f"{name}-policy"
        iot.create_policy(policyName=self.policy_name, policyDocument=json.dumps(policy))
        iot.attach_policy(policyName=self.policy_name, target=self.cert_arn)
        iot.create_thing(thingName=name)
        if attach_thing:
            iot.attach_thing_principal(thingName=name, principal=self.cert_arn)

    def client(self, client_id=None, protocol=mqtt.MQTTv311):
        c = Client(client_id or self.name, protocol)
        c.c.tls_set(ca_certs=self.server.ca_file, certfile=self.cert_file, keyfile=self.key_file,
                    cert_reqs=ssl.CERT_REQUIRED)
        return c

    def connect(self, client_id=None, protocol=mqtt.MQTTv311):
        c = self.client(client_id, protocol)
        c.connect(self.server.ports["mqtts"], host="localhost")
        return c


@pytest.fixture
def server(api_server, iot):
    return api_server


def refused(c, port):
    """Connects and expects the refusal AWS gives: 3.1.1 closes without CONNACK; 5 CONNACK 0x87."""
    try:
        if c.protocol == mqtt.MQTTv5:
            c.c.connect("localhost", port, clean_start=True)
        else:
            c.c.connect("localhost", port)
    except (ssl.SSLError, ConnectionError):
        return None
    c.c.loop_start()
    try:
        if c.protocol == mqtt.MQTTv5:
            _, rc, _ = c.connacks.get(timeout=WAIT)
            assert rc.is_failure
            return rc
        c.disconnects.get(timeout=WAIT)
        assert c.connacks.empty(), "AWS IoT closes MQTT 3.1.1 connections without a CONNACK"
        return None
    finally:
        c.c.loop_stop()


def disconnected(c):
    return c.disconnects.get(timeout=WAIT)


def test_allowed_operations_over_mutual_tls(iot, server):
    dev = Device(iot, server, "sensor-1")
    c = dev.connect()
    c.subscribe("things/sensor-1/cmd", qos=1)
    c.publish("things/sensor-1/cmd", b"hello", qos=1)
    m = c.get()
    assert (m.topic, m.payload) == ("things/sensor-1/cmd", b"hello")
    c.close()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_connect_with_another_client_id_is_refused(iot, server, protocol):
    dev = Device(iot, server, "sensor-2")
    rc = refused(dev.client("not-my-thing", protocol), server.ports["mqtts"])
    if protocol == mqtt.MQTTv5:
        assert rc == 0x87


def test_connect_without_an_attached_thing_is_refused(iot, server):
    # ${iot:Connection.Thing.ThingName} stays unresolved when no thing is attached.
    dev = Device(iot, server, "sensor-3", attach_thing=False)
    refused(dev.client(), server.ports["mqtts"])


def test_unauthorized_publish_disconnects_mqtt311(iot, server):
    dev = Device(iot, server, "sensor-4")
    c = dev.connect()
    c.c.publish("things/other/cmd", b"x", qos=1)
    disconnected(c)
    c.c.loop_stop()


def test_unauthorized_publish_gets_puback_0x87_on_mqtt5(iot, server):
    dev = Device(iot, server, "sensor-5")
    c = dev.connect(protocol=mqtt.MQTTv5)
    acks = queue.Queue()
    c.c.on_publish = lambda cl, u, mid, rc, props: acks.put(rc)
    c.c.publish("things/other/cmd", b"x", qos=1)
    assert acks.get(timeout=WAIT) == 0x87
    # Still connected: an allowed publish goes through.
    c.subscribe("things/sensor-5/#")
    c.publish("things/sensor-5/ok", b"fine")
    assert c.get().payload == b"fine"
    c.close()


def test_unauthorized_subscribe_gets_suback_failure(iot, server):
    dev = Device(iot, server, "sensor-6")
    c = dev.connect()
    c.c.subscribe("things/other/#", 1)
    rcs = c.subacks.get(timeout=WAIT)
    assert [rc.value for rc in rcs] == [0x80]
    c.subscribe("things/sensor-6/#")  # the connection stays up
    c.close()


def test_retained_publish_needs_retain_publish(iot, server):
    dev = Device(iot, server, "sensor-7")
    c = dev.connect()
    c.c.publish("things/sensor-7/state", b"on", qos=1, retain=True)
    disconnected(c)
    c.c.loop_stop()
    policy = json.loads(json.dumps(THING_POLICY))
    policy["Statement"][1]["Action"].append("iot:RetainPublish")
    iot.create_policy_version(policyName=dev.policy_name, policyDocument=json.dumps(policy),
                              setAsDefault=True)
    c = dev.connect()
    c.publish("things/sensor-7/state", b"on", qos=1, retain=True)
    c.close()


def test_receive_is_checked_per_delivery(iot, server):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/reader"},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{ARN}:topicfilter/feed/#"},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": f"{ARN}:topic/feed/public/*"},
        ],
    }
    dev = Device(iot, server, "reader", policy=policy)
    c = dev.connect()
    c.subscribe("feed/#")
    app = Client("app-publisher")
    app.connect(server.ports["mqtt"])
    app.publish("feed/secret/1", b"hidden")
    app.publish("feed/public/1", b"visible")
    assert c.get().payload == b"visible"
    c.expect_none()
    app.close()
    c.close()


def test_tls_without_a_certificate_is_refused(iot, server):
    c = Client("anonymous-tls")
    c.c.tls_set(ca_certs=server.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    refused(c, server.ports["mqtts"])


def test_unregistered_certificate_is_refused(iot, server):
    dev = Device(iot, server, "sensor-8")
    iot.update_certificate(certificateId=dev.cert_id, newStatus="INACTIVE")
    iot.detach_thing_principal(thingName="sensor-8", principal=dev.cert_arn)
    iot.detach_policy(policyName=dev.policy_name, target=dev.cert_arn)
    iot.delete_certificate(certificateId=dev.cert_id)
    refused(dev.client(), server.ports["mqtts"])


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_deactivating_a_certificate_disconnects_its_device(iot, server, status):
    dev = Device(iot, server, f"sensor-{status.lower()}")
    c = dev.connect()
    iot.update_certificate(certificateId=dev.cert_id, newStatus=status)
    disconnected(c)
    c.c.loop_stop()
    refused(dev.client(), server.ports["mqtts"])


def test_detaching_the_policy_disconnects_and_a_new_version_applies_live(iot, server):
    dev = Device(iot, server, "sensor-9")
    c = dev.connect(protocol=mqtt.MQTTv5)
    c.subscribe("things/sensor-9/#")
    # A new default version that no longer allows publishing: the live connection follows it.
    policy = json.loads(json.dumps(THING_POLICY))
    policy["Statement"][1]["Action"] = ["iot:Receive"]
    iot.create_policy_version(policyName=dev.policy_name, policyDocument=json.dumps(policy),
                              setAsDefault=True)
    acks = queue.Queue()
    c.c.on_publish = lambda cl, u, mid, rc, props: acks.put(rc)
    rc = None
    for _ in range(50):  # the refresh is asynchronous; each try is a full publish round trip
        c.c.publish("things/sensor-9/x", b"x", qos=1)
        rc = acks.get(timeout=WAIT)
        if rc == 0x87:
            break
    assert rc == 0x87
    iot.detach_policy(policyName=dev.policy_name, target=dev.cert_arn)
    assert disconnected(c) == 0x87
    c.c.loop_stop()


def own_ca_device(ca, cn):
    """A device key and certificate issued by the test's own CA (PEM strings)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from test_certificates import name, pem

    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem(cert), key_pem


def test_deactivating_the_ca_refuses_and_disconnects_its_devices(iot, server):
    from test_certificates import make_ca, pem, register_ca

    ca = make_ca("Fleet CA")
    ca_id = register_ca(iot, ca)["certificateId"]
    cert_pem, key_pem = own_ca_device(ca, "ca-device")
    reg = iot.register_certificate(certificatePem=cert_pem, caCertificatePem=pem(ca[1]),
                                   status="ACTIVE")
    dev = Device(iot, server, "ca-device",
                 cert=(reg["certificateId"], reg["certificateArn"], cert_pem, key_pem))
    c = dev.connect()
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    disconnected(c)
    c.c.loop_stop()
    refused(dev.client(), server.ports["mqtts"])
    iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")
    dev.connect().close()


def test_just_in_time_registration(iot, server):
    from test_certificates import make_ca, register_ca

    ca = make_ca("JITR CA")
    register_ca(iot, ca, allowAutoRegistration=True)
    cert_pem, key_pem = own_ca_device(ca, "jitr-device")
    # The first connection registers the certificate as PENDING_ACTIVATION and is refused.
    first = Client("jitr-device")
    cert_file = os.path.join(tempfile.mkdtemp(), "c.pem")
    key_file = os.path.join(os.path.dirname(cert_file), "k.pem")
    with open(cert_file, "w") as f:
        f.write(cert_pem)
    with open(key_file, "w") as f:
        f.write(key_pem)
    first.c.tls_set(ca_certs=server.ca_file, certfile=cert_file, keyfile=key_file)
    refused(first, server.ports["mqtts"])
    [listed] = iot.list_certificates()["certificates"]
    assert listed["status"] == "PENDING_ACTIVATION"
    # Once activated, with a policy and the thing attached, the device gets in.
    iot.update_certificate(certificateId=listed["certificateId"], newStatus="ACTIVE")
    dev = Device(iot, server, "jitr-device",
                 cert=(listed["certificateId"], listed["certificateArn"], cert_pem, key_pem))
    dev.connect().close()


def test_thing_group_policies_apply_to_member_things(iot, server):
    dev = Device(iot, server, "grouped-1", policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/grouped-1"}],
    })
    group = iot.create_thing_group(thingGroupName="fleet")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="grouped-1")
    iot.create_policy(policyName="fleet-policy", policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
                       "Resource": "*"}],
    }))
    iot.attach_policy(policyName="fleet-policy", target=group["thingGroupArn"])
    c = dev.connect()
    c.subscribe("fleet/#")
    c.publish("fleet/a", b"from the group policy")
    assert c.get().payload == b"from the group policy"
    c.close()


def test_explicit_deny_wins(iot, server):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iot:Publish", "Resource": f"{ARN}:topic/admin/*"},
        ],
    }
    dev = Device(iot, server, "denied-1", policy=policy)
    c = dev.connect(protocol=mqtt.MQTTv5)
    acks = queue.Queue()
    c.c.on_publish = lambda cl, u, mid, rc, props: acks.put(rc)
    c.c.publish("admin/reboot", b"x", qos=1)
    assert acks.get(timeout=WAIT) == 0x87
    c.c.publish("anything/else", b"x", qos=1)
    assert not acks.get(timeout=WAIT).is_failure  # "no matching subscribers" is a success
    c.close()


# --- AWS IoT Device SDK v2 (awscrt) ---------------------------------------------------------

def sdk_client(builder_fn, **kwargs):
    from awscrt import mqtt5

    events = {"connected": threading.Event(), "failed": queue.Queue(), "messages": queue.Queue(),
              "stopped": threading.Event()}
    client = builder_fn(
        on_publish_received=lambda data: events["messages"].put(data.publish_packet),
        on_lifecycle_connection_success=lambda data: events["connected"].set(),
        on_lifecycle_connection_failure=lambda data: events["failed"].put(data.exception),
        on_lifecycle_stopped=lambda data: events["stopped"].set(),
        **kwargs,
    )
    return client, events


def sdk_stop(client, events):
    """Stops `client` and waits until it has stopped. Whatever was built on it (request-response
    clients, streams) must be released first: awscrt tears those down on its own event-loop
    threads, and a client stopped or collected under them can crash the process (seen as a
    segfault in a later test)."""
    gc.collect()
    client.stop()
    assert events["stopped"].wait(WAIT)
    gc.collect()


def sdk_round_trip(client, events, topic):
    from awscrt import mqtt5

    client.start()
    assert events["connected"].wait(WAIT), events["failed"].queue
    client.subscribe(mqtt5.SubscribePacket(
        subscriptions=[mqtt5.Subscription(topic_filter=topic, qos=mqtt5.QoS.AT_LEAST_ONCE)]
    )).result(WAIT)
    client.publish(mqtt5.PublishPacket(topic=topic, payload=b"from the sdk",
                                       qos=mqtt5.QoS.AT_LEAST_ONCE)).result(WAIT)
    packet = events["messages"].get(timeout=WAIT)
    assert (packet.topic, bytes(packet.payload)) == (topic, b"from the sdk")
    client.stop()
    assert events["stopped"].wait(WAIT)


def test_awsiotsdk_mqtt5_mutual_tls(iot, server):
    from awsiot import mqtt5_client_builder

    dev = Device(iot, server, "sdk-device")
    client, events = sdk_client(
        mqtt5_client_builder.mtls_from_path,
        endpoint="localhost", port=server.ports["mqtts"], cert_filepath=dev.cert_file,
        pri_key_filepath=dev.key_file, ca_filepath=server.ca_file, client_id="sdk-device",
    )
    sdk_round_trip(client, events, "things/sdk-device/telemetry")


def test_awsiotsdk_mqtt5_refused_with_a_revoked_certificate(iot, server):
    from awsiot import mqtt5_client_builder

    dev = Device(iot, server, "sdk-revoked")
    iot.update_certificate(certificateId=dev.cert_id, newStatus="REVOKED")
    client, events = sdk_client(
        mqtt5_client_builder.mtls_from_path,
        endpoint="localhost", port=server.ports["mqtts"], cert_filepath=dev.cert_file,
        pri_key_filepath=dev.key_file, ca_filepath=server.ca_file, client_id="sdk-revoked",
    )
    client.start()
    assert events["failed"].get(timeout=WAIT) is not None
    assert not events["connected"].is_set()
    client.stop()


def test_awsiotsdk_sigv4_websocket(iot, server):
    from awscrt import auth
    from awsiot import mqtt5_client_builder

    creds = auth.AwsCredentialsProvider.new_static(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    client, events = sdk_client(
        mqtt5_client_builder.websockets_with_default_aws_signing,
        endpoint="localhost", port=server.ports["wss"], region=REGION, credentials_provider=creds,
        ca_filepath=server.ca_file, client_id="sdk-websocket",
    )
    sdk_round_trip(client, events, "apps/dashboard")


def test_awsiotsdk_sigv4_websocket_with_a_wrong_secret_is_refused(iot, server):
    from awscrt import auth
    from awsiot import mqtt5_client_builder

    creds = auth.AwsCredentialsProvider.new_static(ACCESS_KEY_ID, "not-the-secret")
    client, events = sdk_client(
        mqtt5_client_builder.websockets_with_default_aws_signing,
        endpoint="localhost", port=server.ports["wss"], region=REGION, credentials_provider=creds,
        ca_filepath=server.ca_file, client_id="sdk-bad-signature",
    )
    client.start()
    assert events["failed"].get(timeout=WAIT) is not None
    assert not events["connected"].is_set()
    client.stop()


# --- Custom authorizers ---------------------------------------------------------------------

from test_authorizers import Endpoint, Keys  # noqa: E402  (the authorizer function and RSA keys)

OPEN_POLICY = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}


def allow(principal="device42", policy=OPEN_POLICY, **extra):
    return {"isAuthenticated": True, "principalId": principal, "policyDocuments": [json.dumps(policy)],
            "disconnectAfterInSeconds": 3600, "refreshAfterInSeconds": 600, **extra}


@pytest.fixture
def function():
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("device-auth-keys"))


def test_awsiotsdk_custom_authorizer_unsigned_username_password(iot, server, function):
    import base64

    from awsiot import mqtt5_client_builder

    iot.create_authorizer(authorizerName="passwords", authorizerFunctionArn=function.url,
                          signingDisabled=True, status="ACTIVE")
    function.reply(allow())
    client, events = sdk_client(
        mqtt5_client_builder.direct_with_custom_authorizer,
        endpoint="localhost", port=server.ports["mqtts"], ca_filepath=server.ca_file,
        auth_username="alice", auth_authorizer_name="passwords", auth_password=b"s3cret",
        client_id="custom-unsigned",
    )
    sdk_round_trip(client, events, "custom/unsigned")
    event = function.events[0]
    mqtt_data = event["protocolData"]["mqtt"]
    assert mqtt_data["username"].startswith("alice?")
    assert base64.b64decode(mqtt_data["password"]) == b"s3cret"
    assert mqtt_data["clientId"] == "custom-unsigned"
    assert event["signatureVerified"] is False


def test_awsiotsdk_custom_authorizer_signed_token(iot, server, function, keys):
    from awsiot import mqtt5_client_builder

    iot.create_authorizer(authorizerName="tokens", authorizerFunctionArn=function.url,
                          tokenKeyName="x-token", tokenSigningPublicKeys={"k1": keys.public},
                          status="ACTIVE")
    function.reply(allow(policy={
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/signed-*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
             "Resource": [f"{ARN}:topic/custom/*", f"{ARN}:topicfilter/custom/*"]},
        ],
    }))
    client, events = sdk_client(
        mqtt5_client_builder.direct_with_custom_authorizer,
        endpoint="localhost", port=server.ports["mqtts"], ca_filepath=server.ca_file,
        auth_authorizer_name="tokens", auth_token_key_name="x-token", auth_token_value="token-1",
        auth_authorizer_signature=keys.sign("token-1"), client_id="signed-1",
    )
    sdk_round_trip(client, events, "custom/signed")
    assert function.events[0]["token"] == "token-1"
    assert function.events[0]["signatureVerified"] is True


def test_custom_authorizer_refusals(iot, server, function, keys):
    from awsiot import mqtt5_client_builder

    iot.create_authorizer(authorizerName="strict", authorizerFunctionArn=function.url,
                          tokenKeyName="x-token", tokenSigningPublicKeys={"k1": keys.public},
                          status="ACTIVE")
    function.reply(allow())

    def attempt(**auth):
        client, events = sdk_client(
            mqtt5_client_builder.direct_with_custom_authorizer,
            endpoint="localhost", port=server.ports["mqtts"], ca_filepath=server.ca_file,
            auth_authorizer_name="strict", auth_token_key_name="x-token", client_id="refused-1",
            **auth,
        )
        client.start()
        failure = events["failed"].get(timeout=WAIT)
        connected = events["connected"].is_set()
        client.stop()
        return failure, connected

    # A signature made with another key: the function is never asked.
    other = Keys(pathlib_tmp(), bits=2048)
    failure, connected = attempt(auth_token_value="t", auth_authorizer_signature=other.sign("t"))
    assert failure is not None and not connected
    assert function.events == []
    # The function says no.
    function.reply({"isAuthenticated": False, "principalId": "nobody", "policyDocuments": [],
                    "disconnectAfterInSeconds": 3600, "refreshAfterInSeconds": 600})
    failure, connected = attempt(auth_token_value="t", auth_authorizer_signature=keys.sign("t"))
    assert failure is not None and not connected
    assert len(function.events) == 1


def pathlib_tmp():
    import pathlib

    return pathlib.Path(tempfile.mkdtemp(prefix="ferrite-keys-"))


def test_paho_custom_authorizer_over_websocket_headers(iot, server, function):
    iot.create_authorizer(authorizerName="ws-auth", authorizerFunctionArn=function.url,
                          signingDisabled=True, status="ACTIVE")
    function.reply(allow())
    c = Client("ws-custom", mqtt.MQTTv5, transport="websockets")
    c.c.ws_set_options(path="/mqtt", headers={"x-amz-customauthorizer-name": "ws-auth",
                                              "x-device-token": "abc"})
    c.c.tls_set(ca_certs=server.ca_file)
    c.connect(server.ports["wss"], host="localhost")
    c.subscribe("ws/custom")
    c.publish("ws/custom", b"via headers")
    assert c.get().payload == b"via headers"
    c.close()
    headers = function.events[0]["protocolData"]["http"]["headers"]
    assert {k.lower(): v for k, v in headers.items()}["x-device-token"] == "abc"


# --- The device port: ALPN, certificate-authenticated HTTPS publish, iot-data Publish -------

def topic_path(topic, query=""):
    """`/topics/{url-encoded topic}`, as AWS's HTTPS publish wants it."""
    import urllib.parse

    return f"/topics/{urllib.parse.quote(topic, safe='')}{query}"


def device_https(server, dev, path, body=b"", alpn=None, method="POST"):
    import http.client

    ctx = ssl.create_default_context(cafile=server.ca_file)
    if dev is not None:
        ctx.load_cert_chain(dev.cert_file, dev.key_file)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    conn = http.client.HTTPSConnection("localhost", server.ports["https"], context=ctx, timeout=WAIT)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("x-amzn-ErrorType"), data


@pytest.mark.parametrize("alpn", [None, "x-amzn-http-ca"])
def test_https_publish_with_a_client_certificate(iot, server, alpn):
    # HTTP has no client id, so ${iot:Connection.Thing.*} stays unresolved: name topics outright.
    dev = Device(iot, server, "http-device", policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
                       "Resource": f"{ARN}:topic/things/http-device/*"}],
    })
    sub = Client("http-watcher")
    sub.connect(server.ports["mqtt"])
    sub.subscribe("things/http-device/#")
    status, _, _ = device_https(server, dev, topic_path("things/http-device/data", "?qos=1"), b"over https",
                                alpn=alpn)
    assert status == 200
    m = sub.get()
    assert (m.topic, m.payload) == ("things/http-device/data", b"over https")
    # The policy decides: another thing's topic is refused, nothing is delivered.
    status, code, _ = device_https(server, dev, topic_path("things/other/data"), b"x", alpn=alpn)
    assert (status, code) == (401, "UnauthorizedException")
    # Only the data plane: control-plane calls with a certificate are forbidden.
    status, code, _ = device_https(server, dev, "/things", method="GET", alpn=alpn)
    assert (status, code) == (403, "ForbiddenException")
    # An inactive certificate authenticates nothing.
    iot.update_certificate(certificateId=dev.cert_id, newStatus="INACTIVE")
    status, code, _ = device_https(server, dev, topic_path("things/http-device/data"), b"x", alpn=alpn)
    assert (status, code) == (401, "UnauthorizedException")
    sub.expect_none()
    sub.close()


def test_https_without_certificate_or_signature_is_refused(iot, server):
    status, code, _ = device_https(server, None, topic_path("a/b"), b"x")
    assert status == 403 and code == "MissingAuthenticationTokenException"


def test_mqtt_over_the_device_port_with_alpn_x_amzn_mqtt_ca(iot, server):
    dev = Device(iot, server, "alpn-device")
    c = Client("alpn-device")
    ctx = ssl.create_default_context(cafile=server.ca_file)
    ctx.load_cert_chain(dev.cert_file, dev.key_file)
    ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])
    c.c.tls_set_context(ctx)
    c.connect(server.ports["https"], host="localhost")
    c.subscribe("things/alpn-device/x")
    c.publish("things/alpn-device/x", b"port 443 style")
    assert c.get().payload == b"port 443 style"
    c.close()


def test_iot_data_publish_with_boto3(iot, server):
    from conftest import aws_client

    data = aws_client(server, "iot-data")
    sub = Client("data-watcher", mqtt.MQTTv5)
    sub.connect(server.ports["mqtt"])
    sub.subscribe("apps/+/events")
    data.publish(topic="apps/1/events", qos=1, payload=b'{"temp": 21}', retain=False,
                 contentType="application/json", userProperties='[{"site": "lab"}, {"rack": "7"}]',
                 correlationData="YWJj", messageExpiry=60, responseTopic="apps/1/replies",
                 payloadFormatIndicator="UTF8_DATA")
    m = sub.get()
    assert (m.topic, m.payload, m.qos) == ("apps/1/events", b'{"temp": 21}', 1)
    assert m.properties.ContentType == "application/json"
    assert m.properties.UserProperty == [("site", "lab"), ("rack", "7")]
    assert m.properties.CorrelationData == b"abc"
    assert m.properties.ResponseTopic == "apps/1/replies"
    assert m.properties.PayloadFormatIndicator == 1
    assert 0 < m.properties.MessageExpiryInterval <= 60
    # Retained through the API, then read by a new subscriber.
    data.publish(topic="apps/1/state", qos=1, payload=b"on", retain=True)
    late = Client("late-watcher")
    late.connect(server.ports["mqtt"])
    late.subscribe("apps/1/state")
    assert late.get().retain
    with pytest.raises(Exception) as e:
        data.publish(topic="apps/+/bad", payload=b"x")
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    sub.close()
    late.close()


def test_shadow_rest_with_a_client_certificate_follows_its_policy(iot, server):
    dev = Device(iot, server, "rest-shadow", policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:UpdateThingShadow", "iot:GetThingShadow"],
                       "Resource": f"{ARN}:thing/rest-shadow"}],
    })
    update = json.dumps({"state": {"reported": {"ok": True}}}).encode()
    status, _, data = device_https(server, dev, "/things/rest-shadow/shadow", update)
    assert status == 200 and json.loads(data)["version"] == 1
    status, _, data = device_https(server, dev, "/things/rest-shadow/shadow", method="GET")
    assert status == 200 and json.loads(data)["state"]["reported"] == {"ok": True}
    # Not allowed: deleting it, or touching another thing's shadow.
    status, code, _ = device_https(server, dev, "/things/rest-shadow/shadow", method="DELETE")
    assert (status, code) == (403, "ForbiddenException")
    status, code, _ = device_https(server, dev, "/things/other/shadow", method="GET")
    assert (status, code) == (403, "ForbiddenException")
