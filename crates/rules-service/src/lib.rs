//! The AWS IoT topic rule API: CreateTopicRule, GetTopicRule, ReplaceTopicRule,
//! DeleteTopicRule, Enable/DisableTopicRule and ListTopicRules, tags on rules, and topic rule
//! destinations (Create/Get/Update/Delete/ListTopicRuleDestinations,
//! ConfirmTopicRuleDestination) with the confirmation request AWS sends to an HTTP
//! destination, stored through `ferrite_storage::RegistryStore` beside the registry.
//!
//! A rule's `TopicRulePayload` is stored as the AWS JSON it came as, after validation: the SQL
//! through the [`SqlCheck`] seam (the server wires the real parser), the SQL version, the
//! action list (at most ten, each naming exactly one action type Ferrite supports), republish
//! topics and HTTP action URLs. Writes follow the registry's optimistic cycle
//! ([`ferrite_registry::Documents`]) and, once durable, announce `RegistryChange`s for rules
//! and destinations on the shared [`ChangeFeed`], so the rules engine on every node applies
//! them live. The engine reads rules and destination statuses through [`TopicRules::rule`],
//! [`TopicRules::all_rules`] and [`TopicRules::http_destination_status`].
//!
//! Confirmation requests are sent by [`RulesService::run`], off the API call, so a slow
//! endpoint never holds a client.

// Unit tests spawn helper servers: the lint policy binds the crate's own code, which the
// non-test build still checks.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

mod confirm;
mod destinations;
mod engine;
mod error;
mod kinds;
mod lookups;
mod rule_test;
mod rules;
mod sql;
#[cfg(test)]
mod tests;
mod validate;

use std::sync::Arc;

use ferrite_registry::{Documents, Scope};
use ferrite_storage::RegistryStore;
use ferrite_types::{ChangeFeed, ChangeSubscription, Clock, InProcessFeed, RegistryChange};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use destinations::{
    ConfirmTopicRuleDestination, CreateTopicRuleDestination, DestinationArn, DestinationStatus,
    ListTopicRuleDestinations, UpdateTopicRuleDestination,
};
pub use engine::{EngineConfig, RuleMetrics, RulesEngine};
pub use error::RulesError;
pub use lookups::{LookupFuture, Lookups, RegistryApi};
pub use rule_test::{RuleTest, test_rule};
pub use rules::{CreateTopicRule, ListTopicRules, ReplaceTopicRule, RuleName, TopicRule};
pub use sql::{CompilingCheck, SqlCheck, SqlInfo, SqlParseError};

/// The record kind of topic rules, keyed by rule name (taggable by `rule/{name}` ARNs through
/// the registry's tag operations; see [`TAGGABLE`]).
pub const RULE_KIND: &str = kinds::TOPIC_RULE;

/// What the server registers with the registry so that TagResource, UntagResource and
/// ListTagsForResource accept rule ARNs.
pub const TAGGABLE: ferrite_registry::tags::Taggable = ferrite_registry::tags::Taggable {
    arn_type: "rule",
    kind: kinds::TOPIC_RULE,
};

pub type Output = serde_json::Value;

/// Confirmation requests waiting for [`RulesService::run`] beyond this are not sent (the
/// destination stays IN_PROGRESS; UpdateTopicRuleDestination to IN_PROGRESS sends another).
const CONFIRMATION_QUEUE: usize = 1024;

/// The topic rule API over one store: a cheap handle, cloned into the HTTP edge.
#[derive(Clone)]
pub struct TopicRules {
    docs: Documents,
    changes: Arc<dyn ChangeFeed>,
    sql: Arc<dyn SqlCheck>,
    clock: Clock,
    confirmations: mpsc::Sender<confirm::Confirmation>,
}

/// The topic rule API and the task that sends HTTP destinations' confirmation requests.
pub struct RulesService {
    rules: TopicRules,
    queue: mpsc::Receiver<confirm::Confirmation>,
}

impl RulesService {
    /// The service over `store`, with a change feed of its own, the temporary
    /// [`CompilingCheck`] for SQL and the system clock.
    pub fn new(store: Arc<dyn RegistryStore>) -> RulesService {
        let (tx, queue) = mpsc::channel(CONFIRMATION_QUEUE);
        RulesService {
            rules: TopicRules {
                docs: Documents::new(store),
                changes: Arc::new(InProcessFeed::default()),
                sql: Arc::new(CompilingCheck),
                clock: Clock::system(),
                confirmations: tx,
            },
            queue,
        }
    }

    /// Announces changes on `feed` (the server shares one feed between every service).
    pub fn with_change_feed(mut self, feed: Arc<dyn ChangeFeed>) -> RulesService {
        self.rules.changes = feed;
        self
    }

    /// Checks rule SQL with `check` instead of the temporary scan.
    pub fn with_sql_check(mut self, check: Arc<dyn SqlCheck>) -> RulesService {
        self.rules.sql = check;
        self
    }

    /// Reads wall time from `clock` (creation dates, confirmation token expiry).
    pub fn with_clock(mut self, clock: Clock) -> RulesService {
        self.rules.clock = clock;
        self
    }

    /// The API handle.
    pub fn rules(&self) -> TopicRules {
        self.rules.clone()
    }

    /// Sends queued confirmation requests until `cancel`; requests in flight then are
    /// abandoned (their destinations stay IN_PROGRESS).
    pub async fn run(self, cancel: CancellationToken) {
        confirm::run(self.rules, self.queue, cancel).await;
    }
}

impl TopicRules {
    /// The changes announced from now on.
    pub fn subscribe_changes(&self) -> ChangeSubscription {
        self.changes.subscribe()
    }

    /// Call once the write that made `changes` is durable.
    fn announce(&self, changes: impl IntoIterator<Item = RegistryChange>) {
        for change in changes {
            self.changes.publish(change);
        }
    }

    fn store(&self) -> &Arc<dyn RegistryStore> {
        self.docs.store()
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<(T, u64)>, RulesError> {
        Ok(self.docs.get(kind, key).await?)
    }
}

/// `arn:aws:iot:{region}:{account}:rule/{name}`.
fn rule_arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("rule/{name}"))
}

/// AWS's answer for a rule that does not exist.
fn no_rule(name: &str) -> RulesError {
    RulesError::Denied(format!("Access to topic rule '{name}' was denied"))
}
