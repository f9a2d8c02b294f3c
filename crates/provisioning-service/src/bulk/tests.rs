//! Bulk registration over an in-memory store and a temporary bucket directory: lines become
//! things through RegisterThing, bad lines land in the ERRORS report, Stop cancels, a missing
//! file fails the task, a restart fails what it interrupted, listings filter by status.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrite_registry::{EndpointConfig, Registry, Scope};
use ferrite_storage_memory::MemoryStore;
use serde_json::{Value, json};

use super::*;
use crate::{FleetProvisioning, ProvisioningTemplates};

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account: "123456789012".into(),
    }
}

struct Fixture {
    bulk: BulkRegistration,
    registry: Registry,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let registry = Registry::new(store.clone(), EndpointConfig::localhost());
    let templates = ProvisioningTemplates::new(store);
    let fleet = FleetProvisioning::new(registry.clone(), templates, scope(), BTreeMap::new());
    let dir = tempfile::tempdir().unwrap();
    let buckets = Buckets {
        s3: S3Targets::default(),
        data_dir: dir.path().to_owned(),
    };
    Fixture {
        bulk: BulkRegistration::new(fleet, buckets),
        registry,
        dir,
    }
}

const TEMPLATE: &str = r#"{"Parameters": {"ThingName": {"Type": "String"}},
  "Resources": {"thing": {"Type": "AWS::IoT::Thing",
    "Properties": {"ThingName": {"Ref": "ThingName"}}}}}"#;

impl Fixture {
    fn put_input(&self, key: &str, body: &str) {
        let path = self.dir.path().join("s3/bucket").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }

    async fn start(&self, key: &str) -> String {
        let out = self
            .bulk
            .start_thing_registration_task(
                &scope(),
                StartThingRegistrationTask {
                    template_body: TEMPLATE.into(),
                    input_file_bucket: "bucket".into(),
                    input_file_key: key.into(),
                    role_arn: "arn:aws:iam::123456789012:role/r".into(),
                },
            )
            .await
            .unwrap();
        out["taskId"].as_str().unwrap().to_owned()
    }

    /// Waits until every task this node runs has ended.
    async fn settled(&self) {
        self.bulk.tasks.close();
        self.bulk.tasks.wait().await;
        self.bulk.tasks.reopen();
    }

    async fn describe(&self, id: &str) -> Value {
        self.bulk
            .describe_thing_registration_task(TaskId { task_id: id.into() })
            .await
            .unwrap()
    }

    async fn report(&self, id: &str, report_type: &str) -> Vec<Value> {
        let out = self
            .bulk
            .list_thing_registration_task_reports(ListThingRegistrationTaskReports {
                task_id: id.into(),
                report_type: report_type.into(),
                next_token: None,
                max_results: None,
            })
            .await
            .unwrap();
        let Some(link) = out["resourceLinks"][0].as_str() else {
            return Vec::new();
        };
        let key = link.strip_prefix("s3://bucket/").unwrap();
        std::fs::read_to_string(self.dir.path().join("s3/bucket").join(key))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn every_line_is_registered_and_a_bad_line_is_reported() {
    let f = fixture();
    f.put_input(
        "in/things.jsonl",
        "{\"ThingName\": \"bulk-1\"}\n\n{\"ThingName\": \"bulk-2\"}\nnot json\n{}\n",
    );
    let id = f.start("in/things.jsonl").await;
    f.settled().await;
    let d = f.describe(&id).await;
    assert_eq!(d["status"], "Completed", "{d}");
    assert_eq!(d["successCount"], 2);
    assert_eq!(d["failureCount"], 2);
    assert_eq!(d["percentageProgress"], 100);
    assert_eq!(d["inputFileKey"], "in/things.jsonl");
    for thing in ["bulk-1", "bulk-2"] {
        f.registry
            .describe_thing(
                &scope(),
                serde_json::from_value(json!({"thingName": thing})).unwrap(),
            )
            .await
            .unwrap();
    }
    let results = f.report(&id, "RESULTS").await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["lineNumber"], 1);
    assert!(
        results[1]["response"]["resourceArns"]["thing"]
            .as_str()
            .unwrap()
            .ends_with("thing/bulk-2")
    );
    let errors = f.report(&id, "ERRORS").await;
    let lines: Vec<_> = errors.iter().map(|e| e["lineNumber"].clone()).collect();
    assert_eq!(lines, [json!(4), json!(5)]);
    assert_eq!(errors[0]["errorCode"], "InvalidRequestException");
}

#[tokio::test]
async fn a_missing_input_file_fails_the_task() {
    let f = fixture();
    let id = f.start("absent.jsonl").await;
    f.settled().await;
    let d = f.describe(&id).await;
    assert_eq!(d["status"], "Failed");
    assert!(d["message"].as_str().unwrap().contains("absent.jsonl"));
    assert!(f.report(&id, "ERRORS").await.is_empty());
}

#[tokio::test]
async fn an_input_file_over_the_limit_fails_the_task_unread() {
    let mut f = fixture();
    f.bulk = f.bulk.clone().with_max_input_bytes(64);
    f.put_input("big.jsonl", &"{\"ThingName\": \"big\"}\n".repeat(10));
    let id = f.start("big.jsonl").await;
    f.settled().await;
    let d = f.describe(&id).await;
    assert_eq!(d["status"], "Failed");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("limited to 64 bytes"),
        "{d}"
    );
    assert_eq!(d["successCount"], 0);
}

#[tokio::test]
async fn stop_cancels_a_running_task_and_a_stopped_task_cannot_stop_again() {
    let f = fixture();
    let lines: String = (0..200)
        .map(|i| format!("{{\"ThingName\": \"many-{i}\"}}\n"))
        .collect();
    f.put_input("many.jsonl", &lines);
    let id = f.start("many.jsonl").await;
    f.bulk
        .stop_thing_registration_task(TaskId {
            task_id: id.clone(),
        })
        .await
        .unwrap();
    f.settled().await;
    let d = f.describe(&id).await;
    assert_eq!(d["status"], "Cancelled", "{d}");
    assert!(d["successCount"].as_u64().unwrap() < 200);
    let again = f
        .bulk
        .stop_thing_registration_task(TaskId { task_id: id })
        .await;
    assert!(matches!(again, Err(ProvisioningError::InvalidRequest(_))));
}

#[tokio::test]
async fn a_restart_fails_the_tasks_it_interrupted() {
    let f = fixture();
    let now = 1_000;
    let doc = TaskDoc {
        task_id: "interrupted".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        template_body: TEMPLATE.into(),
        input_file_bucket: "bucket".into(),
        input_file_key: "k".into(),
        role_arn: "r".into(),
        status: TaskStatus::InProgress,
        message: None,
        success_count: 3,
        failure_count: 0,
        percentage_progress: 30,
        created_ms: now,
        modified_ms: now,
        reports: Vec::new(),
    };
    f.bulk
        .docs
        .store()
        .write(vec![Write::put(
            TASK_KIND,
            "interrupted",
            Expect::Absent,
            encode(&doc),
        )])
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    f.bulk.clone().run(cancel).await;
    let d = f.describe("interrupted").await;
    assert_eq!(d["status"], "Failed");
    assert_eq!(d["message"], INTERRUPTED);
    assert_eq!(d["successCount"], 3);
}

#[tokio::test]
async fn tasks_list_by_status_and_unknown_ones_are_not_found() {
    let f = fixture();
    f.put_input("one.jsonl", "{\"ThingName\": \"one\"}\n");
    let done = f.start("one.jsonl").await;
    let failed = f.start("missing.jsonl").await;
    f.settled().await;
    let list = |status: Option<TaskStatus>| {
        f.bulk
            .list_thing_registration_tasks(ListThingRegistrationTasks {
                status,
                next_token: None,
                max_results: None,
            })
    };
    let all = list(None).await.unwrap();
    assert_eq!(all["taskIds"].as_array().unwrap().len(), 2);
    assert_eq!(
        list(Some(TaskStatus::Completed)).await.unwrap()["taskIds"],
        json!([done])
    );
    assert_eq!(
        list(Some(TaskStatus::Failed)).await.unwrap()["taskIds"],
        json!([failed])
    );
    let missing = f
        .bulk
        .describe_thing_registration_task(TaskId {
            task_id: "nope".into(),
        })
        .await;
    assert!(matches!(missing, Err(ProvisioningError::NotFound(_))));
    let bad = f
        .bulk
        .list_thing_registration_task_reports(ListThingRegistrationTaskReports {
            task_id: done,
            report_type: "BOTH".into(),
            next_token: None,
            max_results: None,
        })
        .await;
    assert!(matches!(bad, Err(ProvisioningError::InvalidRequest(_))));
}

#[test]
fn keys_that_leave_the_bucket_are_refused() {
    let b = Buckets::default();
    for key in ["", "/abs", "a/../b", "a//b", ".."] {
        assert!(b.object("bucket", key).is_err(), "{key}");
    }
    assert!(b.object("../x", "k").is_err());
    assert!(b.object("bucket", "dir/file.jsonl").is_ok());
}

#[tokio::test]
async fn an_empty_input_completes_with_nothing_registered() {
    let f = fixture();
    f.put_input("empty.jsonl", "\n\n");
    let id = f.start("empty.jsonl").await;
    f.settled().await;
    let d = f.describe(&id).await;
    assert_eq!(d["status"], "Completed");
    assert_eq!(
        (d["successCount"].clone(), d["percentageProgress"].clone()),
        (json!(0), json!(100))
    );
    assert!(f.report(&id, "RESULTS").await.is_empty());
}
