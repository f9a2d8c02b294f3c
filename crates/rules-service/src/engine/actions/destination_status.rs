//! What an HTTP action knows of its topic rule destinations: each confirmation URL's status,
//! read from the store once and kept until a destination changes. The cache follows the
//! change feed itself (every node's HTTP actions hear of every destination change): before
//! each lookup it takes the changes waiting, and any destination change, or changes missed,
//! forgets everything.

use std::collections::HashMap;

use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use parking_lot::Mutex;

use crate::{DestinationStatus, RulesError, TopicRules};

/// Confirmation URLs remembered at once (templates can make many); beyond it the cache
/// starts over.
const CAPACITY: usize = 4096;

pub(crate) struct DestinationStatuses {
    rules: TopicRules,
    changes: Mutex<ChangeSubscription>,
    known: Mutex<HashMap<String, Option<DestinationStatus>>>,
}

impl DestinationStatuses {
    /// Subscribes to the change feed before the first read, so no change is missed.
    pub fn new(rules: TopicRules) -> DestinationStatuses {
        DestinationStatuses {
            changes: Mutex::new(rules.subscribe_changes()),
            rules,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The status of the HTTP destination for `confirmation_url`, `None` when there is none.
    pub async fn status(
        &self,
        confirmation_url: &str,
    ) -> Result<Option<DestinationStatus>, RulesError> {
        self.catch_up();
        if let Some(status) = self.known.lock().get(confirmation_url) {
            return Ok(*status);
        }
        let status = self.rules.http_destination_status(confirmation_url).await?;
        // A change that lands while the store is read is taken by the next lookup's catch-up,
        // which then forgets what this one remembers.
        let mut known = self.known.lock();
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.insert(confirmation_url.to_owned(), status);
        Ok(status)
    }

    fn catch_up(&self) {
        let mut changes = self.changes.lock();
        let mut stale = false;
        while let Some(received) = changes.try_recv() {
            stale |= match received {
                Received::Missed(_) => true,
                Received::Change(change) => matches!(
                    *change,
                    RegistryChange::Cleared
                        | RegistryChange::TopicRuleDestinationChanged { .. }
                        | RegistryChange::TopicRuleDestinationDeleted { .. }
                ),
            };
        }
        if stale {
            self.known.lock().clear();
        }
    }
}
