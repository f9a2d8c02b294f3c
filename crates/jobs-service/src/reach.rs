//! Whether a continuous job reaches a thing now, asked from the thing's side: the thing's
//! own groups (at most 10) and their ancestors (at most 6 each) are read, never the members
//! of the targeted groups, so one membership change or one rollout batch costs a few reads
//! per thing however large the fleet.

use std::collections::{BTreeSet, HashMap};

use ferrite_jobs::{Job, Target, parse_target};
use ferrite_registry::{RegistryError, Scope};
use serde_json::json;
use tokio::sync::Mutex;

use crate::{Jobs, JobsError};

/// Groups asked of the registry per page when reading a thing's groups.
const THING_GROUPS_PAGE: i64 = 50;

/// What a job's targets name, to test things against. Remembers the ancestors of the groups
/// it read, so a batch of things in the same groups reads each group once.
pub(crate) struct Reach {
    things: BTreeSet<String>,
    groups: BTreeSet<String>,
    /// The account and region of the targets (one, as CreateJob checks).
    scope: Option<Scope>,
    ancestors: Mutex<HashMap<String, Vec<String>>>,
}

impl Reach {
    pub(crate) fn of(job: &Job) -> Reach {
        let mut reach = Reach {
            things: BTreeSet::new(),
            groups: BTreeSet::new(),
            scope: None,
            ancestors: Mutex::new(HashMap::new()),
        };
        for arn in &job.targets {
            let (region, account) = match parse_target(arn) {
                Ok(Target::Thing {
                    region,
                    account,
                    name,
                }) => {
                    reach.things.insert(name.to_owned());
                    (region, account)
                }
                Ok(Target::ThingGroup {
                    region,
                    account,
                    name,
                }) => {
                    reach.groups.insert(name.to_owned());
                    (region, account)
                }
                Err(_) => continue,
            };
            reach.scope.get_or_insert_with(|| Scope {
                region: region.to_owned(),
                account: account.to_owned(),
            });
        }
        reach
    }

    /// Whether the targets reach `thing` now: it is named, or it is in a named group or in
    /// one of its descendants. A deleted thing is in no group; a deleted group reaches
    /// nothing.
    pub(crate) async fn reaches(&self, jobs: &Jobs, thing: &str) -> Result<bool, JobsError> {
        if self.things.contains(thing) {
            return Ok(true);
        }
        let Some(scope) = self.scope.as_ref().filter(|_| !self.groups.is_empty()) else {
            return Ok(false);
        };
        for group in jobs.thing_groups_of(scope, thing).await? {
            if self.groups.contains(&group) {
                return Ok(true);
            }
            let known = self.ancestors.lock().await.get(&group).cloned();
            let ancestors = match known {
                Some(a) => a,
                None => {
                    let a = jobs
                        .registry
                        .thing_group_facts(&group)
                        .await?
                        .map(|f| f.ancestors)
                        .unwrap_or_default();
                    self.ancestors.lock().await.insert(group, a.clone());
                    a
                }
            };
            if ancestors.iter().any(|a| self.groups.contains(a)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Jobs {
    /// The groups `thing` is directly in; none once it is deleted.
    async fn thing_groups_of(&self, scope: &Scope, thing: &str) -> Result<Vec<String>, JobsError> {
        let mut groups = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let req = serde_json::from_value(json!({
                "thingName": thing,
                "maxResults": THING_GROUPS_PAGE,
                "nextToken": next,
            }))
            .expect("a thing groups listing request");
            let page = match self.registry.list_thing_groups_for_thing(scope, req).await {
                Ok(page) => page,
                Err(RegistryError::NotFound(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            for g in page["thingGroups"].as_array().into_iter().flatten() {
                if let Some(name) = g["groupName"].as_str() {
                    groups.push(name.to_owned());
                }
            }
            match page["nextToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => return Ok(groups),
            }
        }
    }
}
