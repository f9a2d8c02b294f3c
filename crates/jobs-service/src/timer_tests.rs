//! What the jobs timers do over time, on Tokio's paused clock: timeouts, retries, rollouts,
//! abort criteria, scheduled starts and ends, and one claim per timer across two nodes.

use std::sync::Arc;
use std::time::Duration;

use ferrite_jobs::{DeviceUpdate, ExecutionStatus, StatusDetails};
use ferrite_registry::{EndpointConfig, Registry};
use ferrite_storage::RegistryStore;
use ferrite_storage_memory::MemoryStore;
use ferrite_types::Clock;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::test_support::{arn, req, scope};
use crate::*;

/// 2026-12-06T00:00 UTC, a whole minute, so schedules line up with it.
const T0: i64 = 1_796_515_200_000;
const MINUTE: Duration = Duration::from_secs(60);

struct Node {
    store: Arc<dyn RegistryStore>,
    registry: Registry,
    clock: Clock,
    jobs: Jobs,
}

impl Node {
    /// Things t1..t4 in group `fleet`, on a clock that follows Tokio's (call paused).
    async fn new() -> Node {
        let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::new());
        let registry = Registry::new(store.clone(), EndpointConfig::localhost());
        registry
            .create_thing_group(&scope(), req(json!({"thingGroupName": "fleet"})))
            .await
            .unwrap();
        for t in ["t1", "t2", "t3", "t4"] {
            registry
                .create_thing(&scope(), req(json!({"thingName": t})))
                .await
                .unwrap();
            registry
                .add_thing_to_thing_group(
                    &scope(),
                    req(json!({"thingGroupName": "fleet", "thingName": t})),
                )
                .await
                .unwrap();
        }
        Node::on(store, registry, Clock::following_tokio(T0))
    }

    /// Another node (or this one restarted) over the same store, reading the same time.
    fn on(store: Arc<dyn RegistryStore>, registry: Registry, clock: Clock) -> Node {
        let jobs = Jobs::new(store.clone(), registry.clone()).with_clock(clock);
        Node {
            store,
            registry,
            clock,
            jobs,
        }
    }

    fn other(&self) -> Node {
        Node::on(self.store.clone(), self.registry.clone(), self.clock)
    }

    async fn create(&self, job: Value) {
        self.jobs.create_job(&scope(), req(job)).await.unwrap();
    }

    /// Creates `id` on the fleet with `config` merged in.
    async fn fleet_job(&self, id: &str, config: Value) {
        let mut job = json!({
            "jobId": id,
            "targets": [arn("thinggroup/fleet")],
            "document": "{\"op\":\"update\"}",
        });
        for (k, v) in config.as_object().unwrap() {
            job[k] = v.clone();
        }
        self.create(job).await;
    }

    /// `thing` joins (or leaves) `fleet`, and the jobs service hears of it.
    async fn fleet_membership(&self, thing: &str, join: bool) {
        self.fleet_membership_unheard(thing, join).await;
        let (thing, group) = (thing.to_owned(), "fleet".to_owned());
        let change = if join {
            ferrite_types::RegistryChange::ThingAddedToGroup { thing, group }
        } else {
            ferrite_types::RegistryChange::ThingRemovedFromGroup { thing, group }
        };
        self.jobs.membership_changed(&change).await.unwrap();
    }

    /// The same, with the change not (yet) heard by the jobs service.
    async fn fleet_membership_unheard(&self, thing: &str, join: bool) {
        let v = json!({"thingGroupName": "fleet", "thingName": thing});
        if join {
            self.registry
                .add_thing_to_thing_group(&scope(), req(v))
                .await
        } else {
            self.registry
                .remove_thing_from_thing_group(&scope(), req(v))
                .await
        }
        .unwrap();
    }

    async fn run_due(&self) {
        self.jobs.run_due_timers().await.unwrap();
    }

    async fn job(&self, id: &str) -> Value {
        self.jobs
            .describe_job(&scope(), req(json!({"jobId": id})))
            .await
            .unwrap()["job"]
            .clone()
    }

    /// `(thing, status, executionNumber, retryAttempt)` of every execution of `id`.
    async fn executions(&self, id: &str) -> Vec<(String, String, u64, u64)> {
        let out = self
            .jobs
            .list_job_executions_for_job(&scope(), req(json!({"jobId": id})))
            .await
            .unwrap();
        out["executionSummaries"]
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
                    e["status"].as_str().unwrap().to_owned(),
                    e["executionNumber"].as_u64().unwrap(),
                    e["retryAttempt"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    async fn set(&self, id: &str, thing: &str, status: ExecutionStatus) {
        self.jobs
            .update_for_device(
                thing,
                id,
                None,
                &DeviceUpdate {
                    status: Some(status),
                    ..DeviceUpdate::default()
                },
            )
            .await
            .unwrap();
    }

    async fn start_next(&self, thing: &str, step_minutes: Option<i64>) -> String {
        self.jobs
            .start_next(thing, None::<&StatusDetails>, step_minutes)
            .await
            .unwrap()
            .unwrap()
            .execution
            .job_id
    }
}

fn row(thing: &str, status: &str, n: u64, retry: u64) -> (String, String, u64, u64) {
    (thing.into(), status.into(), n, retry)
}

#[tokio::test(start_paused = true)]
async fn an_in_progress_timeout_times_out_and_the_retry_is_queued() {
    let node = Node::new().await;
    node.create(json!({
        "jobId": "fw",
        "targets": [arn("thing/t1")],
        "document": "{}",
        "timeoutConfig": {"inProgressTimeoutInMinutes": 2},
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 1}]},
    }))
    .await;
    assert_eq!(node.start_next("t1", None).await, "fw");
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("fw").await,
        [row("t1", "IN_PROGRESS", 1, 0)]
    );
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("fw").await,
        [row("t1", "TIMED_OUT", 1, 0), row("t1", "QUEUED", 2, 1)]
    );
    // The retry runs under the same timer, and is the last.
    node.start_next("t1", None).await;
    tokio::time::advance(2 * MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("fw").await,
        [row("t1", "TIMED_OUT", 1, 0), row("t1", "TIMED_OUT", 2, 1)]
    );
    assert_eq!(node.job("fw").await["status"], "COMPLETED");
}

#[tokio::test(start_paused = true)]
async fn a_step_timer_times_out_first_and_a_new_step_moves_it() {
    let node = Node::new().await;
    node.create(json!({
        "jobId": "fw", "targets": [arn("thing/t1"), arn("thing/t2")], "document": "{}",
        "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
    }))
    .await;
    node.start_next("t1", Some(1)).await;
    node.start_next("t2", Some(1)).await;
    tokio::time::advance(Duration::from_secs(30)).await;
    // t2 asks for 5 more minutes: its first step timer comes due and finds nothing to do.
    node.jobs
        .update_for_device(
            "t2",
            "fw",
            None,
            &DeviceUpdate {
                status: Some(ExecutionStatus::InProgress),
                step_timeout_minutes: Some(5),
                ..DeviceUpdate::default()
            },
        )
        .await
        .unwrap();
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("fw").await,
        [row("t1", "TIMED_OUT", 1, 0), row("t2", "IN_PROGRESS", 1, 0)]
    );
    tokio::time::advance(5 * MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await[1], row("t2", "TIMED_OUT", 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_retried_while_attempts_remain() {
    let node = Node::new().await;
    node.create(json!({
        "jobId": "fw", "targets": [arn("thing/t1")], "document": "{}",
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "ALL", "numberOfRetries": 2}]},
    }))
    .await;
    for _ in 0..3 {
        node.set("fw", "t1", ExecutionStatus::Failed).await;
    }
    assert_eq!(
        node.executions("fw").await,
        [
            row("t1", "FAILED", 1, 0),
            row("t1", "FAILED", 2, 1),
            row("t1", "FAILED", 3, 2)
        ]
    );
    assert_eq!(node.job("fw").await["status"], "COMPLETED");
}

#[tokio::test(start_paused = true)]
async fn a_rollout_creates_executions_at_its_rate_and_the_job_waits_for_the_rest() {
    let node = Node::new().await;
    let mut changes = node.jobs.subscribe_changes();
    node.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 3}}),
    )
    .await;
    // The first minute's batch comes with the job.
    let first = node.executions("fw").await;
    assert_eq!(first.len(), 3);
    assert_eq!(
        node.job("fw").await["jobProcessDetails"]["numberOfQueuedThings"],
        3
    );
    // The three end: the job is not complete, a thing is still to come.
    for (thing, ..) in &first {
        node.set("fw", thing, ExecutionStatus::Succeeded).await;
    }
    assert_eq!(node.job("fw").await["status"], "IN_PROGRESS");
    // Early: still three.
    tokio::time::advance(Duration::from_secs(59)).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await.len(), 3);
    tokio::time::advance(Duration::from_secs(1)).await;
    node.run_due().await;
    let all = node.executions("fw").await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[3], row("t4", "QUEUED", 1, 0));
    assert_eq!(node.job("fw").await["isConcurrent"], false);
    let mut announced = 0;
    while let Some(ferrite_types::Received::Change(c)) = changes.try_recv() {
        if matches!(*c, ferrite_types::RegistryChange::JobExecutionChanged { ref thing, .. } if thing == "t4")
        {
            announced += 1;
        }
    }
    assert_eq!(
        announced, 1,
        "the rolled-out execution is announced (notify)"
    );
    node.set("fw", "t4", ExecutionStatus::Succeeded).await;
    assert_eq!(node.job("fw").await["status"], "COMPLETED");
}

#[tokio::test(start_paused = true)]
async fn an_exponential_rollout_speeds_up_with_notified_things() {
    let node = Node::new().await;
    node.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
            "baseRatePerMinute": 1, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}}),
    )
    .await;
    let mut counts = Vec::new();
    for _ in 0..3 {
        node.run_due().await;
        counts.push(node.executions("fw").await.len());
        tokio::time::advance(MINUTE).await;
    }
    // 1 at base rate, then 2 (1 notified), then the last one.
    assert_eq!(counts, [1, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn two_nodes_claim_each_timer_once() {
    let a = Node::new().await;
    let b = a.other();
    a.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 1}}),
    )
    .await;
    for minute in 1..=4 {
        tokio::join!(a.run_due(), b.run_due());
        assert_eq!(a.executions("fw").await.len(), minute, "minute {minute}");
        tokio::time::advance(MINUTE).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_node_picks_up_the_rollout_where_it_was() {
    let a = Node::new().await;
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(a.jobs.clone().run_timers(cancel.clone()));
    a.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 2}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(a.executions("fw").await.len(), 2);
    cancel.cancel();
    tasks.join_next().await.unwrap().unwrap();
    // Down for ten minutes; then a new process over the same store.
    tokio::time::advance(10 * MINUTE).await;
    let b = a.other();
    let cancel = CancellationToken::new();
    tasks.spawn(b.jobs.clone().run_timers(cancel.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = b.executions("fw").await;
    assert_eq!(all.len(), 4);
    let mut things: Vec<_> = all.iter().map(|r| r.0.clone()).collect();
    things.dedup();
    assert_eq!(things, ["t1", "t2", "t3", "t4"]);
    cancel.cancel();
    tasks.join_next().await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn failures_past_the_abort_threshold_cancel_the_job() {
    let node = Node::new().await;
    node.fleet_job(
        "fw",
        json!({"abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
            "thresholdPercentage": 50, "minNumberOfExecutedThings": 2}]}}),
    )
    .await;
    node.start_next("t4", None).await;
    node.set("fw", "t1", ExecutionStatus::Failed).await;
    assert_eq!(node.job("fw").await["status"], "IN_PROGRESS");
    // One of two executed things failed: 50%.
    node.set("fw", "t2", ExecutionStatus::Succeeded).await;
    let job = node.job("fw").await;
    assert_eq!(job["status"], "CANCELED");
    assert_eq!(job["reasonCode"], ABORT_REASON_CODE);
    // The queued execution is canceled, the running one goes on.
    let all = node.executions("fw").await;
    assert_eq!(all[2], row("t3", "CANCELED", 1, 0));
    assert_eq!(all[3], row("t4", "IN_PROGRESS", 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_job_starts_and_ends_on_time() {
    let node = Node::new().await;
    node.fleet_job(
        "fw",
        json!({"schedulingConfig": {"startTime": "2026-12-06T01:00",
            "endTime": "2026-12-06T02:00", "endBehavior": "CANCEL"}}),
    )
    .await;
    assert_eq!(node.job("fw").await["status"], "SCHEDULED");
    node.run_due().await;
    assert!(node.executions("fw").await.is_empty());
    tokio::time::advance(60 * MINUTE).await;
    node.run_due().await;
    assert_eq!(node.job("fw").await["status"], "IN_PROGRESS");
    assert_eq!(node.executions("fw").await.len(), 4);
    node.start_next("t1", None).await;
    tokio::time::advance(60 * MINUTE).await;
    node.run_due().await;
    assert_eq!(node.job("fw").await["status"], "CANCELED");
    let statuses: Vec<String> = node
        .executions("fw")
        .await
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        statuses,
        ["IN_PROGRESS", "CANCELED", "CANCELED", "CANCELED"]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_rollout_at_the_end_leaves_the_rest_unreached() {
    let node = Node::new().await;
    node.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 1},
               "schedulingConfig": {"endTime": "2026-12-06T00:30", "endBehavior": "STOP_ROLLOUT"}}),
    )
    .await;
    node.run_due().await;
    node.set("fw", "t1", ExecutionStatus::Succeeded).await;
    tokio::time::advance(30 * MINUTE).await;
    // Every minute's batch runs first (due earlier), then the end.
    node.run_due().await;
    let job = node.job("fw").await;
    assert_eq!(job["status"], "IN_PROGRESS");
    assert_eq!(node.executions("fw").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rollout_waits_for_its_maintenance_window() {
    let node = Node::new().await;
    // T0 is Sunday 00:00; the window opens daily at 02:00 for 30 minutes.
    node.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 2},
               "schedulingConfig": {"maintenanceWindows": [
                   {"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 30}]}}),
    )
    .await;
    assert!(node.executions("fw").await.is_empty());
    tokio::time::advance(119 * MINUTE).await;
    node.run_due().await;
    assert!(node.executions("fw").await.is_empty());
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await.len(), 2);
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await.len(), 4);
    assert_eq!(node.job("fw").await["status"], "IN_PROGRESS");
}

#[tokio::test(start_paused = true)]
async fn a_closed_window_holds_the_rest_until_it_opens_again() {
    let node = Node::new().await;
    // Open now (00:00) for one minute each day.
    node.fleet_job(
        "fw",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 3},
               "schedulingConfig": {"maintenanceWindows": [
                   {"startTime": "cron(0 0 * * ? *)", "durationInMinutes": 1}]}}),
    )
    .await;
    assert_eq!(node.executions("fw").await.len(), 3);
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await.len(), 3);
    tokio::time::advance((24 * 60 - 1) * MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("fw").await.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_thing_that_leaves_before_a_continuous_rollout_reaches_it_leaves_the_rollout() {
    let node = Node::new().await;
    node.fleet_job(
        "cont",
        json!({"targetSelection": "CONTINUOUS",
               "jobExecutionsRolloutConfig": {"maximumPerMinute": 3}}),
    )
    .await;
    assert_eq!(node.executions("cont").await.len(), 3);
    assert_eq!(node.job("cont").await["isConcurrent"], true);
    // t4 waits for the next batch; it leaves first: nothing is left to roll out.
    node.fleet_membership("t4", false).await;
    assert_eq!(node.job("cont").await["isConcurrent"], false);
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("cont").await,
        [
            row("t1", "QUEUED", 1, 0),
            row("t2", "QUEUED", 1, 0),
            row("t3", "QUEUED", 1, 0)
        ]
    );
    // Back in the group, it is a later joiner: queued at once.
    node.fleet_membership("t4", true).await;
    assert_eq!(node.executions("cont").await[3], row("t4", "QUEUED", 1, 0));
}

/// The batch itself checks: the change may be late (another node's feed) or lost.
#[tokio::test(start_paused = true)]
async fn a_continuous_rollout_batch_skips_a_thing_that_left_before_the_change_is_heard() {
    let node = Node::new().await;
    node.fleet_job(
        "cont",
        json!({"targetSelection": "CONTINUOUS",
               "jobExecutionsRolloutConfig": {"maximumPerMinute": 2}}),
    )
    .await;
    node.fleet_membership_unheard("t4", false).await;
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(
        node.executions("cont").await,
        [
            row("t1", "QUEUED", 1, 0),
            row("t2", "QUEUED", 1, 0),
            row("t3", "QUEUED", 1, 0)
        ]
    );
    assert_eq!(node.job("cont").await["isConcurrent"], false);
    // Heard late, the change finds nothing left to do.
    node.fleet_membership("t4", false).await;
    assert_eq!(node.executions("cont").await.len(), 3);
}

/// A snapshot job's things are those of its creation: one that leaves still gets its turn.
#[tokio::test(start_paused = true)]
async fn a_snapshot_rollout_still_reaches_a_thing_that_left() {
    let node = Node::new().await;
    node.fleet_job(
        "snap",
        json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 3}}),
    )
    .await;
    node.fleet_membership("t4", false).await;
    tokio::time::advance(MINUTE).await;
    node.run_due().await;
    assert_eq!(node.executions("snap").await[3], row("t4", "QUEUED", 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_thing_that_rejoins_a_continuous_job_gets_its_retries_afresh() {
    let node = Node::new().await;
    node.fleet_job(
        "cont",
        json!({"targetSelection": "CONTINUOUS",
               "jobExecutionsRetryConfig": {"criteriaList": [
                   {"failureType": "FAILED", "numberOfRetries": 1}]}}),
    )
    .await;
    let t1 = |rows: Vec<(String, String, u64, u64)>| {
        rows.into_iter().filter(|r| r.0 == "t1").collect::<Vec<_>>()
    };
    node.set("cont", "t1", ExecutionStatus::Failed).await;
    node.fleet_membership("t1", false).await;
    node.fleet_membership("t1", true).await;
    assert_eq!(
        t1(node.executions("cont").await),
        [
            row("t1", "FAILED", 1, 0),
            row("t1", "REMOVED", 2, 1),
            row("t1", "QUEUED", 3, 0)
        ]
    );
    // Within this membership its retries count on: one, then no more.
    node.set("cont", "t1", ExecutionStatus::Failed).await;
    node.set("cont", "t1", ExecutionStatus::Failed).await;
    assert_eq!(
        t1(node.executions("cont").await)[2..],
        [row("t1", "FAILED", 3, 0), row("t1", "FAILED", 4, 1)]
    );
    // [VERIFY] Only a REMOVED execution is followed by a new one on re-joining: a thing
    // whose execution ended (here, out of retries) is not run again.
    node.fleet_membership("t1", false).await;
    node.fleet_membership("t1", true).await;
    assert_eq!(
        t1(node.executions("cont").await).len(),
        4,
        "a thing whose last execution ended is not run again"
    );
}

/// What a node that missed changes does (see `Jobs::run`): rollout records of things that
/// left go too.
#[tokio::test(start_paused = true)]
async fn reconciling_after_missed_changes_drops_the_rollout_of_things_that_left() {
    let node = Node::new().await;
    node.fleet_job(
        "cont",
        json!({"targetSelection": "CONTINUOUS",
               "jobExecutionsRolloutConfig": {"maximumPerMinute": 2}}),
    )
    .await;
    node.fleet_membership_unheard("t3", false).await;
    node.fleet_membership_unheard("t4", false).await;
    node.jobs.reconcile_continuous_jobs(|_| true).await.unwrap();
    assert_eq!(node.job("cont").await["isConcurrent"], false);
    assert_eq!(node.executions("cont").await.len(), 2);
}
