"""The http and lambda rule actions through boto3: rules created with the AWS SDK deliver MQTT
messages to a local HTTP endpoint run by the test (a Python http.server on a free port). An
http action delivers only once its topic rule destination is confirmed through the enableUrl
of the confirmation request (until then the error action reports the failure); a lambda
action POSTs the event to the endpoint `[aws.functions]` maps the function ARN to."""

import http.server
import json
import os
import queue
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import (
    ACCOUNT_ID, BACKENDS, REGION, WAIT, Client, aws_client, start_api_server, stop_api_server,
)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:ingest"


class Endpoint:
    """An HTTP endpoint that answers 200 to every POST and queues (path, headers, body)."""

    def __init__(self):
        self.requests = queue.Queue()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                endpoint.requests.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout=WAIT):
        return self.requests.get(timeout=timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def endpoint():
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, endpoint):
    """A server per backend whose [aws.functions] maps FUNCTION to the endpoint."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write("version = 1\n\n[aws.functions]\n")
        config.write(f'"{FUNCTION}" = "{endpoint.base}/functions/ingest"\n')
    f = start_api_server(request.param, {"FERRITE_CONFIG": config.name})
    yield f
    stop_api_server(f)
    os.unlink(config.name)


@pytest.fixture
def iot(server, endpoint):
    # Rules of earlier tests may still call the endpoint: start each test from silence.
    while not endpoint.requests.empty():
        endpoint.requests.get_nowait()
    return aws_client(server)


@pytest.fixture
def mqtt(server):
    clients = []

    def connect(client_id):
        c = Client(client_id)
        c.connect(server.ports["mqtt"])
        clients.append(c)
        return c

    yield connect
    for c in clients:
        c.close()


def publish_until(publish, received, what):
    """Publishes until `received()` returns something: a new rule applies within moments of
    CreateTopicRule, not before it returns."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        publish()
        got = received()
        if got is not None:
            return got
    raise AssertionError(f"{what} did not happen within {WAIT} s")


def poll(q, timeout=0.3):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return None


def test_http_action_delivers_once_the_destination_is_enabled(iot, endpoint, mqtt):
    hook = f"{endpoint.base}/hook"
    iot.create_topic_rule(ruleName="to_http", topicRulePayload={
        "sql": "SELECT temp, topic(2) AS id FROM 'http/+/data'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"http": {
            "url": hook + "/${topic(2)}",
            "confirmationUrl": hook,
            "headers": [{"key": "x-source", "value": "${topic(1)}"}],
        }}],
        "errorAction": {"republish": {"roleArn": ROLE, "topic": "errors/http", "qos": 1}},
    })
    path, headers, body = endpoint.next()
    assert path.startswith("/hook?confirmationToken=")
    assert headers["x-amz-rules-engine-message-type"] == "DestinationConfirmation"
    enable_url = json.loads(body)["enableUrl"]

    ops = mqtt("ops-http")
    ops.subscribe("errors/http")
    dev = mqtt("dev-http")
    publish = lambda: dev.publish("http/d1/data", json.dumps({"temp": 20}))
    error = publish_until(publish, lambda: poll(ops.messages), "the error action")
    error = json.loads(error.payload)
    assert error["ruleName"] == "to_http"
    failure = error["failures"][0]
    assert failure["failedAction"] == "HttpAction"
    assert "IN_PROGRESS" in failure["errorMessage"]
    assert endpoint.requests.empty(), "nothing is delivered to an unconfirmed destination"

    with urllib.request.urlopen(enable_url, timeout=WAIT) as r:
        assert r.status == 200
    summaries = iot.list_topic_rule_destinations()["destinationSummaries"]
    assert [(s["httpUrlSummary"]["confirmationUrl"], s["status"]) for s in summaries] \
        == [(hook, "ENABLED")]

    publish = lambda: dev.publish("http/d1/data", json.dumps({"temp": 31}))
    path, headers, body = publish_until(publish, lambda: poll(endpoint.requests), "a delivery")
    assert path == "/hook/d1"
    assert headers["x-source"] == "http"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"temp": 31, "id": "d1"}


def test_lambda_action_invokes_the_mapped_function(iot, endpoint, mqtt):
    iot.create_topic_rule(ruleName="to_lambda", topicRulePayload={
        "sql": "SELECT *, clientid() AS device FROM 'lambda/in'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"lambda": {"functionArn": FUNCTION}}],
    })
    dev = mqtt("pump7")
    publish = lambda: dev.publish("lambda/in", json.dumps({"rpm": 1200}))
    path, headers, body = publish_until(publish, lambda: poll(endpoint.requests), "an invocation")
    assert path == "/functions/ingest"
    assert headers["x-amz-invocation-type"] == "Event"
    assert json.loads(body) == {"rpm": 1200, "device": "pump7"}
    rule = iot.get_topic_rule(ruleName="to_lambda")["rule"]
    assert rule["actions"] == [{"lambda": {"functionArn": FUNCTION}}]
