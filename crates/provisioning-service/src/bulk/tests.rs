//! Bulk registration over an in-memory store and a temporary bucket directory: lines become
//! things through RegisterThing, bad lines land in the ERRORS report, Stop cancels, a missing
//! file fails the task, listings filter by status; leases: a task whose runner died is resumed
//! from its recorded progress by a restarted node or, once the lease lapses, by another, and
//! two runners never run one task.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrite_registry::{EndpointConfig, Registry, Scope};
use ferrite_storage::RegistryStore;
use ferrite_storage_memory::MemoryStore;
use ferrite_types::Clock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::*;
use crate::{FleetProvisioning, ProvisioningTemplates};

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account: "123456789012".into(),
    }
}

/// Holds a runner before a line until the test lets it pass, telling how far it got.
pub(crate) struct Gate {
    permits: Semaphore,
    reached: watch::Sender<u64>,
}

impl Gate {
    fn new(permits: usize) -> Arc<Gate> {
        Arc::new(Gate {
            permits: Semaphore::new(permits),
            reached: watch::Sender::new(0),
        })
    }

    /// Before the line after `done` processed ones.
    pub(crate) async fn pass(&self, done: usize) {
        self.reached.send_replace(done as u64);
        self.permits.acquire().await.unwrap().forget();
    }

    /// Waits until a runner waits before the line after `done` processed ones.
    async fn reached(&self, done: u64) {
        self.reached
            .subscribe()
            .wait_for(|n| *n >= done)
            .await
            .unwrap();
    }
}

struct Fixture {
    bulk: BulkRegistration,
    registry: Registry,
    dir: Arc<tempfile::TempDir>,
    store: Arc<dyn RegistryStore>,
}

/// The start of paused-clock tests, in wall time.
const T0: i64 = 1_796_515_200_000;

fn fixture() -> Fixture {
    let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::new());
    let dir = Arc::new(tempfile::tempdir().unwrap());
    runner(store, dir, Clock::following_tokio(T0), "node-a")
}

/// A runner as node `node` over `store` and the buckets in `dir`, on a clock that follows
/// Tokio's (paused in the lease tests).
fn runner(
    store: Arc<dyn RegistryStore>,
    dir: Arc<tempfile::TempDir>,
    clock: Clock,
    node: &str,
) -> Fixture {
    let registry = Registry::new(store.clone(), EndpointConfig::localhost());
    let templates = ProvisioningTemplates::new(store.clone());
    let fleet = FleetProvisioning::new(registry.clone(), templates, scope(), BTreeMap::new())
        .with_clock(clock);
    let buckets = Buckets {
        data_dir: dir.path().to_owned(),
        ..Buckets::default()
    };
    Fixture {
        bulk: BulkRegistration::new(fleet, buckets).with_node(node),
        registry,
        dir,
        store,
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

    /// Another runner over the same store and buckets.
    fn other(&self, node: &str) -> Fixture {
        runner(self.store.clone(), self.dir.clone(), self.bulk.clock, node)
    }

    /// Drops every task run of this runner wherever it is, as a crash would: nothing it
    /// would do next (renewing, releasing) happens.
    async fn crash(&self) {
        for run in self.bulk.aborts.lock().drain(..) {
            run.abort();
        }
        self.settled().await;
    }

    fn gated(mut self, gate: &Arc<Gate>) -> Fixture {
        self.bulk.gate = Some(gate.clone());
        self
    }

    /// Waits until `n` task runs ended on this runner.
    async fn ended(&self, n: u64) {
        self.bulk
            .ended
            .subscribe()
            .wait_for(|e| *e >= n)
            .await
            .unwrap();
    }

    async fn exists(&self, thing: &str) -> bool {
        self.registry
            .describe_thing(
                &scope(),
                serde_json::from_value(json!({"thingName": thing})).unwrap(),
            )
            .await
            .is_ok()
    }

    fn put_things(&self, key: &str, n: usize) {
        let lines: String = (0..n)
            .map(|i| {
                if i % 5 == 4 {
                    "not json\n".to_owned()
                } else {
                    format!("{{\"ThingName\": \"t-{i}\"}}\n")
                }
            })
            .collect();
        self.put_input(key, &lines);
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

/// Checks a finished task over `put_things(_, 10)`: 8 things, lines 5 and 10 in ERRORS,
/// every line reported once.
async fn assert_ten_lines_done(f: &Fixture, id: &str) {
    let d = f.describe(id).await;
    assert_eq!(d["status"], "Completed", "{d}");
    assert_eq!(
        (d["successCount"].clone(), d["failureCount"].clone()),
        (json!(8), json!(2))
    );
    assert_eq!(d["percentageProgress"], 100);
    let results: Vec<_> = f
        .report(id, "RESULTS")
        .await
        .iter()
        .map(|r| r["lineNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(results, [1, 2, 3, 4, 6, 7, 8, 9]);
    let errors: Vec<_> = f
        .report(id, "ERRORS")
        .await
        .iter()
        .map(|r| r["lineNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(errors, [5, 10]);
    let stored = f.store.list(LINE_KIND, "", None, 10).await.unwrap();
    assert!(
        stored.records.is_empty(),
        "line records are dropped at the end"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_the_tasks_it_interrupted() {
    // Node a runs a task and dies after 6 lines (its runner is dropped mid-file).
    let gate = Gate::new(6);
    let a = fixture().gated(&gate);
    a.put_things("ten.jsonl", 10);
    let id = a.start("ten.jsonl").await;
    gate.reached(6).await;
    let d = a.describe(&id).await;
    assert_eq!(
        (d["status"].clone(), d["successCount"].clone()),
        (json!("InProgress"), json!(5))
    );
    a.crash().await;
    let restarted = a.other("node-a");
    // A thing deleted after its line was done is not registered again by the resumed task.
    restarted
        .registry
        .delete_thing(serde_json::from_value(json!({"thingName": "t-0"})).unwrap())
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let run = TaskTracker::new();
    run.spawn(restarted.bulk.clone().run(cancel.clone()));
    restarted.ended(1).await;
    assert_ten_lines_done(&restarted, &id).await;
    assert!(
        !restarted.exists("t-0").await,
        "line 1 was done before the restart"
    );
    assert!(restarted.exists("t-8").await);
    assert!(
        restarted.bulk.clock.now_ms() < T0 + lease::LEASE_MS,
        "resumed at once, not after the lease"
    );
    cancel.cancel();
    run.close();
    run.wait().await;
}

#[tokio::test(start_paused = true)]
async fn another_node_takes_over_a_lapsed_lease_and_not_before() {
    let gate = Gate::new(3);
    let a = fixture().gated(&gate);
    a.put_things("ten.jsonl", 10);
    let id = a.start("ten.jsonl").await;
    gate.reached(3).await;
    a.crash().await;
    let b = a.other("node-b");
    assert_eq!(
        b.bulk.take_over().await.unwrap(),
        0,
        "node a's lease is live"
    );
    tokio::time::advance(Duration::from_millis(lease::LEASE_MS as u64 - 1)).await;
    assert_eq!(b.bulk.take_over().await.unwrap(), 0);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(b.bulk.take_over().await.unwrap(), 1, "the lease lapsed");
    b.ended(1).await;
    assert_ten_lines_done(&b, &id).await;
}

#[tokio::test(start_paused = true)]
async fn two_runners_on_one_store_never_both_run_a_task() {
    let gate = Gate::new(4);
    let a = fixture().gated(&gate);
    let b = a.other("node-b").gated(&gate);
    a.put_things("ten.jsonl", 10);
    let id = a.start("ten.jsonl").await;
    let cancel = CancellationToken::new();
    let runs = TaskTracker::new();
    runs.spawn(a.bulk.clone().run(cancel.clone()));
    runs.spawn(b.bulk.clone().run(cancel.clone()));
    // Node a holds the task at line 5 for several leases' time while both poll: its
    // renewals keep it, so node b never claims it.
    gate.reached(4).await;
    tokio::time::sleep(Duration::from_millis(4 * lease::LEASE_MS as u64)).await;
    assert_eq!(*b.bulk.ended.borrow(), 0);
    assert!(b.bulk.running.lock().is_empty());
    gate.permits.add_permits(100);
    a.ended(1).await;
    assert_ten_lines_done(&a, &id).await;
    tokio::time::sleep(Duration::from_millis(2 * lease::POLL_MS as u64)).await;
    assert_eq!(*b.bulk.ended.borrow(), 0, "an ended task is not run again");
    cancel.cancel();
    runs.close();
    runs.wait().await;
    // Two runners looking at once at a task whose lease lapsed: exactly one claims it.
    let gate = Gate::new(0);
    let c = a.other("node-c").gated(&gate);
    c.start("ten.jsonl").await;
    c.crash().await;
    tokio::time::advance(Duration::from_millis(lease::LEASE_MS as u64 + 1)).await;
    let (d, e) = (
        a.other("node-d").gated(&gate),
        a.other("node-e").gated(&gate),
    );
    let (by_d, by_e) = tokio::join!(d.bulk.take_over(), e.bulk.take_over());
    assert_eq!(by_d.unwrap() + by_e.unwrap(), 1);
    d.crash().await;
    e.crash().await;
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
