//! The connections whose permissions this server tracks, indexed by what their permissions
//! were resolved from (certificate, CA, thing, policies, thing groups, authorizer), so that a
//! registry change finds the few connections it affects without visiting the others.
//! Entries hold the connection's permissions weakly: a connection that ends drops them, and
//! its entry is swept when a lookup meets it or on the next periodic sweep.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use ferrite_auth::custom::CustomAuthInput;
use ferrite_broker::Revoker;
use parking_lot::Mutex;

use crate::context::{ConnectFacts, Vars};
use crate::permissions::PolicyPermissions;

/// What a connection's permissions are resolved from.
#[derive(Debug, Clone)]
pub enum Basis {
    /// No credentials, on a loopback unencrypted listener: the configured anonymous policy.
    Anonymous,
    /// A client certificate: its id and the policy variables read from it.
    Certificate { id: Arc<str>, vars: Vars },
    /// A custom authorizer: what the client presented, asked again on every refresh.
    Custom(Box<CustomAuthInput>),
}

impl Basis {
    /// The certificate id of a certificate-authenticated connection.
    pub fn certificate_id(&self) -> Option<&str> {
        match self {
            Basis::Certificate { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// What a resolution read from the registry, by which a change finds the connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Certificate(Arc<str>),
    CaCertificate(String),
    /// The thing a certificate connection acts as when the thing is attached to the
    /// certificate: the one named like its client id (indexed whether attached or not, since
    /// attaching it is a change too).
    Thing(String),
    Policy(String),
    /// A thing group whose policies the connection's thing inherits (its groups and their
    /// ancestors).
    ThingGroup(String),
    Authorizer(String),
    /// The account's default custom authorizer, for connections that named none.
    DefaultAuthorizer,
}

pub struct LiveConn {
    pub basis: Basis,
    pub facts: ConnectFacts,
    pub perms: Weak<PolicyPermissions>,
    pub revoker: Revoker,
}

impl LiveConn {
    fn ended(&self) -> bool {
        self.perms.strong_count() == 0 || self.revoker.is_closed()
    }
}

/// A tracked connection, as lookups return it.
pub type Tracked = (u64, Arc<LiveConn>);

/// Inserts between sweeps of ended connections.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
pub struct Live {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    conns: HashMap<u64, Entry>,
    index: HashMap<Key, HashSet<u64>>,
}

struct Entry {
    conn: Arc<LiveConn>,
    keys: Vec<Key>,
}

impl Table {
    fn index(&mut self, id: u64, keys: &[Key]) {
        for key in keys {
            self.index.entry(key.clone()).or_default().insert(id);
        }
    }

    fn unindex(&mut self, id: u64, keys: &[Key]) {
        for key in keys {
            if let Some(ids) = self.index.get_mut(key) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.index.remove(key);
                }
            }
        }
    }

    fn remove(&mut self, id: u64) {
        if let Some(entry) = self.conns.remove(&id) {
            self.unindex(id, &entry.keys);
        }
    }

    fn sweep(&mut self) {
        let ended: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, e)| e.conn.ended())
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            self.remove(id);
        }
    }
}

impl Live {
    /// Tracks `conn`, indexed under `keys`.
    pub fn insert(&self, conn: LiveConn, keys: Vec<Key>) -> Tracked {
        let conn = Arc::new(conn);
        let mut t = self.table.lock();
        t.next += 1;
        if t.next.is_multiple_of(SWEEP_EVERY) {
            t.sweep();
        }
        let id = t.next;
        t.index(id, &keys);
        t.conns.insert(
            id,
            Entry {
                conn: conn.clone(),
                keys,
            },
        );
        (id, conn)
    }

    /// Indexes connection `id` under `keys` instead of what it was indexed under (after it
    /// was resolved again).
    pub fn reindex(&self, id: u64, keys: Vec<Key>) {
        let mut t = self.table.lock();
        let Some(old) = t.conns.get_mut(&id).map(|e| std::mem::take(&mut e.keys)) else {
            return;
        };
        t.unindex(id, &old);
        t.index(id, &keys);
        if let Some(e) = t.conns.get_mut(&id) {
            e.keys = keys;
        }
    }

    /// Stops tracking connection `id`.
    pub fn remove(&self, id: u64) {
        self.table.lock().remove(id);
    }

    /// The open connections indexed under `key` that `filter` keeps, sweeping ended ones
    /// met on the way.
    pub fn under(&self, key: &Key, mut filter: impl FnMut(&LiveConn) -> bool) -> Vec<Tracked> {
        let mut t = self.table.lock();
        let Some(ids) = t.index.get(key) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut ended = Vec::new();
        for id in ids {
            let Some(entry) = t.conns.get(id) else {
                continue;
            };
            if entry.conn.ended() {
                ended.push(*id);
            } else if filter(&entry.conn) {
                found.push((*id, entry.conn.clone()));
            }
        }
        for id in ended {
            t.remove(id);
        }
        found
    }

    /// Every open connection, sweeping the ended ones.
    pub fn current(&self) -> Vec<Tracked> {
        let mut t = self.table.lock();
        t.sweep();
        t.conns
            .iter()
            .map(|(id, e)| (*id, e.conn.clone()))
            .collect()
    }

    #[cfg(test)]
    pub fn keys_of(&self, id: u64) -> Vec<Key> {
        self.table
            .lock()
            .conns
            .get(&id)
            .map(|e| e.keys.clone())
            .unwrap_or_default()
    }

    #[cfg(test)]
    pub fn index_len(&self) -> usize {
        self.table.lock().index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{PolicyPermissions, Snapshot};

    fn conn(perms: &Arc<PolicyPermissions>) -> LiveConn {
        let facts = ConnectFacts {
            client_id: "c".into(),
            peer_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            tls: true,
            persistent: false,
            will_topic: None,
        };
        LiveConn {
            basis: Basis::Anonymous,
            facts,
            perms: Arc::downgrade(perms),
            revoker: Revoker::detached(),
        }
    }

    fn perms() -> Arc<PolicyPermissions> {
        Arc::new(PolicyPermissions::new(Snapshot::empty(), None))
    }

    fn policy(name: &str) -> Key {
        Key::Policy(name.into())
    }

    #[test]
    fn lookups_find_only_the_connections_under_a_key() {
        let live = Live::default();
        let (a, b) = (perms(), perms());
        let (ia, _) = live.insert(conn(&a), vec![policy("p"), policy("q")]);
        let (ib, _) = live.insert(conn(&b), vec![policy("q")]);
        let ids = |found: Vec<Tracked>| {
            let mut ids: Vec<u64> = found.into_iter().map(|(id, _)| id).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(live.under(&policy("p"), |_| true)), [ia]);
        assert_eq!(ids(live.under(&policy("q"), |_| true)), [ia, ib]);
        assert!(ids(live.under(&policy("q"), |_| false)).is_empty());
        assert!(ids(live.under(&policy("r"), |_| true)).is_empty());
        live.reindex(ia, vec![policy("r")]);
        assert!(ids(live.under(&policy("p"), |_| true)).is_empty());
        assert_eq!(ids(live.under(&policy("r"), |_| true)), [ia]);
        assert_eq!(live.keys_of(ia), [policy("r")]);
        live.remove(ib);
        assert!(ids(live.under(&policy("q"), |_| true)).is_empty());
        assert_eq!(live.index_len(), 1);
    }

    #[test]
    fn ended_connections_leave_the_index() {
        let live = Live::default();
        let (a, b) = (perms(), perms());
        live.insert(conn(&a), vec![policy("p")]);
        let (_, tracked_b) = live.insert(conn(&b), vec![policy("p"), policy("q")]);
        drop(a);
        assert_eq!(live.under(&policy("p"), |_| true).len(), 1);
        tracked_b.revoker.revoke();
        assert!(live.current().is_empty());
        assert_eq!(live.index_len(), 0);
    }
}
