//! Thing groups, billing groups and tags through the real router, onto an embedded store.

mod common;

use common::{Api, api, arn, query_value};
use serde_json::{Value, json};

const NONE: Value = Value::Null;

/// The `field` of every item of `list` in a listing (or the items themselves when they are
/// plain strings).
fn names(body: &Value, list: &str, field: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {body}"))
        .iter()
        .map(|v| v.as_str().or_else(|| v[field].as_str()).unwrap().to_owned())
        .collect()
}

/// Every page of a listing, `page_size` at a time; the items and the number of pages.
async fn all_pages(api: &Api, target: &str, page_size: u32, list: &str) -> (Vec<String>, usize) {
    let sep = if target.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{target}{sep}maxResults={page_size}");
        if let Some(t) = &token {
            url.push_str(&format!("&nextToken={}", query_value(t)));
        }
        let page = api.ok("GET", &url, NONE).await;
        pages += 1;
        out.extend(names(&page, list, "groupName"));
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => return (out, pages),
        }
    }
}

async fn thing(api: &Api, name: &str) {
    api.ok("POST", &format!("/things/{name}"), json!({})).await;
}

async fn group(api: &Api, name: &str, parent: Option<&str>) -> Value {
    let body = match parent {
        Some(p) => json!({"parentGroupName": p}),
        None => json!({}),
    };
    api.ok("POST", &format!("/thing-groups/{name}"), body).await
}

async fn add(api: &Api, group: &str, thing: &str) -> common::Reply {
    let body = json!({"thingGroupName": group, "thingName": thing});
    api.json("PUT", "/thing-groups/addThingToThingGroup", body)
        .await
}

#[tokio::test]
async fn thing_group_lifecycle() {
    let api = api();
    let body = json!({
        "thingGroupProperties": {
            "thingGroupDescription": "lights",
            "attributePayload": {"attributes": {"floor": "1", "wing": "east"}},
        },
        "tags": [{"Key": "team", "Value": "a"}],
    });
    let created = api.ok("POST", "/thing-groups/lights", body.clone()).await;
    assert_eq!(created["thingGroupArn"], arn("thinggroup/lights"));
    let id = created["thingGroupId"].as_str().unwrap().to_owned();
    // Identical input is idempotent, even with other tags; other properties conflict.
    let mut retagged = body.clone();
    retagged["tags"] = json!([]);
    let again = api.ok("POST", "/thing-groups/lights", retagged).await;
    assert_eq!(again["thingGroupId"], id.as_str());
    let clash = api
        .json(
            "POST",
            "/thing-groups/lights",
            json!({"thingGroupProperties": {"thingGroupDescription": "other"}}),
        )
        .await;
    assert_eq!(clash.error(), (409, Some("ResourceAlreadyExistsException")));
    assert_eq!(clash.body["resourceId"], id.as_str());
    assert_eq!(clash.body["resourceArn"], arn("thinggroup/lights"));

    let d = api.ok("GET", "/thing-groups/lights", NONE).await;
    assert_eq!(d["version"], 1);
    assert_eq!(d["thingGroupId"], id.as_str());
    assert_eq!(
        d["thingGroupProperties"],
        json!({"thingGroupDescription": "lights",
               "attributePayload": {"attributes": {"floor": "1", "wing": "east"}}})
    );
    // A root group's metadata carries only its creation date.
    let metadata = d["thingGroupMetadata"].as_object().unwrap();
    assert_eq!(
        metadata.keys().collect::<Vec<_>>(),
        ["creationDate"],
        "{metadata:?}"
    );
    assert!(metadata["creationDate"].as_f64().unwrap() > 1.6e9);

    let updated = api
        .ok(
            "PATCH",
            "/thing-groups/lights",
            json!({"thingGroupProperties": {"attributePayload":
                {"attributes": {"floor": "2", "wing": ""}, "merge": true}},
                "expectedVersion": 1}),
        )
        .await;
    assert_eq!(updated, json!({"version": 2}));
    let d = api.ok("GET", "/thing-groups/lights", NONE).await;
    assert_eq!(
        d["thingGroupProperties"],
        json!({"thingGroupDescription": "lights", "attributePayload": {"attributes": {"floor": "2"}}})
    );
    let stale = api
        .json(
            "PATCH",
            "/thing-groups/lights",
            json!({"thingGroupProperties": {"thingGroupDescription": "x"}, "expectedVersion": 1}),
        )
        .await;
    assert_eq!(stale.error(), (409, Some("VersionConflictException")));
    // Without merge the attributes are replaced.
    let replaced = api
        .ok(
            "PATCH",
            "/thing-groups/lights",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a": "b"}}}}),
        )
        .await;
    assert_eq!(replaced["version"], 3);
    let d = api.ok("GET", "/thing-groups/lights", NONE).await;
    assert_eq!(
        d["thingGroupProperties"]["attributePayload"]["attributes"],
        json!({"a": "b"})
    );

    let stale = api
        .json("DELETE", "/thing-groups/lights?expectedVersion=1", NONE)
        .await;
    assert_eq!(stale.error(), (409, Some("VersionConflictException")));
    api.ok("DELETE", "/thing-groups/lights?expectedVersion=3", NONE)
        .await;
    let gone = api.json("GET", "/thing-groups/lights", NONE).await;
    assert_eq!(gone.error(), (404, Some("ResourceNotFoundException")));
    // Deleting what is not there succeeds; updating it does not.
    api.ok("DELETE", "/thing-groups/lights", NONE).await;
    let missing = api
        .json(
            "PATCH",
            "/thing-groups/lights",
            json!({"thingGroupProperties": {}}),
        )
        .await;
    assert_eq!(missing.error(), (404, Some("ResourceNotFoundException")));
}

#[tokio::test]
async fn hierarchy_depth_parents_and_listing() {
    let api = api();
    let missing_parent = api
        .json(
            "POST",
            "/thing-groups/orphan",
            json!({"parentGroupName": "nope"}),
        )
        .await;
    assert_eq!(
        missing_parent.error(),
        (404, Some("ResourceNotFoundException"))
    );
    // Seven levels are allowed, an eighth is not.
    group(&api, "l1", None).await;
    for level in 2..=7 {
        group(&api, &format!("l{level}"), Some(&format!("l{}", level - 1))).await;
    }
    let too_deep = api
        .json("POST", "/thing-groups/l8", json!({"parentGroupName": "l7"}))
        .await;
    assert_eq!(too_deep.error(), (400, Some("InvalidRequestException")));
    let d = api.ok("GET", "/thing-groups/l7", NONE).await;
    assert_eq!(d["thingGroupMetadata"]["parentGroupName"], "l6");
    let chain = &d["thingGroupMetadata"]["rootToParentThingGroups"];
    assert_eq!(
        names(&json!({"g": chain}), "g", "groupName"),
        ["l1", "l2", "l3", "l4", "l5", "l6"]
    );
    assert_eq!(chain[0]["groupArn"], arn("thinggroup/l1"));
    // Same name under another parent is a different group.
    group(&api, "other", None).await;
    let moved = api
        .json(
            "POST",
            "/thing-groups/l2",
            json!({"parentGroupName": "other"}),
        )
        .await;
    assert_eq!(moved.error(), (409, Some("ResourceAlreadyExistsException")));

    let with_children = api.json("DELETE", "/thing-groups/l6", NONE).await;
    assert_eq!(
        with_children.error(),
        (400, Some("InvalidRequestException"))
    );

    let all = api.ok("GET", "/thing-groups", NONE).await;
    assert_eq!(
        names(&all, "thingGroups", "groupName"),
        ["l1", "l2", "l3", "l4", "l5", "l6", "l7", "other"]
    );
    assert_eq!(all["thingGroups"][0]["groupArn"], arn("thinggroup/l1"));
    let roots = api.ok("GET", "/thing-groups?recursive=false", NONE).await;
    assert_eq!(names(&roots, "thingGroups", "groupName"), ["l1", "other"]);
    let below = api.ok("GET", "/thing-groups?parentGroup=l4", NONE).await;
    assert_eq!(
        names(&below, "thingGroups", "groupName"),
        ["l5", "l6", "l7"]
    );
    let children = api
        .ok("GET", "/thing-groups?parentGroup=l4&recursive=false", NONE)
        .await;
    assert_eq!(names(&children, "thingGroups", "groupName"), ["l5"]);
    let prefixed = api
        .ok(
            "GET",
            "/thing-groups?parentGroup=l1&namePrefixFilter=l6",
            NONE,
        )
        .await;
    assert_eq!(names(&prefixed, "thingGroups", "groupName"), ["l6"]);
    let unknown = api
        .json("GET", "/thing-groups?parentGroup=nope", NONE)
        .await;
    assert_eq!(unknown.error(), (404, Some("ResourceNotFoundException")));

    let (paged, pages) = all_pages(&api, "/thing-groups", 3, "thingGroups").await;
    assert_eq!(paged.len(), 8);
    assert_eq!(pages, 3, "8 groups in pages of 3, no empty last page");

    // Leaves first, the chain can be deleted; the parent loses its child link.
    for level in (3..=7).rev() {
        api.ok("DELETE", &format!("/thing-groups/l{level}"), NONE)
            .await;
    }
    let children = api.ok("GET", "/thing-groups?parentGroup=l2", NONE).await;
    assert_eq!(
        names(&children, "thingGroups", "groupName"),
        Vec::<String>::new()
    );
    api.ok("DELETE", "/thing-groups/l2", NONE).await;
}

#[tokio::test]
async fn memberships_by_name_and_arn_with_limits() {
    let api = api();
    group(&api, "building", None).await;
    group(&api, "floor", Some("building")).await;
    group(&api, "room", Some("floor")).await;
    for t in ["t1", "t2", "t3"] {
        thing(&api, t).await;
    }
    assert_eq!(add(&api, "building", "t1").await.status, 200);
    assert_eq!(add(&api, "room", "t2").await.status, 200);
    // By ARN, and with both forms agreeing.
    api.ok(
        "PUT",
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupArn": arn("thinggroup/floor"), "thingArn": arn("thing/t3")}),
    )
    .await;
    api.ok(
        "PUT",
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupName": "room", "thingGroupArn": arn("thinggroup/room"), "thingName": "t3"}),
    )
    .await;
    // Adding again changes nothing.
    assert_eq!(add(&api, "room", "t3").await.status, 200);

    let direct = api.ok("GET", "/thing-groups/floor/things", NONE).await;
    assert_eq!(names(&direct, "things", ""), ["t3"]);
    let deep = api
        .ok("GET", "/thing-groups/building/things?recursive=true", NONE)
        .await;
    // t3 is in two groups of the subtree and listed once.
    assert_eq!(names(&deep, "things", ""), ["t1", "t2", "t3"]);
    let (paged, pages) = all_pages(
        &api,
        "/thing-groups/building/things?recursive=true",
        2,
        "things",
    )
    .await;
    assert_eq!(
        (paged, pages),
        (vec!["t1".into(), "t2".into(), "t3".into()], 2)
    );

    let of_t3 = api.ok("GET", "/things/t3/thing-groups", NONE).await;
    assert_eq!(names(&of_t3, "thingGroups", "groupName"), ["floor", "room"]);
    assert_eq!(of_t3["thingGroups"][0]["groupArn"], arn("thinggroup/floor"));

    for (body, want) in [
        (
            json!({"thingGroupName": "nope", "thingName": "t1"}),
            (404, Some("ResourceNotFoundException")),
        ),
        (
            json!({"thingGroupName": "room", "thingName": "nope"}),
            (404, Some("ResourceNotFoundException")),
        ),
        (
            json!({"thingGroupName": "room"}),
            (400, Some("InvalidRequestException")),
        ),
        (
            json!({"thingGroupName": "room", "thingArn": "arn:aws:iot:eu-west-1:999999999999:thing/t1"}),
            (400, Some("InvalidRequestException")),
        ),
        (
            json!({"thingGroupName": "room", "thingName": "t1", "thingArn": arn("thing/t2")}),
            (400, Some("InvalidRequestException")),
        ),
        (
            json!({"thingGroupArn": arn("billinggroup/room"), "thingName": "t1"}),
            (400, Some("InvalidRequestException")),
        ),
    ] {
        let r = api
            .json("PUT", "/thing-groups/addThingToThingGroup", body.clone())
            .await;
        assert_eq!(r.error(), want, "{body}");
    }

    api.ok(
        "PUT",
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingGroupName": "room", "thingArn": arn("thing/t3")}),
    )
    .await;
    // Removing a thing that is not a member succeeds.
    api.ok(
        "PUT",
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingGroupName": "room", "thingName": "t3"}),
    )
    .await;
    let of_t3 = api.ok("GET", "/things/t3/thing-groups", NONE).await;
    assert_eq!(names(&of_t3, "thingGroups", "groupName"), ["floor"]);

    // At most 10 groups per thing: the eleventh is refused with InvalidRequestException
    // (AddThingToThingGroup's model lists no LimitExceededException).
    for i in 0..9 {
        group(&api, &format!("g{i}"), None).await;
        assert_eq!(add(&api, &format!("g{i}"), "t3").await.status, 200);
    }
    group(&api, "g9", None).await;
    let eleventh = add(&api, "g9", "t3").await;
    assert_eq!(eleventh.error(), (400, Some("InvalidRequestException")));
    let eleventh = api
        .json(
            "PUT",
            "/thing-groups/updateThingGroupsForThing",
            json!({"thingName": "t3", "thingGroupsToAdd": ["g9"]}),
        )
        .await;
    assert_eq!(eleventh.error(), (400, Some("InvalidRequestException")));
    // Swapping one for another in one call stays within the limit.
    api.ok(
        "PUT",
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t3", "thingGroupsToAdd": ["g9"], "thingGroupsToRemove": ["g0", "floor"]}),
    )
    .await;
    let (groups, _) = all_pages(&api, "/things/t3/thing-groups", 4, "thingGroups").await;
    assert_eq!(
        groups,
        ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"]
    );
    let unknown = api
        .json(
            "PUT",
            "/thing-groups/updateThingGroupsForThing",
            json!({"thingName": "t3", "thingGroupsToAdd": ["nope"]}),
        )
        .await;
    assert_eq!(unknown.error(), (404, Some("ResourceNotFoundException")));

    // Deleting a group ends its memberships, deleting a thing ends its own.
    api.ok("DELETE", "/thing-groups/g9", NONE).await;
    let (groups, _) = all_pages(&api, "/things/t3/thing-groups", 20, "thingGroups").await;
    assert_eq!(groups.len(), 8);
    api.ok("DELETE", "/things/t3", NONE).await;
    let members = api.ok("GET", "/thing-groups/g1/things", NONE).await;
    assert_eq!(names(&members, "things", ""), Vec::<String>::new());
    thing(&api, "t3").await;
    let fresh = api.ok("GET", "/things/t3/thing-groups", NONE).await;
    assert_eq!(
        names(&fresh, "thingGroups", "groupName"),
        Vec::<String>::new()
    );
    let gone = api.json("GET", "/things/nope/thing-groups", NONE).await;
    assert_eq!(gone.error(), (404, Some("ResourceNotFoundException")));
}

#[tokio::test]
async fn billing_groups_hold_each_thing_once() {
    let api = api();
    let body = json!({"billingGroupProperties": {"billingGroupDescription": "lab"}});
    let created = api.ok("POST", "/billing-groups/lab", body.clone()).await;
    assert_eq!(created["billingGroupArn"], arn("billinggroup/lab"));
    let again = api.ok("POST", "/billing-groups/lab", body).await;
    assert_eq!(again["billingGroupId"], created["billingGroupId"]);
    let clash = api.json("POST", "/billing-groups/lab", json!({})).await;
    assert_eq!(clash.error(), (409, Some("ResourceAlreadyExistsException")));
    assert_eq!(clash.body["resourceId"], created["billingGroupId"]);
    api.ok("POST", "/billing-groups/field", json!({})).await;

    let d = api.ok("GET", "/billing-groups/lab", NONE).await;
    assert_eq!(d["version"], 1);
    assert_eq!(
        d["billingGroupProperties"],
        json!({"billingGroupDescription": "lab"})
    );
    assert!(d["billingGroupMetadata"]["creationDate"].as_f64().unwrap() > 1.6e9);
    let updated = api
        .ok(
            "PATCH",
            "/billing-groups/lab",
            json!({"billingGroupProperties": {"billingGroupDescription": "lab 2"}, "expectedVersion": 1}),
        )
        .await;
    assert_eq!(updated, json!({"version": 2}));
    let stale = api
        .json(
            "PATCH",
            "/billing-groups/lab",
            json!({"billingGroupProperties": {}, "expectedVersion": 1}),
        )
        .await;
    assert_eq!(stale.error(), (409, Some("VersionConflictException")));

    // CreateThing names a billing group, which must exist.
    let missing = api
        .json("POST", "/things/t1", json!({"billingGroupName": "nope"}))
        .await;
    assert_eq!(missing.error(), (404, Some("ResourceNotFoundException")));
    api.ok("POST", "/things/t1", json!({"billingGroupName": "lab"}))
        .await;
    api.ok("POST", "/things/t1", json!({"billingGroupName": "lab"}))
        .await;
    api.ok("POST", "/things/t1", json!({})).await;
    let other = api
        .json("POST", "/things/t1", json!({"billingGroupName": "field"}))
        .await;
    assert_eq!(other.error(), (409, Some("ResourceAlreadyExistsException")));
    let t1 = api.ok("GET", "/things/t1", NONE).await;
    assert_eq!(
        (t1["billingGroupName"].as_str(), t1["version"].as_i64()),
        (Some("lab"), Some(1))
    );

    // Adding to another billing group moves the thing; its version is not the registry's
    // record of memberships, so it stays.
    thing(&api, "t2").await;
    api.ok(
        "PUT",
        "/billing-groups/addThingToBillingGroup",
        json!({"billingGroupArn": arn("billinggroup/field"), "thingName": "t1"}),
    )
    .await;
    api.ok(
        "PUT",
        "/billing-groups/addThingToBillingGroup",
        json!({"billingGroupName": "field", "thingArn": arn("thing/t2")}),
    )
    .await;
    let t1 = api.ok("GET", "/things/t1", NONE).await;
    assert_eq!(
        (t1["billingGroupName"].as_str(), t1["version"].as_i64()),
        (Some("field"), Some(1))
    );
    let lab = api.ok("GET", "/billing-groups/lab/things", NONE).await;
    assert_eq!(names(&lab, "things", ""), Vec::<String>::new());
    let (field, pages) = all_pages(&api, "/billing-groups/field/things", 1, "things").await;
    assert_eq!((field, pages), (vec!["t1".into(), "t2".into()], 2));

    // Removing from a group the thing is not in changes nothing.
    api.ok(
        "PUT",
        "/billing-groups/removeThingFromBillingGroup",
        json!({"billingGroupName": "lab", "thingName": "t1"}),
    )
    .await;
    api.ok(
        "PUT",
        "/billing-groups/removeThingFromBillingGroup",
        json!({"billingGroupName": "field", "thingName": "t2"}),
    )
    .await;
    let t2 = api.ok("GET", "/things/t2", NONE).await;
    assert!(t2.get("billingGroupName").is_none(), "{t2}");
    let missing = api
        .json(
            "PUT",
            "/billing-groups/addThingToBillingGroup",
            json!({"billingGroupName": "nope", "thingName": "t2"}),
        )
        .await;
    assert_eq!(missing.error(), (404, Some("ResourceNotFoundException")));

    let listed = api
        .ok("GET", "/billing-groups?namePrefixFilter=fi", NONE)
        .await;
    assert_eq!(
        listed["billingGroups"],
        json!([{"groupName": "field", "groupArn": arn("billinggroup/field")}])
    );
    let (all, _) = all_pages(&api, "/billing-groups", 1, "billingGroups").await;
    assert_eq!(all, ["field", "lab"]);

    // Deleting the group leaves its things in none; deleting a thing leaves its group.
    let stale = api
        .json("DELETE", "/billing-groups/field?expectedVersion=9", NONE)
        .await;
    assert_eq!(stale.error(), (409, Some("VersionConflictException")));
    api.ok("DELETE", "/billing-groups/field", NONE).await;
    let t1 = api.ok("GET", "/things/t1", NONE).await;
    assert!(t1.get("billingGroupName").is_none(), "{t1}");
    api.ok(
        "PUT",
        "/billing-groups/addThingToBillingGroup",
        json!({"billingGroupName": "lab", "thingName": "t1"}),
    )
    .await;
    api.ok("DELETE", "/things/t1", NONE).await;
    let lab = api.ok("GET", "/billing-groups/lab/things", NONE).await;
    assert_eq!(names(&lab, "things", ""), Vec::<String>::new());
    api.ok("DELETE", "/billing-groups/field", NONE).await;
    let gone = api.json("GET", "/billing-groups/field", NONE).await;
    assert_eq!(gone.error(), (404, Some("ResourceNotFoundException")));
}

async fn tags_of(api: &Api, resource_arn: &str) -> Value {
    let url = format!("/tags?resourceArn={}", query_value(resource_arn));
    api.ok("GET", &url, NONE).await["tags"].clone()
}

async fn tag(api: &Api, resource_arn: &str, tags: Value) -> common::Reply {
    api.json(
        "POST",
        "/tags",
        json!({"resourceArn": resource_arn, "tags": tags}),
    )
    .await
}

#[tokio::test]
async fn tags_on_every_taggable_resource() {
    let api = api();
    api.ok(
        "POST",
        "/thing-groups/g",
        json!({"tags": [{"Key": "Env", "Value": "prod"}]}),
    )
    .await;
    api.ok(
        "POST",
        "/billing-groups/b",
        json!({"tags": [{"Key": "cost", "Value": "1"}]}),
    )
    .await;
    api.ok(
        "POST",
        "/thing-types/tt",
        json!({"tags": [{"Key": "kind", "Value": "sensor"}]}),
    )
    .await;
    let g = arn("thinggroup/g");
    assert_eq!(
        tags_of(&api, &g).await,
        json!([{"Key": "Env", "Value": "prod"}])
    );
    assert_eq!(
        tags_of(&api, &arn("billinggroup/b")).await,
        json!([{"Key": "cost", "Value": "1"}])
    );
    assert_eq!(
        tags_of(&api, &arn("thingtype/tt")).await,
        json!([{"Key": "kind", "Value": "sensor"}])
    );

    // Keys are case-sensitive; tagging an existing key replaces its value.
    assert_eq!(
        tag(
            &api,
            &g,
            json!([{"Key": "env", "Value": "dev"}, {"Key": "Env", "Value": "staging"}])
        )
        .await
        .status,
        200
    );
    assert_eq!(
        tags_of(&api, &g).await,
        json!([{"Key": "Env", "Value": "staging"}, {"Key": "env", "Value": "dev"}])
    );
    api.ok(
        "POST",
        "/untag",
        json!({"resourceArn": g, "tagKeys": ["Env", "absent"]}),
    )
    .await;
    assert_eq!(
        tags_of(&api, &g).await,
        json!([{"Key": "env", "Value": "dev"}])
    );

    // 50 tags per resource.
    let many: Vec<Value> = (0..49)
        .map(|i| json!({"Key": format!("k{i:02}"), "Value": "v"}))
        .collect();
    assert_eq!(tag(&api, &g, json!(many)).await.status, 200);
    assert_eq!(tags_of(&api, &g).await.as_array().unwrap().len(), 50);
    let over = tag(&api, &g, json!([{"Key": "one-more", "Value": ""}])).await;
    assert_eq!(over.error(), (410, Some("LimitExceededException")));
    let too_many: Vec<Value> = (0..51).map(|i| json!({"Key": format!("k{i}")})).collect();
    let on_create = api
        .json("POST", "/thing-groups/big", json!({"tags": too_many}))
        .await;
    assert_eq!(on_create.error(), (400, Some("InvalidRequestException")));
    assert_eq!(api.json("GET", "/thing-groups/big", NONE).await.status, 404);

    for (resource, want) in [
        (arn("thing/t"), (400, Some("InvalidRequestException"))),
        (
            arn("thinggroup/nope"),
            (404, Some("ResourceNotFoundException")),
        ),
        (arn("policy/p"), (404, Some("ResourceNotFoundException"))),
        (
            "arn:aws:iot:eu-west-1:999999999999:thinggroup/g".to_owned(),
            (400, Some("InvalidRequestException")),
        ),
        (
            "not-an-arn".to_owned(),
            (400, Some("InvalidRequestException")),
        ),
    ] {
        let r = tag(&api, &resource, json!([{"Key": "a", "Value": "b"}])).await;
        assert_eq!(r.error(), want, "{resource}");
        let url = format!("/tags?resourceArn={}", query_value(&resource));
        assert_eq!(
            api.json("GET", &url, NONE).await.error(),
            want,
            "{resource}"
        );
    }
    let reserved = tag(
        &api,
        &arn("billinggroup/b"),
        json!([{"Key": "aws:x", "Value": "b"}]),
    )
    .await;
    assert_eq!(reserved.error(), (400, Some("InvalidRequestException")));

    // A deleted resource's tags go with it: the same name again starts untagged.
    api.ok("DELETE", "/thing-groups/g", NONE).await;
    api.ok("DELETE", "/billing-groups/b", NONE).await;
    api.ok("POST", "/thing-types/tt/deprecate", json!({})).await;
    api.ok("DELETE", "/thing-types/tt", NONE).await;
    api.ok("POST", "/thing-groups/g", json!({})).await;
    api.ok("POST", "/billing-groups/b", json!({})).await;
    api.ok("POST", "/thing-types/tt", json!({})).await;
    for resource in ["thinggroup/g", "billinggroup/b", "thingtype/tt"] {
        assert_eq!(tags_of(&api, &arn(resource)).await, json!([]), "{resource}");
    }
}
