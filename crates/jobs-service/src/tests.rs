//! The jobs API over the in-memory store, with things and groups made through the registry.

use std::sync::Arc;

use ferrite_jobs::{DeviceUpdate, ExecutionStatus, JobExecution, StatusDetails};
use ferrite_registry::{EndpointConfig, Registry, Scope};
use ferrite_storage::Expect;
use ferrite_storage_memory::MemoryStore;
use ferrite_types::{AwsException, ChangeSubscription, Clock, Received, RegistryChange};
use serde_json::{Value, json};

use crate::executions::execution_writes;
use crate::test_support::{arn, req, scope};
use crate::*;

struct Fixture {
    jobs: Jobs,
    registry: Registry,
    changes: ChangeSubscription,
    scope: Scope,
}

impl Fixture {
    /// Things t1..t4; group `fleet` holds t2 and its child group `east` holds t3; t4 is in
    /// no group; group `empty` holds nothing.
    async fn new() -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let endpoints = EndpointConfig::localhost();
        let registry = Registry::new(store.clone(), endpoints)
            .with_taggable(JOB_TAGGABLE)
            .with_taggable(TEMPLATE_TAGGABLE);
        let jobs = Jobs::new(store, registry.clone()).with_clock(Clock::system());
        let scope = scope();
        for t in ["t1", "t2", "t3", "t4"] {
            registry
                .create_thing(&scope, req(json!({"thingName": t})))
                .await
                .unwrap();
        }
        for (g, parent) in [("fleet", None), ("east", Some("fleet")), ("empty", None)] {
            registry
                .create_thing_group(
                    &scope,
                    req(json!({"thingGroupName": g, "parentGroupName": parent})),
                )
                .await
                .unwrap();
        }
        for (g, t) in [("fleet", "t2"), ("east", "t3")] {
            registry
                .add_thing_to_thing_group(&scope, req(json!({"thingGroupName": g, "thingName": t})))
                .await
                .unwrap();
        }
        Fixture {
            changes: jobs.subscribe_changes(),
            jobs,
            registry,
            scope,
        }
    }

    fn announced(&mut self) -> Vec<RegistryChange> {
        let mut out = Vec::new();
        while let Some(received) = self.changes.try_recv() {
            match received {
                Received::Change(c) => out.push((*c).clone()),
                Received::Missed(n) => panic!("fell {n} changes behind"),
            }
        }
        out
    }

    async fn create(&self, v: Value) -> Result<Output, JobsError> {
        self.jobs.create_job(&self.scope, req(v)).await
    }

    /// A job `id` on t1 and the `fleet` group (t2, t3).
    async fn create_fleet_job(&self, id: &str, selection: &str) -> Output {
        self.create(json!({
            "jobId": id,
            "targets": [arn("thing/t1"), arn("thinggroup/fleet")],
            "document": "{\"op\":\"update\"}",
            "description": "firmware",
            "targetSelection": selection,
        }))
        .await
        .unwrap()
    }

    async fn describe(&self, id: &str) -> Value {
        self.jobs
            .describe_job(&self.scope, req(json!({"jobId": id})))
            .await
            .unwrap()
    }

    async fn execution(&self, id: &str, thing: &str) -> Value {
        self.jobs
            .describe_job_execution(&self.scope, req(json!({"jobId": id, "thingName": thing})))
            .await
            .unwrap()["execution"]
            .clone()
    }

    /// What a device's update does to the latest execution of `id` on `thing` (the device
    /// API is not here yet; this writes as it will).
    async fn device_sets(&self, id: &str, thing: &str, status: ExecutionStatus) {
        let (mut e, version): (JobExecution, u64) =
            self.jobs.execution(thing, id, None).await.unwrap().unwrap();
        e.apply_device_update(
            &DeviceUpdate {
                status: Some(status),
                ..DeviceUpdate::default()
            },
            None,
            Clock::system().now_ms(),
        )
        .unwrap();
        let writes = execution_writes(&e, Expect::Version(version)).to_vec();
        assert_eq!(
            self.jobs.store().write(writes).await.unwrap(),
            ferrite_storage::WriteOutcome::Applied
        );
        if status.is_terminal() {
            self.jobs.complete_if_done(id).await.unwrap();
        }
    }
}

fn name(e: &JobsError) -> &'static str {
    e.exception_name()
}

fn statuses(listing: &Value) -> Vec<(String, String)> {
    listing["executionSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let who = s["thingArn"]
                .as_str()
                .or(s["jobId"].as_str())
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            (
                who,
                s["jobExecutionSummary"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_job_on_a_thing_and_a_group_queues_an_execution_per_thing() {
    let mut f = Fixture::new().await;
    let out = f.create_fleet_job("fw-1", "SNAPSHOT").await;
    assert_eq!(
        out,
        json!({"jobArn": arn("job/fw-1"), "jobId": "fw-1", "description": "firmware"})
    );
    let d = f.describe("fw-1").await;
    let job = &d["job"];
    assert_eq!(job["status"], "IN_PROGRESS");
    assert_eq!(job["targetSelection"], "SNAPSHOT");
    assert_eq!(
        job["targets"],
        json!([arn("thing/t1"), arn("thinggroup/fleet")])
    );
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 3);
    assert_eq!(job["forceCanceled"], false);
    assert!(job["createdAt"].is_number());
    assert!(d.get("documentSource").is_none());

    let by_job = f
        .jobs
        .list_job_executions_for_job(&f.scope, req(json!({"jobId": "fw-1"})))
        .await
        .unwrap();
    // The group reaches its child group's things too.
    assert_eq!(
        statuses(&by_job),
        [("t1", "QUEUED"), ("t2", "QUEUED"), ("t3", "QUEUED")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let e = f.execution("fw-1", "t2").await;
    assert_eq!(e["status"], "QUEUED");
    assert_eq!(e["executionNumber"], 1);
    assert_eq!(e["versionNumber"], 1);
    assert_eq!(e["thingArn"], arn("thing/t2"));
    assert_eq!(e["statusDetails"], json!({"detailsMap": {}}));
    assert!(e.get("startedAt").is_none());

    let doc = f
        .jobs
        .get_job_document(req(json!({"jobId": "fw-1"})))
        .await
        .unwrap();
    assert_eq!(doc, json!({"document": "{\"op\":\"update\"}"}));

    let changes = f.announced();
    assert_eq!(
        changes[0],
        RegistryChange::JobCreated { job: "fw-1".into() }
    );
    assert_eq!(changes.len(), 4, "{changes:?}");
}

#[tokio::test]
async fn a_job_id_is_used_once() {
    let f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    let err = f
        .create(json!({"jobId": "fw-1", "targets": [arn("thing/t4")], "document": "{}"}))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceAlreadyExistsException");
    assert_eq!(
        Value::Object(err.exception_fields()),
        json!({"resourceId": "fw-1", "resourceArn": arn("job/fw-1")})
    );
}

#[tokio::test]
async fn targets_must_exist_and_be_ours() {
    let f = Fixture::new().await;
    let create = |targets: Vec<String>| {
        f.create(json!({"jobId": "j", "targets": targets, "document": "{}"}))
    };
    assert_eq!(
        name(&create(vec![arn("thing/nope")]).await.unwrap_err()),
        "ResourceNotFoundException"
    );
    assert_eq!(
        name(&create(vec![arn("thinggroup/nope")]).await.unwrap_err()),
        "ResourceNotFoundException"
    );
    assert_eq!(
        name(
            &create(vec!["arn:aws:iot:us-east-1:123456789012:thing/t1".into()])
                .await
                .unwrap_err()
        ),
        "InvalidRequestException"
    );
    assert_eq!(
        name(&create(vec![arn("policy/p")]).await.unwrap_err()),
        "InvalidRequestException"
    );
    let many = (0..101).map(|i| arn(&format!("thing/x{i}"))).collect();
    assert_eq!(
        name(&create(many).await.unwrap_err()),
        "LimitExceededException"
    );
    // Nothing was stored by the refused creates.
    let listing = f
        .jobs
        .list_jobs(&f.scope, ListJobs::default())
        .await
        .unwrap();
    assert_eq!(listing, json!({"jobs": []}));
}

#[tokio::test]
async fn documents_and_configurations_are_checked() {
    let f = Fixture::new().await;
    let base = |extra: Value| {
        let mut v = json!({"jobId": "j", "targets": [arn("thing/t1")]});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    for bad in [
        json!({}),
        json!({"document": "{", }),
        json!({"document": "{}", "documentSource": "https://s3.amazonaws.com/b/k"}),
        json!({"document": "{}", "timeoutConfig": {"inProgressTimeoutInMinutes": 0}}),
        json!({"document": "{}", "jobExecutionsRolloutConfig": {"maximumPerMinute": 5000}}),
        json!({"document": "{}", "jobExecutionsRetryConfig": {"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 8}, {"failureType": "TIMED_OUT", "numberOfRetries": 8}]}}),
    ] {
        let err = f.create(base(bad.clone())).await.unwrap_err();
        assert_eq!(name(&err), "InvalidRequestException", "{bad}: {err}");
    }
    f.create(base(
        json!({"documentSource": "https://s3.amazonaws.com/b/k",
                         "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
                         "abortConfig": {"criteriaList": [{"failureType": "ALL", "action": "CANCEL",
                             "thresholdPercentage": 50, "minNumberOfExecutedThings": 2}]}}),
    ))
    .await
    .unwrap();
    let d = f.describe("j").await;
    assert_eq!(d["documentSource"], "https://s3.amazonaws.com/b/k");
    assert_eq!(
        d["job"]["timeoutConfig"],
        json!({"inProgressTimeoutInMinutes": 30})
    );
    assert_eq!(
        d["job"]["abortConfig"]["criteriaList"][0]["failureType"],
        "ALL"
    );
    let doc = f
        .jobs
        .get_job_document(req(json!({"jobId": "j"})))
        .await
        .unwrap();
    assert_eq!(doc, json!({}));
}

#[tokio::test]
async fn a_snapshot_job_completes_when_its_executions_end() {
    let mut f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    f.device_sets("fw-1", "t1", ExecutionStatus::InProgress)
        .await;
    f.device_sets("fw-1", "t1", ExecutionStatus::Succeeded)
        .await;
    f.device_sets("fw-1", "t2", ExecutionStatus::Failed).await;
    assert_eq!(f.describe("fw-1").await["job"]["status"], "IN_PROGRESS");
    f.announced();
    f.jobs
        .cancel_job_execution(req(json!({"jobId": "fw-1", "thingName": "t3"})))
        .await
        .unwrap();
    let d = f.describe("fw-1").await;
    assert_eq!(d["job"]["status"], "COMPLETED");
    assert!(d["job"]["completedAt"].is_number());
    let details = &d["job"]["jobProcessDetails"];
    assert_eq!(details["numberOfSucceededThings"], 1);
    assert_eq!(details["numberOfFailedThings"], 1);
    assert_eq!(details["numberOfCanceledThings"], 1);
    assert_eq!(
        f.announced(),
        [
            RegistryChange::JobExecutionChanged {
                job: "fw-1".into(),
                thing: "t3".into(),
                execution_number: 1
            },
            RegistryChange::JobChanged { job: "fw-1".into() }
        ]
    );
}

#[tokio::test]
async fn a_snapshot_job_reaching_no_thing_is_complete_at_once() {
    let f = Fixture::new().await;
    f.create(json!({"jobId": "j", "targets": [arn("thinggroup/empty")], "document": "{}"}))
        .await
        .unwrap();
    assert_eq!(f.describe("j").await["job"]["status"], "COMPLETED");
    f.create(
        json!({"jobId": "c", "targets": [arn("thinggroup/empty")], "document": "{}",
                    "targetSelection": "CONTINUOUS"}),
    )
    .await
    .unwrap();
    assert_eq!(f.describe("c").await["job"]["status"], "IN_PROGRESS");
}

#[tokio::test]
async fn cancel_job_execution_follows_the_transition_rules() {
    let f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    let cancel = |thing: &str, extra: Value| {
        let mut v = json!({"jobId": "fw-1", "thingName": thing});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        f.jobs.cancel_job_execution(req(v))
    };
    let err = cancel("t1", json!({"expectedVersion": 7}))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "VersionConflictException");
    cancel(
        "t1",
        json!({"expectedVersion": 1, "statusDetails": {"why": "obsolete"}}),
    )
    .await
    .unwrap();
    let e = f.execution("fw-1", "t1").await;
    assert_eq!(e["status"], "CANCELED");
    assert_eq!(e["versionNumber"], 2);
    assert_eq!(
        e["statusDetails"],
        json!({"detailsMap": {"why": "obsolete"}})
    );
    let err = cancel("t1", json!({})).await.unwrap_err();
    assert_eq!(name(&err), "InvalidStateTransitionException");

    f.device_sets("fw-1", "t2", ExecutionStatus::InProgress)
        .await;
    let err = cancel("t2", json!({})).await.unwrap_err();
    assert_eq!(name(&err), "InvalidStateTransitionException");
    cancel("t2", json!({"force": true})).await.unwrap();
    let e = f.execution("fw-1", "t2").await;
    assert_eq!(e["status"], "CANCELED");
    assert_eq!(e["forceCanceled"], true);

    assert_eq!(
        name(&cancel("t4", json!({})).await.unwrap_err()),
        "ResourceNotFoundException"
    );
    let err = f
        .jobs
        .cancel_job_execution(req(json!({"jobId": "nope", "thingName": "t1"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn cancel_job_cancels_queued_executions_and_running_ones_with_force() {
    let f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    f.device_sets("fw-1", "t1", ExecutionStatus::InProgress)
        .await;
    f.device_sets("fw-1", "t2", ExecutionStatus::Succeeded)
        .await;
    let out = f
        .jobs
        .cancel_job(
            &f.scope,
            req(json!({"jobId": "fw-1", "reasonCode": "BAD_BUILD", "comment": "rolled back"})),
        )
        .await
        .unwrap();
    assert_eq!(out["jobArn"], arn("job/fw-1"));
    let d = f.describe("fw-1").await;
    assert_eq!(d["job"]["status"], "CANCELED");
    assert_eq!(d["job"]["reasonCode"], "BAD_BUILD");
    assert_eq!(d["job"]["comment"], "rolled back");
    assert_eq!(d["job"]["forceCanceled"], false);
    assert_eq!(f.execution("fw-1", "t1").await["status"], "IN_PROGRESS");
    assert_eq!(f.execution("fw-1", "t2").await["status"], "SUCCEEDED");
    assert_eq!(f.execution("fw-1", "t3").await["status"], "CANCELED");

    let err = f
        .jobs
        .cancel_job(&f.scope, req(json!({"jobId": "fw-1"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "InvalidRequestException");
    f.jobs
        .cancel_job(&f.scope, req(json!({"jobId": "fw-1", "force": true})))
        .await
        .unwrap();
    assert_eq!(f.describe("fw-1").await["job"]["forceCanceled"], true);
    let e = f.execution("fw-1", "t1").await;
    assert_eq!(
        (e["status"].as_str(), e["forceCanceled"].as_bool()),
        (Some("CANCELED"), Some(true))
    );
    let err = f
        .jobs
        .cancel_job(&f.scope, req(json!({"jobId": "nope"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn delete_job_needs_force_while_active_and_takes_its_executions() {
    let mut f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    let err = f
        .jobs
        .delete_job(req(json!({"jobId": "fw-1"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "InvalidStateTransitionException");
    f.announced();
    f.jobs
        .delete_job(req(json!({"jobId": "fw-1", "force": true})))
        .await
        .unwrap();
    let changes = f.announced();
    assert_eq!(
        changes.first(),
        Some(&RegistryChange::JobChanged { job: "fw-1".into() })
    );
    assert_eq!(
        changes.last(),
        Some(&RegistryChange::JobDeleted { job: "fw-1".into() })
    );
    assert_eq!(changes.len(), 5, "{changes:?}");
    let err = f
        .jobs
        .describe_job(&f.scope, req(json!({"jobId": "fw-1"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
    let for_thing = f
        .jobs
        .list_job_executions_for_thing(req(json!({"thingName": "t1"})))
        .await
        .unwrap();
    assert_eq!(for_thing, json!({"executionSummaries": []}));
    // The id is free again, and a canceled job goes without force.
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    f.jobs
        .cancel_job(&f.scope, req(json!({"jobId": "fw-1"})))
        .await
        .unwrap();
    f.jobs
        .delete_job(req(json!({"jobId": "fw-1"})))
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_job_execution_needs_force_while_pending() {
    let f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    let delete = |thing: &str, force: bool| {
        f.jobs.delete_job_execution(req(
            json!({"jobId": "fw-1", "thingName": thing, "executionNumber": 1, "force": force}),
        ))
    };
    assert_eq!(
        name(&delete("t1", false).await.unwrap_err()),
        "InvalidStateTransitionException"
    );
    f.device_sets("fw-1", "t1", ExecutionStatus::Rejected).await;
    delete("t1", false).await.unwrap();
    assert_eq!(
        name(&delete("t1", false).await.unwrap_err()),
        "ResourceNotFoundException"
    );
    delete("t2", true).await.unwrap();
    delete("t3", true).await.unwrap();
    // Nothing pending is left: the snapshot job is complete.
    assert_eq!(f.describe("fw-1").await["job"]["status"], "COMPLETED");
}

#[tokio::test]
async fn listings_filter_and_page() {
    let f = Fixture::new().await;
    f.create_fleet_job("a", "SNAPSHOT").await;
    f.create_fleet_job("b", "CONTINUOUS").await;
    f.create(json!({"jobId": "c", "targets": [arn("thing/t4")], "document": "{}"}))
        .await
        .unwrap();
    f.jobs
        .cancel_job(&f.scope, req(json!({"jobId": "c"})))
        .await
        .unwrap();
    let ids = |v: &Value| -> Vec<String> {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |v: Value| f.jobs.list_jobs(&f.scope, req(v));
    assert_eq!(ids(&list(json!({})).await.unwrap()), ["a", "b", "c"]);
    assert_eq!(
        ids(&list(json!({"status": "CANCELED"})).await.unwrap()),
        ["c"]
    );
    assert_eq!(
        ids(&list(json!({"targetSelection": "CONTINUOUS"}))
            .await
            .unwrap()),
        ["b"]
    );
    assert_eq!(
        ids(&list(json!({"thingGroupName": "fleet"})).await.unwrap()),
        ["a", "b"]
    );
    let group = f
        .registry
        .describe_thing_group(&f.scope, req(json!({"thingGroupName": "fleet"})))
        .await
        .unwrap();
    assert_eq!(
        ids(&list(json!({"thingGroupId": group["thingGroupId"]}))
            .await
            .unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        ids(&list(json!({"thingGroupId": "nope"})).await.unwrap()),
        Vec::<String>::new()
    );
    let first = list(json!({"maxResults": 2})).await.unwrap();
    assert_eq!(ids(&first), ["a", "b"]);
    let summary = &first["jobs"][0];
    assert_eq!(summary["jobArn"], arn("job/a"));
    assert_eq!(summary["status"], "IN_PROGRESS");
    let next = first["nextToken"].as_str().unwrap();
    let second = list(json!({"maxResults": 2, "nextToken": next}))
        .await
        .unwrap();
    assert_eq!(ids(&second), ["c"]);
    assert!(second.get("nextToken").is_none());
    assert_eq!(
        name(&list(json!({"nextToken": "garbage"})).await.unwrap_err()),
        "InvalidRequestException"
    );

    let for_thing = f
        .jobs
        .list_job_executions_for_thing(req(json!({"thingName": "t1"})))
        .await
        .unwrap();
    assert_eq!(
        statuses(&for_thing),
        [("a", "QUEUED"), ("b", "QUEUED")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let canceled = f
        .jobs
        .list_job_executions_for_thing(req(json!({"thingName": "t4", "status": "CANCELED"})))
        .await
        .unwrap();
    assert_eq!(
        statuses(&canceled),
        [("c".to_owned(), "CANCELED".to_owned())]
    );
    let page = f
        .jobs
        .list_job_executions_for_job(&f.scope, req(json!({"jobId": "a", "maxResults": 2})))
        .await
        .unwrap();
    assert_eq!(page["executionSummaries"].as_array().unwrap().len(), 2);
    let rest = f
        .jobs
        .list_job_executions_for_job(
            &f.scope,
            req(json!({"jobId": "a", "nextToken": page["nextToken"]})),
        )
        .await
        .unwrap();
    assert_eq!(statuses(&rest), [("t3".to_owned(), "QUEUED".to_owned())]);
    let err = f
        .jobs
        .list_job_executions_for_job(&f.scope, req(json!({"jobId": "nope"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn update_job_replaces_what_it_names() {
    let f = Fixture::new().await;
    f.create_fleet_job("fw-1", "SNAPSHOT").await;
    f.jobs
        .update_job(req(json!({"jobId": "fw-1", "description": "v2",
                                "timeoutConfig": {"inProgressTimeoutInMinutes": 15}})))
        .await
        .unwrap();
    let job = &f.describe("fw-1").await["job"];
    assert_eq!(job["description"], "v2");
    assert_eq!(
        job["timeoutConfig"],
        json!({"inProgressTimeoutInMinutes": 15})
    );
    let err = f
        .jobs
        .update_job(req(json!({"jobId": "fw-1",
                                "jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "InvalidRequestException");
    let err = f
        .jobs
        .update_job(req(json!({"jobId": "nope"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn continuous_jobs_take_new_targets() {
    let f = Fixture::new().await;
    f.create_fleet_job("snap", "SNAPSHOT").await;
    let err = f
        .jobs
        .associate_targets_with_job(
            &f.scope,
            req(json!({"jobId": "snap", "targets": [arn("thing/t4")]})),
        )
        .await
        .unwrap_err();
    assert_eq!(name(&err), "InvalidRequestException");

    f.create_fleet_job("cont", "CONTINUOUS").await;
    let out = f
        .jobs
        .associate_targets_with_job(
            &f.scope,
            req(
                json!({"jobId": "cont", "targets": [arn("thing/t4"), arn("thing/t1")],
                       "comment": "more"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out["jobId"], "cont");
    let job = &f.describe("cont").await["job"];
    assert_eq!(
        job["targets"],
        json!([arn("thing/t1"), arn("thinggroup/fleet"), arn("thing/t4")])
    );
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 4);
    assert_eq!(job["comment"], "more");
    // t1 already had an execution: it keeps its one.
    let t1 = f
        .jobs
        .list_job_executions_for_thing(req(json!({"thingName": "t1"})))
        .await
        .unwrap();
    assert_eq!(t1["executionSummaries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn scheduled_jobs_wait_for_their_start() {
    let f = Fixture::new().await;
    f.create(
        json!({"jobId": "later", "targets": [arn("thing/t1")], "document": "{}",
                    "schedulingConfig": {"startTime": "2099-01-01T00:00"}}),
    )
    .await
    .unwrap();
    let job = &f.describe("later").await["job"];
    assert_eq!(job["status"], "SCHEDULED");
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 0);
    assert_eq!(
        job["schedulingConfig"],
        json!({"startTime": "2099-01-01T00:00"})
    );
}

#[tokio::test]
async fn templates_give_jobs_their_document_and_settings() {
    let f = Fixture::new().await;
    let out = f
        .jobs
        .create_job_template(
            &f.scope,
            req(json!({"jobTemplateId": "tpl", "description": "download",
                       "document": "{\"url\":\"${aws:iot:parameter:url}\"}",
                       "timeoutConfig": {"inProgressTimeoutInMinutes": 20},
                       "maintenanceWindows": [{"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 60}],
                       "tags": [{"Key": "team", "Value": "fw"}]})),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"jobTemplateArn": arn("jobtemplate/tpl"), "jobTemplateId": "tpl"})
    );
    let err = f
        .jobs
        .create_job_template(
            &f.scope,
            req(json!({"jobTemplateId": "tpl", "description": "d", "document": "{}"})),
        )
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ConflictException");
    let t = f
        .jobs
        .describe_job_template(&f.scope, req(json!({"jobTemplateId": "tpl"})))
        .await
        .unwrap();
    assert_eq!(t["description"], "download");
    assert_eq!(
        t["timeoutConfig"],
        json!({"inProgressTimeoutInMinutes": 20})
    );
    assert_eq!(t["maintenanceWindows"][0]["durationInMinutes"], 60);

    f.create(json!({"jobId": "from-tpl", "targets": [arn("thing/t1")],
                    "jobTemplateArn": arn("jobtemplate/tpl"),
                    "documentParameters": {"url": "https://x/fw.bin"}}))
        .await
        .unwrap();
    let job = &f.describe("from-tpl").await["job"];
    assert_eq!(job["jobTemplateArn"], arn("jobtemplate/tpl"));
    assert_eq!(
        job["timeoutConfig"],
        json!({"inProgressTimeoutInMinutes": 20})
    );
    assert_eq!(
        job["schedulingConfig"]["maintenanceWindows"][0]["startTime"],
        "cron(0 2 * * ? *)"
    );
    let doc = f
        .jobs
        .get_job_document(req(json!({"jobId": "from-tpl"})))
        .await
        .unwrap();
    assert_eq!(doc["document"], "{\"url\":\"https://x/fw.bin\"}");

    // A template made from a job.
    f.jobs
        .create_job_template(
            &f.scope,
            req(
                json!({"jobTemplateId": "copy", "description": "c", "jobArn": arn("job/from-tpl")}),
            ),
        )
        .await
        .unwrap();
    let copy = f
        .jobs
        .describe_job_template(&f.scope, req(json!({"jobTemplateId": "copy"})))
        .await
        .unwrap();
    assert_eq!(copy["document"], "{\"url\":\"https://x/fw.bin\"}");
    assert!(copy.get("schedulingConfig").is_none());

    let listing = f
        .jobs
        .list_job_templates(&f.scope, req(json!({})))
        .await
        .unwrap();
    let ids: Vec<_> = listing["jobTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["jobTemplateId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["copy", "tpl"]);

    let missing = f
        .create(json!({"jobId": "x", "targets": [arn("thing/t1")],
                       "jobTemplateArn": arn("jobtemplate/nope")}))
        .await
        .unwrap_err();
    assert_eq!(name(&missing), "ResourceNotFoundException");

    let tags = f
        .registry
        .list_tags_for_resource(
            &f.scope,
            req(json!({"resourceArn": arn("jobtemplate/tpl")})),
        )
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!([{"Key": "team", "Value": "fw"}]));
    f.jobs
        .delete_job_template(req(json!({"jobTemplateId": "tpl"})))
        .await
        .unwrap();
    let err = f
        .jobs
        .describe_job_template(&f.scope, req(json!({"jobTemplateId": "tpl"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
    let err = f
        .jobs
        .delete_job_template(req(json!({"jobTemplateId": "tpl"})))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn jobs_are_taggable_and_lose_their_tags_with_them() {
    let f = Fixture::new().await;
    f.create(
        json!({"jobId": "j", "targets": [arn("thing/t1")], "document": "{}",
                    "tags": [{"Key": "env", "Value": "prod"}]}),
    )
    .await
    .unwrap();
    let job_arn = arn("job/j");
    f.registry
        .tag_resource(
            &f.scope,
            req(json!({"resourceArn": job_arn, "tags": [{"Key": "team", "Value": "fw"}]})),
        )
        .await
        .unwrap();
    let tags = f
        .registry
        .list_tags_for_resource(&f.scope, req(json!({"resourceArn": job_arn})))
        .await
        .unwrap();
    assert_eq!(
        tags["tags"],
        json!([{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "fw"}])
    );
    f.jobs
        .delete_job(req(json!({"jobId": "j", "force": true})))
        .await
        .unwrap();
    f.create(json!({"jobId": "j", "targets": [arn("thing/t1")], "document": "{}"}))
        .await
        .unwrap();
    let tags = f
        .registry
        .list_tags_for_resource(&f.scope, req(json!({"resourceArn": job_arn})))
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!([]));
}

#[tokio::test]
async fn devices_take_their_executions_through_start_next_and_update() {
    let mut f = Fixture::new().await;
    f.create(
        json!({"jobId": "first", "targets": [arn("thing/t1")], "document": "{\"n\":1}",
                    "timeoutConfig": {"inProgressTimeoutInMinutes": 10}}),
    )
    .await
    .unwrap();
    f.create(json!({"jobId": "second", "targets": [arn("thing/t1")], "document": "{\"n\":2}"}))
        .await
        .unwrap();
    f.announced();
    let pending = f.jobs.pending_executions("t1").await.unwrap();
    let ids: Vec<_> = pending.iter().map(|(e, _)| e.job_id.as_str()).collect();
    assert_eq!(ids, ["first", "second"]);

    let next = f
        .jobs
        .describe_for_device("t1", "$next", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.execution.job_id, "first");
    assert_eq!(next.document.as_deref(), Some("{\"n\":1}"));

    let details: StatusDetails = [("step".to_owned(), "download".to_owned())].into();
    let started = f
        .jobs
        .start_next("t1", Some(&details), Some(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.execution.status, ExecutionStatus::InProgress);
    assert_eq!(started.execution.version_number, 2);
    assert!(started.execution.timeout_at_ms().is_some());
    assert_eq!(f.announced().len(), 1);
    // Starting again returns the running head unchanged.
    let again = f.jobs.start_next("t1", None, None).await.unwrap().unwrap();
    assert_eq!(again.execution, started.execution);
    assert!(f.announced().is_empty());

    let update = |status, expected| DeviceUpdate {
        status: Some(status),
        expected_version: expected,
        ..DeviceUpdate::default()
    };
    let err = f
        .jobs
        .update_for_device(
            "t1",
            "first",
            None,
            &update(ExecutionStatus::Succeeded, Some(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(name(&err), "VersionConflictException");
    let done = f
        .jobs
        .update_for_device(
            "t1",
            "first",
            None,
            &update(ExecutionStatus::Succeeded, Some(2)),
        )
        .await
        .unwrap();
    assert_eq!(done.execution.status, ExecutionStatus::Succeeded);
    assert_eq!(f.describe("first").await["job"]["status"], "COMPLETED");
    let err = f
        .jobs
        .update_for_device("t1", "first", None, &update(ExecutionStatus::Failed, None))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "InvalidStateTransitionException");
    let err = f
        .jobs
        .update_for_device("t1", "nope", None, &update(ExecutionStatus::Failed, None))
        .await
        .unwrap_err();
    assert_eq!(name(&err), "ResourceNotFoundException");

    let head = f
        .jobs
        .describe_for_device("t1", "$next", None)
        .await
        .unwrap();
    assert_eq!(head.unwrap().execution.job_id, "second");
    f.jobs
        .update_for_device(
            "t1",
            "second",
            Some(1),
            &update(ExecutionStatus::Rejected, None),
        )
        .await
        .unwrap();
    assert!(f.jobs.start_next("t1", None, None).await.unwrap().is_none());
    assert!(
        f.jobs
            .describe_for_device("t1", "$next", None)
            .await
            .unwrap()
            .is_none()
    );
    // A finished execution is still described by its job id.
    let first = f
        .jobs
        .describe_for_device("t1", "first", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.execution.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn continuous_jobs_follow_group_membership() {
    let f = Fixture::new().await;
    f.create_fleet_job("cont", "CONTINUOUS").await;
    f.create_fleet_job("snap", "SNAPSHOT").await;
    let f = &f;
    let membership = |add: bool| async move {
        let v = json!({"thingGroupName": "east", "thingName": "t4"});
        if add {
            f.registry
                .add_thing_to_thing_group(&f.scope, req(v))
                .await
                .unwrap();
        } else {
            f.registry
                .remove_thing_from_thing_group(&f.scope, req(v))
                .await
                .unwrap();
        }
        let change = if add {
            RegistryChange::ThingAddedToGroup {
                thing: "t4".into(),
                group: "east".into(),
            }
        } else {
            RegistryChange::ThingRemovedFromGroup {
                thing: "t4".into(),
                group: "east".into(),
            }
        };
        f.jobs.membership_changed(&change).await.unwrap();
    };
    let t4 = || async {
        let listing = f
            .jobs
            .list_job_executions_for_thing(req(json!({"thingName": "t4"})))
            .await
            .unwrap();
        listing["executionSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["jobId"].as_str().unwrap().to_owned(),
                    s["jobExecutionSummary"]["executionNumber"]
                        .as_u64()
                        .unwrap(),
                    s["jobExecutionSummary"]["status"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    membership(true).await;
    // Joining `east`, a child of the targeted `fleet`, reaches the continuous job only.
    assert_eq!(t4().await, [("cont".to_owned(), 1, "QUEUED".to_owned())]);
    membership(true).await;
    assert_eq!(t4().await.len(), 1, "a second notice queues nothing more");
    membership(false).await;
    assert_eq!(t4().await, [("cont".to_owned(), 1, "REMOVED".to_owned())]);
    membership(true).await;
    assert_eq!(
        t4().await,
        [
            ("cont".to_owned(), 1, "REMOVED".to_owned()),
            ("cont".to_owned(), 2, "QUEUED".to_owned())
        ]
    );
}

/// A device side whose change feed overflows (CreateJob announces more executions than it
/// buffers) still notifies every thing: what it missed is owed, so it tells every thing with
/// pending jobs again.
#[tokio::test]
async fn the_device_side_notifies_every_thing_even_after_missing_changes() {
    let f = Fixture::new().await;
    let feed: Arc<dyn ferrite_types::ChangeFeed> = Arc::new(ferrite_types::InProcessFeed::new(1));
    let jobs = f.jobs.clone().with_change_feed(feed.clone());
    let harness =
        ferrite_test_support::BrokerHarness::start(ferrite_config::MqttConfig::default()).await;
    let device = JobsDevice::new(jobs.clone(), harness.broker.clone()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let running = tokio_util::task::TaskTracker::new();
    running.spawn(device.run(feed.subscribe(), cancel.clone()));
    let mut clients = Vec::new();
    for t in ["t1", "t2", "t3", "t4"] {
        let (mut c, _) = harness.connect_v311(t, true).await;
        c.subscribe(
            &format!("$aws/things/{t}/jobs/notify-next"),
            ferrite_mqtt_codec::QoS::AtLeastOnce,
        )
        .await;
        clients.push((t, c));
    }
    // Four executions at once into a feed that holds one.
    jobs.create_job(
        &f.scope,
        req(json!({"jobId": "burst", "document": "{}",
                   "targets": [arn("thing/t1"), arn("thing/t2"), arn("thing/t3"), arn("thing/t4")]})),
    )
    .await
    .unwrap();
    for (t, c) in &mut clients {
        let p = c.recv_publish().await;
        assert_eq!(&*p.topic, format!("$aws/things/{t}/jobs/notify-next"));
        let body: Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(body["execution"]["jobId"], "burst", "{t}: {body}");
    }
    cancel.cancel();
    running.close();
    running.wait().await;
}

/// `(thing, executionNumber, status)` of every execution of `job`.
async fn executions_of(jobs: &Jobs, job: &str) -> Vec<(String, u64, String)> {
    let listing = jobs
        .list_job_executions_for_job(&scope(), req(json!({"jobId": job})))
        .await
        .unwrap();
    listing["executionSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let e = &s["jobExecutionSummary"];
            (
                s["thingArn"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                e["executionNumber"].as_u64().unwrap(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn exec(thing: &str, n: u64, status: &str) -> (String, u64, String) {
    (thing.to_owned(), n, status.to_owned())
}

/// Changes the jobs service missed are made up for at once, not at each thing's next change.
#[tokio::test]
async fn continuous_jobs_reconcile_every_thing_after_missing_changes() {
    let f = Fixture::new().await;
    f.create_fleet_job("cont", "CONTINUOUS").await;
    // t3 left and was heard leaving.
    let east_t3 = json!({"thingGroupName": "east", "thingName": "t3"});
    f.registry
        .remove_thing_from_thing_group(&f.scope, req(east_t3.clone()))
        .await
        .unwrap();
    f.jobs
        .membership_changed(&RegistryChange::ThingRemovedFromGroup {
            thing: "t3".into(),
            group: "east".into(),
        })
        .await
        .unwrap();
    // A feed that holds one change; four changes happen before the service reads it.
    let feed = Arc::new(ferrite_types::InProcessFeed::new(1));
    let registry = f.registry.clone().with_change_feed(feed.clone());
    let changes = feed.subscribe();
    let membership =
        |group: &str, thing: &str| json!({"thingGroupName": group, "thingName": thing});
    registry
        .add_thing_to_thing_group(&f.scope, req(membership("east", "t4")))
        .await
        .unwrap();
    registry
        .remove_thing_from_thing_group(&f.scope, req(membership("fleet", "t2")))
        .await
        .unwrap();
    registry
        .add_thing_to_thing_group(&f.scope, req(east_t3))
        .await
        .unwrap();
    registry
        .add_thing_to_thing_group(&f.scope, req(membership("empty", "t1")))
        .await
        .unwrap();
    // The feed goes, so the service stops once it has read what is left of it.
    drop((registry, feed));
    f.jobs
        .clone()
        .run(changes, tokio_util::sync::CancellationToken::new())
        .await;
    assert_eq!(
        executions_of(&f.jobs, "cont").await,
        [
            exec("t1", 1, "QUEUED"),
            exec("t2", 1, "REMOVED"),
            exec("t3", 1, "REMOVED"),
            exec("t3", 2, "QUEUED"),
            exec("t4", 1, "QUEUED"),
        ]
    );
}

/// What the registry announced, handed to the jobs service as `Jobs::run` would.
async fn hear(jobs: &Jobs, changes: &mut ChangeSubscription) {
    while let Some(Received::Change(c)) = changes.try_recv() {
        jobs.membership_changed(&c).await.unwrap();
    }
}

#[tokio::test]
async fn a_deleted_thing_leaves_the_continuous_jobs_of_its_groups() {
    let f = Fixture::new().await;
    let mut registry_changes = f.registry.subscribe_changes();
    f.create_fleet_job("cont", "CONTINUOUS").await;
    f.create_fleet_job("snap", "SNAPSHOT").await;
    f.registry
        .delete_thing(req(json!({"thingName": "t3"})))
        .await
        .unwrap();
    hear(&f.jobs, &mut registry_changes).await;
    assert_eq!(
        executions_of(&f.jobs, "cont").await,
        [
            exec("t1", 1, "QUEUED"),
            exec("t2", 1, "QUEUED"),
            exec("t3", 1, "REMOVED"),
        ]
    );
    // A snapshot job does not follow membership.
    assert_eq!(
        executions_of(&f.jobs, "snap").await[2],
        exec("t3", 1, "QUEUED")
    );
}

/// [VERIFY] Deleting a group takes its things out of it, for continuous jobs as for a
/// removal one by one.
#[tokio::test]
async fn a_deleted_group_takes_its_things_out_of_continuous_jobs() {
    let f = Fixture::new().await;
    let mut registry_changes = f.registry.subscribe_changes();
    f.create_fleet_job("cont", "CONTINUOUS").await;
    // `east` is a child of the targeted `fleet`.
    f.registry
        .delete_thing_group(req(json!({"thingGroupName": "east"})))
        .await
        .unwrap();
    hear(&f.jobs, &mut registry_changes).await;
    assert_eq!(
        executions_of(&f.jobs, "cont").await,
        [
            exec("t1", 1, "QUEUED"),
            exec("t2", 1, "QUEUED"),
            exec("t3", 1, "REMOVED"),
        ]
    );
}
