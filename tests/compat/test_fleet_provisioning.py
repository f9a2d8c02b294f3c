"""Fleet provisioning by claim, end to end: a device holding only a claim certificate (whose
policy allows the fleet provisioning topics and nothing else) provisions itself with the AWS IoT
Device SDK v2's identity client (`IotIdentityClientV2`) over mutual TLS, through both the
create-keys and the CSR flow, then connects with its new certificate under the policy the
template attached. A pre-provisioning hook (a local HTTP endpoint mapped in [aws.functions])
can refuse or override parameters; a second client subscribed to every provisioning topic never
sees a private key."""

import json
import os
import queue
import ssl
import tempfile
import threading

import paho.mqtt.client as mqtt
import pytest

from conftest import (
    ACCOUNT_ID, BACKENDS, REGION, WAIT, Client, JsonEndpoint, aws_client, start_api_server,
    stop_api_server,
)
from test_device_auth import sdk_stop

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT_ID}"
HOOK = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:provisioning-hook"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/provisioning"


def claim_policy(*templates):
    topics = ["$aws/certificates/create/*", "$aws/certificates/create-from-csr/*"] + [
        f"$aws/provisioning-templates/{t}/provision/*" for t in templates]
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": [f"{ARN}:topic/{t}" for t in topics]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": [f"{ARN}:topicfilter/{t}" for t in topics]},
    ]}


# What a provisioned device may do: connect as its thing, use its own topics.
TEMPLATE = json.dumps({
    "Parameters": {"SerialNumber": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Fn::Join": ["", ["device-", {"Ref": "SerialNumber"}]]},
            "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
            "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect",
                 "Resource": f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"},
                {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
                 "Resource": f"{ARN}:topic/devices/${{iot:Connection.Thing.ThingName}}/*"},
                {"Effect": "Allow", "Action": "iot:Subscribe",
                 "Resource": f"{ARN}:topicfilter/devices/${{iot:Connection.Thing.ThingName}}/*"},
            ]})}},
    },
    "DeviceConfiguration": {"telemetryTopic": {"Fn::Sub": "devices/device-${SerialNumber}/data"}},
})


class Hook(JsonEndpoint):
    """The pre-provisioning hook's function: records each event in `calls`, answers `body`."""

    def __init__(self):
        self.body = {"allowProvisioning": True}
        super().__init__(lambda _event: self.body, "/hook")

    def next_event(self, timeout):
        return self.calls.get(timeout=timeout)[0]


@pytest.fixture(scope="module")
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, hook):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(f'version = 1\n\n[aws.functions]\n"{HOOK}" = "{hook.url}"\n')
    f = start_api_server(request.param, {"FERRITE_CONFIG": config.name})
    iot = aws_client(f)
    iot.create_provisioning_template(templateName="fleet", templateBody=TEMPLATE,
                                     provisioningRoleArn=ROLE, enabled=True)
    iot.create_provisioning_template(templateName="hooked", templateBody=TEMPLATE,
                                     provisioningRoleArn=ROLE, enabled=True,
                                     preProvisioningHook={"targetArn": HOOK})
    made = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName="claim", policyDocument=json.dumps(claim_policy("fleet", "hooked")))
    iot.attach_policy(policyName="claim", target=made["certificateArn"])
    f.claim = files(made["certificatePem"], made["keyPair"]["PrivateKey"])
    f.claim_id = made["certificateId"]
    yield f
    stop_api_server(f)
    os.unlink(config.name)


@pytest.fixture
def iot(server):
    return aws_client(server)


def files(cert_pem, key_pem):
    d = tempfile.mkdtemp(prefix="ferrite-fleet-")
    paths = (os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    for path, text in zip(paths, (cert_pem, key_pem)):
        with open(path, "w") as f:
            f.write(text)
    return paths


class Identity:
    """An MQTT 5 connection with the claim certificate and the SDK's identity client on it."""

    def __init__(self, server, client_id):
        from awscrt import mqtt5, mqtt_request_response
        from awsiot import iotidentity, mqtt5_client_builder

        self.connected, self.stopped = threading.Event(), threading.Event()
        cert, key = server.claim
        self.client = mqtt5_client_builder.mtls_from_path(
            endpoint="localhost", port=server.ports["mqtts"], cert_filepath=cert,
            pri_key_filepath=key, ca_filepath=server.ca_file, client_id=client_id,
            on_lifecycle_connection_success=lambda _: self.connected.set(),
            on_lifecycle_stopped=lambda _: self.stopped.set(),
        )
        self.client.start()
        assert self.connected.wait(WAIT)
        options = mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4, max_streaming_subscriptions=2,
            operation_timeout_in_seconds=int(WAIT))
        self.identity = iotidentity.IotIdentityClientV2(self.client, options)
        self.model = iotidentity
        self.mqtt5 = mqtt5

    def create_keys(self):
        return self.identity.create_keys_and_certificate(
            self.model.CreateKeysAndCertificateRequest()).result(WAIT)

    def create_from_csr(self, csr_pem):
        return self.identity.create_certificate_from_csr(
            self.model.CreateCertificateFromCsrRequest(certificate_signing_request=csr_pem)
        ).result(WAIT)

    def register(self, template, token, **parameters):
        return self.identity.register_thing(self.model.RegisterThingRequest(
            template_name=template, certificate_ownership_token=token, parameters=parameters,
        )).result(WAIT)

    def close(self):
        self.identity = None
        sdk_stop(self.client, {"stopped": self.stopped})


@pytest.fixture
def snoop(server):
    """A client on the plain port subscribed to every provisioning topic."""
    c = Client("snoop")
    c.connect(server.ports["mqtt"])
    c.subscribe("$aws/certificates/#")
    c.subscribe("$aws/provisioning-templates/#")
    c.subscribe("snoop/marker")
    yield c
    # Whatever reached it came before the marker, published last.
    c.publish("snoop/marker", b"end")
    seen = []
    while True:
        m = c.get()
        if m.topic == "snoop/marker":
            break
        seen.append((m.topic, m.payload))
    c.close()
    assert not [s for s in seen if b"PRIVATE KEY" in s[1] or b"privateKey" in s[1]], seen
    assert seen == []


def device_client(server, cert_pem, key_pem, client_id):
    cert, key = files(cert_pem, key_pem)
    c = Client(client_id, mqtt.MQTTv5)
    c.c.tls_set(ca_certs=server.ca_file, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    c.connect(server.ports["mqtts"], host="localhost")
    return c


def check_device_policy(server, cert_pem, key_pem, thing):
    """Connected with its new certificate, the device may use its own topics and no other."""
    c = device_client(server, cert_pem, key_pem, thing)
    c.subscribe(f"devices/{thing}/cmd")
    c.publish(f"devices/{thing}/cmd", b"hello")
    m = c.get()
    assert (m.topic, m.payload) == (f"devices/{thing}/cmd", b"hello")
    acks = queue.Queue()
    c.c.on_publish = lambda cl, u, mid, rc, props: acks.put(rc)
    c.c.publish("devices/someone-else/cmd", b"x", qos=1)
    assert acks.get(timeout=WAIT) == 0x87
    c.close()


def test_create_keys_flow_provisions_a_device(server, iot, snoop):
    dev = Identity(server, "claim-1")
    keys = dev.create_keys()
    assert "PRIVATE KEY" in keys.private_key
    assert iot.describe_certificate(
        certificateId=keys.certificate_id)["certificateDescription"]["status"] == "PENDING_ACTIVATION"
    done = dev.register("fleet", keys.certificate_ownership_token, SerialNumber="001")
    dev.close()
    assert done.thing_name == "device-001"
    assert done.device_configuration == {"telemetryTopic": "devices/device-001/data"}
    cert = iot.describe_certificate(certificateId=keys.certificate_id)["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert iot.list_thing_principals(thingName="device-001")["principals"] == [cert["certificateArn"]]
    assert iot.describe_thing(thingName="device-001")["attributes"] == {"serial": "001"}
    check_device_policy(server, keys.certificate_pem, keys.private_key, "device-001")


def test_csr_flow_provisions_a_device(server, iot, snoop):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-002")])
    ).sign(key, hashes.SHA256())
    csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    dev = Identity(server, "claim-2")
    made = dev.create_from_csr(csr_pem)
    assert "BEGIN CERTIFICATE" in made.certificate_pem
    done = dev.register("fleet", made.certificate_ownership_token, SerialNumber="002")
    dev.close()
    assert done.thing_name == "device-002"
    check_device_policy(server, made.certificate_pem, key_pem, "device-002")


def test_the_claim_certificate_alone_can_do_nothing_else(server):
    cert, key = server.claim
    c = Client("claim-3", mqtt.MQTTv5)
    c.c.tls_set(ca_certs=server.ca_file, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    c.connect(server.ports["mqtts"], host="localhost")
    acks = queue.Queue()
    c.c.on_publish = lambda cl, u, mid, rc, props: acks.put(rc)
    c.c.publish("devices/device-001/cmd", b"x", qos=1)
    assert acks.get(timeout=WAIT) == 0x87
    # Another template than its policy names is refused by the broker.
    c.c.publish("$aws/provisioning-templates/other/provision/json", b"{}", qos=1)
    assert acks.get(timeout=WAIT) == 0x87
    c.close()


def test_a_forged_token_is_rejected(server, snoop):
    import awsiot

    dev = Identity(server, "claim-4")
    with pytest.raises(awsiot.V2ServiceException) as refused:
        dev.register("fleet", "forged-token", SerialNumber="004")
    dev.close()
    assert refused.value.modeled_error.status_code == 400
    assert refused.value.modeled_error.error_code == "InvalidCertificateOwnershipToken"


def test_pre_provisioning_hook_refuses_and_overrides(server, iot, hook, snoop):
    import awsiot

    while not hook.calls.empty():
        hook.calls.get_nowait()
    dev = Identity(server, "claim-5")
    keys = dev.create_keys()
    hook.body = {"allowProvisioning": False}
    with pytest.raises(awsiot.V2ServiceException) as refused:
        dev.register("hooked", keys.certificate_ownership_token, SerialNumber="005")
    assert refused.value.modeled_error.status_code == 403
    assert refused.value.modeled_error.error_code == "AccessDenied"
    event = hook.next_event(WAIT)
    assert event["certificateId"] == keys.certificate_id
    assert event["claimCertificateId"] == server.claim_id
    assert event["templateArn"] == f"{ARN}:provisioningtemplate/hooked"
    assert event["clientId"] == "claim-5"
    assert event["parameters"] == {"SerialNumber": "005"}
    assert "BEGIN CERTIFICATE" in event["certificatePem"]
    assert iot.describe_certificate(
        certificateId=keys.certificate_id)["certificateDescription"]["status"] == "PENDING_ACTIVATION"
    assert "device-005" not in [t["thingName"] for t in iot.list_things()["things"]]

    # Allowed, with the serial number replaced by the hook.
    hook.body = {"allowProvisioning": True, "parameterOverrides": {"SerialNumber": "5b"}}
    done = dev.register("hooked", keys.certificate_ownership_token, SerialNumber="005")
    dev.close()
    assert done.thing_name == "device-5b"
    hook.body = {"allowProvisioning": True}


# --- JITP and JITR ------------------------------------------------------------------------

JITP_TEMPLATE = json.dumps({
    "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
            "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect",
                 "Resource": f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"},
                {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"],
                 "Resource": "*"}]})}},
    },
})


def own_ca_device(ca, cn):
    from test_device_auth import own_ca_device as make

    cert_pem, key_pem = make(ca, cn)
    return cert_pem, key_pem


def try_connect(server, cert_pem, key_pem, client_id):
    """One connection attempt (paho would reconnect by itself: only its first outcome counts);
    the client when it got in, else None."""
    cert, key = files(cert_pem, key_pem)
    c = Client(client_id)
    c.c.tls_set(ca_certs=server.ca_file, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    outcome = queue.Queue()
    c.c.on_connect = lambda cl, u, flags, rc, props: outcome.put(not rc.is_failure)
    c.c.on_disconnect = lambda cl, u, flags, rc, props: outcome.put(False)
    try:
        c.c.connect("localhost", server.ports["mqtts"])
    except (ssl.SSLError, ConnectionError):
        return None
    c.c.loop_start()
    if outcome.get(timeout=WAIT):
        return c
    c.c.loop_stop()
    return None


def test_jitp_provisions_a_device_of_a_registered_ca(server, iot):
    import time

    from test_certificates import make_ca, register_ca

    events = Client("jitr-listener")
    events.connect(server.ports["mqtt"])
    events.subscribe("$aws/events/certificates/registered/#")
    ca = make_ca("JITP CA")
    ca_id = register_ca(iot, ca, allowAutoRegistration=True,
                        registrationConfig={"templateBody": JITP_TEMPLATE, "roleArn": ROLE})["certificateId"]
    cert_pem, key_pem = own_ca_device(ca, "jitp-device")
    # The first connection registers the certificate and is refused, as on AWS.
    assert try_connect(server, cert_pem, key_pem, "jitp-device") is None
    m = events.get()
    assert m.topic == f"$aws/events/certificates/registered/{ca_id}"
    event = json.loads(m.payload)
    assert event["caCertificateId"] == ca_id
    assert event["certificateStatus"] == "PENDING_ACTIVATION"
    assert event["awsAccountId"] == ACCOUNT_ID
    cert_id = event["certificateId"]
    # The template runs: the device's next attempts get in once it has.
    deadline = time.monotonic() + WAIT
    c = None
    while c is None and time.monotonic() < deadline:
        c = try_connect(server, cert_pem, key_pem, "jitp-device")
    assert c is not None, "the JITP device never got in"
    c.close()
    events.close()
    cert = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert (cert["status"], cert["caCertificateId"]) == ("ACTIVE", ca_id)
    assert iot.list_thing_principals(thingName="jitp-device")["principals"] == [cert["certificateArn"]]


def test_jitr_without_a_template_leaves_the_certificate_pending(server, iot):
    from test_certificates import make_ca, register_ca

    events = Client("jitr-listener-2")
    events.connect(server.ports["mqtt"])
    events.subscribe("$aws/events/certificates/registered/#")
    ca = make_ca("JITR only CA")
    ca_id = register_ca(iot, ca, allowAutoRegistration=True)["certificateId"]
    cert_pem, key_pem = own_ca_device(ca, "jitr-only")
    assert try_connect(server, cert_pem, key_pem, "jitr-only") is None
    event = json.loads(events.get().payload)
    assert event["caCertificateId"] == ca_id
    # Every further attempt while it is PENDING_ACTIVATION publishes the event again.
    assert try_connect(server, cert_pem, key_pem, "jitr-only") is None
    again = json.loads(events.get().payload)
    assert again["certificateId"] == event["certificateId"]
    events.close()
    cert = iot.describe_certificate(certificateId=event["certificateId"])["certificateDescription"]
    assert cert["status"] == "PENDING_ACTIVATION"
