"""IoT policies, their versions and attachments (policies to certificates, thing groups and
Cognito identities; things to principals), GetEffectivePolicies and TestAuthorization, through
boto3 against a live `ferrite serve` on each store."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION


def arn(resource):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:{resource}"


def fails(expected, call, **kwargs):
    """Calls `call` expecting the AWS error `expected` (code, HTTP status); the error message."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == expected, kwargs
    return err["Error"]["Message"]


INVALID = ("InvalidRequestException", 400)
NOT_FOUND = ("ResourceNotFoundException", 404)
EXISTS = ("ResourceAlreadyExistsException", 409)
MALFORMED = ("MalformedPolicyException", 400)
DELETE_CONFLICT = ("DeleteConflictException", 409)
VERSIONS_LIMIT = ("VersionsLimitExceededException", 409)
LIMIT = ("LimitExceededException", 410)

COGNITO = f"{REGION}:6b1f2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
OTHER_COGNITO = f"{REGION}:0f0e0d0c-0b0a-4909-8807-060504030201"


def document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


CONNECT_ANY = document(allow("iot:Connect"))


def certificate_arn(iot):
    """A new active certificate issued by Ferrite's CA."""
    return iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]


def names(policies):
    return [p["policyName"] for p in policies]


def paginate(iot, operation, key, page_size, **kwargs):
    """Every item through boto3's paginator, and the size of each page."""
    pages = list(iot.get_paginator(operation).paginate(PaginationConfig={"PageSize": page_size}, **kwargs))
    return [item for p in pages for item in p[key]], [len(p[key]) for p in pages]


def test_policy_lifecycle(iot):
    created = iot.create_policy(policyName="dev-policy", policyDocument=CONNECT_ANY)
    assert {k: created[k] for k in ("policyName", "policyArn", "policyDocument", "policyVersionId")} == {
        "policyName": "dev-policy", "policyArn": arn("policy/dev-policy"),
        "policyDocument": CONNECT_ANY, "policyVersionId": "1"}

    got = iot.get_policy(policyName="dev-policy")
    assert (got["policyName"], got["policyArn"], got["policyDocument"], got["defaultVersionId"]) == (
        "dev-policy", arn("policy/dev-policy"), CONNECT_ANY, "1")
    assert got["creationDate"].year >= 2024 and got["lastModifiedDate"] >= got["creationDate"]
    assert len(got["generationId"]) == 64

    message = fails(EXISTS, iot.create_policy, policyName="dev-policy", policyDocument=CONNECT_ANY)
    assert message == "Policy cannot be created - name already exists (name=dev-policy)"
    fails(MALFORMED, iot.create_policy, policyName="broken", policyDocument="{not json")
    message = fails(MALFORMED, iot.create_policy, policyName="big",
                    policyDocument=document(*[allow(f"iot:Publish{i:04}") for i in range(200)]))
    assert message.startswith("Policy document is Malformed")
    fails(NOT_FOUND, iot.get_policy, policyName="broken")
    # The model's name pattern is enforced before anything else.
    fails(INVALID, iot.create_policy, policyName="bad name", policyDocument=CONNECT_ANY)

    iot.delete_policy(policyName="dev-policy")
    fails(NOT_FOUND, iot.get_policy, policyName="dev-policy")
    fails(NOT_FOUND, iot.delete_policy, policyName="dev-policy")


def test_list_policies_pages_either_way(iot):
    for i in range(7):
        iot.create_policy(policyName=f"p{i}", policyDocument=CONNECT_ANY)
    policies, sizes = paginate(iot, "list_policies", "policies", 3)
    assert names(policies) == [f"p{i}" for i in range(7)] and sizes == [3, 3, 1]
    assert policies[0]["policyArn"] == arn("policy/p0")
    policies, sizes = paginate(iot, "list_policies", "policies", 4, ascendingOrder=False)
    assert names(policies) == [f"p{i}" for i in reversed(range(7))] and sizes == [4, 3]
    first = iot.list_policies(pageSize=7)
    assert "nextMarker" not in first and len(first["policies"]) == 7
    fails(INVALID, iot.list_policies, marker="bm90LWEtbWFya2Vy")


def test_policy_versions(iot):
    iot.create_policy(policyName="versioned", policyDocument=CONNECT_ANY)
    docs = {"1": CONNECT_ANY}
    for v in range(2, 6):
        docs[str(v)] = document(allow(f"iot:Publish"), allow("iot:Connect", arn(f"client/v{v}")))
        out = iot.create_policy_version(policyName="versioned", policyDocument=docs[str(v)], setAsDefault=(v == 3))
        assert (out["policyVersionId"], out["isDefaultVersion"], out["policyArn"], out["policyDocument"]) == (
            str(v), v == 3, arn("policy/versioned"), docs[str(v)])
    message = fails(VERSIONS_LIMIT, iot.create_policy_version, policyName="versioned", policyDocument=CONNECT_ANY)
    assert message == "The policy versioned already has the maximum number of versions (5)"

    listed = iot.list_policy_versions(policyName="versioned")["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in listed] == [
        ("5", False), ("4", False), ("3", True), ("2", False), ("1", False)]
    assert all(v["createDate"].year >= 2024 for v in listed)
    assert iot.get_policy(policyName="versioned")["policyDocument"] == docs["3"]

    v2 = iot.get_policy_version(policyName="versioned", policyVersionId="2")
    assert (v2["policyName"], v2["policyVersionId"], v2["isDefaultVersion"], v2["policyDocument"]) == (
        "versioned", "2", False, docs["2"])
    assert v2["policyArn"] == arn("policy/versioned") and v2["creationDate"].year >= 2024
    fails(NOT_FOUND, iot.get_policy_version, policyName="versioned", policyVersionId="9")
    fails(NOT_FOUND, iot.get_policy_version, policyName="nope", policyVersionId="1")

    # The default version cannot be deleted; the policy cannot go while others remain.
    message = fails(DELETE_CONFLICT, iot.delete_policy_version, policyName="versioned", policyVersionId="3")
    assert message == "Cannot delete the default version of a policy"
    message = fails(DELETE_CONFLICT, iot.delete_policy, policyName="versioned")
    assert message == "The policy cannot be deleted as versions other than than default version exist"

    before = iot.get_policy(policyName="versioned")["generationId"]
    iot.set_default_policy_version(policyName="versioned", policyVersionId="5")
    got = iot.get_policy(policyName="versioned")
    assert (got["defaultVersionId"], got["policyDocument"]) == ("5", docs["5"])
    assert got["generationId"] != before
    fails(NOT_FOUND, iot.set_default_policy_version, policyName="versioned", policyVersionId="7")

    for v in ("1", "2", "3", "4"):
        iot.delete_policy_version(policyName="versioned", policyVersionId=v)
    fails(NOT_FOUND, iot.delete_policy_version, policyName="versioned", policyVersionId="1")
    # Version ids are never reused.
    out = iot.create_policy_version(policyName="versioned", policyDocument=CONNECT_ANY)
    assert out["policyVersionId"] == "6" and out["isDefaultVersion"] is False
    iot.delete_policy_version(policyName="versioned", policyVersionId="6")
    fails(MALFORMED, iot.create_policy_version, policyName="versioned", policyDocument="[]")
    fails(NOT_FOUND, iot.create_policy_version, policyName="nope", policyDocument=CONNECT_ANY)
    iot.delete_policy(policyName="versioned")


def test_attach_policies_to_thing_groups_and_cognito_identities(iot):
    for name in ("p-root", "p-child", "p-both"):
        iot.create_policy(policyName=name, policyDocument=CONNECT_ANY)
    iot.create_thing_group(thingGroupName="root")
    iot.create_thing_group(thingGroupName="child", parentGroupName="root")
    root, child = arn("thinggroup/root"), arn("thinggroup/child")

    iot.attach_policy(policyName="p-root", target=root)
    iot.attach_policy(policyName="p-both", target=root)
    iot.attach_policy(policyName="p-child", target=child)
    iot.attach_policy(policyName="p-child", target=child)  # idempotent
    iot.attach_policy(policyName="p-both", target=COGNITO)

    assert names(iot.list_attached_policies(target=child)["policies"]) == ["p-child"]
    recursive = iot.list_attached_policies(target=child, recursive=True)["policies"]
    assert names(recursive) == ["p-both", "p-child", "p-root"]
    assert recursive[0]["policyArn"] == arn("policy/p-both")
    items, sizes = paginate(iot, "list_attached_policies", "policies", 2, target=child, recursive=True)
    assert names(items) == ["p-both", "p-child", "p-root"] and sizes == [2, 1]
    assert names(iot.list_attached_policies(target=COGNITO)["policies"]) == ["p-both"]
    assert iot.list_attached_policies(target=OTHER_COGNITO)["policies"] == []

    assert sorted(iot.list_targets_for_policy(policyName="p-both")["targets"]) == sorted([COGNITO, root])
    targets, sizes = paginate(iot, "list_targets_for_policy", "targets", 1, policyName="p-both")
    assert sorted(targets) == sorted([COGNITO, root]) and sizes == [1, 1]
    message = fails(NOT_FOUND, iot.list_targets_for_policy, policyName="nope")
    assert message == "Policy not found"

    message = fails(DELETE_CONFLICT, iot.delete_policy, policyName="p-both")
    assert message == "The policy cannot be deleted as the policy is attached to one or more principals (name=p-both)"

    # Errors: unknown policy, unknown group, and a target that is none of the three kinds.
    fails(NOT_FOUND, iot.attach_policy, policyName="nope", target=root)
    message = fails(NOT_FOUND, iot.attach_policy, policyName="p-root", target=arn("thinggroup/ghost"))
    assert arn("thinggroup/ghost") in message
    fails(NOT_FOUND, iot.list_attached_policies, target=arn("thinggroup/ghost"))
    for bad in ("some-target", arn("thing/t1"), "arn:aws:iam::123456789012:user/alice"):
        fails(INVALID, iot.attach_policy, policyName="p-root", target=bad)

    iot.detach_policy(policyName="p-both", target=root)
    iot.detach_policy(policyName="p-both", target=COGNITO)
    iot.detach_policy(policyName="p-both", target=COGNITO)  # detaching twice is fine
    assert iot.list_targets_for_policy(policyName="p-both")["targets"] == []
    iot.delete_policy(policyName="p-both")

    # A deleted group takes its attachments with it: a new group of the name inherits nothing.
    iot.delete_thing_group(thingGroupName="child")
    assert iot.list_targets_for_policy(policyName="p-child")["targets"] == []
    iot.create_thing_group(thingGroupName="child", parentGroupName="root")
    assert iot.list_attached_policies(target=child)["policies"] == []


def test_at_most_ten_policies_per_target(iot):
    for i in range(11):
        iot.create_policy(policyName=f"p{i:02}", policyDocument=CONNECT_ANY)
    for i in range(10):
        iot.attach_policy(policyName=f"p{i:02}", target=COGNITO)
    fails(LIMIT, iot.attach_policy, policyName="p10", target=COGNITO)
    # Attaching one already attached is still fine at the limit.
    iot.attach_policy(policyName="p00", target=COGNITO)
    iot.detach_policy(policyName="p00", target=COGNITO)
    iot.attach_policy(policyName="p10", target=COGNITO)


def test_deprecated_principal_policy_operations(iot):
    iot.create_policy(policyName="old-style", policyDocument=CONNECT_ANY)
    iot.attach_principal_policy(policyName="old-style", principal=COGNITO)
    assert names(iot.list_principal_policies(principal=COGNITO)["policies"]) == ["old-style"]
    assert iot.list_policy_principals(policyName="old-style")["principals"] == [COGNITO]
    # Unlike ListTargetsForPolicy, an unknown policy simply has no principals.
    assert iot.list_policy_principals(policyName="nope")["principals"] == []
    iot.create_thing_group(thingGroupName="g")
    message = fails(INVALID, iot.attach_principal_policy, policyName="old-style", principal=arn("thinggroup/g"))
    assert message == "The given ARN does not represent a cert"
    fails(NOT_FOUND, iot.attach_principal_policy, policyName="nope", principal=COGNITO)
    iot.detach_principal_policy(policyName="old-style", principal=COGNITO)
    assert iot.list_principal_policies(principal=COGNITO)["policies"] == []

    for i in range(5):
        iot.create_policy(policyName=f"q{i}", policyDocument=CONNECT_ANY)
        iot.attach_principal_policy(policyName=f"q{i}", principal=COGNITO)
    items, sizes = paginate(iot, "list_principal_policies", "policies", 2, principal=COGNITO, ascendingOrder=False)
    assert names(items) == ["q4", "q3", "q2", "q1", "q0"] and sizes == [2, 2, 1]


def test_thing_principals_both_ways(iot):
    for t in ("lamp", "fan", "heater"):
        iot.create_thing(thingName=t)
    iot.attach_thing_principal(thingName="lamp", principal=COGNITO)
    iot.attach_thing_principal(thingName="lamp", principal=COGNITO)  # idempotent
    iot.attach_thing_principal(thingName="fan", principal=COGNITO)
    iot.attach_thing_principal(thingName="lamp", principal=OTHER_COGNITO)

    assert sorted(iot.list_thing_principals(thingName="lamp")["principals"]) == sorted([COGNITO, OTHER_COGNITO])
    assert iot.list_principal_things(principal=COGNITO)["things"] == ["fan", "lamp"]
    things, sizes = paginate(iot, "list_principal_things", "things", 1, principal=COGNITO)
    assert things == ["fan", "lamp"] and sizes == [1, 1]
    v2 = iot.list_thing_principals_v2(thingName="lamp")["thingPrincipalObjects"]
    assert {(o["principal"], o["thingPrincipalType"]) for o in v2} == {
        (COGNITO, "NON_EXCLUSIVE_THING"), (OTHER_COGNITO, "NON_EXCLUSIVE_THING")}

    # Exclusive: refused while the principal has other things...
    fails(INVALID, iot.attach_thing_principal, thingName="heater", principal=COGNITO,
          thingPrincipalType="EXCLUSIVE_THING")
    iot.detach_thing_principal(thingName="fan", principal=COGNITO)
    # ...allowed once the thing is its only one (switching the existing attachment's type)...
    iot.attach_thing_principal(thingName="lamp", principal=COGNITO, thingPrincipalType="EXCLUSIVE_THING")
    objects = iot.list_principal_things_v2(principal=COGNITO)["principalThingObjects"]
    assert objects == [{"thingName": "lamp", "thingPrincipalType": "EXCLUSIVE_THING"}]
    filtered = iot.list_thing_principals_v2(thingName="lamp", thingPrincipalType="EXCLUSIVE_THING")
    assert filtered["thingPrincipalObjects"] == [{"principal": COGNITO, "thingPrincipalType": "EXCLUSIVE_THING"}]
    assert iot.list_principal_things_v2(principal=COGNITO, thingPrincipalType="NON_EXCLUSIVE_THING")[
        "principalThingObjects"] == []
    # ...and then no other thing may take the principal.
    fails(INVALID, iot.attach_thing_principal, thingName="fan", principal=COGNITO)

    # A thing with principals cannot be deleted.
    message = fails(INVALID, iot.delete_thing, thingName="lamp")
    assert message == "Cannot delete. Thing lamp is still attached to one or more principals"
    iot.detach_thing_principal(thingName="lamp", principal=COGNITO)
    iot.detach_thing_principal(thingName="lamp", principal=OTHER_COGNITO)
    iot.detach_thing_principal(thingName="lamp", principal=OTHER_COGNITO)  # detaching twice is fine
    assert iot.list_thing_principals(thingName="lamp")["principals"] == []
    iot.delete_thing(thingName="lamp")

    # Errors: unknown thing, and principals a thing cannot have.
    fails(NOT_FOUND, iot.attach_thing_principal, thingName="lamp", principal=COGNITO)
    fails(NOT_FOUND, iot.detach_thing_principal, thingName="lamp", principal=COGNITO)
    missing = "Failed to list principals for thing lamp because the thing does not exist in your account"
    assert fails(NOT_FOUND, iot.list_thing_principals, thingName="lamp") == missing
    assert fails(NOT_FOUND, iot.list_thing_principals_v2, thingName="lamp") == missing
    iot.create_thing_group(thingGroupName="g")
    fails(INVALID, iot.attach_thing_principal, thingName="fan", principal=arn("thinggroup/g"))
    fails(INVALID, iot.attach_thing_principal, thingName="fan", principal="not-a-principal")
    fails(INVALID, iot.list_principal_things, principal="not-a-principal")


def test_certificates_as_principals_and_targets(iot):
    cert = certificate_arn(iot)
    missing = arn("cert/" + "ab" * 32)
    iot.create_policy(policyName="device", policyDocument=CONNECT_ANY)
    iot.create_thing(thingName="sensor")

    iot.attach_policy(policyName="device", target=cert)
    assert names(iot.list_attached_policies(target=cert)["policies"]) == ["device"]
    assert iot.list_targets_for_policy(policyName="device")["targets"] == [cert]
    iot.attach_thing_principal(thingName="sensor", principal=cert)
    assert iot.list_thing_principals(thingName="sensor")["principals"] == [cert]
    assert iot.list_principal_things(principal=cert)["things"] == ["sensor"]
    effective = iot.get_effective_policies(principal=cert, thingName="sensor")["effectivePolicies"]
    assert names(effective) == ["device"]

    message = fails(NOT_FOUND, iot.attach_policy, policyName="device", target=missing)
    assert message == "The certificate given in the principal does not exist."
    fails(NOT_FOUND, iot.attach_thing_principal, thingName="sensor", principal=missing)
    fails(NOT_FOUND, iot.list_attached_policies, target=missing)
    fails(NOT_FOUND, iot.get_effective_policies, principal=missing)

    iot.detach_thing_principal(thingName="sensor", principal=cert)
    iot.detach_policy(policyName="device", target=cert)
    assert iot.list_attached_policies(target=cert)["policies"] == []


def test_effective_policies_include_inherited_group_policies(iot):
    for name in ("own", "root-p", "child-p", "elsewhere"):
        iot.create_policy(policyName=name, policyDocument=CONNECT_ANY)
    iot.create_policy_version(policyName="child-p", policyDocument=document(allow("iot:Publish")), setAsDefault=True)
    iot.create_thing_group(thingGroupName="root")
    iot.create_thing_group(thingGroupName="child", parentGroupName="root")
    iot.create_thing_group(thingGroupName="other")
    iot.create_thing(thingName="dev1")
    iot.add_thing_to_thing_group(thingGroupName="child", thingName="dev1")
    iot.attach_policy(policyName="own", target=COGNITO)
    iot.attach_policy(policyName="root-p", target=arn("thinggroup/root"))
    iot.attach_policy(policyName="root-p", target=COGNITO)
    iot.attach_policy(policyName="child-p", target=arn("thinggroup/child"))
    iot.attach_policy(policyName="elsewhere", target=arn("thinggroup/other"))

    effective = iot.get_effective_policies(principal=COGNITO, thingName="dev1")["effectivePolicies"]
    assert sorted(names(effective)) == ["child-p", "own", "root-p"]
    by_name = {p["policyName"]: p for p in effective}
    assert by_name["child-p"]["policyDocument"] == document(allow("iot:Publish"))
    assert by_name["root-p"]["policyArn"] == arn("policy/root-p")
    alone = iot.get_effective_policies(principal=COGNITO)["effectivePolicies"]
    assert sorted(names(alone)) == ["own", "root-p"]
    fails(NOT_FOUND, iot.get_effective_policies, principal=COGNITO, thingName="ghost")
    fails(INVALID, iot.get_effective_policies, principal="nonsense")


def auth(iot, client_id, *infos, **kwargs):
    """TestAuthorization for COGNITO; each info is (actionType, [resources])."""
    out = iot.test_authorization(
        principal=COGNITO, clientId=client_id,
        authInfos=[{"actionType": a, "resources": r} for a, r in infos], **kwargs)
    return out["authResults"]


def test_test_authorization(iot):
    per_client = document(
        allow("iot:Connect", arn("client/${iot:ClientId}")),
        allow("iot:Publish", arn("topic/${iot:ClientId}/*")),
        deny("iot:Publish", arn("topic/${iot:ClientId}/secret")),
        allow("iot:Subscribe", arn("topicfilter/rooms/${iot:Connection.Thing.Attributes[room]}/*")),
    )
    iot.create_policy(policyName="per-client", policyDocument=per_client)
    iot.create_policy(policyName="extra", policyDocument=document(allow("iot:Receive")))
    iot.attach_policy(policyName="per-client", target=COGNITO)

    allowed, implicit, explicit = auth(
        iot, "c1",
        ("CONNECT", [arn("client/c1")]),
        ("CONNECT", [arn("client/c2")]),
        ("PUBLISH", [arn("topic/c1/data"), arn("topic/c1/secret")]))
    assert allowed["authDecision"] == "ALLOWED"
    assert allowed["authInfo"] == {"actionType": "CONNECT", "resources": [arn("client/c1")]}
    assert allowed["allowed"]["policies"] == [{"policyName": "per-client", "policyArn": arn("policy/per-client")}]
    assert implicit["authDecision"] == "IMPLICIT_DENY"
    assert names(implicit["denied"]["implicitDeny"]["policies"]) == ["per-client"]
    assert implicit["allowed"]["policies"] == []
    assert explicit["authDecision"] == "EXPLICIT_DENY"
    assert names(explicit["denied"]["explicitDeny"]["policies"]) == ["per-client"]

    # Skipping and adding policies.
    [skipped] = auth(iot, "c1", ("CONNECT", [arn("client/c1")]), policyNamesToSkip=["per-client"])
    assert skipped["authDecision"] == "IMPLICIT_DENY"
    [added] = auth(iot, "c1", ("RECEIVE", [arn("topic/x")]), policyNamesToAdd=["extra"])
    assert added["authDecision"] == "ALLOWED" and names(added["allowed"]["policies"]) == ["extra"]
    fails(NOT_FOUND, iot.test_authorization, principal=COGNITO,
          authInfos=[{"actionType": "RECEIVE", "resources": [arn("topic/x")]}], policyNamesToAdd=["ghost"])

    # Thing variables come from the thing named by the client id, once it is attached.
    iot.create_thing(thingName="c1", attributePayload={"attributes": {"room": "kitchen"}})
    subscribe = ("SUBSCRIBE", [arn("topicfilter/rooms/kitchen/temp")])
    [before] = auth(iot, "c1", subscribe)
    assert before["authDecision"] == "IMPLICIT_DENY"
    iot.attach_thing_principal(thingName="c1", principal=COGNITO)
    [after] = auth(iot, "c1", subscribe)
    assert after["authDecision"] == "ALLOWED"
    [other_room] = auth(iot, "c1", ("SUBSCRIBE", [arn("topicfilter/rooms/hall/temp")]))
    assert other_room["authDecision"] == "IMPLICIT_DENY"

    # Thing group policies reach the principal through its thing.
    iot.create_thing_group(thingGroupName="kitchen-devices")
    iot.add_thing_to_thing_group(thingGroupName="kitchen-devices", thingName="c1")
    iot.attach_policy(policyName="extra", target=arn("thinggroup/kitchen-devices"))
    [via_group] = auth(iot, "c1", ("RECEIVE", [arn("topic/x")]))
    assert via_group["authDecision"] == "ALLOWED" and names(via_group["allowed"]["policies"]) == ["extra"]

    fails(INVALID, iot.test_authorization, principal="nonsense",
          authInfos=[{"actionType": "CONNECT", "resources": [arn("client/c1")]}])
