//! The rules the engine runs: each enabled rule compiled once with its actions' workers
//! started, indexed by its FROM filter in a subscription trie, so a message finds its rules by
//! one walk however many rules exist, and by name for Basic Ingest.

use std::collections::HashMap;
use std::sync::Arc;

use ferrite_rules::CompiledSql;
use ferrite_topic::{Match, MatchOptions, SubscriptionTrie};

use super::actions::Runner;
use crate::TopicRule;

/// One enabled rule, ready to run. Dropping the last handle ends its actions' workers once
/// their queues are done.
pub(crate) struct ActiveRule {
    pub name: Arc<str>,
    pub sql: CompiledSql,
    /// `sql.calls_services()`, asked once: such a rule is evaluated where it may block.
    pub calls_services: bool,
    pub actions: Vec<Runner>,
    pub error_action: Option<Runner>,
    /// Every action runs inline and none has an error action to tell: the engine runs them
    /// on what it evaluated, without making a job.
    pub inline_only: bool,
    /// The topic level its SQL reads first, which each message's context makes up front.
    pub topic_level: Option<usize>,
    /// The payload fields the SQL and the actions' templates read: parsing skips the rest.
    pub fields: ferrite_rules::json::Fields,
    /// Its series of the per-rule counters.
    pub counters: super::metrics::RuleCounters,
    /// The stored rule it was built from; a change to it rebuilds the rule.
    pub source: TopicRule,
}

/// An immutable snapshot; the engine swaps in a new one when rules change.
pub(crate) struct RuleSet {
    /// FROM filter → the rule's place in `active`.
    trie: SubscriptionTrie<u64, usize>,
    active: Vec<Arc<ActiveRule>>,
    /// Name → place in `active`.
    by_name: HashMap<Arc<str>, usize>,
    /// The rules' FROM filters, each once, sorted: what the engine taps.
    pub filters: Vec<String>,
}

impl RuleSet {
    pub fn new(rules: Vec<Arc<ActiveRule>>, opts: MatchOptions) -> RuleSet {
        let mut trie = SubscriptionTrie::new(opts);
        let mut by_name = HashMap::new();
        let mut filters = std::collections::BTreeSet::new();
        for (at, rule) in rules.iter().enumerate() {
            if let Some(filter) = rule.sql.topic_filter() {
                filters.insert(filter.to_owned());
                trie.insert(filter, at as u64, at);
            }
            by_name.insert(rule.name.clone(), at);
        }
        RuleSet {
            trie,
            active: rules,
            by_name,
            filters: filters.into_iter().collect(),
        }
    }

    /// Appends the places of the rules whose FROM filter matches `topic` to `out` (a buffer
    /// the engine reuses, so finding a message's rules allocates nothing and counts no
    /// references); [`RuleSet::rule`] gives each.
    pub fn matching(&self, topic: &str, out: &mut Vec<usize>) {
        self.trie.for_each_match(topic, |m| {
            if let Match::Single { value, .. } = m {
                out.push(*value);
            }
        });
    }

    /// The rule at a place [`RuleSet::matching`] gave.
    pub fn rule(&self, at: usize) -> &Arc<ActiveRule> {
        &self.active[at]
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<ActiveRule>> {
        self.by_name.get(name).map(|&at| &self.active[at])
    }

    pub fn rules(&self) -> impl Iterator<Item = &Arc<ActiveRule>> {
        self.active.iter()
    }
}
