"""Provisioning templates through boto3: the template's life cycle with AWS's shapes, versions
(the default version, at most five, the default one undeletable, ids never reused), the
pre-provisioning hook, tags on template ARNs, template bodies checked by the template language,
and AWS's error names and statuses."""

import json

import botocore.exceptions
import pytest

from conftest import ACCOUNT_ID, REGION

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/provisioning"
HOOK = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:pre-provision"


def template_arn(name):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:provisioningtemplate/{name}"


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def body(prefix="device_"):
    return json.dumps(
        {
            "Parameters": {
                "SerialNumber": {"Type": "String"},
                "Location": {"Type": "String", "Default": "WA"},
            },
            "Mappings": {"LocationTable": {"WA": {"Url": "https://wa.example"}}},
            "Conditions": {"InWA": {"Fn::Equals": [{"Ref": "Location"}, "WA"]}},
            "Resources": {
                "thing": {
                    "Type": "AWS::IoT::Thing",
                    "Properties": {
                        "ThingName": {"Fn::Join": ["", [prefix, {"Ref": "SerialNumber"}]]},
                        "AttributePayload": {"location": {"Ref": "Location"}},
                        "ThingGroups": [{"Fn::If": ["InWA", "wa-devices", "others"]}],
                    },
                    "OverrideSettings": {"AttributePayload": "MERGE", "ThingGroups": "DO_NOTHING"},
                },
                "certificate": {
                    "Type": "AWS::IoT::Certificate",
                    "Properties": {
                        "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                        "Status": "ACTIVE",
                    },
                },
                "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DevicePolicy"}},
            },
            "DeviceConfiguration": {
                "url": {"Fn::FindInMap": ["LocationTable", {"Ref": "Location"}, "Url"]}
            },
        }
    )


def create(iot, name="fleet", **extra):
    return iot.create_provisioning_template(
        templateName=name, templateBody=body(), provisioningRoleArn=ROLE, **extra
    )


def test_template_life_cycle(iot):
    out = create(iot, description="claim provisioning", enabled=True)
    assert out["templateArn"] == template_arn("fleet")
    assert out["templateName"] == "fleet"
    assert out["defaultVersionId"] == 1

    got = iot.describe_provisioning_template(templateName="fleet")
    assert got["templateArn"] == template_arn("fleet")
    assert got["description"] == "claim provisioning"
    assert got["enabled"] is True
    assert got["type"] == "FLEET_PROVISIONING"
    assert got["defaultVersionId"] == 1
    assert json.loads(got["templateBody"]) == json.loads(body())
    assert got["provisioningRoleArn"] == ROLE
    assert got["creationDate"] <= got["lastModifiedDate"]
    assert "preProvisioningHook" not in got

    iot.update_provisioning_template(
        templateName="fleet",
        enabled=False,
        description="updated",
        preProvisioningHook={"targetArn": HOOK},
    )
    got = iot.describe_provisioning_template(templateName="fleet")
    assert got["enabled"] is False
    assert got["description"] == "updated"
    assert got["preProvisioningHook"] == {"targetArn": HOOK, "payloadVersion": "2020-04-01"}
    iot.update_provisioning_template(templateName="fleet", removePreProvisioningHook=True)
    assert "preProvisioningHook" not in iot.describe_provisioning_template(templateName="fleet")

    create(iot, name="jitp", type="JITP")
    listed = iot.list_provisioning_templates()["templates"]
    assert [(t["templateName"], t["type"], t["enabled"]) for t in listed] == [
        ("fleet", "FLEET_PROVISIONING", False),
        ("jitp", "JITP", False),
    ]
    assert listed[0]["templateArn"] == template_arn("fleet")
    assert listed[0]["description"] == "updated"
    page = iot.list_provisioning_templates(maxResults=1)
    assert [t["templateName"] for t in page["templates"]] == ["fleet"]
    rest = iot.list_provisioning_templates(maxResults=1, nextToken=page["nextToken"])
    assert [t["templateName"] for t in rest["templates"]] == ["jitp"]
    assert "nextToken" not in rest

    iot.delete_provisioning_template(templateName="fleet")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.describe_provisioning_template(templateName="fleet")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.delete_provisioning_template(templateName="fleet")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_versions(iot):
    create(iot)
    v2 = iot.create_provisioning_template_version(templateName="fleet", templateBody=body("v2_"))
    assert (v2["versionId"], v2["isDefaultVersion"]) == (2, False)
    assert v2["templateArn"] == template_arn("fleet")
    v3 = iot.create_provisioning_template_version(
        templateName="fleet", templateBody=body("v3_"), setAsDefault=True
    )
    assert (v3["versionId"], v3["isDefaultVersion"]) == (3, True)
    got = iot.describe_provisioning_template(templateName="fleet")
    assert got["defaultVersionId"] == 3
    assert json.loads(got["templateBody"]) == json.loads(body("v3_"))

    described = iot.describe_provisioning_template_version(templateName="fleet", versionId=2)
    assert described["versionId"] == 2
    assert described["isDefaultVersion"] is False
    assert json.loads(described["templateBody"]) == json.loads(body("v2_"))

    for _ in range(2):
        iot.create_provisioning_template_version(templateName="fleet", templateBody=body())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.create_provisioning_template_version(templateName="fleet", templateBody=body())
    assert error_of(e)[0] == "VersionsLimitExceededException"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.delete_provisioning_template_version(templateName="fleet", versionId=3)
    assert error_of(e)[0] == "DeleteConflictException"
    iot.delete_provisioning_template_version(templateName="fleet", versionId=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.describe_provisioning_template_version(templateName="fleet", versionId=1)
    assert error_of(e) == ("ResourceNotFoundException", 404)
    six = iot.create_provisioning_template_version(templateName="fleet", templateBody=body())
    assert six["versionId"] == 6

    versions = iot.list_provisioning_template_versions(templateName="fleet")["versions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in versions] == [
        (2, False), (3, True), (4, False), (5, False), (6, False)
    ]
    paginator = iot.get_paginator("list_provisioning_template_versions")
    pages = list(paginator.paginate(templateName="fleet", PaginationConfig={"PageSize": 2}))
    assert [[v["versionId"] for v in p["versions"]] for p in pages] == [[2, 3], [4, 5], [6]]

    iot.update_provisioning_template(templateName="fleet", defaultVersionId=2)
    assert iot.describe_provisioning_template(templateName="fleet")["defaultVersionId"] == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.update_provisioning_template(templateName="fleet", defaultVersionId=1)
    assert error_of(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_provisioning_template_versions(templateName="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_bodies_are_validated(iot):
    cases = [
        "not json",
        json.dumps({"Resources": {"r": {"Type": "AWS::IoT::Job"}}}),
        json.dumps({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Missing"}}}}}),
        json.dumps({"DeviceConfiguration": {"x": {"Fn::Base64": "abc"}}}),
        json.dumps({"Conditions": {"A": {"Fn::Not": [{"Condition": "A"}]}}}),
        json.dumps(
            {
                "Parameters": {"CSR": {"Type": "String"}},
                "Resources": {
                    "certificate": {
                        "Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}},
                    }
                },
            }
        ),
    ]
    for bad in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iot.create_provisioning_template(
                templateName="bad", templateBody=bad, provisioningRoleArn=ROLE
            )
        assert error_of(e) == ("InvalidRequestException", 400), bad
        assert e.value.response["Error"]["Message"], bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.create_provisioning_template(
            templateName="big", templateBody=" " * 10241, provisioningRoleArn=ROLE
        )
    assert error_of(e) == ("InvalidRequestException", 400)

    create(iot)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.create_provisioning_template_version(templateName="fleet", templateBody="{")
    assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create(iot)
    assert error_of(e) == ("ResourceAlreadyExistsException", 409)
    assert e.value.response["resourceArn"] == template_arn("fleet")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create(iot, name="jitp-hook", type="JITP", preProvisioningHook={"targetArn": HOOK})
    assert error_of(e) == ("InvalidRequestException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.update_provisioning_template(
            templateName="fleet",
            preProvisioningHook={"targetArn": HOOK},
            removePreProvisioningHook=True,
        )
    assert error_of(e) == ("InvalidRequestException", 400)


def test_tags_on_template_arns(iot):
    create(iot, tags=[{"Key": "env", "Value": "prod"}])
    arn = template_arn("fleet")
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "prod"}]
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "owner", "Value": "ops"}])
    iot.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "owner", "Value": "ops"}]
    # A template created again under the same name starts without the old one's tags.
    iot.delete_provisioning_template(templateName="fleet")
    create(iot)
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == []
