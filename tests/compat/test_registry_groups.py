"""Thing groups, billing groups and tags through boto3 against a live `ferrite serve`, on the
embedded store and (when FERRITE_TEST_POSTGRES_URL is set) on PostgreSQL."""

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION


def arn(resource):
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:{resource}"


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def fails(expected, call, **kwargs):
    """Calls `call` expecting the AWS error `expected` (code, HTTP status); the error response."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert error_of(e) == expected, kwargs
    return e.value.response


INVALID = ("InvalidRequestException", 400)
NOT_FOUND = ("ResourceNotFoundException", 404)
EXISTS = ("ResourceAlreadyExistsException", 409)
CONFLICT = ("VersionConflictException", 409)


def paginate(iot, operation, key, page_size, **kwargs):
    """Every item through boto3's paginator, and the size of each page."""
    pages = list(iot.get_paginator(operation).paginate(PaginationConfig={"PageSize": page_size}, **kwargs))
    return [item for p in pages for item in p[key]], [len(p[key]) for p in pages]


def group_names(items):
    return [g["groupName"] for g in items]


def test_thing_group_lifecycle(iot):
    props = {"thingGroupDescription": "all lights", "attributePayload": {"attributes": {"floor": "1", "wing": "e"}}}
    created = iot.create_thing_group(thingGroupName="lights", thingGroupProperties=props)
    assert created["thingGroupArn"] == arn("thinggroup/lights")
    assert created["thingGroupName"] == "lights"
    # The same definition again is idempotent; another one conflicts.
    again = iot.create_thing_group(thingGroupName="lights", thingGroupProperties=props)
    assert again["thingGroupId"] == created["thingGroupId"]
    r = fails(EXISTS, iot.create_thing_group, thingGroupName="lights",
              thingGroupProperties={"thingGroupDescription": "other"})
    assert (r["resourceId"], r["resourceArn"]) == (created["thingGroupId"], created["thingGroupArn"])
    assert r["Error"]["Message"] == "Thing Group lights already exists in current account with different properties"

    d = iot.describe_thing_group(thingGroupName="lights")
    assert (d["thingGroupName"], d["thingGroupId"], d["thingGroupArn"], d["version"]) == (
        "lights", created["thingGroupId"], created["thingGroupArn"], 1)
    assert d["thingGroupProperties"] == props
    assert "parentGroupName" not in d["thingGroupMetadata"]
    assert d["thingGroupMetadata"]["creationDate"].year >= 2024

    # Merge: set one attribute, remove another with an empty value.
    v = iot.update_thing_group(thingGroupName="lights", expectedVersion=1, thingGroupProperties={
        "attributePayload": {"attributes": {"floor": "2", "wing": ""}, "merge": True}})
    assert v["version"] == 2
    d = iot.describe_thing_group(thingGroupName="lights")
    assert d["thingGroupProperties"] == {"thingGroupDescription": "all lights",
                                         "attributePayload": {"attributes": {"floor": "2"}}}
    fails(CONFLICT, iot.update_thing_group, thingGroupName="lights", expectedVersion=1,
          thingGroupProperties={"thingGroupDescription": "x"})
    # Without merge the attributes are replaced.
    v = iot.update_thing_group(thingGroupName="lights", thingGroupProperties={
        "thingGroupDescription": "lamps", "attributePayload": {"attributes": {"a": "b"}}})
    assert v["version"] == 3
    d = iot.describe_thing_group(thingGroupName="lights")
    assert d["thingGroupProperties"] == {"thingGroupDescription": "lamps", "attributePayload": {"attributes": {"a": "b"}}}
    fails(NOT_FOUND, iot.update_thing_group, thingGroupName="nope", thingGroupProperties={})
    fails(NOT_FOUND, iot.describe_thing_group, thingGroupName="nope")

    fails(CONFLICT, iot.delete_thing_group, thingGroupName="lights", expectedVersion=2)
    iot.delete_thing_group(thingGroupName="lights", expectedVersion=3)
    fails(NOT_FOUND, iot.describe_thing_group, thingGroupName="lights")
    iot.delete_thing_group(thingGroupName="lights")  # gone already: still a success, as on AWS


def test_hierarchy_and_list_thing_groups(iot):
    fails(NOT_FOUND, iot.create_thing_group, thingGroupName="orphan", parentGroupName="nope")
    # A hierarchy is at most 7 deep.
    iot.create_thing_group(thingGroupName="l1")
    for level in range(2, 8):
        iot.create_thing_group(thingGroupName=f"l{level}", parentGroupName=f"l{level - 1}")
    fails(INVALID, iot.create_thing_group, thingGroupName="l8", parentGroupName="l7")
    meta = iot.describe_thing_group(thingGroupName="l7")["thingGroupMetadata"]
    assert meta["parentGroupName"] == "l6"
    assert meta["rootToParentThingGroups"] == [{"groupName": f"l{i}", "groupArn": arn(f"thinggroup/l{i}")}
                                              for i in range(1, 7)]
    # The parent is part of the definition: another parent is another group.
    iot.create_thing_group(thingGroupName="other")
    iot.create_thing_group(thingGroupName="l2", parentGroupName="l1")
    fails(EXISTS, iot.create_thing_group, thingGroupName="l2", parentGroupName="other")
    fails(INVALID, iot.delete_thing_group, thingGroupName="l6")  # it has a child

    everything = [f"l{i}" for i in range(1, 8)] + ["other"]
    listed = iot.list_thing_groups()["thingGroups"]
    assert group_names(listed) == everything
    assert listed[0] == {"groupName": "l1", "groupArn": arn("thinggroup/l1")}
    assert group_names(iot.list_thing_groups(recursive=False)["thingGroups"]) == ["l1", "other"]
    assert group_names(iot.list_thing_groups(parentGroup="l4")["thingGroups"]) == ["l5", "l6", "l7"]
    assert group_names(iot.list_thing_groups(parentGroup="l4", recursive=True)["thingGroups"]) == ["l5", "l6", "l7"]
    assert group_names(iot.list_thing_groups(parentGroup="l4", recursive=False)["thingGroups"]) == ["l5"]
    assert group_names(iot.list_thing_groups(namePrefixFilter="l")["thingGroups"]) == everything[:-1]
    assert group_names(iot.list_thing_groups(parentGroup="l1", namePrefixFilter="l7")["thingGroups"]) == ["l7"]
    fails(NOT_FOUND, iot.list_thing_groups, parentGroup="nope")
    fails(INVALID, iot.list_thing_groups, nextToken="not-a-token")

    items, sizes = paginate(iot, "list_thing_groups", "thingGroups", 3)
    assert group_names(items) == everything and sizes == [3, 3, 2]
    items, sizes = paginate(iot, "list_thing_groups", "thingGroups", 2, parentGroup="l3")
    assert group_names(items) == ["l4", "l5", "l6", "l7"] and sizes == [2, 2]

    for level in range(7, 1, -1):
        iot.delete_thing_group(thingGroupName=f"l{level}")
    assert group_names(iot.list_thing_groups()["thingGroups"]) == ["l1", "other"]


def test_thing_group_membership(iot):
    iot.create_thing_group(thingGroupName="building")
    iot.create_thing_group(thingGroupName="floor", parentGroupName="building")
    iot.create_thing_group(thingGroupName="room", parentGroupName="floor")
    things = [f"t{i}" for i in range(5)]
    for t in things:
        iot.create_thing(thingName=t)
    iot.add_thing_to_thing_group(thingGroupName="building", thingName="t0")
    iot.add_thing_to_thing_group(thingGroupArn=arn("thinggroup/floor"), thingArn=arn("thing/t1"))
    for t in things[1:]:
        iot.add_thing_to_thing_group(thingGroupName="room", thingName=t)
    iot.add_thing_to_thing_group(thingGroupName="room", thingName="t4")  # already there: no change

    assert iot.list_things_in_thing_group(thingGroupName="room")["things"] == things[1:]
    assert iot.list_things_in_thing_group(thingGroupName="building")["things"] == ["t0"]
    # Recursive listing covers the subtree and lists a thing in two of its groups once.
    items, sizes = paginate(iot, "list_things_in_thing_group", "things", 2, thingGroupName="building",
                            recursive=True)
    assert items == things and sizes == [2, 2, 1]
    assert iot.list_things_in_thing_group(thingGroupName="floor", recursive=False)["things"] == ["t1"]
    fails(NOT_FOUND, iot.list_things_in_thing_group, thingGroupName="nope")

    groups = iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]
    assert groups == [{"groupName": "floor", "groupArn": arn("thinggroup/floor")},
                      {"groupName": "room", "groupArn": arn("thinggroup/room")}]
    fails(NOT_FOUND, iot.list_thing_groups_for_thing, thingName="nope")

    fails(NOT_FOUND, iot.add_thing_to_thing_group, thingGroupName="nope", thingName="t0")
    fails(NOT_FOUND, iot.add_thing_to_thing_group, thingGroupName="room", thingName="nope")
    fails(INVALID, iot.add_thing_to_thing_group, thingGroupName="room")
    fails(INVALID, iot.add_thing_to_thing_group, thingGroupName="room",
          thingArn="arn:aws:iot:eu-west-1:999999999999:thing/t0")
    fails(INVALID, iot.add_thing_to_thing_group, thingGroupName="room", thingName="t0", thingArn=arn("thing/t1"))

    iot.remove_thing_from_thing_group(thingGroupName="room", thingName="t1")
    iot.remove_thing_from_thing_group(thingGroupArn=arn("thinggroup/room"), thingArn=arn("thing/t1"))  # not a member
    assert group_names(iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]) == ["floor"]
    fails(NOT_FOUND, iot.remove_thing_from_thing_group, thingGroupName="nope", thingName="t1")

    iot.update_thing_groups_for_thing(thingName="t1", thingGroupsToAdd=["building", "room"],
                                      thingGroupsToRemove=["floor"])
    assert group_names(iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]) == ["building", "room"]
    fails(NOT_FOUND, iot.update_thing_groups_for_thing, thingName="t1", thingGroupsToAdd=["nope"])
    fails(NOT_FOUND, iot.update_thing_groups_for_thing, thingName="nope", thingGroupsToAdd=["room"])

    # Deleting a group ends its memberships; the things stay.
    iot.delete_thing_group(thingGroupName="room")
    assert group_names(iot.list_thing_groups_for_thing(thingName="t1")["thingGroups"]) == ["building"]
    assert iot.describe_thing(thingName="t2")["thingName"] == "t2"
    # Deleting a thing ends its memberships: a new thing of that name starts in none.
    iot.delete_thing(thingName="t0")
    assert iot.list_things_in_thing_group(thingGroupName="building")["things"] == ["t1"]
    iot.create_thing(thingName="t0")
    assert iot.list_thing_groups_for_thing(thingName="t0")["thingGroups"] == []


def test_a_thing_is_in_at_most_ten_thing_groups(iot):
    """The eleventh group is InvalidRequestException: the membership operations' models list
    no LimitExceededException."""
    iot.create_thing(thingName="busy")
    for i in range(11):
        iot.create_thing_group(thingGroupName=f"g{i:02d}")
    for i in range(10):
        iot.add_thing_to_thing_group(thingGroupName=f"g{i:02d}", thingName="busy")
    fails(INVALID, iot.add_thing_to_thing_group, thingGroupName="g10", thingName="busy")
    fails(INVALID, iot.update_thing_groups_for_thing, thingName="busy", thingGroupsToAdd=["g10"])
    iot.add_thing_to_thing_group(thingGroupName="g00", thingName="busy")  # already a member: fine
    # A swap within one call stays within the limit.
    iot.update_thing_groups_for_thing(thingName="busy", thingGroupsToAdd=["g10"], thingGroupsToRemove=["g00"])
    items, sizes = paginate(iot, "list_thing_groups_for_thing", "thingGroups", 4, thingName="busy")
    assert group_names(items) == [f"g{i:02d}" for i in range(1, 11)] and sizes == [4, 4, 2]


def test_billing_groups(iot):
    props = {"billingGroupDescription": "lab devices"}
    created = iot.create_billing_group(billingGroupName="lab", billingGroupProperties=props)
    assert created["billingGroupArn"] == arn("billinggroup/lab")
    assert iot.create_billing_group(billingGroupName="lab", billingGroupProperties=props)["billingGroupId"] == \
        created["billingGroupId"]
    r = fails(EXISTS, iot.create_billing_group, billingGroupName="lab")
    assert r["resourceId"] == created["billingGroupId"]
    iot.create_billing_group(billingGroupName="field")

    d = iot.describe_billing_group(billingGroupName="lab")
    assert (d["billingGroupName"], d["billingGroupId"], d["version"]) == ("lab", created["billingGroupId"], 1)
    assert d["billingGroupProperties"] == props
    assert d["billingGroupMetadata"]["creationDate"].year >= 2024
    fails(NOT_FOUND, iot.describe_billing_group, billingGroupName="nope")
    v = iot.update_billing_group(billingGroupName="lab", expectedVersion=1,
                                 billingGroupProperties={"billingGroupDescription": "lab 2"})
    assert v["version"] == 2
    assert iot.describe_billing_group(billingGroupName="lab")["billingGroupProperties"] == {
        "billingGroupDescription": "lab 2"}
    fails(CONFLICT, iot.update_billing_group, billingGroupName="lab", expectedVersion=1, billingGroupProperties={})
    fails(NOT_FOUND, iot.update_billing_group, billingGroupName="nope", billingGroupProperties={})

    # CreateThing can name a billing group, which must exist.
    fails(NOT_FOUND, iot.create_thing, thingName="t1", billingGroupName="nope")
    iot.create_thing(thingName="t1", billingGroupName="lab")
    iot.create_thing(thingName="t1", billingGroupName="lab")  # identical: idempotent
    fails(EXISTS, iot.create_thing, thingName="t1", billingGroupName="field")
    d = iot.describe_thing(thingName="t1")
    assert (d["billingGroupName"], d["version"]) == ("lab", 1)

    # Adding to another billing group moves the thing (by name or ARN).
    iot.create_thing(thingName="t2")
    iot.create_thing(thingName="t3")
    iot.add_thing_to_billing_group(billingGroupArn=arn("billinggroup/field"), thingName="t1")
    iot.add_thing_to_billing_group(billingGroupName="field", thingArn=arn("thing/t2"))
    iot.add_thing_to_billing_group(billingGroupName="field", thingName="t3")
    assert iot.describe_thing(thingName="t1")["billingGroupName"] == "field"
    assert iot.list_things_in_billing_group(billingGroupName="lab")["things"] == []
    items, sizes = paginate(iot, "list_things_in_billing_group", "things", 2, billingGroupName="field")
    assert items == ["t1", "t2", "t3"] and sizes == [2, 1]
    fails(NOT_FOUND, iot.list_things_in_billing_group, billingGroupName="nope")
    fails(NOT_FOUND, iot.add_thing_to_billing_group, billingGroupName="nope", thingName="t1")
    fails(NOT_FOUND, iot.add_thing_to_billing_group, billingGroupName="lab", thingName="nope")
    fails(INVALID, iot.add_thing_to_billing_group, thingName="t1")

    iot.remove_thing_from_billing_group(billingGroupName="lab", thingName="t2")  # not in it: no change
    assert iot.describe_thing(thingName="t2")["billingGroupName"] == "field"
    iot.remove_thing_from_billing_group(billingGroupName="field", thingName="t2")
    assert "billingGroupName" not in iot.describe_thing(thingName="t2")

    assert iot.list_billing_groups(namePrefixFilter="fi")["billingGroups"] == [
        {"groupName": "field", "groupArn": arn("billinggroup/field")}]
    items, sizes = paginate(iot, "list_billing_groups", "billingGroups", 1)
    assert group_names(items) == ["field", "lab"] and sizes == [1, 1]

    # Deleting a thing takes it out of its billing group; deleting the group frees its things.
    iot.delete_thing(thingName="t3")
    assert iot.list_things_in_billing_group(billingGroupName="field")["things"] == ["t1"]
    fails(CONFLICT, iot.delete_billing_group, billingGroupName="field", expectedVersion=5)
    iot.delete_billing_group(billingGroupName="field", expectedVersion=1)
    assert "billingGroupName" not in iot.describe_thing(thingName="t1")
    fails(NOT_FOUND, iot.describe_billing_group, billingGroupName="field")
    iot.delete_billing_group(billingGroupName="field")


def tags_of(iot, resource_arn):
    return {t["Key"]: t.get("Value") for t in iot.list_tags_for_resource(resourceArn=resource_arn)["tags"]}


def test_tags(iot):
    iot.create_thing_group(thingGroupName="g", tags=[{"Key": "Env", "Value": "prod"}])
    iot.create_billing_group(billingGroupName="b", tags=[{"Key": "cost-centre", "Value": "42"}])
    iot.create_thing_type(thingTypeName="tt", tags=[{"Key": "kind", "Value": "sensor"}])
    g, b, tt = arn("thinggroup/g"), arn("billinggroup/b"), arn("thingtype/tt")
    assert tags_of(iot, g) == {"Env": "prod"}
    assert tags_of(iot, b) == {"cost-centre": "42"}
    assert tags_of(iot, tt) == {"kind": "sensor"}

    # Keys are case-sensitive; tagging a key again replaces its value.
    iot.tag_resource(resourceArn=g, tags=[{"Key": "env", "Value": "dev"}, {"Key": "Env", "Value": "staging"}])
    assert tags_of(iot, g) == {"Env": "staging", "env": "dev"}
    iot.untag_resource(resourceArn=g, tagKeys=["Env", "absent"])
    assert tags_of(iot, g) == {"env": "dev"}
    iot.tag_resource(resourceArn=tt, tags=[{"Key": "owner", "Value": "me"}])
    iot.untag_resource(resourceArn=b, tagKeys=["cost-centre"])
    assert tags_of(iot, tt) == {"kind": "sensor", "owner": "me"}
    assert tags_of(iot, b) == {}
    # ListTagsForResource has no page size: at most 50 tags fit one page.
    pages = list(iot.get_paginator("list_tags_for_resource").paginate(resourceArn=tt))
    assert [[t["Key"] for t in p["tags"]] for p in pages] == [["kind", "owner"]]

    # At most 50 tags per resource.
    iot.tag_resource(resourceArn=b, tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(50)])
    assert len(tags_of(iot, b)) == 50
    fails(("LimitExceededException", 410), iot.tag_resource, resourceArn=b, tags=[{"Key": "one-more", "Value": ""}])
    iot.tag_resource(resourceArn=b, tags=[{"Key": "k00", "Value": "changed"}])  # replacing is fine at the limit
    fails(INVALID, iot.create_thing_group, thingGroupName="big",
          tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    fails(NOT_FOUND, iot.describe_thing_group, thingGroupName="big")
    fails(INVALID, iot.tag_resource, resourceArn=g, tags=[{"Key": "aws:reserved", "Value": "x"}])

    # Things are not taggable in AWS; unknown resources are not found; other accounts and
    # malformed ARNs are invalid.
    iot.create_thing(thingName="t")
    for resource_arn, expected in [
        (arn("thing/t"), INVALID),
        (arn("thinggroup/nope"), NOT_FOUND),
        (arn("billinggroup/nope"), NOT_FOUND),
        (arn("thingtype/nope"), NOT_FOUND),
        (f"arn:aws:iot:{REGION}:999999999999:thinggroup/g", INVALID),
        ("not-an-arn", INVALID),
    ]:
        fails(expected, iot.tag_resource, resourceArn=resource_arn, tags=[{"Key": "a", "Value": "b"}])
        fails(expected, iot.untag_resource, resourceArn=resource_arn, tagKeys=["a"])
        fails(expected, iot.list_tags_for_resource, resourceArn=resource_arn)

    # A deleted resource's tags go with it.
    iot.delete_thing_group(thingGroupName="g")
    iot.delete_billing_group(billingGroupName="b")
    iot.deprecate_thing_type(thingTypeName="tt")
    iot.delete_thing_type(thingTypeName="tt")
    fails(NOT_FOUND, iot.list_tags_for_resource, resourceArn=g)
    iot.create_thing_group(thingGroupName="g")
    iot.create_billing_group(billingGroupName="b")
    iot.create_thing_type(thingTypeName="tt")
    assert (tags_of(iot, g), tags_of(iot, b), tags_of(iot, tt)) == ({}, {}, {})
