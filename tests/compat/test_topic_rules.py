"""Topic rules and topic rule destinations through boto3: the rule's life cycle with AWS's
shapes, tags on rule ARNs, AWS's error names and statuses, listing filters and pages, and HTTP
destinations confirmed by the request Ferrite sends to a local endpoint (a Python http.server
on a free port), through ConfirmTopicRuleDestination or through the request's enableUrl."""

import http.server
import json
import queue
import threading
import urllib.request

import botocore.exceptions
import pytest

from conftest import ACCOUNT_ID, REGION, WAIT

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/rules"


def rule_arn(name):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:rule/{name}"


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def payload(sql="SELECT * FROM 'sensors/+/data'", **extra):
    return {
        "sql": sql,
        "actions": [{"republish": {"roleArn": ROLE, "topic": "out/${topic(2)}", "qos": 1}}],
        **extra,
    }


class Endpoint:
    """An HTTP endpoint that queues every request it receives (path, headers, JSON body)
    and, when `follow_enable_url` is set, GETs the enableUrl of a confirmation request
    before answering, as a real endpoint would."""

    def __init__(self):
        self.requests = queue.Queue()
        self.follow_enable_url = False
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                enabled = None
                if endpoint.follow_enable_url and body and "enableUrl" in body:
                    with urllib.request.urlopen(body["enableUrl"], timeout=WAIT) as r:
                        enabled = r.status
                endpoint.requests.put((self.path, dict(self.headers), body, enabled))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self):
        return self.requests.get(timeout=WAIT)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def test_rule_life_cycle(iot):
    iot.create_topic_rule(
        ruleName="hot",
        topicRulePayload=payload(description="hot sensors", awsIotSqlVersion="2016-03-23",
                                 errorAction={"republish": {"roleArn": ROLE, "topic": "errors"}}),
        tags="env=prod&team=core",
    )
    got = iot.get_topic_rule(ruleName="hot")
    assert got["ruleArn"] == rule_arn("hot")
    rule = got["rule"]
    assert set(rule) == {"ruleName", "sql", "description", "createdAt", "actions",
                         "ruleDisabled", "awsIotSqlVersion", "errorAction"}
    assert rule["ruleName"] == "hot"
    assert rule["sql"] == "SELECT * FROM 'sensors/+/data'"
    assert rule["description"] == "hot sensors"
    assert rule["actions"] == payload()["actions"]
    assert rule["ruleDisabled"] is False
    assert rule["awsIotSqlVersion"] == "2016-03-23"
    assert rule["errorAction"] == {"republish": {"roleArn": ROLE, "topic": "errors"}}
    created = rule["createdAt"]

    listed = iot.list_topic_rules()["rules"]
    assert [(r["ruleName"], r["ruleArn"], r["topicPattern"], r["ruleDisabled"]) for r in listed] \
        == [("hot", rule_arn("hot"), "sensors/+/data", False)]
    assert listed[0]["createdAt"] == created

    iot.replace_topic_rule(ruleName="hot", topicRulePayload=payload("SELECT temp FROM 'other/#'"))
    rule = iot.get_topic_rule(ruleName="hot")["rule"]
    assert rule["sql"] == "SELECT temp FROM 'other/#'"
    assert rule["awsIotSqlVersion"] == "2015-10-08"
    assert "description" not in rule
    assert rule["createdAt"] == created

    iot.disable_topic_rule(ruleName="hot")
    assert iot.get_topic_rule(ruleName="hot")["rule"]["ruleDisabled"] is True
    assert [r["ruleName"] for r in iot.list_topic_rules(ruleDisabled=True)["rules"]] == ["hot"]
    assert iot.list_topic_rules(ruleDisabled=False)["rules"] == []
    iot.enable_topic_rule(ruleName="hot")
    assert iot.get_topic_rule(ruleName="hot")["rule"]["ruleDisabled"] is False

    iot.delete_topic_rule(ruleName="hot")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_topic_rule(ruleName="hot")
    assert error_of(e) == ("UnauthorizedException", 401)
    assert e.value.response["Error"]["Message"] == "Access to topic rule 'hot' was denied"
    for call in (iot.delete_topic_rule, iot.enable_topic_rule, iot.disable_topic_rule):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(ruleName="hot")
        assert error_of(e) == ("UnauthorizedException", 401)


def test_tags_on_rule_arns(iot):
    iot.create_topic_rule(ruleName="tagged", topicRulePayload=payload(), tags="env=prod")
    arn = rule_arn("tagged")
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "prod"}]
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "owner", "Value": "ops"}])
    iot.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "owner", "Value": "ops"}]
    iot.delete_topic_rule(ruleName="tagged")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_tags_for_resource(resourceArn=arn)
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_refusals(iot):
    def refused(name, body, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iot.create_topic_rule(ruleName=name, topicRulePayload=body, **kw)
        return error_of(e), e.value.response["Error"]["Message"]

    assert refused("bad_sql", payload("SELECT * FROM sensors"))[0] == ("SqlParseException", 400)
    iot.create_topic_rule(ruleName="dup", topicRulePayload=payload())
    assert refused("dup", payload())[0] == ("ResourceAlreadyExistsException", 409)

    code, message = refused("odd", {"sql": "SELECT * FROM 'a'", "actions": [
        {"timestream": {"roleArn": ROLE, "databaseName": "d", "tableName": "t",
                        "dimensions": [{"name": "n", "value": "v"}]}}]})
    assert code == ("InvalidRequestException", 400)
    assert "Ferrite does not support the timestream action" in message

    eleven = [{"lambda": {"functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:f{i}"}}
              for i in range(11)]
    code, _ = refused("many", {"sql": "SELECT * FROM 'a'", "actions": eleven})
    assert code == ("InvalidRequestException", 400)
    iot.create_topic_rule(ruleName="ten", topicRulePayload={"sql": "SELECT * FROM 'a'",
                                                            "actions": eleven[:10]})

    code, message = refused("reserved", {"sql": "SELECT * FROM 'a'", "actions": [
        {"republish": {"roleArn": ROLE, "topic": "$aws/things/t/shadow/update"}}]})
    assert code == ("InvalidRequestException", 400) and "$$" in message
    code, message = refused("jobs", {"sql": "SELECT * FROM 'a'", "actions": [
        {"republish": {"roleArn": ROLE, "topic": "$$aws/things/t/jobs/get"}}]})
    assert code == ("InvalidRequestException", 400) and "job" in message
    iot.create_topic_rule(ruleName="shadow", topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": [
        {"republish": {"roleArn": ROLE, "topic": "$$aws/things/t/shadow/update"}}]})

    code, message = refused("ml", payload("SELECT machinelearning_predict('m', 'r', *) FROM 'a'"))
    assert code == ("InvalidRequestException", 400) and "machinelearning_predict" in message
    code, message = refused("version", payload(awsIotSqlVersion="2020-01-01"))
    assert code == ("InvalidRequestException", 400)
    code, _ = refused("bad-name", payload())
    assert code == ("InvalidRequestException", 400)


def test_listing_filters_and_pages(iot):
    for name, topic in [("a", "sensors/+/data"), ("b", "sensors/#"), ("c", "other"),
                        ("d", "sensors/+/data"), ("e", "x/y")]:
        iot.create_topic_rule(ruleName=name, topicRulePayload=payload(f"SELECT * FROM '{topic}'"))

    def names(**kw):
        return [r["ruleName"] for r in iot.list_topic_rules(**kw)["rules"]]

    assert names(topic="sensors/+/data") == ["a", "d"]
    assert names(topic="sensors/7/data") == ["a", "b", "d"]
    pages = iot.get_paginator("list_topic_rules").paginate(PaginationConfig={"PageSize": 2})
    sizes, seen = [], []
    for page in pages:
        sizes.append(len(page["rules"]))
        seen += [r["ruleName"] for r in page["rules"]]
    assert sizes == [2, 2, 1]
    assert seen == ["a", "b", "c", "d", "e"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_topic_rules(nextToken="not-a-token")
    assert error_of(e) == ("InvalidRequestException", 400)


def test_destination_confirmed_through_the_api(iot, endpoint):
    url = f"{endpoint.base}/hook"
    created = iot.create_topic_rule_destination(
        destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": url}}
    )["topicRuleDestination"]
    arn = created["arn"]
    assert arn.startswith(f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:ruledestination/http/")
    assert created["status"] == "IN_PROGRESS"
    assert created["httpUrlProperties"] == {"confirmationUrl": url}

    path, headers, body, _ = endpoint.next()
    token = body["confirmationToken"]
    assert path == f"/hook?confirmationToken={token}"
    assert headers["x-amz-rules-engine-message-type"] == "DestinationConfirmation"
    assert headers["x-amz-rules-engine-destination-arn"] == arn
    assert body["arn"] == arn
    assert body["messageType"] == "DestinationConfirmation"
    assert body["enableUrl"].endswith(f"/confirmdestination/{token}")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.update_topic_rule_destination(arn=arn, status="ENABLED")
    assert error_of(e) == ("InvalidRequestException", 400)
    iot.confirm_topic_rule_destination(confirmationToken=token)
    # Confirmed through the API, a destination waits to be enabled (as AWS documents).
    assert iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]["status"] == "DISABLED"
    iot.update_topic_rule_destination(arn=arn, status="ENABLED")
    got = iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]
    assert got["status"] == "ENABLED"
    assert got["lastUpdatedAt"] >= got["createdAt"]
    summaries = iot.list_topic_rule_destinations()["destinationSummaries"]
    assert [(s["arn"], s["status"], s["httpUrlSummary"]) for s in summaries] \
        == [(arn, "ENABLED", {"confirmationUrl": url})]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.create_topic_rule_destination(
            destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": url}})
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.confirm_topic_rule_destination(confirmationToken="forged")
    assert error_of(e) == ("InvalidRequestException", 400)

    iot.delete_topic_rule_destination(arn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_topic_rule_destination(arn=arn)
    assert error_of(e) == ("UnauthorizedException", 401)


def test_destination_confirmed_through_the_enable_url(iot, endpoint):
    endpoint.follow_enable_url = True
    url = f"{endpoint.base}/in"
    arn = iot.create_topic_rule_destination(
        destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": url}}
    )["topicRuleDestination"]["arn"]
    _, _, _, enabled = endpoint.next()
    assert enabled == 200
    assert iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]["status"] == "ENABLED"

    # IN_PROGRESS sends a new request; following it enables the destination again.
    iot.update_topic_rule_destination(arn=arn, status="DISABLED")
    iot.update_topic_rule_destination(arn=arn, status="IN_PROGRESS")
    _, _, _, enabled = endpoint.next()
    assert enabled == 200
    assert iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]["status"] == "ENABLED"


def test_http_actions_create_their_destination(iot, endpoint):
    hook = f"{endpoint.base}/hook"
    http_action = {"http": {"url": hook + "/${topic()}", "confirmationUrl": hook}}
    iot.create_topic_rule(ruleName="to_http", topicRulePayload={
        "sql": "SELECT * FROM 'a/#'", "actions": [http_action]})
    path, _, body, _ = endpoint.next()
    assert path.startswith("/hook?confirmationToken=")
    summaries = iot.list_topic_rule_destinations()["destinationSummaries"]
    assert [(s["status"], s["httpUrlSummary"]["confirmationUrl"]) for s in summaries] \
        == [("IN_PROGRESS", hook)]
    assert summaries[0]["arn"] == body["arn"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.create_topic_rule(ruleName="no_confirmation_url", topicRulePayload={
            "sql": "SELECT * FROM 'a/#'", "actions": [{"http": {"url": hook + "/${topic()}"}}]})
    assert error_of(e) == ("InvalidRequestException", 400)


def test_vpc_destination(iot):
    vpc = {"subnetIds": ["subnet-1"], "securityGroups": ["sg-1"], "vpcId": "vpc-1",
           "roleArn": ROLE}
    created = iot.create_topic_rule_destination(
        destinationConfiguration={"vpcConfiguration": vpc})["topicRuleDestination"]
    assert ":ruledestination/vpc/" in created["arn"]
    assert created["status"] == "ENABLED"
    assert created["vpcProperties"] == vpc
