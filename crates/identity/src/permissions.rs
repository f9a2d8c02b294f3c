//! A connection's permissions: its policies and policy context, with a small per-connection
//! cache of decisions so a client publishing to the same topics again and again pays for
//! policy evaluation once per topic, not once per message.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferrite_broker::Permissions;
use ferrite_policy::{Policy, Request, WithTime};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::context::ConnContext;

/// What a connection is allowed, as of the last resolution.
pub struct Snapshot {
    pub policies: Vec<Policy>,
    pub vars: ConnContext,
    /// `arn:aws:iot:{region}:{account}:`
    pub arn_prefix: Arc<str>,
    /// Custom authorizers: when to ask the function again, and when to close the connection.
    pub refresh_after: Option<Duration>,
    pub disconnect_after: Option<Duration>,
    /// Some condition reads `aws:CurrentTime` / `aws:EpochTime`.
    pub time_dependent: bool,
}

impl Snapshot {
    pub fn allows(&self, action: &str, resource_type: &str, name: &str) -> bool {
        let mut resource =
            String::with_capacity(self.arn_prefix.len() + resource_type.len() + 1 + name.len());
        resource.push_str(&self.arn_prefix);
        resource.push_str(resource_type);
        resource.push('/');
        resource.push_str(name);
        let request = Request {
            action,
            resource: &resource,
        };
        if self.time_dependent {
            // Time conditions read the clock per decision (and are never cached).
            let ctx = WithTime {
                inner: &self.vars,
                now: ferrite_types::Clock::system().now_system_time(),
            };
            ferrite_policy::is_allowed(self.policies.iter(), &request, &ctx)
        } else {
            ferrite_policy::is_allowed(self.policies.iter(), &request, &self.vars)
        }
    }

    /// Whether decisions may be cached (no condition reads the clock).
    fn cacheable(&self) -> bool {
        !self.time_dependent
    }

    /// Permissions that allow nothing.
    #[cfg(test)]
    pub fn empty() -> Snapshot {
        let facts = crate::context::ConnectFacts {
            client_id: String::new(),
            peer_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            tls: false,
            persistent: false,
            will_topic: None,
        };
        Snapshot {
            policies: Vec::new(),
            vars: crate::context::base(&facts, ""),
            arn_prefix: "".into(),
            refresh_after: None,
            disconnect_after: None,
            time_dependent: false,
        }
    }
}

/// Decision bits per topic: one "known" and one "allowed" bit per action. SUBSCRIBE is not
/// cached: it is rare, and an idle connection that subscribed once would otherwise keep a
/// cache table for life.
const PUBLISH: u8 = 0b0000_0011;
const RETAIN: u8 = 0b0000_1100;
const RECEIVE: u8 = 0b0011_0000;

/// Distinct topics and filters remembered per connection before the cache starts over.
const CACHE_ENTRIES: usize = 256;

pub struct PolicyPermissions {
    /// The snapshot and the decisions cached from it, under one lock so a decision made
    /// from a snapshot that has since been replaced is never cached.
    state: Mutex<State>,
    /// Cancelled when the connection lets go of its permissions (it ended), so timers kept
    /// for it stop. Made on first request: most connections keep no timer.
    ended: OnceLock<CancellationToken>,
    /// Who the connection authenticated as (certificate id, custom authorizer principal id),
    /// as of its CONNECT.
    principal: Option<Arc<str>>,
}

struct State {
    snapshot: Arc<Snapshot>,
    cache: HashMap<Box<str>, u8>,
}

impl Drop for PolicyPermissions {
    fn drop(&mut self) {
        if let Some(ended) = self.ended.get() {
            ended.cancel();
        }
    }
}

impl PolicyPermissions {
    pub fn new(snapshot: Snapshot, principal: Option<Arc<str>>) -> PolicyPermissions {
        PolicyPermissions {
            state: Mutex::new(State {
                snapshot: Arc::new(snapshot),
                cache: HashMap::new(),
            }),
            ended: OnceLock::new(),
            principal,
        }
    }

    /// Installs newly resolved permissions; cached decisions are forgotten.
    pub fn replace(&self, snapshot: Snapshot) {
        let mut state = self.state.lock();
        state.snapshot = Arc::new(snapshot);
        state.cache = HashMap::new();
    }

    /// Fires when the connection has ended.
    pub fn ended(&self) -> CancellationToken {
        self.ended.get_or_init(CancellationToken::new).clone()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.lock().snapshot.clone()
    }

    /// The decision for one (action, name), from the cache when possible.
    fn decide(&self, bits: u8, action: &str, resource_type: &str, name: &str) -> bool {
        let known = bits & 0b0101_0101;
        let allowed = bits & 0b1010_1010;
        let snapshot = {
            let state = self.state.lock();
            if let Some(entry) = state.cache.get(name)
                && entry & known != 0
            {
                return entry & allowed != 0;
            }
            state.snapshot.clone()
        };
        // Evaluated outside the lock; the refresher may replace the snapshot meanwhile.
        let decision = snapshot.allows(action, resource_type, name);
        if snapshot.cacheable() {
            let mut state = self.state.lock();
            if Arc::ptr_eq(&state.snapshot, &snapshot) {
                if state.cache.len() >= CACHE_ENTRIES && !state.cache.contains_key(name) {
                    state.cache.clear();
                }
                let entry = state.cache.entry(name.into()).or_insert(0);
                *entry |= known | if decision { allowed } else { 0 };
            }
        }
        decision
    }
}

impl Permissions for PolicyPermissions {
    fn publish(&self, topic: &str, retain: bool) -> bool {
        self.decide(PUBLISH, "iot:Publish", "topic", topic)
            && (!retain || self.decide(RETAIN, "iot:RetainPublish", "topic", topic))
    }

    fn subscribe(&self, filter: &str) -> bool {
        self.snapshot()
            .allows("iot:Subscribe", "topicfilter", filter)
    }

    fn receive(&self, topic: &str) -> bool {
        self.decide(RECEIVE, "iot:Receive", "topic", topic)
    }

    fn allows(&self, action: &str, resource_type: &str, name: &str) -> bool {
        self.snapshot().allows(action, resource_type, name)
    }

    fn principal(&self) -> Option<Arc<str>> {
        self.principal.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(doc: &str) -> Snapshot {
        let facts = crate::context::ConnectFacts {
            client_id: "dev-1".into(),
            peer_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 5000)),
            tls: true,
            persistent: false,
            will_topic: None,
        };
        let vars = crate::context::base(&facts, "arn:aws:iot:us-east-1:000000000000:");
        Snapshot {
            policies: vec![Policy::parse(doc).expect("policy")],
            vars,
            arn_prefix: "arn:aws:iot:us-east-1:000000000000:".into(),
            refresh_after: None,
            disconnect_after: None,
            time_dependent: false,
        }
    }

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:000000000000:topic/dev/${iot:ClientId}/*"},
        {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:000000000000:topicfilter/cmd/${iot:ClientId}/*"}]}"#;

    #[test]
    fn actions_are_decided_separately_even_when_cached() {
        let p = PolicyPermissions::new(snapshot(DOC), None);
        for _ in 0..2 {
            assert!(p.publish("dev/dev-1/x", false));
            assert!(!p.publish("dev/dev-1/x", true), "no iot:RetainPublish");
            assert!(p.receive("dev/dev-1/x"));
            assert!(
                !p.subscribe("dev/dev-1/x"),
                "subscribe is decided on its own"
            );
            assert!(p.subscribe("cmd/dev-1/#"));
            assert!(
                !p.publish("cmd/dev-1/#", false),
                "publish is decided on its own"
            );
            assert!(!p.publish("dev/dev-2/x", false));
        }
    }

    #[test]
    fn replacing_the_snapshot_forgets_cached_decisions() {
        let p = PolicyPermissions::new(snapshot(DOC), None);
        assert!(p.publish("dev/dev-1/x", false));
        p.replace(snapshot(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#,
        ));
        assert!(!p.publish("dev/dev-1/x", false));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let p = PolicyPermissions::new(snapshot(DOC), None);
        for i in 0..(CACHE_ENTRIES * 3) {
            assert!(p.publish(&format!("dev/dev-1/{i}"), false));
        }
        assert!(p.state.lock().cache.len() <= CACHE_ENTRIES);
    }
}
