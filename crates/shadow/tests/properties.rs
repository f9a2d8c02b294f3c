//! Properties: merging reported == desired leaves no delta; repeating an update changes only
//! version and timestamps; parsing and operations never panic on arbitrary input.

use ferrite_shadow::{Operation, Outcome, ShadowConfig, ShadowId, StoredShadow, handle};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ]
}

/// Arbitrary JSON, `null`s included (also inside arrays), up to 8 levels.
fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), leaf()].prop_recursive(8, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid section: objects of leaves (`{}` included), arrays without nulls, within the depth
/// limit.
fn section() -> impl Strategy<Value = Map<String, Value>> {
    let value = leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-d]{1,2}", value, 1..4).prop_map(|m| m.into_iter().collect())
}

fn id() -> ShadowId {
    ShadowId::parse("t", None).expect("id")
}

fn run(current: Option<&StoredShadow>, request: &Value, now: u64) -> Outcome {
    let payload = serde_json::to_vec(request).expect("json");
    handle(
        Operation::Update,
        &id(),
        current,
        &payload,
        now,
        &ShadowConfig::default(),
    )
    .expect("accepted")
}

fn get_delta(record: &StoredShadow) -> Option<Value> {
    match handle(
        Operation::Get,
        &id(),
        Some(record),
        b"",
        1,
        &ShadowConfig::default(),
    ) {
        Ok(Outcome::Get(p)) => serde_json::from_slice::<Value>(&p).expect("json")["state"]
            .get("delta")
            .cloned(),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn reported_equal_to_desired_has_no_delta(desired in section(), previous in section()) {
        let first = run(None, &json!({"state": {"reported": previous}}), 10).record().expect("record");
        let request = json!({"state": {"desired": desired.clone(), "reported": desired}});
        let outcome = run(Some(&first), &request, 20);
        let Outcome::Update(u) = &outcome else { panic!("not an update") };
        prop_assert!(u.delta.is_none());
        prop_assert_eq!(get_delta(&outcome.record().expect("record")), None);
    }

    #[test]
    fn repeating_an_update_changes_only_version_and_timestamps(
        start in section(), desired in section(), reported in section()
    ) {
        let first = run(None, &json!({"state": {"desired": start}}), 10).record().expect("record");
        let request = json!({"state": {"desired": desired, "reported": reported}});
        let once = run(Some(&first), &request, 20).record().expect("record");
        let twice = run(Some(&once), &request, 30).record().expect("record");
        let (once, twice) = (once.live().expect("live"), twice.live().expect("live"));
        prop_assert_eq!(&once.state, &twice.state);
        prop_assert_eq!(twice.version, once.version + 1);
        prop_assert_eq!(twice.updated_at, 30);
        // Metadata keeps its shape; only the stamps move.
        let shape = |m: &ferrite_shadow::Sections| {
            serde_json::to_string(m).expect("json").replace("20", "T").replace("30", "T")
        };
        prop_assert_eq!(shape(&once.metadata), shape(&twice.metadata));
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json(), state in any_json(), token in any_json()) {
        let config = ShadowConfig { max_depth: 3, max_state_bytes: 200, ..ShadowConfig::default() };
        let current = run(None, &json!({"state": {"desired": {"a": 1}}}), 1).record();
        let requests = [
            json!({"state": state.clone(), "clientToken": token.clone(), "version": value.clone()}),
            json!({"state": {"desired": value.clone(), "reported": state.clone()}}),
            json!({"state": {"desired": {"x": value.clone()}}}),
            value.clone(),
        ];
        for request in &requests {
            let payload = serde_json::to_vec(request).expect("json");
            for op in [Operation::Get, Operation::Update, Operation::Delete] {
                for current in [None, current.as_ref()] {
                    match handle(op, &id(), current, &payload, 5, &config) {
                        Ok(outcome) => {
                            for (_, p) in outcome.messages() {
                                prop_assert!(serde_json::from_slice::<Value>(p).is_ok());
                            }
                        }
                        Err(r) => prop_assert!(serde_json::from_slice::<Value>(&r.payload(5)).is_ok()),
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for op in [Operation::Get, Operation::Update, Operation::Delete] {
            let _ = handle(op, &id(), None, &bytes, 5, &ShadowConfig::default());
        }
        let _ = ferrite_shadow::parse_topic(&String::from_utf8_lossy(&bytes));
    }
}
