//! Limits and [VERIFY] switches: size, depth, client token length, deleted-version memory,
//! delta trigger, `metadata.delta` in GET.

use ferrite_shadow::{
    DeltaTrigger, Operation, Outcome, ShadowConfig, ShadowError, ShadowId, ShadowState,
    StoredShadow, Tombstone, handle,
};
use serde_json::{Value, json};

const NOW: u64 = 1_700_000_000;

fn id() -> ShadowId {
    ShadowId::parse("t", None).expect("id")
}

fn update(
    current: Option<&StoredShadow>,
    request: &str,
    config: &ShadowConfig,
) -> Result<Outcome, ShadowError> {
    handle(
        Operation::Update,
        &id(),
        current,
        request.as_bytes(),
        NOW,
        config,
    )
    .map_err(|r| r.error)
}

fn live(outcome: Result<Outcome, ShadowError>) -> StoredShadow {
    outcome.expect("accepted").record().expect("record")
}

#[test]
fn depth_six_is_allowed_and_seven_refused() {
    let config = ShadowConfig::default();
    let six = r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}"#;
    assert!(update(None, six, &config).is_ok());
    let arrays = r#"{"state":{"reported":{"a":[[[[[1]]]]]}}}"#;
    assert!(update(None, arrays, &config).is_ok());
    let seven_arrays = r#"{"state":{"reported":{"a":[[[[[[1]]]]]]}}}"#;
    assert_eq!(
        update(None, seven_arrays, &config).err(),
        Some(ShadowError::TooDeep(6))
    );
    let shallow = ShadowConfig {
        max_depth: 2,
        ..ShadowConfig::default()
    };
    assert_eq!(
        update(
            None,
            r#"{"state":{"desired":{"a":{"b":{"c":1}}}}}"#,
            &shallow
        )
        .err(),
        Some(ShadowError::TooDeep(2))
    );
}

fn big(n: usize) -> String {
    "x".repeat(n)
}

#[test]
fn size_limit_counts_desired_and_reported_as_sent() {
    let config = ShadowConfig::default();
    // {"v":"…"} is n + 8 bytes of compact JSON.
    let fits = format!(r#"{{"state":{{"desired":{{"v":"{}"}}}}}}"#, big(8192 - 8));
    assert!(update(None, &fits, &config).is_ok());
    let over = format!(r#"{{"state":{{"desired":{{"v":"{}"}}}}}}"#, big(8192 - 7));
    assert_eq!(
        update(None, &over, &config).err(),
        Some(ShadowError::PayloadTooLarge)
    );
    let rejection = handle(
        Operation::Update,
        &id(),
        None,
        over.as_bytes(),
        NOW,
        &config,
    )
    .expect_err("413");
    assert_eq!(rejection.error.code(), 413);
    assert_eq!(
        rejection.error.aws_message(),
        "The payload exceeds the maximum size allowed"
    );
    // Raised limit (AWS allows up to 30 KB on request).
    let raised = ShadowConfig {
        max_state_bytes: 30 * 1024,
        ..ShadowConfig::default()
    };
    assert!(update(None, &over, &raised).is_ok());
}

#[test]
fn size_limit_applies_to_the_stored_result() {
    let config = ShadowConfig::default();
    let half = format!(r#"{{"state":{{"desired":{{"a":"{}"}}}}}}"#, big(5000));
    let current = live(update(None, &half, &config));
    let other = format!(r#"{{"state":{{"reported":{{"b":"{}"}}}}}}"#, big(5000));
    assert_eq!(
        update(Some(&current), &other, &config).err(),
        Some(ShadowError::PayloadTooLarge)
    );
}

#[test]
fn client_token_limit() {
    let config = ShadowConfig::default();
    let ok = format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, big(64));
    assert!(update(None, &ok, &config).is_ok());
    let long = format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, big(65));
    assert_eq!(
        update(None, &long, &config).err(),
        Some(ShadowError::InvalidClientToken)
    );
}

#[test]
fn versions_increment_and_conflict() {
    let config = ShadowConfig::default();
    let v1 = live(update(None, r#"{"state":{}}"#, &config));
    assert_eq!(v1.live().map(|s| s.version), Some(1));
    // An update that changes nothing still bumps the version.
    let v2 = live(update(Some(&v1), r#"{"state":{},"version":1}"#, &config));
    assert_eq!(v2.live().map(|s| s.version), Some(2));
    assert_eq!(
        update(Some(&v2), r#"{"state":{},"version":1}"#, &config).err(),
        Some(ShadowError::VersionConflict)
    );
    // [VERIFY] pinned: a shadow that does not exist is at version 0.
    assert!(update(None, r#"{"state":{},"version":0}"#, &config).is_ok());
    assert_eq!(
        update(None, r#"{"state":{},"version":1}"#, &config).err(),
        Some(ShadowError::VersionConflict)
    );
}

#[test]
fn deleted_version_memory_expires() {
    let config = ShadowConfig::default();
    let recent = StoredShadow::Deleted(Tombstone {
        version: 7,
        deleted_at: NOW - 3600,
    });
    let old = StoredShadow::Deleted(Tombstone {
        version: 7,
        deleted_at: NOW - 48 * 3600,
    });
    assert!(!recent.is_expired(NOW, &config));
    assert!(old.is_expired(NOW, &config));
    let version = |s: StoredShadow| s.live().map(|s| s.version);
    assert_eq!(
        version(live(update(Some(&recent), r#"{"state":{}}"#, &config))),
        Some(8)
    );
    assert_eq!(
        version(live(update(Some(&old), r#"{"state":{}}"#, &config))),
        Some(1)
    );
    // Delete of a deleted shadow is 404.
    let err = handle(Operation::Delete, &id(), Some(&recent), b"", NOW, &config).expect_err("404");
    assert_eq!(err.error, ShadowError::NotFound("t".into()));
}

/// A shadow at version 1 whose only state is `desired.on = true`, set at time 1.
fn desired_on() -> StoredShadow {
    StoredShadow::Live(
        serde_json::from_value::<ShadowState>(json!({
            "state": {"desired": {"on": true}},
            "metadata": {"desired": {"on": {"timestamp": 1}}},
            "version": 1, "updated_at": 1
        }))
        .expect("state"),
    )
}

#[test]
fn delta_trigger_any_update() {
    let current = desired_on();
    let request = r#"{"state":{"reported":{"on":false}}}"#;
    let Ok(Outcome::Update(default)) = update(Some(&current), request, &ShadowConfig::default())
    else {
        panic!("refused")
    };
    assert!(default.delta.is_none());
    let any = ShadowConfig {
        delta_trigger: DeltaTrigger::AnyUpdate,
        ..ShadowConfig::default()
    };
    let Ok(Outcome::Update(u)) = update(Some(&current), request, &any) else {
        panic!("refused")
    };
    let delta: Value = serde_json::from_slice(u.delta.as_deref().expect("delta")).expect("json");
    assert_eq!(
        delta,
        json!({"version": 2, "timestamp": NOW, "state": {"on": true}, "metadata": {"on": {"timestamp": 1}}})
    );
}

#[test]
fn get_metadata_delta_switch() {
    let current = desired_on();
    let get = |config: &ShadowConfig| -> Value {
        match handle(Operation::Get, &id(), Some(&current), b"", NOW, config) {
            Ok(Outcome::Get(p)) => serde_json::from_slice(&p).expect("json"),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(get(&ShadowConfig::default())["metadata"].get("delta"), None);
    let with = ShadowConfig {
        get_metadata_delta: true,
        ..ShadowConfig::default()
    };
    assert_eq!(
        get(&with)["metadata"]["delta"],
        json!({"on": {"timestamp": 1}})
    );
}

#[test]
fn stored_record_round_trips_through_serde() {
    let record = live(update(
        None,
        r#"{"state":{"desired":{"a":[1,{"b":2}]}}}"#,
        &ShadowConfig::default(),
    ));
    let text = serde_json::to_string(&record).expect("ser");
    assert_eq!(
        serde_json::from_str::<StoredShadow>(&text).expect("de"),
        record
    );
    let tomb = StoredShadow::Deleted(Tombstone {
        version: 3,
        deleted_at: 9,
    });
    let text = serde_json::to_string(&tomb).expect("ser");
    assert_eq!(text, r#"{"kind":"deleted","version":3,"deleted_at":9}"#);
    assert_eq!(
        serde_json::from_str::<StoredShadow>(&text).expect("de"),
        tomb
    );
}
