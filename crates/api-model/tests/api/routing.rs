//! Routing over the real model tables.

use ferrite_api_model::{HttpMethod, Operation, Route, RouteError, Service, resolve};

/// A concrete path for a template: each `{label}` becomes `v-<label>`, a greedy `{label+}`
/// spans two segments. Returns the path, the fixed query part and the expected labels.
fn sample_request(template: &str) -> (String, String, Vec<(String, String)>) {
    let (path, query) = template.split_once('?').unwrap_or((template, ""));
    let mut labels = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(greedy) => {
                        labels.push((greedy.to_owned(), format!("g-{greedy}/rest")));
                        format!("g-{greedy}/rest")
                    }
                    None => {
                        labels.push((name.to_owned(), format!("v-{name}")));
                        format!("v-{name}")
                    }
                },
                None => seg.to_owned(),
            },
        )
        .collect();
    (segments.join("/"), query.to_owned(), labels)
}

fn owned(route: &Route) -> Vec<(String, String)> {
    route
        .labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn every_operation_resolves_from_its_own_template() {
    let mut checked = 0;
    for op in Operation::ALL {
        let (path, query, labels) = sample_request(op.request_uri());
        let method = op.method().as_str();
        let route = resolve(method, &path, &query, Some(op.service()))
            .unwrap_or_else(|e| panic!("{op:?} {method} {path}: {e}"));
        assert_eq!(route.op, op, "{method} {path} signed for {}", op.service());
        assert_eq!(owned(&route), labels, "{op:?}");
        checked += 1;
    }
    assert_eq!(checked, Operation::ALL.len());
    assert!(checked > 280, "{checked} operations");
}

#[test]
fn unsigned_requests_reach_every_operation_without_a_cross_service_twin() {
    for op in Operation::ALL {
        let (path, query, _) = sample_request(op.request_uri());
        let route = resolve(op.method().as_str(), &path, &query, None).unwrap();
        if route.op != op {
            assert_eq!(
                route.op.service(),
                Service::Iot,
                "{op:?} lost to {:?}",
                route.op
            );
            assert_ne!(op.service(), Service::Iot, "{op:?} lost within iot");
            assert_eq!(route.op.method(), op.method());
        }
    }
}

#[test]
fn colliding_routes_follow_the_signing_service() {
    let cases = [
        (
            "GET",
            "/things/t1/jobs/j1",
            Operation::DescribeJobExecution,
            Operation::JobsDescribeJobExecution,
        ),
        (
            "GET",
            "/things/t1/jobs",
            Operation::ListJobExecutionsForThing,
            Operation::GetPendingJobExecutions,
        ),
        (
            "POST",
            "/command-executions",
            Operation::ListCommandExecutions,
            Operation::StartCommandExecution,
        ),
    ];
    for (method, path, iot_op, jobs_op) in cases {
        let unsigned = resolve(method, path, "", None).unwrap();
        assert_eq!(unsigned.op, iot_op, "{method} {path} falls back to iot");
        assert_eq!(
            resolve(method, path, "", Some(Service::Iot)).unwrap().op,
            iot_op
        );
        let jobs = resolve(method, path, "", Some(Service::IotJobsData)).unwrap();
        assert_eq!(jobs.op, jobs_op, "{method} {path}");
        assert_eq!(jobs.op.service(), Service::IotJobsData);
    }
    assert_eq!(
        Operation::JobsDescribeJobExecution.name(),
        "DescribeJobExecution"
    );
}

#[test]
fn a_path_of_another_service_is_still_found_so_the_caller_can_reject_it() {
    let route = resolve("GET", "/things/t1", "", Some(Service::IotData)).unwrap();
    assert_eq!(route.op, Operation::DescribeThing);
    assert_eq!(route.op.service(), Service::Iot);
}

#[test]
fn labels_are_percent_decoded() {
    let route = resolve(
        "POST",
        "/topics/a%2Fb%2F%24aws%2Fc",
        "qos=1",
        Some(Service::IotData),
    );
    let route = route.unwrap();
    assert_eq!(route.op, Operation::Publish);
    assert_eq!(route.labels, vec![("topic", "a/b/$aws/c".to_owned())]);
    let retained = resolve(
        "GET",
        "/retainedMessage/%24aws%2Fthings%2Ft%2Fshadow",
        "",
        None,
    )
    .unwrap();
    assert_eq!(retained.op, Operation::GetRetainedMessage);
    assert_eq!(
        retained.labels,
        vec![("topic", "$aws/things/t/shadow".to_owned())]
    );
    let unicode = resolve("GET", "/things/caf%C3%A9", "", None).unwrap();
    assert_eq!(unicode.labels, vec![("thingName", "café".to_owned())]);
}

#[test]
fn bad_percent_encoding_is_an_error() {
    let err = resolve("GET", "/things/a%zz", "", None).unwrap_err();
    assert_eq!(err, RouteError::InvalidPercentEncoding);
}

#[test]
fn greedy_labels_span_slashes() {
    let arn = "arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Aruledestination/http/abc-123";
    let route = resolve("GET", &format!("/destinations/{arn}"), "", None).unwrap();
    assert_eq!(route.op, Operation::GetTopicRuleDestination);
    let expected = "arn:aws:iot:us-east-1:123456789012:ruledestination/http/abc-123";
    assert_eq!(route.labels, vec![("arn", expected.to_owned())]);
    let delete = resolve("DELETE", &format!("/destinations/{arn}"), "", None).unwrap();
    assert_eq!(delete.op, Operation::DeleteTopicRuleDestination);
    let confirm = resolve("GET", "/confirmdestination/tok/en", "", None).unwrap();
    assert_eq!(confirm.op, Operation::ConfirmTopicRuleDestination);
    assert_eq!(
        confirm.labels,
        vec![("confirmationToken", "tok/en".to_owned())]
    );
    let err = resolve("GET", "/confirmdestination/", "", None).unwrap_err();
    assert!(matches!(err, RouteError::NotFound { .. }), "{err:?}");
}

#[test]
fn literal_segments_beat_labels() {
    let next = resolve(
        "PUT",
        "/things/t1/jobs/$next",
        "",
        Some(Service::IotJobsData),
    )
    .unwrap();
    assert_eq!(next.op, Operation::StartNextPendingJobExecution);
    assert_eq!(next.labels, vec![("thingName", "t1".to_owned())]);
    let encoded = resolve(
        "PUT",
        "/things/t1/jobs/%24next",
        "",
        Some(Service::IotJobsData),
    )
    .unwrap();
    assert_eq!(encoded.op, Operation::StartNextPendingJobExecution);
    let described = resolve(
        "GET",
        "/things/t1/jobs/$next",
        "",
        Some(Service::IotJobsData),
    );
    assert_eq!(described.unwrap().op, Operation::JobsDescribeJobExecution);

    // `/thing-groups/addThingToThingGroup` is a literal PUT next to `/thing-groups/{name}`.
    let add = resolve("PUT", "/thing-groups/addThingToThingGroup", "", None).unwrap();
    assert_eq!(add.op, Operation::AddThingToThingGroup);
    let describe = resolve("GET", "/thing-groups/addThingToThingGroup", "", None).unwrap();
    assert_eq!(describe.op, Operation::DescribeThingGroup);
}

#[test]
fn shadow_routes_and_trailing_slashes() {
    for (method, op) in [
        ("GET", Operation::GetThingShadow),
        ("POST", Operation::UpdateThingShadow),
        ("DELETE", Operation::DeleteThingShadow),
    ] {
        let route = resolve(
            method,
            "/things/t1/shadow",
            "name=s1",
            Some(Service::IotData),
        )
        .unwrap();
        assert_eq!(route.op, op);
    }
    // botocore sends `/authorizers/` exactly as the template spells it; accept it without too.
    assert_eq!(
        resolve("GET", "/authorizers/", "", None).unwrap().op,
        Operation::ListAuthorizers
    );
    assert_eq!(
        resolve("GET", "/authorizers", "", None).unwrap().op,
        Operation::ListAuthorizers
    );
}

#[test]
fn wrong_methods_and_unknown_paths() {
    let err = resolve("PATCH", "/things", "", None).unwrap_err();
    match err {
        RouteError::MethodNotAllowed { allowed, .. } => {
            assert_eq!(allowed, vec![HttpMethod::Get, HttpMethod::Post]);
        }
        other => panic!("{other:?}"),
    }
    let err = resolve("BREW", "/things", "", None).unwrap_err();
    assert!(matches!(err, RouteError::MethodNotAllowed { .. }));
    let err = resolve("GET", "/no/such/path", "", None).unwrap_err();
    assert!(matches!(err, RouteError::NotFound { .. }));
    assert!(matches!(
        resolve("GET", "", "", None),
        Err(RouteError::NotFound { .. })
    ));
}
