"""Rules whose SQL calls other services, created with boto3 as on AWS: `get_thing_shadow` reads
a shadow updated through boto3's `iot-data` client, `get_registry_data` a thing and its group
created through `iot`, `aws_lambda` invokes the endpoint `[aws.functions]` maps and uses its
answer, and `get_secret` reads `[secrets]` — paho sees the enriched message. A new rule
applies moments after CreateTopicRule returns, so the test publishes until output shows."""

import json
import queue
import time
import uuid

import pytest

from conftest import (ACCOUNT_ID, REGION, WAIT, Client, JsonEndpoint, aws_client,
                      start_api_server, stop_api_server)

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:score"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:plant/api-Xy12Ab"


def Function():
    """A Lambda function played over HTTP: answers {"score": rpm / 100}; each call's event and
    headers (the invocation type among them) are queued in `calls`."""
    return JsonEndpoint(lambda event: {"score": event["rpm"] / 100}, "/score")


@pytest.fixture(scope="module")
def function():
    f = Function()
    yield f
    f.close()


@pytest.fixture(scope="module")
def server(function, tmp_path_factory):
    config = tmp_path_factory.mktemp("lookups") / "ferrite.toml"
    config.write_text(
        f'[aws.functions]\n"{FUNCTION}" = "{function.url}"\n\n'
        '[secrets."plant/api"]\nstring = \'{"token": "s3cr3t"}\'\n')
    f = start_api_server("embedded", {"FERRITE_CONFIG": str(config)})
    yield f
    stop_api_server(f)


def test_rules_enrich_messages_from_shadows_registry_lambda_and_secrets(server, function):
    iot = aws_client(server)
    data = aws_client(server, "iot-data")
    thing = f"pump-{uuid.uuid4().hex[:8]}"
    iot.create_thing(thingName=thing, attributePayload={"attributes": {"model": "m7"}})
    iot.create_thing_group(thingGroupName="pumps")
    iot.add_thing_to_thing_group(thingGroupName="pumps", thingName=thing)
    data.update_thing_shadow(thingName=thing,
                             payload=json.dumps({"state": {"reported": {"fw": "1.2"}}}))
    data.update_thing_shadow(thingName=thing, shadowName="cfg",
                             payload=json.dumps({"state": {"desired": {"mode": "eco"}}}))

    sql = (
        "SELECT rpm, "
        f"get_thing_shadow(topic(2), '{ROLE}').state.reported.fw AS fw, "
        f"get_thing_shadow(topic(2), 'cfg', '{ROLE}').state.desired.mode AS mode, "
        f"get_registry_data('DescribeThing', topic(2), '{ROLE}').attributes.model AS model, "
        f"get_registry_data('ListThingGroupsForThing', topic(2), '{ROLE}')"
        ".thingGroups[0].groupName AS grp, "
        f"aws_lambda('{FUNCTION}', {{\"rpm\": rpm}}).score AS score, "
        f"get_secret('{SECRET_ARN}', 'SecretString', 'token', '{ROLE}') AS token "
        "FROM 'plant/+/telemetry'"
    )
    rule = f"enrich_{uuid.uuid4().hex[:8]}"
    iot.create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": sql, "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"roleArn": ROLE, "topic": "enriched/${topic(2)}", "qos": 1}}],
    })

    sub = Client(f"ops-{uuid.uuid4().hex[:6]}")
    sub.connect(server.ports["mqtt"])
    sub.subscribe("enriched/#")
    dev = Client(thing)
    dev.connect(server.ports["mqtt"])
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert time.monotonic() < deadline, "the rule did not act"
            dev.publish(f"plant/{thing}/telemetry", json.dumps({"rpm": 1200}))
            try:
                msg = sub.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        assert msg.topic == f"enriched/{thing}"
        assert json.loads(msg.payload) == {
            "rpm": 1200, "fw": "1.2", "mode": "eco", "model": "m7", "grp": "pumps",
            "score": 12, "token": "s3cr3t",
        }
        assert function.calls.get(timeout=WAIT)[1].get("x-amz-invocation-type") == "RequestResponse"
    finally:
        dev.close()
        sub.close()
        iot.delete_topic_rule(ruleName=rule)
