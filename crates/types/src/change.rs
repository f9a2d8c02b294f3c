//! Registry change events and the one feed that carries them.
//!
//! Every registry write that others must hear of (what a device may do, what a thing is)
//! announces a [`RegistryChange`] once the write is durable. Changes go out on one
//! [`ChangeFeed`]: in a single node the [`InProcessFeed`]; in a cluster an implementation
//! that also carries them over the bus (they are serde types for that) and delivers other
//! nodes' changes to the same local subscribers. Jobs and their executions have variants here.
//!
//! A subscriber that falls behind is told how many changes it missed ([`Received::Missed`])
//! rather than silently skipping them; it must then treat everything as changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::certificate::{CaStatus, CertStatus};

/// Who a policy is attached to, or a thing to: the principals the registry knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A device certificate, by its certificate id.
    Certificate(String),
    /// A thing group, by name (a policy target, never a thing principal).
    ThingGroup(String),
    /// An Amazon Cognito identity id.
    Cognito(String),
}

/// One durable change to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistryChange {
    /// A new version of `policy`; only a default version is in force.
    PolicyVersionCreated {
        policy: String,
        version: u64,
        is_default: bool,
    },
    /// `version` became `policy`'s default (the document in force).
    PolicyDefaultVersionSet {
        policy: String,
        version: u64,
    },
    PolicyVersionDeleted {
        policy: String,
        version: u64,
    },
    /// A policy was deleted (it was attached to nothing).
    PolicyDeleted {
        policy: String,
    },
    PolicyAttached {
        policy: String,
        target: Principal,
    },
    PolicyDetached {
        policy: String,
        target: Principal,
    },
    CertificateStatusChanged {
        certificate_id: String,
        status: CertStatus,
    },
    /// A certificate was deleted, with any policies still attached to it (forceDelete).
    CertificateDeleted {
        certificate_id: String,
    },
    CaCertificateStatusChanged {
        ca_certificate_id: String,
        status: CaStatus,
    },
    CaCertificateDeleted {
        ca_certificate_id: String,
    },
    /// A device presented a certificate signed by `ca_certificate_id` (a CA with
    /// auto-registration) and it was registered just in time, PENDING_ACTIVATION: the JITR
    /// event is published and the CA's JITP template, if any, runs.
    CertificateRegisteredJustInTime {
        certificate_id: String,
        ca_certificate_id: String,
    },
    ThingCreated {
        thing: String,
    },
    /// A thing's attributes or type changed.
    ThingUpdated {
        thing: String,
    },
    /// A thing was deleted, leaving its groups. `last` is what it was (for the registry
    /// event message, which can no longer read it).
    ThingDeleted {
        thing: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last: Option<Box<ThingFacts>>,
    },
    /// A thing got a thing type (at creation or by UpdateThing).
    ThingTypeAssociated {
        thing: String,
        thing_id: String,
        thing_type: String,
    },
    /// A thing lost its thing type (UpdateThing, or the thing was deleted).
    ThingTypeDisassociated {
        thing: String,
        thing_id: String,
        thing_type: String,
    },
    ThingTypeCreated {
        thing_type: String,
    },
    /// UpdateThingType or DeprecateThingType (either way).
    ThingTypeUpdated {
        thing_type: String,
    },
    ThingTypeDeleted {
        thing_type: String,
        last: Box<ThingTypeFacts>,
    },
    ThingPrincipalAttached {
        thing: String,
        principal: Principal,
    },
    ThingPrincipalDetached {
        thing: String,
        principal: Principal,
    },
    ThingAddedToGroup {
        thing: String,
        group: String,
    },
    ThingRemovedFromGroup {
        thing: String,
        group: String,
    },
    /// A thing group and its place in the hierarchy (fixed at creation).
    ThingGroupCreated {
        group: String,
        parent: Option<String>,
    },
    /// A thing group's description or attributes changed.
    ThingGroupUpdated {
        group: String,
    },
    /// A thing group was deleted: its members left it and its policies were detached. `last`
    /// is what it was.
    ThingGroupDeleted {
        group: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last: Option<Box<ThingGroupFacts>>,
    },
    /// UpdateEventConfigurations stored a new configuration.
    EventConfigurationsUpdated,
    AuthorizerCreated {
        authorizer: String,
    },
    /// A custom authorizer's function, keys or status changed.
    AuthorizerUpdated {
        authorizer: String,
    },
    AuthorizerDeleted {
        authorizer: String,
    },
    /// `authorizer` became the account's default custom authorizer.
    DefaultAuthorizerSet {
        authorizer: String,
    },
    DefaultAuthorizerCleared,
    /// A topic rule was created (enabled or not, as its `ruleDisabled` says).
    TopicRuleCreated {
        rule: String,
    },
    /// ReplaceTopicRule gave a rule new SQL, actions or state.
    TopicRuleReplaced {
        rule: String,
    },
    TopicRuleDeleted {
        rule: String,
    },
    TopicRuleEnabled {
        rule: String,
    },
    TopicRuleDisabled {
        rule: String,
    },
    /// A topic rule destination was created or its status changed (HTTP actions deliver only
    /// under an ENABLED one). `destination` is its id, the UUID its ARN ends with (ARNs name
    /// a region, destinations are stored for every region alike).
    TopicRuleDestinationChanged {
        destination: String,
    },
    TopicRuleDestinationDeleted {
        destination: String,
    },
    /// A provisioning template was created, or its settings or versions changed.
    ProvisioningTemplateChanged {
        template: String,
    },
    ProvisioningTemplateDeleted {
        template: String,
    },
    /// A job was created (its executions with it, announced apart).
    JobCreated {
        job: String,
    },
    /// A job's status or settings changed (UpdateJob, CancelJob, completion, targets added).
    JobChanged {
        job: String,
    },
    JobDeleted {
        job: String,
    },
    /// A job execution was queued or its status, details or version changed.
    JobExecutionChanged {
        job: String,
        thing: String,
        execution_number: u64,
    },
    JobExecutionDeleted {
        job: String,
        thing: String,
        execution_number: u64,
    },
    /// Everything was removed at once (the test hook `POST /_ferrite/reset`): whatever a
    /// subscriber derived from the registry must be derived again.
    Cleared,
}

/// A thing as a registry event message reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingFacts {
    pub id: String,
    pub version: u64,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// A thing group as a registry event message reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingGroupFacts {
    pub id: String,
    pub version: u64,
    /// Its ancestors' names, the root first; the last is its parent.
    pub ancestors: Vec<String>,
    pub description: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// A thing type as a registry event message reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingTypeFacts {
    pub id: String,
    pub description: Option<String>,
    pub searchable_attributes: Vec<String>,
    pub deprecated: bool,
    pub deprecated_at_ms: Option<i64>,
}

/// Where registry changes are announced and heard.
pub trait ChangeFeed: Send + Sync + 'static {
    /// Announces a change this node has made durable. Never waits.
    fn publish(&self, change: RegistryChange);

    /// Every change published from now on.
    fn subscribe(&self) -> ChangeSubscription;
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Received {
    Change(Arc<RegistryChange>),
    /// The subscriber fell behind and this many changes were dropped for it: whatever it
    /// derives from the registry must be derived again.
    Missed(u64),
}

/// One subscriber's view of a feed.
#[derive(Debug)]
pub struct ChangeSubscription {
    rx: broadcast::Receiver<Slot>,
    last_from_other_node: bool,
}

/// What the in-process channel carries: a change, or word that changes were lost elsewhere
/// (a cluster node's bus connection dropped), which subscribers hear as [`Received::Missed`].
#[derive(Debug, Clone)]
enum Slot {
    Change {
        change: Arc<RegistryChange>,
        from_other_node: bool,
    },
    Lost,
}

impl ChangeSubscription {
    fn received(&mut self, slot: Slot) -> Received {
        self.last_from_other_node = false;
        match slot {
            Slot::Change {
                change,
                from_other_node,
            } => {
                self.last_from_other_node = from_other_node;
                Received::Change(change)
            }
            // How many were lost is unknown; one at least.
            Slot::Lost => Received::Missed(1),
        }
    }

    /// Whether the change last received was made on another node of a cluster. Every node
    /// hears every change to keep its own state current, but work that must happen once
    /// (event messages, notifications, templates run) is left to the node that made it.
    pub fn from_other_node(&self) -> bool {
        self.last_from_other_node
    }

    /// The next change, waiting for one; `None` once the feed is gone.
    pub async fn recv(&mut self) -> Option<Received> {
        match self.rx.recv().await {
            Ok(slot) => Some(self.received(slot)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next change if one is already waiting.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.rx.try_recv() {
            Ok(slot) => Some(self.received(slot)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(_) => None,
        }
    }
}

/// The feed of a single node: changes go to this process's subscribers only.
#[derive(Debug, Clone)]
pub struct InProcessFeed {
    tx: broadcast::Sender<Slot>,
}

impl InProcessFeed {
    /// Changes buffered per subscriber by default before it counts as fallen behind. A job
    /// announces one change per execution at once (CreateJob on a 10,000-thing group), and a
    /// subscriber that falls behind must redo work (the identity service resolves every
    /// connection again), so the buffer holds such a burst: 64 Ki slots, a few MiB.
    pub const DEFAULT_CAPACITY: usize = 64 * 1024;

    /// A feed that buffers `capacity` changes for each subscriber.
    pub fn new(capacity: usize) -> InProcessFeed {
        InProcessFeed {
            tx: broadcast::Sender::new(capacity.max(1)),
        }
    }

    /// Tells every subscriber that changes may have been lost (they hear
    /// [`Received::Missed`] and treat everything as changed): what a cluster node does when
    /// its bus connection drops or comes back, or a change from another node cannot be read.
    pub fn missed(&self) {
        let _ = self.tx.send(Slot::Lost);
    }

    /// Delivers a change another node made (heard over the cluster's bus) to every
    /// subscriber, marked so ([`ChangeSubscription::from_other_node`]).
    pub fn deliver_from_other_node(&self, change: RegistryChange) {
        let _ = self.tx.send(Slot::Change {
            change: Arc::new(change),
            from_other_node: true,
        });
    }
}

impl Default for InProcessFeed {
    fn default() -> Self {
        InProcessFeed::new(Self::DEFAULT_CAPACITY)
    }
}

impl ChangeFeed for InProcessFeed {
    fn publish(&self, change: RegistryChange) {
        // No subscriber is not an error: nobody needs to hear it.
        let _ = self.tx.send(Slot::Change {
            change: Arc::new(change),
            from_other_node: false,
        });
    }

    fn subscribe(&self) -> ChangeSubscription {
        ChangeSubscription {
            rx: self.tx.subscribe(),
            last_from_other_node: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updated(thing: &str) -> RegistryChange {
        RegistryChange::ThingUpdated {
            thing: thing.into(),
        }
    }

    #[tokio::test]
    async fn subscribers_hear_changes_published_after_they_subscribed() {
        let feed = InProcessFeed::default();
        feed.publish(updated("before"));
        let mut a = feed.subscribe();
        let mut b = feed.subscribe();
        feed.publish(updated("lamp"));
        for sub in [&mut a, &mut b] {
            match sub.recv().await {
                Some(Received::Change(c)) => assert_eq!(*c, updated("lamp")),
                other => panic!("{other:?}"),
            }
            assert!(sub.try_recv().is_none());
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_what_it_missed() {
        let feed = InProcessFeed::new(2);
        let mut sub = feed.subscribe();
        for i in 0..5 {
            feed.publish(updated(&i.to_string()));
        }
        assert!(matches!(sub.recv().await, Some(Received::Missed(3))));
        assert!(matches!(sub.recv().await, Some(Received::Change(c)) if *c == updated("3")));
        drop(feed);
        assert!(matches!(sub.recv().await, Some(Received::Change(_))));
        assert!(sub.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_feed_tells_lost_changes_and_other_nodes_changes_apart() {
        let feed = InProcessFeed::default();
        let mut sub = feed.subscribe();
        feed.publish(updated("lamp"));
        feed.missed();
        feed.deliver_from_other_node(updated("remote"));
        feed.publish(updated("local"));
        assert!(matches!(sub.recv().await, Some(Received::Change(_))));
        assert!(!sub.from_other_node());
        assert!(matches!(sub.recv().await, Some(Received::Missed(n)) if n >= 1));
        assert!(matches!(sub.recv().await, Some(Received::Change(c)) if *c == updated("remote")));
        assert!(sub.from_other_node());
        assert!(matches!(sub.recv().await, Some(Received::Change(c)) if *c == updated("local")));
        assert!(!sub.from_other_node());
        assert!(sub.try_recv().is_none());
    }

    #[test]
    fn changes_serialise_for_the_bus() {
        let change = RegistryChange::PolicyAttached {
            policy: "p".into(),
            target: Principal::Certificate("ab12".into()),
        };
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"change": "policy_attached", "policy": "p",
                               "target": {"type": "certificate", "id": "ab12"}})
        );
        assert_eq!(
            serde_json::from_value::<RegistryChange>(json).unwrap(),
            change
        );
        let status = RegistryChange::CertificateStatusChanged {
            certificate_id: "ab12".into(),
            status: CertStatus::Revoked,
        };
        let json = serde_json::to_string(&status).unwrap();
        assert!(json.contains("\"status\":\"REVOKED\""), "{json}");
        assert_eq!(
            serde_json::from_str::<RegistryChange>(&json).unwrap(),
            status
        );
        let cleared = serde_json::to_string(&RegistryChange::DefaultAuthorizerCleared).unwrap();
        assert_eq!(cleared, r#"{"change":"default_authorizer_cleared"}"#);
        let rule = RegistryChange::TopicRuleDisabled { rule: "r1".into() };
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(json, r#"{"change":"topic_rule_disabled","rule":"r1"}"#);
        assert_eq!(serde_json::from_str::<RegistryChange>(&json).unwrap(), rule);
    }
}
