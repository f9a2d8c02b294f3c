//! Per-rule counters on `/metrics` (`ferrite_rules_*`): what AWS hides, Ferrite shows. Labels
//! are rule names, as many as rules exist. The `cloudwatchMetric` action's metrics live here
//! too, as `ferrite_rules_cloudwatch_metric{namespace,name,unit}`: their labels come from
//! messages, so their number is capped.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub rule: String,
    pub action: &'static str,
}

/// One metric a `cloudwatchMetric` action writes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudwatchLabel {
    pub namespace: String,
    pub name: String,
    pub unit: String,
}

/// Distinct `cloudwatchMetric` series kept; a datapoint for a new one beyond this fails.
pub const MAX_CLOUDWATCH_SERIES: usize = 10_000;

/// The rules engine's counters.
#[derive(Default)]
pub struct RuleMetrics {
    /// Messages whose topic matched a rule (Basic Ingest included).
    pub matched: Family<RuleLabel, Counter>,
    /// Messages for which the rule's WHERE held (actions were started).
    pub selected: Family<RuleLabel, Counter>,
    /// Evaluations that failed (an external function failed): the error action ran.
    pub evaluation_failed: Family<RuleLabel, Counter>,
    /// Messages not evaluated because every evaluation slot of rules that call services was
    /// busy.
    pub evaluation_dropped: Family<RuleLabel, Counter>,
    pub action_succeeded: Family<ActionLabel, Counter>,
    pub action_failed: Family<ActionLabel, Counter>,
    /// Jobs an action's queue had no room for.
    pub action_dropped: Family<ActionLabel, Counter>,
    /// Basic Ingest messages for a rule that does not exist or is disabled.
    pub rule_not_found: Counter,
    /// The last value each `cloudwatchMetric` series was given.
    pub cloudwatch_metric: Family<CloudwatchLabel, Gauge<f64, AtomicU64>>,
    /// Datapoints each `cloudwatchMetric` series was given.
    pub cloudwatch_datapoints: Family<CloudwatchLabel, Counter>,
    /// How many `cloudwatchMetric` series exist; held while one is added.
    cloudwatch_series: parking_lot::Mutex<usize>,
}

impl RuleMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("ferrite_rules");
        r.register(
            "messages_matched",
            "Messages whose topic matched a rule, by rule",
            self.matched.clone(),
        );
        r.register(
            "messages_selected",
            "Messages that passed a rule's WHERE, by rule",
            self.selected.clone(),
        );
        r.register(
            "evaluations_failed",
            "Rule evaluations that failed (the error action ran), by rule",
            self.evaluation_failed.clone(),
        );
        r.register(
            "evaluations_dropped",
            "Messages a rule that calls services had no evaluation slot for, by rule",
            self.evaluation_dropped.clone(),
        );
        r.register(
            "actions_succeeded",
            "Actions that completed, by rule and action",
            self.action_succeeded.clone(),
        );
        r.register(
            "actions_failed",
            "Actions that failed after their retries, by rule and action",
            self.action_failed.clone(),
        );
        r.register(
            "actions_dropped",
            "Action jobs dropped because the action's queue was full, by rule and action",
            self.action_dropped.clone(),
        );
        r.register(
            "basic_ingest_rule_not_found",
            "Basic Ingest messages for a rule that does not exist or is disabled",
            self.rule_not_found.clone(),
        );
        r.register(
            "cloudwatch_metric",
            "The last value cloudwatchMetric actions put in each metric",
            self.cloudwatch_metric.clone(),
        );
        r.register(
            "cloudwatch_datapoints",
            "Datapoints cloudwatchMetric actions put in each metric",
            self.cloudwatch_datapoints.clone(),
        );
    }

    /// A `cloudwatchMetric` datapoint; refused when it would start a series beyond
    /// [`MAX_CLOUDWATCH_SERIES`].
    pub fn cloudwatch(&self, label: &CloudwatchLabel, value: f64) -> Result<(), String> {
        if self.cloudwatch_metric.get(label).is_none() {
            let mut series = self.cloudwatch_series.lock();
            if self.cloudwatch_metric.get(label).is_none() {
                if *series >= MAX_CLOUDWATCH_SERIES {
                    return Err(format!(
                        "{MAX_CLOUDWATCH_SERIES} cloudwatchMetric series exist already; no new \
                         one is started"
                    ));
                }
                *series += 1;
                drop(self.cloudwatch_metric.get_or_create(label));
            }
        }
        self.cloudwatch_metric.get_or_create(label).set(value);
        self.cloudwatch_datapoints.get_or_create(label).inc();
        Ok(())
    }

    /// `rule`'s counters, found once when the rule starts rather than per message (a lookup
    /// hashes and allocates its labels).
    pub(crate) fn rule_counters(&self, rule: &str) -> RuleCounters {
        let label = RuleLabel {
            rule: rule.to_owned(),
        };
        RuleCounters {
            matched: self.matched.get_or_create(&label).clone(),
            selected: self.selected.get_or_create(&label).clone(),
            evaluation_failed: self.evaluation_failed.get_or_create(&label).clone(),
            evaluation_dropped: self.evaluation_dropped.get_or_create(&label).clone(),
        }
    }

    /// The counters of `rule`'s `action`, found once when the action starts.
    pub(crate) fn action_counters(&self, rule: &str, action: &'static str) -> ActionCounters {
        let label = ActionLabel {
            rule: rule.to_owned(),
            action,
        };
        ActionCounters {
            succeeded: self.action_succeeded.get_or_create(&label).clone(),
            failed: self.action_failed.get_or_create(&label).clone(),
            dropped: self.action_dropped.get_or_create(&label).clone(),
        }
    }

    pub fn rule(family: &Family<RuleLabel, Counter>, rule: &str) {
        family
            .get_or_create(&RuleLabel {
                rule: rule.to_owned(),
            })
            .inc();
    }

    pub fn action(family: &Family<ActionLabel, Counter>, rule: &str, action: &'static str) {
        family
            .get_or_create(&ActionLabel {
                rule: rule.to_owned(),
                action,
            })
            .inc();
    }
}

/// One rule's series of the per-rule counters.
#[derive(Clone, Debug)]
pub(crate) struct RuleCounters {
    pub matched: Counter,
    pub selected: Counter,
    pub evaluation_failed: Counter,
    pub evaluation_dropped: Counter,
}

/// One action's series of the per-action counters.
#[derive(Clone, Debug)]
pub(crate) struct ActionCounters {
    pub succeeded: Counter,
    pub failed: Counter,
    pub dropped: Counter,
}
