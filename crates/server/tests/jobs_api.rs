//! The jobs control plane through the signed API of a real server: a job on a thing and a
//! thing group, its executions, cancellation, deletion, templates and tags, with AWS's
//! statuses for refusals.

use ferrite_test_support::TestServer;
use ferrite_test_support::aws::iot_ok as call;
use ferrite_test_support::aws::{Reply, signed_call};
use serde_json::{Value, json};

async fn send(srv: &TestServer, method: &str, path: &str, body: Value) -> Reply {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    signed_call(srv.api_addr(), "iot", method, path, &body).await
}

async fn refused(srv: &TestServer, method: &str, path: &str, body: Value, status: u16) -> Value {
    let reply = send(srv, method, path, body).await;
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

/// Percent-encodes a query value as botocore does (everything but unreserved characters).
fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Things `lamp` and `fan`; `fan` in group `fleet`.
async fn fleet(srv: &TestServer) {
    for t in ["lamp", "fan"] {
        call(srv, "POST", &format!("/things/{t}"), json!({})).await;
    }
    call(srv, "POST", "/thing-groups/fleet", json!({})).await;
    call(
        srv,
        "PUT",
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupName": "fleet", "thingName": "fan"}),
    )
    .await;
}

#[tokio::test]
async fn a_job_runs_its_course_through_the_api() {
    let srv = TestServer::start().await;
    fleet(&srv).await;
    let job = json!({
        "targets": [srv.arn("thing/lamp"), srv.arn("thinggroup/fleet")],
        "document": "{\"action\":\"reboot\"}",
        "description": "reboot all",
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "tags": [{"Key": "env", "Value": "test"}],
    });
    let created = call(&srv, "PUT", "/jobs/reboot-1", job.clone()).await;
    assert_eq!(created["jobArn"], srv.arn("job/reboot-1"));
    assert_eq!(created["description"], "reboot all");
    let again = refused(&srv, "PUT", "/jobs/reboot-1", job, 409).await;
    assert_eq!(again["resourceId"], "reboot-1");

    let described = call(&srv, "GET", "/jobs/reboot-1", Value::Null).await;
    assert_eq!(described["job"]["status"], "IN_PROGRESS");
    assert_eq!(described["job"]["targetSelection"], "SNAPSHOT");
    assert_eq!(
        described["job"]["jobProcessDetails"]["numberOfQueuedThings"],
        2
    );
    assert_eq!(
        described["job"]["timeoutConfig"],
        json!({"inProgressTimeoutInMinutes": 30})
    );
    let listed = call(&srv, "GET", "/jobs?status=IN_PROGRESS", Value::Null).await;
    assert_eq!(listed["jobs"][0]["jobId"], "reboot-1");
    let none = call(&srv, "GET", "/jobs?status=COMPLETED", Value::Null).await;
    assert_eq!(none["jobs"], json!([]));
    let by_group = call(&srv, "GET", "/jobs?thingGroupName=fleet", Value::Null).await;
    assert_eq!(by_group["jobs"].as_array().unwrap().len(), 1);

    let doc = call(&srv, "GET", "/jobs/reboot-1/job-document", Value::Null).await;
    assert_eq!(doc["document"], "{\"action\":\"reboot\"}");
    let per_job = call(&srv, "GET", "/jobs/reboot-1/things", Value::Null).await;
    assert_eq!(per_job["executionSummaries"].as_array().unwrap().len(), 2);
    let per_thing = call(&srv, "GET", "/things/fan/jobs", Value::Null).await;
    assert_eq!(per_thing["executionSummaries"][0]["jobId"], "reboot-1");
    let execution = call(&srv, "GET", "/things/fan/jobs/reboot-1", Value::Null).await;
    assert_eq!(execution["execution"]["status"], "QUEUED");
    assert_eq!(execution["execution"]["thingArn"], srv.arn("thing/fan"));
    assert!(execution["execution"]["queuedAt"].is_number());

    refused(
        &srv,
        "PUT",
        "/things/lamp/jobs/reboot-1/cancel",
        json!({"expectedVersion": 9}),
        409,
    )
    .await;
    call(
        &srv,
        "PUT",
        "/things/lamp/jobs/reboot-1/cancel",
        json!({"expectedVersion": 1, "statusDetails": {"reason": "offline"}}),
    )
    .await;
    let canceled = call(&srv, "GET", "/things/lamp/jobs/reboot-1", Value::Null).await;
    assert_eq!(canceled["execution"]["status"], "CANCELED");
    assert_eq!(
        canceled["execution"]["statusDetails"],
        json!({"detailsMap": {"reason": "offline"}})
    );

    // Still in progress: deleting needs force.
    refused(&srv, "DELETE", "/jobs/reboot-1", Value::Null, 409).await;
    call(
        &srv,
        "PUT",
        "/jobs/reboot-1/cancel",
        json!({"reasonCode": "NOT_NEEDED", "comment": "done by hand"}),
    )
    .await;
    let job = call(&srv, "GET", "/jobs/reboot-1", Value::Null).await;
    assert_eq!(job["job"]["status"], "CANCELED");
    assert_eq!(job["job"]["reasonCode"], "NOT_NEEDED");
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfCanceledThings"], 2);

    let tags = call(
        &srv,
        "GET",
        &format!(
            "/tags?resourceArn={}",
            query_value(&srv.arn("job/reboot-1"))
        ),
        Value::Null,
    )
    .await;
    assert_eq!(tags["tags"], json!([{"Key": "env", "Value": "test"}]));

    call(
        &srv,
        "DELETE",
        "/things/lamp/jobs/reboot-1/executionNumber/1",
        Value::Null,
    )
    .await;
    refused(&srv, "GET", "/things/lamp/jobs/reboot-1", Value::Null, 404).await;
    call(&srv, "DELETE", "/jobs/reboot-1", Value::Null).await;
    refused(&srv, "GET", "/jobs/reboot-1", Value::Null, 404).await;
    refused(&srv, "DELETE", "/jobs/reboot-1", Value::Null, 404).await;
}

#[tokio::test]
async fn refusals_carry_aws_statuses() {
    let srv = TestServer::start().await;
    fleet(&srv).await;
    let missing_thing = json!({"targets": [srv.arn("thing/ghost")], "document": "{}"});
    refused(&srv, "PUT", "/jobs/j", missing_thing, 404).await;
    let no_document = json!({"targets": [srv.arn("thing/lamp")]});
    let body = refused(&srv, "PUT", "/jobs/j", no_document, 400).await;
    assert!(
        body["message"].as_str().unwrap().contains("document"),
        "{body}"
    );
    let bad_timeout = json!({"targets": [srv.arn("thing/lamp")], "document": "{}",
                             "timeoutConfig": {"inProgressTimeoutInMinutes": 20000}});
    refused(&srv, "PUT", "/jobs/j", bad_timeout, 400).await;
    let too_many: Vec<String> = (0..101).map(|i| srv.arn(&format!("thing/t{i}"))).collect();
    refused(
        &srv,
        "PUT",
        "/jobs/j",
        json!({"targets": too_many, "document": "{}"}),
        410,
    )
    .await;

    call(
        &srv,
        "PUT",
        "/jobs/snap",
        json!({"targets": [srv.arn("thing/lamp")], "document": "{}"}),
    )
    .await;
    refused(
        &srv,
        "POST",
        "/jobs/snap/targets",
        json!({"targets": [srv.arn("thing/fan")]}),
        400,
    )
    .await;
    call(
        &srv,
        "PATCH",
        "/jobs/snap",
        json!({"description": "renamed"}),
    )
    .await;
    let job = call(&srv, "GET", "/jobs/snap", Value::Null).await;
    assert_eq!(job["job"]["description"], "renamed");
    // A QUEUED execution is deleted only with force.
    refused(
        &srv,
        "DELETE",
        "/things/lamp/jobs/snap/executionNumber/1",
        Value::Null,
        409,
    )
    .await;
    call(
        &srv,
        "DELETE",
        "/things/lamp/jobs/snap/executionNumber/1?force=true",
        Value::Null,
    )
    .await;
    let job = call(&srv, "GET", "/jobs/snap", Value::Null).await;
    assert_eq!(job["job"]["status"], "COMPLETED");

    call(
        &srv,
        "PUT",
        "/jobs/cont",
        json!({"targets": [srv.arn("thing/lamp")], "document": "{}",
               "targetSelection": "CONTINUOUS"}),
    )
    .await;
    call(
        &srv,
        "POST",
        "/jobs/cont/targets",
        json!({"targets": [srv.arn("thinggroup/fleet")]}),
    )
    .await;
    let job = call(&srv, "GET", "/jobs/cont", Value::Null).await;
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfQueuedThings"], 2);
}

#[tokio::test]
async fn job_templates_make_jobs() {
    let srv = TestServer::start().await;
    fleet(&srv).await;
    let created = call(
        &srv,
        "PUT",
        "/job-templates/reboot",
        json!({"description": "reboot a device", "document": "{\"action\":\"reboot\"}",
               "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}}),
    )
    .await;
    assert_eq!(created["jobTemplateArn"], srv.arn("jobtemplate/reboot"));
    refused(
        &srv,
        "PUT",
        "/job-templates/reboot",
        json!({"description": "d", "document": "{}"}),
        409,
    )
    .await;
    let described = call(&srv, "GET", "/job-templates/reboot", Value::Null).await;
    assert_eq!(described["document"], "{\"action\":\"reboot\"}");
    let listed = call(&srv, "GET", "/job-templates", Value::Null).await;
    assert_eq!(listed["jobTemplates"][0]["jobTemplateId"], "reboot");

    call(
        &srv,
        "PUT",
        "/jobs/from-template",
        json!({"targets": [srv.arn("thing/lamp")],
               "jobTemplateArn": srv.arn("jobtemplate/reboot")}),
    )
    .await;
    let job = call(&srv, "GET", "/jobs/from-template", Value::Null).await;
    assert_eq!(
        job["job"]["jobExecutionsRetryConfig"]["criteriaList"][0]["numberOfRetries"],
        2
    );
    let doc = call(&srv, "GET", "/jobs/from-template/job-document", Value::Null).await;
    assert_eq!(doc["document"], "{\"action\":\"reboot\"}");

    call(&srv, "DELETE", "/job-templates/reboot", Value::Null).await;
    refused(&srv, "GET", "/job-templates/reboot", Value::Null, 404).await;
}
