//! The connections whose permissions this server tracks, so registry changes reach them.
//! Entries hold the connection's permissions weakly: a connection that ends drops them, and
//! its entry is swept on the next pass.

use std::collections::HashMap;
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
    Certificate { id: String, vars: Vars },
    /// A custom authorizer: what the client presented, asked again on every refresh.
    Custom(Box<CustomAuthInput>),
}

pub struct LiveConn {
    pub basis: Basis,
    pub facts: ConnectFacts,
    pub perms: Weak<PolicyPermissions>,
    pub revoker: Revoker,
}

/// Inserts between sweeps of ended connections.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
pub struct Live {
    conns: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    by_id: HashMap<u64, Arc<LiveConn>>,
}

impl Table {
    fn sweep(&mut self) {
        self.by_id
            .retain(|_, c| c.perms.strong_count() > 0 && !c.revoker.is_closed());
    }
}

impl Live {
    pub fn insert(&self, conn: LiveConn) -> Arc<LiveConn> {
        let conn = Arc::new(conn);
        let mut t = self.conns.lock();
        t.next += 1;
        if t.next.is_multiple_of(SWEEP_EVERY) {
            t.sweep();
        }
        let id = t.next;
        t.by_id.insert(id, conn.clone());
        conn
    }

    /// The connections still open, sweeping the ended ones.
    pub fn current(&self) -> Vec<Arc<LiveConn>> {
        let mut t = self.conns.lock();
        t.sweep();
        t.by_id.values().cloned().collect()
    }
}
