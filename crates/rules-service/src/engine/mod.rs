//! The running rules engine. It reads messages through taps that hold publishers briefly and
//! then drop (`TapOptions::hold_then_drop`: a busy engine paces publishers through TCP for at
//! most the QoS 0 back-pressure time, a stuck one never slows devices again until it catches
//! up; what a full tap cannot take is counted in
//! `ferrite_mqtt_tap_messages_dropped_total{tap="rules"}`), takes Basic Ingest messages
//! (`$aws/rules/{rule}/...`) through an exclusive tap so no subscriber ever sees them, finds the
//! rules whose FROM filter matches in its rule set's trie, evaluates each, and hands the output
//! to the rule's actions. Rule changes arrive on the registry change feed and apply to the
//! next message, on every node the feed reaches.

mod actions;
mod clients;
mod context;
mod metrics;
mod ruleset;
mod services;
mod tables;

use std::sync::Arc;

use ferrite_broker::{Broker, Message, TapHandle, TapOptions};
use ferrite_rules::Evaluation;
use ferrite_topic::MatchOptions;
use ferrite_types::{ChangeSubscription, Clock, Received, RegistryChange};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use metrics::RuleMetrics;

use crate::{TopicRule, TopicRules};
use actions::{Deps, Job, JobRef, Outcome, Runner};
use context::RuleContext;
use ruleset::{ActiveRule, RuleSet};

/// Messages a rules tap holds before it drops and counts.
const TAP_CAPACITY: usize = 16 * 1024;
/// Messages the engine takes from a tap at once: all it holds. The engine runs once per turn
/// of a busy runtime, while each publisher's connection task handles up to a coop budget of
/// packets per turn; draining the tap is what lets it keep pace with them all.
const BATCH: usize = TAP_CAPACITY;
/// The Basic Ingest prefix: `$aws/rules/{rule}[/topic]`.
const INGEST_PREFIX: &str = "$aws/rules/";
/// Evaluations of rules that call services (and may block on them) running at once; a
/// message that finds them all busy is dropped for that rule and counted.
const SERVICE_EVALUATIONS: usize = 64;

/// What the engine and its actions are configured with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The account rules belong to (`accountid()`, ARNs).
    pub account_id: String,
    pub region: String,
    /// How rule FROM filters match topics (the broker's wildcard semantics).
    pub match_options: MatchOptions,
    /// Where actions that name AWS resources deliver.
    pub targets: ferrite_config::TargetsConfig,
    /// Lambda function ARN or name → the URL of the HTTP endpoint that plays it.
    pub functions: std::collections::BTreeMap<String, String>,
    /// `storage.url` (the default database of dynamoDB actions when it is PostgreSQL).
    pub storage_url: String,
    /// Where file-based targets (s3 buckets, log groups) live by default.
    pub data_dir: std::path::PathBuf,
    /// What `get_secret` reads.
    pub secrets: ferrite_config::SecretsConfig,
    /// The longest the engine waits for room in a busy action's queue before the action counts
    /// as congested (the server passes `mqtt.qos0_backpressure_ms`, the same wait a full QoS 0
    /// subscriber costs a publisher).
    pub backpressure: std::time::Duration,
}

/// The engine: built by the server, run until shutdown.
pub struct RulesEngine {
    broker: Broker,
    rules: TopicRules,
    config: Arc<EngineConfig>,
    /// `config.account_id`, shared by every message's context.
    account_id: Arc<str>,
    metrics: Arc<RuleMetrics>,
    clock: Clock,
    /// The actions' workers; they end when their rule goes and their queue is done.
    workers: TaskTracker,
    /// What lookups of rules that call services use (connections shared with the actions).
    services: Arc<services::Services>,
    service_slots: Arc<tokio::sync::Semaphore>,
    amqp: Arc<actions::amqp::Links>,
}

impl RulesEngine {
    pub fn new(
        broker: Broker,
        rules: TopicRules,
        config: EngineConfig,
        metrics: Arc<RuleMetrics>,
    ) -> RulesEngine {
        let config = Arc::new(config);
        RulesEngine {
            broker,
            rules,
            services: Arc::new(services::Services {
                config: config.clone(),
                clients: Arc::default(),
                lookups: None,
                handle: tokio::runtime::Handle::current(),
            }),
            service_slots: Arc::new(tokio::sync::Semaphore::new(SERVICE_EVALUATIONS)),
            account_id: config.account_id.as_str().into(),
            config,
            metrics,
            clock: Clock::system(),
            workers: TaskTracker::new(),
            amqp: Arc::default(),
        }
    }

    /// Serves `get_thing_shadow` and `get_registry_data` from `lookups` (without them those
    /// functions fail the rule).
    pub fn with_lookups(mut self, lookups: Arc<dyn crate::Lookups>) -> RulesEngine {
        let services = &self.services;
        self.services = Arc::new(services::Services {
            config: services.config.clone(),
            clients: services.clients.clone(),
            lookups: Some(lookups),
            handle: services.handle.clone(),
        });
        self
    }

    /// Runs rules until `cancel`. `changes` must have been subscribed before the rules are
    /// first read (it is, when the caller subscribes before calling), so no change is missed.
    pub async fn run(self, mut changes: ChangeSubscription, cancel: CancellationToken) {
        let mut set = Arc::new(self.load_all().await);
        let mut taps = Taps::default();
        taps.follow(&self.broker, &set);
        // One buffer per tap: the select below borrows each for its own branch.
        let [mut ingest, mut selected] = [(); 2].map(|()| Vec::new());
        // The rules of the message being routed, reused from message to message.
        let mut rules = Vec::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                change = changes.recv() => match change {
                    None => break,
                    Some(Received::Missed(_)) => {
                        set = Arc::new(self.load_all().await);
                        taps.follow(&self.broker, &set);
                    }
                    Some(Received::Change(c)) if matches!(*c, RegistryChange::Cleared) => {
                        set = Arc::new(self.load_all().await);
                        taps.follow(&self.broker, &set);
                    }
                    Some(Received::Change(c)) => {
                        if let Some(name) = rule_changed(&c) {
                            set = Arc::new(self.reload(&set, name).await);
                            taps.follow(&self.broker, &set);
                        }
                    }
                },
                // One clock read per batch: the messages of a batch reached the engine at
                // the same moment, and `timestamp()` is the engine's time for them.
                n = recv_many(&mut taps.ingest, &mut ingest) => {
                    let now_ms = self.clock.now_ms();
                    for msg in ingest.drain(..n) {
                        self.ingest(&set, &msg, now_ms).await;
                    }
                }
                n = recv_many(&mut taps.selected, &mut selected) => {
                    let now_ms = self.clock.now_ms();
                    for msg in selected.drain(..n) {
                        self.route(&set, &msg, &mut rules, now_ms).await;
                    }
                }
            }
        }
        drop(set);
        self.workers.close();
        self.workers.wait().await;
    }

    async fn load_all(&self) -> RuleSet {
        let stored = match self.rules.all_rules().await {
            Ok(rules) => rules,
            Err(e) => {
                tracing::error!(error = %e, "cannot read topic rules; the engine runs none");
                Vec::new()
            }
        };
        let active = stored
            .into_iter()
            .filter_map(|r| self.activate(r))
            .collect();
        RuleSet::new(active, self.config.match_options)
    }

    /// The rule set with the rule `name` read again (created, replaced, enabled, disabled or
    /// deleted); the other rules keep their workers.
    async fn reload(&self, set: &RuleSet, name: &str) -> RuleSet {
        let fresh = match self.rules.rule(name).await {
            Ok(rule) => rule,
            Err(e) => {
                tracing::error!(rule = name, error = %e, "cannot read a changed topic rule");
                return RuleSet::new(set.rules().cloned().collect(), self.config.match_options);
            }
        };
        let mut rules: Vec<Arc<ActiveRule>> =
            set.rules().filter(|r| &*r.name != name).cloned().collect();
        let unchanged = set
            .by_name(name)
            .filter(|r| fresh.as_ref().is_some_and(|f| *f == r.source));
        match unchanged {
            Some(rule) => rules.push(rule.clone()),
            None => rules.extend(fresh.and_then(|r| self.activate(r))),
        }
        RuleSet::new(rules, self.config.match_options)
    }

    /// Compiles an enabled rule and starts its actions' workers.
    fn activate(&self, rule: TopicRule) -> Option<Arc<ActiveRule>> {
        if rule.disabled() {
            return None;
        }
        let sql = match ferrite_rules::compile(rule.sql(), rule.sql_version()) {
            Ok(sql) => sql,
            Err(e) => {
                tracing::warn!(rule = %rule.name, error = %e, "stored rule does not compile; skipped");
                return None;
            }
        };
        let deps = Deps {
            broker: self.broker.clone(),
            config: self.config.clone(),
            rules: self.rules.clone(),
            metrics: self.metrics.clone(),
            clients: self.services.clients.clone(),
            amqp: self.amqp.clone(),
        };
        let start = |action: &serde_json::Value| -> Option<Runner> {
            let (kind, config) = action.as_object()?.iter().find(|(_, v)| !v.is_null())?;
            match actions::build(kind, config, &sql, &deps) {
                Ok(a) => Some(Runner::start(a, &rule.name, &self.metrics, &self.workers)),
                Err(e) => {
                    tracing::warn!(rule = %rule.name, action = %kind, error = %e, "action not started");
                    None
                }
            }
        };
        let runners: Vec<Runner> = rule.actions().iter().filter_map(&start).collect();
        let error_action = rule.error_action().and_then(&start);
        let fields = runners
            .iter()
            .chain(&error_action)
            .fold(sql.fields(), |acc, r| acc.union(r.fields()));
        Some(Arc::new(ActiveRule {
            counters: self.metrics.rule_counters(&rule.name),
            name: Arc::from(rule.name.as_str()),
            fields,
            calls_services: sql.calls_services(),
            inline_only: error_action.is_none() && runners.iter().all(Runner::is_inline),
            topic_level: sql.topic_level(),
            sql,
            actions: runners,
            error_action,
            source: rule,
        }))
    }

    /// A message from the broker: every rule whose FROM filter matches its topic.
    async fn route(&self, set: &RuleSet, msg: &Arc<Message>, rules: &mut Vec<usize>, now_ms: i64) {
        set.matching(&msg.topic, rules);
        for at in rules.drain(..) {
            self.run_rule(set.rule(at), msg, &msg.topic, now_ms).await;
        }
    }

    /// A Basic Ingest message: the named rule only, which sees the topic without the prefix.
    /// Its FROM filter is not applied; WHERE is.
    async fn ingest(&self, set: &RuleSet, msg: &Arc<Message>, now_ms: i64) {
        let rest = msg.topic.strip_prefix(INGEST_PREFIX).unwrap_or_default();
        let (name, topic) = rest.split_once('/').unwrap_or((rest, ""));
        match set.by_name(name) {
            Some(rule) => self.run_rule(rule, msg, topic, now_ms).await,
            None => {
                self.metrics.rule_not_found.inc();
                tracing::debug!(
                    rule = name,
                    "Basic Ingest message for no enabled rule dropped"
                );
            }
        }
    }

    async fn run_rule(&self, rule: &Arc<ActiveRule>, msg: &Arc<Message>, topic: &str, now_ms: i64) {
        rule.counters.matched.inc();
        // Shed load before the work: when every action is congested, whatever the rule
        // selected would be dropped, so evaluating it would only take the time its actions
        // need to catch up. A rule with an error action is still evaluated: it hears of drops.
        if rule.error_action.is_none()
            && !rule.actions.is_empty()
            && rule.actions.iter().all(Runner::is_congested)
        {
            for runner in &rule.actions {
                runner.count_dropped();
            }
            return;
        }
        let ctx = RuleContext::new(
            msg,
            topic,
            rule.sql.version(),
            &self.account_id,
            now_ms,
            Some(self.services.clone()),
        )
        .keeping_level(rule.topic_level);
        if !rule.calls_services {
            let input = ferrite_rules::json::from_payload_fields(
                &msg.payload,
                rule.sql.version(),
                &rule.fields,
            );
            let result = rule.sql.evaluate_parsed(input, &msg.payload, &ctx);
            if rule.inline_only {
                if let Ok(Some(selected)) = counted(rule, result) {
                    let payload = selected.payload();
                    let job = JobRef {
                        rule: &rule.name,
                        ctx: &ctx,
                        selected: &selected,
                        payload: &payload,
                    };
                    for runner in &rule.actions {
                        runner.run_borrowed(job).await;
                    }
                }
                return;
            }
            for (runner, job) in rule.actions.iter().zip(jobs(rule, msg, ctx, result)) {
                if runner.is_inline() {
                    runner.run_inline(job).await;
                } else {
                    runner.submit(job, self.config.backpressure).await;
                }
            }
            return;
        }
        // Lookups block: evaluate where blocking is allowed, never on the engine's task.
        let Ok(slot) = self.service_slots.clone().try_acquire_owned() else {
            rule.counters.evaluation_dropped.inc();
            return;
        };
        let (rule, msg) = (rule.clone(), msg.clone());
        self.workers.spawn_blocking(move || {
            let _slot = slot;
            let result = services::on_blocking_thread(|| rule.sql.evaluate(&msg.payload, &ctx));
            for (runner, job) in rule.actions.iter().zip(jobs(&rule, &msg, ctx, result)) {
                runner.try_submit(job);
            }
        });
    }
}

/// The jobs a rule's evaluation gives its actions, one per action in order; none when the
/// rule filtered the message out, or when evaluation failed (the error action hears of that).
fn jobs(
    rule: &Arc<ActiveRule>,
    msg: &Arc<Message>,
    ctx: RuleContext,
    result: Result<Evaluation, ferrite_rules::FnError>,
) -> impl Iterator<Item = Job> + use<> {
    let actions = rule.actions.len();
    let job = match counted(rule, result) {
        Ok(None) => None,
        Ok(Some(s)) => {
            (actions > 0).then(|| {
                let payload = s.payload();
                // Only an error action needs to hear how the actions ended.
                let outcome = rule
                    .error_action
                    .as_ref()
                    .map(|e| Outcome::new(actions, Some(e.clone())));
                Job::new(rule.name.clone(), ctx, s, payload, outcome)
            })
        }
        Err(e) => {
            evaluation_failed(rule, msg, ctx, &e.to_string());
            None
        }
    };
    // Clones for all but the last action, which takes the job itself.
    job.into_iter()
        .flat_map(move |job| std::iter::repeat_n(job, actions))
}

/// What a rule's evaluation selected (`None`: WHERE filtered the message out), counted; a
/// failed evaluation is counted and logged.
fn counted(
    rule: &ActiveRule,
    result: Result<Evaluation, ferrite_rules::FnError>,
) -> Result<Option<ferrite_rules::Selected>, ferrite_rules::FnError> {
    match result {
        Ok(Evaluation::Filtered) => Ok(None),
        Ok(Evaluation::Selected(s)) => {
            rule.counters.selected.inc();
            Ok(Some(s))
        }
        Err(e) => {
            rule.counters.evaluation_failed.inc();
            tracing::debug!(rule = %rule.name, error = %e, "rule evaluation failed");
            Err(e)
        }
    }
}

/// The SQL itself failed (an external function could not be called): no action ran; the
/// error action hears of it.
fn evaluation_failed(rule: &ActiveRule, msg: &Message, ctx: RuleContext, message: &str) {
    let outcome = Outcome::new(0, rule.error_action.clone());
    let selected = ferrite_rules::Selected {
        output: ferrite_rules::Value::Undefined,
        input: ferrite_rules::json::from_payload(&msg.payload, rule.sql.version()),
        vars: Vec::new(),
    };
    let job = Job::new(rule.name.clone(), ctx, selected, bytes::Bytes::new(), None);
    outcome.report(
        vec![serde_json::json!({
            "failedAction": "SqlEvaluation",
            "failedResource": &*rule.name,
            "errorMessage": message,
        })],
        &job,
    );
}

/// The rule a change is about, if it is about one.
fn rule_changed(change: &RegistryChange) -> Option<&str> {
    match change {
        RegistryChange::TopicRuleCreated { rule }
        | RegistryChange::TopicRuleReplaced { rule }
        | RegistryChange::TopicRuleDeleted { rule }
        | RegistryChange::TopicRuleEnabled { rule }
        | RegistryChange::TopicRuleDisabled { rule } => Some(rule),
        _ => None,
    }
}

/// The engine's taps: Basic Ingest, and one tap on exactly the rules' FROM filters, so that
/// messages no rule selects never reach the engine (nor wait for it).
#[derive(Default)]
struct Taps {
    ingest: Option<Receiver<Arc<Message>>>,
    selected: Option<Receiver<Arc<Message>>>,
    /// The handle of `selected` and the filters it has.
    handle: Option<(TapHandle, Vec<String>)>,
}

impl Taps {
    /// Taps what `set` needs. Basic Ingest is always tapped, so its messages never reach a
    /// subscriber, rules or not. The rules' tap keeps its channel across changes and has its
    /// filters replaced at once, so a message on a topic still selected is never missed.
    fn follow(&mut self, broker: &Broker, set: &RuleSet) {
        let opts = TapOptions::hold_then_drop("rules", TAP_CAPACITY);
        if self.ingest.is_none() {
            match broker.tap_with("$aws/rules/#", opts.exclusive()) {
                Ok(rx) => self.ingest = Some(rx),
                Err(e) => tracing::error!(error = %e, "cannot tap Basic Ingest"),
            }
        }
        // A filter the broker refuses (beyond its limits) leaves out its rules only.
        let filters: Vec<&str> = set
            .filters
            .iter()
            .map(String::as_str)
            .filter(|f| match broker.check_tap_filter(f) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(filter = f, error = %e, "rules with this FROM filter cannot run");
                    false
                }
            })
            .collect();
        match &mut self.handle {
            Some((_, current)) if *current == set.filters => {}
            Some((handle, current)) => match broker.retap(handle, &filters) {
                Ok(()) => *current = set.filters.clone(),
                Err(e) => tracing::error!(error = %e, "cannot tap for rules"),
            },
            None => match broker.tap_filters(&filters, opts) {
                Ok((handle, rx)) => {
                    self.selected = Some(rx);
                    self.handle = Some((handle, set.filters.clone()));
                }
                Err(e) => tracing::error!(error = %e, "cannot tap for rules"),
            },
        }
    }
}

/// The next messages of a tap that may not be open (then never ready), at most [`BATCH`];
/// 0 once the tap closed. Taking a batch per wake-up, not a message, is what keeps the engine's
/// share of a busy runtime: a publisher's connection task handles a whole socket read per
/// step, and the engine must keep pace with many of them.
async fn recv_many(
    rx: &mut Option<Receiver<Arc<Message>>>,
    batch: &mut Vec<Arc<Message>>,
) -> usize {
    match rx {
        Some(rx) => {
            let n = rx.recv_many(batch, BATCH).await;
            if n == 0 {
                // Closed: never ready again (the tap reopens on the next rule change).
                std::future::pending::<()>().await;
            }
            n
        }
        None => std::future::pending().await,
    }
}
