"""The `iot` registry API through boto3 and the AWS CLI against a live `ferrite serve`, on the
embedded store and (when FERRITE_TEST_POSTGRES_URL is set) on PostgreSQL."""

import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, aws_client, ferrite_binary


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_thing_lifecycle(iot):
    created = iot.create_thing(thingName="lamp-1", attributePayload={"attributes": {"room": "hall"}})
    assert created["thingArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:thing/lamp-1"
    # Identical input: the same thing again.
    again = iot.create_thing(thingName="lamp-1", attributePayload={"attributes": {"room": "hall"}})
    assert again["thingId"] == created["thingId"]
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="lamp-1", attributePayload={"attributes": {"room": "attic"}})
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceId"] == created["thingId"]

    d = iot.describe_thing(thingName="lamp-1")
    assert (d["version"], d["attributes"], d["defaultClientId"]) == (1, {"room": "hall"}, "lamp-1")

    iot.update_thing(thingName="lamp-1", attributePayload={"attributes": {"floor": "2", "room": ""}, "merge": True},
                     expectedVersion=1)
    d = iot.describe_thing(thingName="lamp-1")
    assert (d["version"], d["attributes"]) == (2, {"floor": "2"})
    with pytest.raises(ClientError) as e:
        iot.update_thing(thingName="lamp-1", attributePayload={"attributes": {"a": "b"}}, expectedVersion=1)
    assert error_of(e) == ("VersionConflictException", 409)
    # Without merge the attribute map is replaced.
    iot.update_thing(thingName="lamp-1", attributePayload={"attributes": {"a": "b"}})
    assert iot.describe_thing(thingName="lamp-1")["attributes"] == {"a": "b"}

    with pytest.raises(ClientError) as e:
        iot.delete_thing(thingName="lamp-1", expectedVersion=1)
    assert error_of(e) == ("VersionConflictException", 409)
    iot.delete_thing(thingName="lamp-1")
    with pytest.raises(ClientError) as e:
        iot.describe_thing(thingName="lamp-1")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    iot.delete_thing(thingName="lamp-1")  # deleting what is gone succeeds, as on AWS


def test_list_things_paginates_and_filters(iot):
    for i in range(12):
        iot.create_thing(thingName=f"dev-{i:02d}", attributePayload={"attributes": {"parity": str(i % 2)}})
    pages = list(iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 5}))
    assert [len(p["things"]) for p in pages] == [5, 5, 2]
    names = [t["thingName"] for p in pages for t in p["things"]]
    assert names == [f"dev-{i:02d}" for i in range(12)]
    odd = iot.list_things(attributeName="parity", attributeValue="1")["things"]
    assert [t["thingName"] for t in odd] == [f"dev-{i:02d}" for i in range(1, 12, 2)]
    prefixed = iot.list_things(attributeName="parity", attributeValue="", usePrefixAttributeValue=True)
    assert len(prefixed["things"]) == 12
    with pytest.raises(ClientError) as e:
        iot.list_things(nextToken="not-a-token")
    assert error_of(e) == ("InvalidRequestException", 400)


def test_thing_types(iot):
    t = iot.create_thing_type(thingTypeName="sensor",
                              thingTypeProperties={"thingTypeDescription": "a sensor",
                                                   "searchableAttributes": ["room"]})
    assert t["thingTypeArn"].endswith(":thingtype/sensor")
    iot.create_thing(thingName="s1", thingTypeName="sensor")
    assert iot.list_things(thingTypeName="sensor")["things"][0]["thingName"] == "s1"
    with pytest.raises(ClientError) as e:
        iot.delete_thing_type(thingTypeName="sensor")
    assert error_of(e) == ("InvalidRequestException", 400)
    iot.deprecate_thing_type(thingTypeName="sensor")
    d = iot.describe_thing_type(thingTypeName="sensor")
    assert d["thingTypeMetadata"]["deprecated"] is True
    assert d["thingTypeProperties"]["thingTypeDescription"] == "a sensor"
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="s2", thingTypeName="sensor")
    assert error_of(e) == ("InvalidRequestException", 400)
    iot.deprecate_thing_type(thingTypeName="sensor", undoDeprecate=True)
    assert iot.describe_thing_type(thingTypeName="sensor")["thingTypeMetadata"]["deprecated"] is False
    iot.create_thing(thingName="s2", thingTypeName="sensor")
    assert [t["thingTypeName"] for t in iot.list_thing_types()["thingTypes"]] == ["sensor"]
    iot.update_thing(thingName="s1", removeThingType=True)
    iot.delete_thing(thingName="s2")
    iot.deprecate_thing_type(thingTypeName="sensor")
    iot.delete_thing_type(thingTypeName="sensor")
    with pytest.raises(ClientError) as e:
        iot.describe_thing_type(thingTypeName="sensor")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_endpoint_and_settings(iot):
    for kind in ("iot:Data-ATS", "iot:Data", "iot:Jobs", "iot:CredentialProvider"):
        assert iot.describe_endpoint(endpointType=kind)["endpointAddress"] == "localhost"
    with pytest.raises(ClientError) as e:
        iot.describe_endpoint(endpointType="iot:Nothing")
    assert error_of(e) == ("InvalidRequestException", 400)

    assert iot.get_indexing_configuration()["thingIndexingConfiguration"]["thingIndexingMode"] == "OFF"
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    got = iot.get_indexing_configuration()
    assert got["thingIndexingConfiguration"]["thingIndexingMode"] == "REGISTRY"
    assert got["thingGroupIndexingConfiguration"]["thingGroupIndexingMode"] == "OFF"

    assert iot.describe_event_configurations()["eventConfigurations"]["THING"] == {"Enabled": False}
    iot.update_event_configurations(eventConfigurations={"THING": {"Enabled": True}})
    events = iot.describe_event_configurations()["eventConfigurations"]
    assert events["THING"] == {"Enabled": True} and events["JOB"] == {"Enabled": False}


def test_bad_input_and_bad_credentials(api_server, iot):
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="bad name!")
    assert error_of(e) == ("InvalidRequestException", 400)
    assert "regular expression pattern" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="x" * 129)
    assert error_of(e) == ("InvalidRequestException", 400)

    with pytest.raises(ClientError) as e:
        aws_client(api_server, secret="wrong").list_things()
    assert error_of(e) == ("InvalidSignatureException", 403)
    with pytest.raises(ClientError) as e:
        aws_client(api_server, key_id="AKIAUNKNOWN000000000").list_things()
    assert error_of(e) == ("UnrecognizedClientException", 403)


def test_unimplemented_operations_say_so(iot):
    with pytest.raises(ClientError) as e:
        iot.list_ota_updates()
    code, status = error_of(e)
    assert (code, status) == ("NotImplementedException", 501)
    assert "ListOTAUpdates" in e.value.response["Error"]["Message"]


def aws_cli(args, env):
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run([aws, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_aws_cli_with_ferrite_env(api_server, iot):
    """`eval "$(ferrite env)"` is all the AWS CLI needs: endpoint, keys and region."""
    env_out = subprocess.run([ferrite_binary(), "env"], env=api_server.env, capture_output=True, text=True,
                             check=True).stdout
    env = {"PATH": os.environ.get("PATH", ""), "HOME": api_server.dir}
    for line in env_out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    assert env["AWS_ENDPOINT_URL_IOT"] == api_server.endpoint
    aws_cli(["iot", "create-thing", "--thing-name", "cli-thing", "--attribute-payload",
             '{"attributes": {"via": "cli"}}'], env)
    listed = aws_cli(["iot", "list-things"], env)
    assert [t["thingName"] for t in listed["things"]] == ["cli-thing"]
    described = aws_cli(["iot", "describe-thing", "--thing-name", "cli-thing"], env)
    assert described["attributes"] == {"via": "cli"}
