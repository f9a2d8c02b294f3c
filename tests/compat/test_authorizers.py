"""Custom authorizers through boto3: the resource's life cycle, the default authorizer, AWS's
error names and statuses, and TestInvokeAuthorizer against a real authorizer endpoint (a
Python http.server on a free port standing in for the Lambda function)."""

import base64
import http.server
import json
import subprocess
import threading

import botocore.exceptions
import pytest

from conftest import ACCOUNT_ID, REGION

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
}
ALLOW = {
    "isAuthenticated": True,
    "principalId": "device42",
    "policyDocuments": [POLICY, json.dumps(POLICY)],
    "disconnectAfterInSeconds": 3600,
    "refreshAfterInSeconds": 600,
}


def arn(name):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:authorizer/{name}"


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


class Keys:
    """An RSA key pair made with the openssl CLI, signing tokens as devices do."""

    def __init__(self, tmp_path, bits=2048):
        self.private = tmp_path / f"key{bits}.pem"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
             "-out", str(self.private)],
            check=True, capture_output=True,
        )
        self.public = subprocess.run(
            ["openssl", "pkey", "-in", str(self.private), "-pubout"],
            check=True, capture_output=True, text=True,
        ).stdout

    def sign(self, token):
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.private)],
            input=token.encode(), check=True, capture_output=True,
        ).stdout
        return base64.b64encode(sig).decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("keys"))


class Endpoint:
    """The authorizer function: records each event, answers the configured reply."""

    def __init__(self):
        self.events = []
        self.status = 200
        self.body = json.dumps(ALLOW).encode()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                endpoint.events.append(json.loads(self.rfile.read(length)))
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/authorize"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, body, status=200):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def create_signed(iot, name, url, keys, **extra):
    return iot.create_authorizer(
        authorizerName=name,
        authorizerFunctionArn=url,
        tokenKeyName="x-token",
        tokenSigningPublicKeys={"key1": keys.public},
        **extra,
    )


def create_unsigned(iot, name, url="http://127.0.0.1:9/", **extra):
    return iot.create_authorizer(
        authorizerName=name, authorizerFunctionArn=url, signingDisabled=True, **extra
    )


def test_authorizer_life_cycle(iot, keys):
    out = create_signed(iot, "Auth1", "arn:aws:lambda:eu-west-1:123456789012:function:f", keys,
                        tags=[{"Key": "team", "Value": "iot"}])
    assert out["authorizerName"] == "Auth1"
    assert out["authorizerArn"] == arn("Auth1")

    d = iot.describe_authorizer(authorizerName="Auth1")["authorizerDescription"]
    assert d["authorizerName"] == "Auth1"
    assert d["authorizerArn"] == arn("Auth1")
    assert d["authorizerFunctionArn"] == "arn:aws:lambda:eu-west-1:123456789012:function:f"
    assert d["tokenKeyName"] == "x-token"
    assert d["tokenSigningPublicKeys"] == {"key1": keys.public}
    assert d["status"] == "ACTIVE"
    assert d["signingDisabled"] is False
    assert d["enableCachingForHttp"] is False
    assert d["creationDate"] == d["lastModifiedDate"]

    out = iot.update_authorizer(authorizerName="Auth1", status="INACTIVE",
                                enableCachingForHttp=True)
    assert out == {"authorizerName": "Auth1", "authorizerArn": arn("Auth1"),
                   "ResponseMetadata": out["ResponseMetadata"]}
    d = iot.describe_authorizer(authorizerName="Auth1")["authorizerDescription"]
    assert d["status"] == "INACTIVE"
    assert d["enableCachingForHttp"] is True
    assert d["lastModifiedDate"] >= d["creationDate"]

    iot.delete_authorizer(authorizerName="Auth1")
    with pytest.raises(iot.exceptions.ResourceNotFoundException) as e:
        iot.describe_authorizer(authorizerName="Auth1")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.delete_authorizer(authorizerName="Auth1")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.update_authorizer(authorizerName="Auth1", status="ACTIVE")


def test_create_errors(iot, keys, tmp_path):
    create_unsigned(iot, "Dup")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException) as e:
        create_unsigned(iot, "Dup")
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceArn"] == arn("Dup")

    # Signing is on by default: a token key name and keys are required.
    for kwargs in (
        {"tokenSigningPublicKeys": {"k": keys.public}},
        {"tokenKeyName": "x-token"},
        {"tokenKeyName": "x-token", "tokenSigningPublicKeys": {"k": "not a key"}},
        {"tokenKeyName": "x-token",
         "tokenSigningPublicKeys": {"k": Keys(tmp_path, bits=1024).public}},
    ):
        with pytest.raises(iot.exceptions.InvalidRequestException) as e:
            iot.create_authorizer(authorizerName="Bad", authorizerFunctionArn="http://x/", **kwargs)
        assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_authorizer(authorizerName="Bad")

    # Model validation: names follow [\w=,@-]+.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create_unsigned(iot, "bad name!")
    assert error_of(e) == ("InvalidRequestException", 400)


def test_deleting_needs_inactive_and_not_default(iot):
    create_unsigned(iot, "A")
    with pytest.raises(iot.exceptions.DeleteConflictException) as e:
        iot.delete_authorizer(authorizerName="A")
    assert error_of(e) == ("DeleteConflictException", 409)

    iot.set_default_authorizer(authorizerName="A")
    iot.update_authorizer(authorizerName="A", status="INACTIVE")
    with pytest.raises(iot.exceptions.DeleteConflictException):
        iot.delete_authorizer(authorizerName="A")
    iot.clear_default_authorizer()
    iot.delete_authorizer(authorizerName="A")


def test_default_authorizer(iot):
    with pytest.raises(iot.exceptions.ResourceNotFoundException) as e:
        iot.describe_default_authorizer()
    assert error_of(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.clear_default_authorizer()
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.set_default_authorizer(authorizerName="Missing")

    create_unsigned(iot, "D1")
    create_unsigned(iot, "D2")
    out = iot.set_default_authorizer(authorizerName="D1")
    assert (out["authorizerName"], out["authorizerArn"]) == ("D1", arn("D1"))
    iot.set_default_authorizer(authorizerName="D1")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException) as e:
        iot.set_default_authorizer(authorizerName="D2")
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceArn"] == arn("D1")

    d = iot.describe_default_authorizer()["authorizerDescription"]
    assert d["authorizerName"] == "D1"
    assert d["signingDisabled"] is True

    iot.clear_default_authorizer()
    iot.set_default_authorizer(authorizerName="D2")
    assert iot.describe_default_authorizer()["authorizerDescription"]["authorizerName"] == "D2"


def test_list_filters_orders_and_pages(iot):
    for name, status in [("l-a", "ACTIVE"), ("l-b", "INACTIVE"), ("l-c", "ACTIVE"),
                         ("l-d", "ACTIVE"), ("l-e", "INACTIVE")]:
        create_unsigned(iot, name, status=status)

    def names(**kwargs):
        pages = iot.get_paginator("list_authorizers").paginate(**kwargs)
        return [a["authorizerName"] for p in pages for a in p["authorizers"]]

    assert names() == ["l-a", "l-b", "l-c", "l-d", "l-e"]
    assert names(PaginationConfig={"PageSize": 2}) == ["l-a", "l-b", "l-c", "l-d", "l-e"]
    assert names(ascendingOrder=False, PaginationConfig={"PageSize": 2}) == [
        "l-e", "l-d", "l-c", "l-b", "l-a"]
    assert names(status="ACTIVE") == ["l-a", "l-c", "l-d"]
    assert names(status="INACTIVE", ascendingOrder=False) == ["l-e", "l-b"]

    first = iot.list_authorizers(pageSize=3)
    assert [a["authorizerArn"] for a in first["authorizers"]] == [
        arn("l-a"), arn("l-b"), arn("l-c")]
    rest = iot.list_authorizers(pageSize=3, marker=first["nextMarker"])
    assert [a["authorizerName"] for a in rest["authorizers"]] == ["l-d", "l-e"]
    assert "nextMarker" not in rest


def test_invoke_signed_token(iot, keys, endpoint):
    create_signed(iot, "Signed", endpoint.url, keys)
    out = iot.test_invoke_authorizer(
        authorizerName="Signed",
        token="tok-123",
        tokenSignature=keys.sign("tok-123"),
        tlsContext={"serverName": "iot.example.com"},
    )
    assert out["isAuthenticated"] is True
    assert out["principalId"] == "device42"
    assert out["disconnectAfterInSeconds"] == 3600
    assert out["refreshAfterInSeconds"] == 600
    assert [json.loads(d) for d in out["policyDocuments"]] == [POLICY, POLICY]

    (event,) = endpoint.events
    assert event["token"] == "tok-123"
    assert event["signatureVerified"] is True
    assert event["protocols"] == ["tls"]
    assert event["protocolData"] == {"tls": {"serverName": "iot.example.com"}}
    assert len(event["connectionMetadata"]["id"]) == 36

    # A signature of another token, or none, never reaches the function.
    with pytest.raises(iot.exceptions.InvalidRequestException) as e:
        iot.test_invoke_authorizer(authorizerName="Signed", token="tok-123",
                                   tokenSignature=keys.sign("other"))
    assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.test_invoke_authorizer(authorizerName="Signed", token="tok-123")
    assert len(endpoint.events) == 1

    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.test_invoke_authorizer(authorizerName="Missing", token="t",
                                   tokenSignature=keys.sign("t"))


def test_invoke_unsigned_mqtt_and_http(iot, endpoint):
    create_unsigned(iot, "Open", endpoint.url)
    out = iot.test_invoke_authorizer(
        authorizerName="Open",
        mqttContext={"username": "alice?SDK=PythonV2&Version=1.0", "password": b"s3cret",
                     "clientId": "dev-1"},
        httpContext={"headers": {"x-token": "abc"}, "queryString": "a=b"},
    )
    assert out["isAuthenticated"] is True
    (event,) = endpoint.events
    assert "token" not in event
    assert event["signatureVerified"] is False
    assert event["protocols"] == ["http", "mqtt"]
    assert event["protocolData"]["mqtt"] == {
        "username": "alice?SDK=PythonV2&Version=1.0",
        "password": base64.b64encode(b"s3cret").decode(),
        "clientId": "dev-1",
    }
    assert event["protocolData"]["http"] == {"headers": {"x-token": "abc"}, "queryString": "?a=b"}


def test_invoke_refusal_is_reported(iot, endpoint):
    create_unsigned(iot, "Deny", endpoint.url)
    endpoint.reply({"isAuthenticated": False})
    out = iot.test_invoke_authorizer(authorizerName="Deny", token="t")
    assert out["isAuthenticated"] is False
    assert out["policyDocuments"] == []
    assert "principalId" not in out


def test_invoke_broken_functions(iot, endpoint):
    create_unsigned(iot, "Broken", endpoint.url)
    for body, status in [
        (b"<html>not json</html>", 200),
        ({"isAuthenticated": True, "principalId": "has spaces", "policyDocuments": [],
          "disconnectAfterInSeconds": 300, "refreshAfterInSeconds": 300}, 200),
        ({**ALLOW, "refreshAfterInSeconds": 10}, 200),
        ({**ALLOW, "policyDocuments": ["{not a policy"]}, 200),
        (ALLOW, 500),
    ]:
        endpoint.reply(body, status)
        with pytest.raises(iot.exceptions.InvalidResponseException) as e:
            iot.test_invoke_authorizer(authorizerName="Broken", token="t")
        assert error_of(e) == ("InvalidResponseException", 400)

    # Nothing listens there, or nothing maps the Lambda to a URL: the function is unavailable.
    create_unsigned(iot, "Gone", "http://127.0.0.1:9/")
    create_unsigned(iot, "Lambda", "arn:aws:lambda:eu-west-1:123456789012:function:nowhere")
    for name in ("Gone", "Lambda"):
        with pytest.raises(iot.exceptions.ServiceUnavailableException) as e:
            iot.test_invoke_authorizer(authorizerName=name, token="t")
        assert error_of(e) == ("ServiceUnavailableException", 503)
