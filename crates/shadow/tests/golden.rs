//! Golden cases for the shadow semantics: (stored shadow, request) → the exact accepted, delta,
//! documents and rejected payloads, written out literally. AWS's documented examples (the
//! developer guide's "Device Shadow service documents" and "empty fields" pages) come first.

use ferrite_shadow::{
    Operation, Outcome, Publishing, ShadowConfig, ShadowId, ShadowState, StoredShadow, handle,
    handle_publishing,
};
use serde_json::{Value, json};

const NOW: u64 = 1_700_000_000;
const BEFORE: u64 = 1_600_000_000;

struct UpdateCase {
    name: &'static str,
    previous: Option<Value>,
    request: Value,
    accepted: Value,
    delta: Option<Value>,
    documents: Value,
}

fn id() -> ShadowId {
    ShadowId::parse("thing1", None).expect("valid id")
}

fn stored(previous: Option<Value>) -> Option<StoredShadow> {
    previous.map(|v| {
        StoredShadow::Live(serde_json::from_value::<ShadowState>(v).expect("stored state json"))
    })
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("payload is json")
}

fn run_update(case: UpdateCase) {
    let current = stored(case.previous);
    let payload = serde_json::to_vec(&case.request).expect("request");
    // Without anyone to receive /documents, it is not built and nothing else changes.
    let unwatched = handle_publishing(
        Operation::Update,
        &id(),
        current.as_ref(),
        &payload,
        NOW,
        &ShadowConfig::default(),
        Publishing { documents: false },
    );
    let outcome = handle(
        Operation::Update,
        &id(),
        current.as_ref(),
        &payload,
        NOW,
        &ShadowConfig::default(),
    )
    .unwrap_or_else(|r| panic!("{}: rejected {:?}", case.name, r));
    let Outcome::Update(u) = outcome else {
        panic!("{}: not an update outcome", case.name)
    };
    assert_eq!(parse(&u.accepted), case.accepted, "{}: accepted", case.name);
    assert_eq!(
        u.delta.as_deref().map(parse),
        case.delta,
        "{}: delta",
        case.name
    );
    assert_eq!(
        parse(u.documents.as_deref().expect("documents built by default")),
        case.documents,
        "{}: documents",
        case.name
    );
    // The stored state is what `current` of the documents message shows.
    let stored = serde_json::to_value(&u.state).expect("state json");
    assert_eq!(
        stored["state"], case.documents["current"]["state"],
        "{}: stored",
        case.name
    );
    assert_eq!(
        stored["metadata"], case.documents["current"]["metadata"],
        "{}: stored metadata",
        case.name
    );
    let Ok(Outcome::Update(lean)) = unwatched else {
        panic!("{}: the unwatched update was not accepted", case.name)
    };
    assert_eq!(lean.documents, None, "{}: documents not built", case.name);
    assert_eq!(
        (lean.accepted, lean.delta, lean.state),
        (u.accepted, u.delta, u.state),
        "{}: the rest is the same",
        case.name
    );
}

fn ts(t: u64) -> Value {
    json!({ "timestamp": t })
}

#[test]
fn doc_example_delta_flat() {
    // Developer guide, "Delta state": desired color/state against reported color/engine.
    run_update(UpdateCase {
        name: "doc delta flat",
        previous: Some(json!({
            "state": {"reported": {"color": "GREEN", "engine": "ON"}},
            "metadata": {"reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
            "version": 1, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"color": "RED", "state": "STOP"}}, "clientToken": "tok-1"}),
        accepted: json!({
            "state": {"desired": {"color": "RED", "state": "STOP"}},
            "metadata": {"desired": {"color": ts(NOW), "state": ts(NOW)}},
            "version": 2, "timestamp": NOW, "clientToken": "tok-1"
        }),
        delta: Some(json!({
            "version": 2, "timestamp": NOW,
            "state": {"color": "RED", "state": "STOP"},
            "metadata": {"color": ts(NOW), "state": ts(NOW)},
            "clientToken": "tok-1"
        })),
        documents: json!({
            "previous": {
                "state": {"reported": {"color": "GREEN", "engine": "ON"}},
                "metadata": {"reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
                "version": 1
            },
            "current": {
                "state": {
                    "desired": {"color": "RED", "state": "STOP"},
                    "reported": {"color": "GREEN", "engine": "ON"}
                },
                "metadata": {
                    "desired": {"color": ts(NOW), "state": ts(NOW)},
                    "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}
                },
                "version": 2
            },
            "timestamp": NOW, "clientToken": "tok-1"
        }),
    });
}

#[test]
fn doc_example_delta_nested() {
    // Developer guide: nested objects, only the differing leaf (g) is in the delta.
    run_update(UpdateCase {
        name: "doc delta nested",
        previous: Some(json!({
            "state": {"reported": {"lights": {"color": {"r": 255, "g": 0, "b": 255}}}},
            "metadata": {"reported": {"lights": {"color": {"r": ts(BEFORE), "g": ts(BEFORE), "b": ts(BEFORE)}}}},
            "version": 7, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"lights": {"color": {"r": 255, "g": 255, "b": 255}}}}}),
        accepted: json!({
            "state": {"desired": {"lights": {"color": {"r": 255, "g": 255, "b": 255}}}},
            "metadata": {"desired": {"lights": {"color": {"r": ts(NOW), "g": ts(NOW), "b": ts(NOW)}}}},
            "version": 8, "timestamp": NOW
        }),
        delta: Some(json!({
            "version": 8, "timestamp": NOW,
            "state": {"lights": {"color": {"g": 255}}},
            "metadata": {"lights": {"color": {"g": ts(NOW)}}}
        })),
        documents: json!({
            "previous": {
                "state": {"reported": {"lights": {"color": {"r": 255, "g": 0, "b": 255}}}},
                "metadata": {"reported": {"lights": {"color": {"r": ts(BEFORE), "g": ts(BEFORE), "b": ts(BEFORE)}}}},
                "version": 7
            },
            "current": {
                "state": {
                    "desired": {"lights": {"color": {"r": 255, "g": 255, "b": 255}}},
                    "reported": {"lights": {"color": {"r": 255, "g": 0, "b": 255}}}
                },
                "metadata": {
                    "desired": {"lights": {"color": {"r": ts(NOW), "g": ts(NOW), "b": ts(NOW)}}},
                    "reported": {"lights": {"color": {"r": ts(BEFORE), "g": ts(BEFORE), "b": ts(BEFORE)}}}
                },
                "version": 8
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn doc_example_array_replaced_whole() {
    // Developer guide, "Arrays": an update replaces the whole array; metadata per element.
    run_update(UpdateCase {
        name: "array replace",
        previous: Some(json!({
            "state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}},
            "metadata": {"desired": {"colors": [ts(BEFORE), ts(BEFORE), ts(BEFORE)]}},
            "version": 10, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"colors": ["RED"]}}, "version": 10}),
        accepted: json!({
            "state": {"desired": {"colors": ["RED"]}},
            "metadata": {"desired": {"colors": [ts(NOW)]}},
            "version": 11, "timestamp": NOW
        }),
        delta: Some(json!({
            "version": 11, "timestamp": NOW,
            "state": {"colors": ["RED"]},
            "metadata": {"colors": [ts(NOW)]}
        })),
        documents: json!({
            "previous": {
                "state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}},
                "metadata": {"desired": {"colors": [ts(BEFORE), ts(BEFORE), ts(BEFORE)]}},
                "version": 10
            },
            "current": {
                "state": {"desired": {"colors": ["RED"]}},
                "metadata": {"desired": {"colors": [ts(NOW)]}},
                "version": 11
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn doc_example_delete_property_with_null() {
    // Developer guide, data flow: `"engine": null` deletes the property; the echo keeps the
    // null and stamps it [VERIFY].
    run_update(UpdateCase {
        name: "null deletes key",
        previous: Some(json!({
            "state": {"desired": {"color": "red", "engine": "on"}, "reported": {"color": "red", "engine": "on"}},
            "metadata": {"desired": {"color": ts(BEFORE), "engine": ts(BEFORE)}, "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
            "version": 3, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"engine": null}}, "clientToken": "c"}),
        accepted: json!({
            "state": {"desired": {"engine": null}},
            "metadata": {"desired": {"engine": ts(NOW)}},
            "version": 4, "timestamp": NOW, "clientToken": "c"
        }),
        delta: None,
        documents: json!({
            "previous": {
                "state": {"desired": {"color": "red", "engine": "on"}, "reported": {"color": "red", "engine": "on"}},
                "metadata": {"desired": {"color": ts(BEFORE), "engine": ts(BEFORE)}, "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
                "version": 3
            },
            "current": {
                "state": {"desired": {"color": "red"}, "reported": {"color": "red", "engine": "on"}},
                "metadata": {"desired": {"color": ts(BEFORE)}, "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
                "version": 4
            },
            "timestamp": NOW, "clientToken": "c"
        }),
    });
}

#[test]
fn doc_example_desired_null_removes_section() {
    // Developer guide, "empty fields": a device reports and clears desired in one update.
    run_update(UpdateCase {
        name: "desired null",
        previous: Some(json!({
            "state": {"desired": {"color": "red"}, "reported": {"color": "blue"}},
            "metadata": {"desired": {"color": ts(BEFORE)}, "reported": {"color": ts(BEFORE)}},
            "version": 5, "updated_at": BEFORE
        })),
        request: json!({"state": {"reported": {"color": "red"}, "desired": null}}),
        accepted: json!({
            "state": {"reported": {"color": "red"}, "desired": null},
            "metadata": {"reported": {"color": ts(NOW)}, "desired": ts(NOW)},
            "version": 6, "timestamp": NOW
        }),
        delta: None,
        documents: json!({
            "previous": {
                "state": {"desired": {"color": "red"}, "reported": {"color": "blue"}},
                "metadata": {"desired": {"color": ts(BEFORE)}, "reported": {"color": ts(BEFORE)}},
                "version": 5
            },
            "current": {
                "state": {"reported": {"color": "red"}},
                "metadata": {"reported": {"color": ts(NOW)}},
                "version": 6
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn first_update_creates_version_one() {
    run_update(UpdateCase {
        name: "create",
        previous: None,
        request: json!({"state": {"reported": {"temp": 21.5, "on": true}}}),
        accepted: json!({
            "state": {"reported": {"temp": 21.5, "on": true}},
            "metadata": {"reported": {"temp": ts(NOW), "on": ts(NOW)}},
            "version": 1, "timestamp": NOW
        }),
        delta: None,
        documents: json!({
            "previous": {"state": {}, "metadata": {}, "version": 0},
            "current": {
                "state": {"reported": {"temp": 21.5, "on": true}},
                "metadata": {"reported": {"temp": ts(NOW), "on": ts(NOW)}},
                "version": 1
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn emptied_section_and_object_disappear() {
    // Deleting the last key of a nested object drops the object, and then the section [VERIFY].
    run_update(UpdateCase {
        name: "empty object pruned",
        previous: Some(json!({
            "state": {"desired": {"a": {"b": 1}}, "reported": {"x": 1}},
            "metadata": {"desired": {"a": {"b": ts(BEFORE)}}, "reported": {"x": ts(BEFORE)}},
            "version": 2, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"a": {"b": null}}}}),
        accepted: json!({
            "state": {"desired": {"a": {"b": null}}},
            "metadata": {"desired": {"a": {"b": ts(NOW)}}},
            "version": 3, "timestamp": NOW
        }),
        delta: None,
        documents: json!({
            "previous": {
                "state": {"desired": {"a": {"b": 1}}, "reported": {"x": 1}},
                "metadata": {"desired": {"a": {"b": ts(BEFORE)}}, "reported": {"x": ts(BEFORE)}},
                "version": 2
            },
            "current": {
                "state": {"reported": {"x": 1}},
                "metadata": {"reported": {"x": ts(BEFORE)}},
                "version": 3
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn explicit_empty_object_is_stored() {
    // An explicit `{}` is a value like any other: stored, echoed and part of the delta, both
    // as a new key and in place of a scalar (issue 10).
    run_update(UpdateCase {
        name: "explicit {}",
        previous: Some(json!({
            "state": {"desired": {"s": 5}},
            "metadata": {"desired": {"s": ts(BEFORE)}},
            "version": 1, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"a": {"b": 1}, "d": {}, "s": {}, "n": {"e": {}}}}}),
        accepted: json!({
            "state": {"desired": {"a": {"b": 1}, "d": {}, "s": {}, "n": {"e": {}}}},
            "metadata": {"desired": {"a": {"b": ts(NOW)}, "d": {}, "s": {}, "n": {"e": {}}}},
            "version": 2, "timestamp": NOW
        }),
        delta: Some(json!({
            "version": 2, "timestamp": NOW,
            "state": {"a": {"b": 1}, "d": {}, "s": {}, "n": {"e": {}}},
            "metadata": {"a": {"b": ts(NOW)}, "d": {}, "s": {}, "n": {"e": {}}}
        })),
        documents: json!({
            "previous": {
                "state": {"desired": {"s": 5}},
                "metadata": {"desired": {"s": ts(BEFORE)}},
                "version": 1
            },
            "current": {
                "state": {"desired": {"s": {}, "a": {"b": 1}, "d": {}, "n": {"e": {}}}},
                "metadata": {"desired": {"s": {}, "a": {"b": ts(NOW)}, "d": {}, "n": {"e": {}}}},
                "version": 2
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn empty_object_merged_into_an_object_changes_nothing() {
    // [VERIFY] pinned: `{}` over an object with keys merges nothing (AWS's Greengrass shadow
    // manager merges this way); an object that is already `{}` stays; an object whose every
    // member is `null` is not created.
    run_update(UpdateCase {
        name: "{} into objects",
        previous: Some(json!({
            "state": {"desired": {"a": {"b": 1}, "e": {}}},
            "metadata": {"desired": {"a": {"b": ts(BEFORE)}, "e": {}}},
            "version": 3, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"a": {}, "e": {}, "g": {"h": null, "i": {"j": null}}}}}),
        accepted: json!({
            "state": {"desired": {"a": {}, "e": {}, "g": {"h": null, "i": {"j": null}}}},
            "metadata": {"desired": {"a": {}, "e": {}, "g": {"h": ts(NOW), "i": {"j": ts(NOW)}}}},
            "version": 4, "timestamp": NOW
        }),
        delta: Some(json!({
            "version": 4, "timestamp": NOW,
            "state": {"a": {"b": 1}, "e": {}},
            "metadata": {"a": {"b": ts(BEFORE)}, "e": {}}
        })),
        documents: json!({
            "previous": {
                "state": {"desired": {"a": {"b": 1}, "e": {}}},
                "metadata": {"desired": {"a": {"b": ts(BEFORE)}, "e": {}}},
                "version": 3
            },
            "current": {
                "state": {"desired": {"a": {"b": 1}, "e": {}}},
                "metadata": {"desired": {"a": {"b": ts(BEFORE)}, "e": {}}},
                "version": 4
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn numbers_compare_by_value_and_delta_lists_all_differences() {
    // `1` equals `1.0`; the delta carries every differing desired key, not only the request's.
    run_update(UpdateCase {
        name: "numeric equality",
        previous: Some(json!({
            "state": {"desired": {"mode": "eco"}, "reported": {"level": 1.0, "mode": "boost"}},
            "metadata": {"desired": {"mode": ts(BEFORE)}, "reported": {"level": ts(BEFORE), "mode": ts(BEFORE)}},
            "version": 4, "updated_at": BEFORE
        })),
        request: json!({"state": {"desired": {"level": 1, "fan": [1, {"speed": 2}]}}}),
        accepted: json!({
            "state": {"desired": {"level": 1, "fan": [1, {"speed": 2}]}},
            "metadata": {"desired": {"level": ts(NOW), "fan": [ts(NOW), {"speed": ts(NOW)}]}},
            "version": 5, "timestamp": NOW
        }),
        delta: Some(json!({
            "version": 5, "timestamp": NOW,
            "state": {"mode": "eco", "fan": [1, {"speed": 2}]},
            "metadata": {"mode": ts(BEFORE), "fan": [ts(NOW), {"speed": ts(NOW)}]}
        })),
        documents: json!({
            "previous": {
                "state": {"desired": {"mode": "eco"}, "reported": {"level": 1.0, "mode": "boost"}},
                "metadata": {"desired": {"mode": ts(BEFORE)}, "reported": {"level": ts(BEFORE), "mode": ts(BEFORE)}},
                "version": 4
            },
            "current": {
                "state": {"desired": {"mode": "eco", "level": 1, "fan": [1, {"speed": 2}]}, "reported": {"level": 1.0, "mode": "boost"}},
                "metadata": {
                    "desired": {"mode": ts(BEFORE), "level": ts(NOW), "fan": [ts(NOW), {"speed": ts(NOW)}]},
                    "reported": {"level": ts(BEFORE), "mode": ts(BEFORE)}
                },
                "version": 5
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn reported_only_update_publishes_no_delta_by_default() {
    // [VERIFY] pinned: delta only when the request carried `desired` (DeltaTrigger default).
    run_update(UpdateCase {
        name: "reported only",
        previous: Some(json!({
            "state": {"desired": {"on": true}},
            "metadata": {"desired": {"on": ts(BEFORE)}},
            "version": 1, "updated_at": BEFORE
        })),
        request: json!({"state": {"reported": {"on": false}}, "ignored": {"x": 1}}),
        accepted: json!({
            "state": {"reported": {"on": false}},
            "metadata": {"reported": {"on": ts(NOW)}},
            "version": 2, "timestamp": NOW
        }),
        delta: None,
        documents: json!({
            "previous": {"state": {"desired": {"on": true}}, "metadata": {"desired": {"on": ts(BEFORE)}}, "version": 1},
            "current": {
                "state": {"desired": {"on": true}, "reported": {"on": false}},
                "metadata": {"desired": {"on": ts(BEFORE)}, "reported": {"on": ts(NOW)}},
                "version": 2
            },
            "timestamp": NOW
        }),
    });
}

#[test]
fn state_null_clears_both_sections() {
    // [VERIFY] pinned: `"state": null` echoes as `null` with a bare stamp as metadata (issue
    // 10), and the stored shadow keeps existing with both sections gone.
    run_update(UpdateCase {
        name: "state null",
        previous: Some(json!({
            "state": {"desired": {"a": 1}, "reported": {"a": 2}},
            "metadata": {"desired": {"a": ts(BEFORE)}, "reported": {"a": ts(BEFORE)}},
            "version": 9, "updated_at": BEFORE
        })),
        request: json!({"state": null, "clientToken": "z"}),
        accepted: json!({
            "state": null,
            "metadata": ts(NOW),
            "version": 10, "timestamp": NOW, "clientToken": "z"
        }),
        delta: None,
        documents: json!({
            "previous": {
                "state": {"desired": {"a": 1}, "reported": {"a": 2}},
                "metadata": {"desired": {"a": ts(BEFORE)}, "reported": {"a": ts(BEFORE)}},
                "version": 9
            },
            "current": {"state": {}, "metadata": {}, "version": 10},
            "timestamp": NOW, "clientToken": "z"
        }),
    });
}

fn run(
    op: Operation,
    id: &ShadowId,
    current: Option<&StoredShadow>,
    request: &str,
) -> Result<Value, Value> {
    match handle(
        op,
        id,
        current,
        request.as_bytes(),
        NOW,
        &ShadowConfig::default(),
    ) {
        Ok(Outcome::Get(p)) => Ok(parse(&p)),
        Ok(Outcome::Update(u)) => Ok(parse(&u.accepted)),
        Ok(Outcome::Delete(d)) => Ok(parse(&d.accepted)),
        Err(r) => Err(parse(&r.payload(NOW))),
    }
}

#[test]
fn get_returns_full_document_with_delta() {
    let current = stored(Some(json!({
        "state": {"desired": {"color": "RED", "state": "STOP"}, "reported": {"color": "GREEN", "engine": "ON"}},
        "metadata": {"desired": {"color": ts(BEFORE), "state": ts(BEFORE)}, "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}},
        "version": 10, "updated_at": BEFORE
    })));
    assert_eq!(
        run(
            Operation::Get,
            &id(),
            current.as_ref(),
            r#"{"clientToken":"g1"}"#
        ),
        Ok(json!({
            "state": {
                "desired": {"color": "RED", "state": "STOP"},
                "reported": {"color": "GREEN", "engine": "ON"},
                "delta": {"color": "RED", "state": "STOP"}
            },
            "metadata": {
                "desired": {"color": ts(BEFORE), "state": ts(BEFORE)},
                "reported": {"color": ts(BEFORE), "engine": ts(BEFORE)}
            },
            "version": 10, "timestamp": NOW, "clientToken": "g1"
        }))
    );
}

#[test]
fn get_of_empty_state_shadow_returns_empty_objects() {
    // [VERIFY] pinned: a shadow whose state was cleared returns `"state": {}`.
    let current = stored(Some(
        json!({"state": {}, "metadata": {}, "version": 3, "updated_at": BEFORE}),
    ));
    assert_eq!(
        run(Operation::Get, &id(), current.as_ref(), ""),
        Ok(json!({"state": {}, "metadata": {}, "version": 3, "timestamp": NOW}))
    );
}

#[test]
fn get_and_delete_of_missing_shadow_are_404() {
    let classic = id();
    let named = ShadowId::parse("thing1", Some("config")).expect("id");
    assert_eq!(
        run(Operation::Get, &classic, None, r#"{"clientToken":"x"}"#),
        Err(
            json!({"code": 404, "message": "No shadow exists with name: 'thing1'", "timestamp": NOW, "clientToken": "x"})
        )
    );
    assert_eq!(
        run(Operation::Delete, &named, None, ""),
        Err(
            json!({"code": 404, "message": "No shadow exists with name: 'config'", "timestamp": NOW})
        )
    );
}

#[test]
fn delete_answers_deleted_version_and_keeps_numbering() {
    let current = stored(Some(json!({
        "state": {"reported": {"a": 1}}, "metadata": {"reported": {"a": ts(BEFORE)}},
        "version": 4, "updated_at": BEFORE
    })));
    let Ok(Outcome::Delete(d)) = handle(
        Operation::Delete,
        &id(),
        current.as_ref(),
        br#"{"clientToken":"d"}"#,
        NOW,
        &ShadowConfig::default(),
    ) else {
        panic!("delete refused")
    };
    assert_eq!(
        parse(&d.accepted),
        json!({"version": 4, "timestamp": NOW, "clientToken": "d"})
    );
    let tomb = StoredShadow::Deleted(d.tombstone);
    // Deleted: GET is 404, a new update continues at 5.
    assert!(run(Operation::Get, &id(), Some(&tomb), "").is_err());
    assert_eq!(
        run(
            Operation::Update,
            &id(),
            Some(&tomb),
            r#"{"state":{"reported":{"b":2}}}"#
        ),
        Ok(
            json!({"state": {"reported": {"b": 2}}, "metadata": {"reported": {"b": ts(NOW)}}, "version": 5, "timestamp": NOW})
        )
    );
}

#[test]
fn rejections() {
    let current = stored(Some(
        json!({"state": {"reported": {"a": 1}}, "metadata": {"reported": {"a": ts(BEFORE)}}, "version": 4, "updated_at": BEFORE}),
    ));
    let cases: &[(&str, u16, &str, Option<&str>)] = &[
        (
            r#"{"state":{"reported":{"a":2}},"version":3,"clientToken":"v"}"#,
            409,
            "Version conflict",
            Some("v"),
        ),
        ("{not json", 400, "Invalid JSON", None),
        ("", 400, "Invalid JSON", None),
        ("66", 400, "Missing required node: state", None),
        (
            r#"{"clientToken":"t"}"#,
            400,
            "Missing required node: state",
            Some("t"),
        ),
        (
            r#"{"state":"on","clientToken":"t"}"#,
            400,
            "State node must be an object",
            Some("t"),
        ),
        (
            r#"{"state":{"desired":1}}"#,
            400,
            "Desired node must be an object",
            None,
        ),
        (
            r#"{"state":{"reported":[1]}}"#,
            400,
            "Reported node must be an object",
            None,
        ),
        (
            r#"{"state":{"delta":{"a":1}}}"#,
            400,
            "State contains an invalid node: 'delta'",
            None,
        ),
        (
            r#"{"state":{},"version":"1"}"#,
            400,
            "Invalid version",
            None,
        ),
        (r#"{"state":{},"version":-1}"#, 400, "Invalid version", None),
        (
            r#"{"state":{},"version":1.5}"#,
            400,
            "Invalid version",
            None,
        ),
        (
            r#"{"state":{},"clientToken":5}"#,
            400,
            "Invalid clientToken",
            None,
        ),
        (
            r#"{"state":{"reported":{"l":[1,null]}}}"#,
            400,
            "Invalid JSON",
            None,
        ),
        (
            r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}"#,
            400,
            "JSON contains too many levels of nesting; maximum is 6",
            None,
        ),
    ];
    for (request, code, message, token) in cases {
        let mut expected = json!({"code": code, "message": message, "timestamp": NOW});
        if let Some(token) = token {
            expected["clientToken"] = json!(token);
        }
        assert_eq!(
            run(Operation::Update, &id(), current.as_ref(), request),
            Err(expected),
            "{request}"
        );
    }
    let long = "x".repeat(65);
    assert_eq!(
        run(
            Operation::Get,
            &id(),
            current.as_ref(),
            &format!(r#"{{"clientToken":"{long}"}}"#)
        ),
        Err(json!({"code": 400, "message": "Invalid clientToken", "timestamp": NOW}))
    );
    let invalid_utf8 = handle(
        Operation::Update,
        &id(),
        None,
        b"{\"state\":\xff}",
        NOW,
        &ShadowConfig::default(),
    );
    let rejection = invalid_utf8.expect_err("not utf-8");
    assert_eq!(rejection.error.code(), 415);
    assert_eq!(
        rejection.error.aws_message(),
        "Unsupported documented encoding; supported encoding is UTF-8"
    );
    assert_eq!(
        rejection.error.aws_exception(),
        "UnsupportedDocumentEncodingException"
    );
}
