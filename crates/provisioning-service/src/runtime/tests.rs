//! The runtime over an in-memory store: `OverrideSettings` on an existing thing (DO_NOTHING,
//! MERGE, REPLACE, FAIL changing nothing), policies created once and reused, and ownership
//! tokens (forged, empty, expired after an hour).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferrite_registry::{EndpointConfig, Registry, Scope};
use ferrite_storage_memory::MemoryStore;
use ferrite_types::Clock;
use serde_json::{Value, json};

use super::*;

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account: "123456789012".into(),
    }
}

fn fleet() -> (FleetProvisioning, Registry) {
    let store = Arc::new(MemoryStore::new());
    let registry = Registry::new(store.clone(), EndpointConfig::localhost());
    let templates = ProvisioningTemplates::new(store);
    let fleet = FleetProvisioning::new(registry.clone(), templates, scope(), BTreeMap::new());
    (fleet, registry)
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A template for thing `t` with attributes and groups, under `overrides`.
fn thing_template(overrides: Value) -> String {
    json!({
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": "t", "AttributePayload": {"a": "9", "c": "3"},
                "ThingGroups": ["g2"]},
                "OverrideSettings": overrides}
        }
    })
    .to_string()
}

async fn thing(registry: &Registry) -> (Value, Vec<String>) {
    let desc = registry
        .describe_thing(&scope(), apply::tests_req(json!({"thingName": "t"})))
        .await
        .unwrap();
    let groups = apply::tests_groups(registry, &scope(), "t").await;
    (desc["attributes"].clone(), groups)
}

async fn existing(registry: &Registry) {
    for g in ["g1", "g2"] {
        registry
            .create_thing_group(&scope(), apply::tests_req(json!({"thingGroupName": g})))
            .await
            .unwrap();
    }
    registry
        .create_thing(
            &scope(),
            apply::tests_req(
                json!({"thingName": "t", "attributePayload": {"attributes": {"a": "1", "b": "2"}}}),
            ),
        )
        .await
        .unwrap();
    registry
        .update_thing_groups_for_thing(apply::tests_req(
            json!({"thingName": "t", "thingGroupsToAdd": ["g1"]}),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn overrides_decide_what_happens_to_an_existing_thing() {
    let cases = [
        (json!({}), json!({"a": "1", "b": "2"}), vec!["g1"]),
        (
            json!({"AttributePayload": "MERGE", "ThingGroups": "MERGE"}),
            json!({"a": "9", "b": "2", "c": "3"}),
            vec!["g1", "g2"],
        ),
        (
            json!({"AttributePayload": "REPLACE", "ThingGroups": "REPLACE"}),
            json!({"a": "9", "c": "3"}),
            vec!["g2"],
        ),
    ];
    for (overrides, attributes, groups) in cases {
        let (fleet, registry) = fleet();
        existing(&registry).await;
        let out = fleet
            .register_thing_api(&scope(), &thing_template(overrides.clone()), params(&[]))
            .await
            .unwrap();
        assert_eq!(
            out["resourceArns"]["thing"],
            "arn:aws:iot:us-east-1:123456789012:thing/t"
        );
        assert_eq!(
            thing(&registry).await,
            (attributes, groups.iter().map(|g| g.to_string()).collect()),
            "{overrides}"
        );
    }
}

#[tokio::test]
async fn fail_refuses_before_changing_anything() {
    let (fleet, registry) = fleet();
    existing(&registry).await;
    let before = thing(&registry).await;
    // Groups would be merged, but the attributes differ and say FAIL: nothing happens.
    let template = thing_template(json!({"AttributePayload": "FAIL", "ThingGroups": "MERGE"}));
    let e = fleet
        .register_thing_api(&scope(), &template, params(&[]))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionFailure::ResourceConflict(_)), "{e:?}");
    assert_eq!(e.rejected()["errorCode"], "ResourceConflictsException");
    assert_eq!(thing(&registry).await, before);
}

#[tokio::test]
async fn policies_from_documents_are_created_once_and_reused() {
    let (fleet, registry) = fleet();
    let template = json!({
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Name"}}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument":
                "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}"}}
        }
    })
    .to_string();
    let a = fleet
        .register_thing_api(&scope(), &template, params(&[("Name", "a")]))
        .await
        .unwrap();
    let b = fleet
        .register_thing_api(&scope(), &template, params(&[("Name", "b")]))
        .await
        .unwrap();
    assert_eq!(a["resourceArns"]["policy"], b["resourceArns"]["policy"]);
    let listed = registry
        .list_policies(&scope(), apply::tests_req(json!({})))
        .await
        .unwrap();
    assert_eq!(listed["policies"].as_array().unwrap().len(), 1, "{listed}");
    // A missing parameter is the caller's fault.
    let e = fleet
        .register_thing_api(&scope(), &template, params(&[]))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionFailure::InvalidParameters(_)), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn ownership_tokens_are_unforgeable_and_expire_after_an_hour() {
    let (fleet, _) = fleet();
    let fleet = fleet.with_clock(Clock::following_tokio(1_800_000_000_000));
    let now = || fleet.clock.now_ms();
    let token = ownership::issue(&fleet.docs, "c0ffee", now())
        .await
        .unwrap();
    assert_eq!(
        ownership::redeem(&fleet.docs, &token, now()).await.unwrap(),
        "c0ffee"
    );
    // Reusable until it expires: a device may retry.
    assert_eq!(
        ownership::redeem(&fleet.docs, &token, now()).await.unwrap(),
        "c0ffee"
    );
    for bad in ["", "forged", &token[1..]] {
        let e = ownership::redeem(&fleet.docs, bad, now())
            .await
            .unwrap_err();
        assert_eq!(
            e.rejected()["errorCode"],
            "InvalidCertificateOwnershipToken"
        );
    }
    tokio::time::advance(Duration::from_millis(TOKEN_LIFETIME_MS as u64)).await;
    assert!(ownership::redeem(&fleet.docs, &token, now()).await.is_err());
    // The expired record is gone from the store.
    let left = fleet
        .docs
        .store()
        .list(OWNERSHIP_KIND, "", None, 10)
        .await
        .unwrap();
    assert!(left.records.is_empty());
}

/// A certificate registered without a CA, `status`: its id.
async fn registered(registry: &Registry, name: &str, status: &str) -> String {
    let pem = rcgen::generate_simple_self_signed(vec![name.to_owned()])
        .unwrap()
        .cert
        .pem();
    let out = registry
        .register_certificate_without_ca(
            &scope(),
            apply::tests_req(json!({"certificatePem": pem, "status": status})),
        )
        .await
        .unwrap();
    out["certificateId"].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn expired_tokens_take_their_unprovisioned_certificates_with_them() {
    let (fleet, registry) = fleet();
    let fleet = fleet.with_clock(Clock::following_tokio(1_800_000_000_000));
    let abandoned = registered(&registry, "abandoned", "INACTIVE").await;
    let activated = registered(&registry, "activated", "ACTIVE").await;
    let attached = registered(&registry, "attached", "INACTIVE").await;
    registry
        .create_thing(&scope(), apply::tests_req(json!({"thingName": "t"})))
        .await
        .unwrap();
    registry
        .attach_thing_principal(
            &scope(),
            apply::tests_req(json!({"thingName": "t",
                "principal": format!("arn:aws:iot:us-east-1:123456789012:cert/{attached}")})),
        )
        .await
        .unwrap();
    for id in [&abandoned, &activated, &attached] {
        ownership::issue(&fleet.docs, id, fleet.clock.now_ms())
            .await
            .unwrap();
    }
    // Nothing expires within the hour.
    tokio::time::advance(Duration::from_millis(TOKEN_LIFETIME_MS as u64 - 1)).await;
    assert_eq!(fleet.sweep_expired().await.unwrap(), Vec::<String>::new());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        fleet.sweep_expired().await.unwrap(),
        vec![abandoned.clone()]
    );
    let exists = |id: String| {
        let registry = registry.clone();
        async move { registry.certificate_for_auth(&id).await.unwrap().is_some() }
    };
    assert!(!exists(abandoned).await);
    assert!(exists(activated).await);
    assert!(exists(attached).await);
    // The tokens are gone: a second sweep finds nothing.
    assert_eq!(fleet.sweep_expired().await.unwrap(), Vec::<String>::new());
}
