//! Registry events (off until UpdateEventConfigurations enables their type): registry changes
//! from the change feed as AWS's `$aws/events/{thing,thingGroup,thingType,...}` messages.
//! Created and updated resources are read when their change arrives; deletions carry what
//! the resource was. The enabled types are re-read when the configuration changes (or the
//! feed was missed), not per change. In a cluster every node hears every change: the
//! cluster's feed must then let only the node that made the write publish (see
//! ARCHITECTURE.md, "Event messages").

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use ferrite_registry::Registry;
use ferrite_types::{
    ChangeSubscription, Clock, Received, RegistryChange, ThingFacts, ThingGroupFacts,
    ThingTypeFacts,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{EventsConfig, Publisher};

/// The event types an event configuration document (DescribeEventConfigurations' output)
/// enables.
pub fn enabled_types(doc: &Value) -> HashSet<String> {
    doc.get("eventConfigurations")
        .and_then(|v| v.as_object())
        .map(|all| {
            all.iter()
                .filter(|(_, v)| v.get("Enabled").and_then(|e| e.as_bool()) == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn run(
    cfg: &EventsConfig,
    publisher: &Publisher,
    registry: Registry,
    jobs: Option<ferrite_jobs_service::Jobs>,
    mut changes: ChangeSubscription,
    cancel: &CancellationToken,
) {
    let events = RegistryEvents {
        cfg,
        registry,
        clock: Clock::system(),
    };
    let scope = ferrite_registry::Scope {
        region: cfg.region.clone(),
        account: cfg.account_id.clone(),
    };
    let mut job_events = jobs.map(|jobs| crate::jobs::JobEvents::new(jobs, scope));
    let mut enabled = events.read_enabled().await;
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => return,
            r = changes.recv() => match r {
                Some(r) => r,
                None => return,
            },
        };
        let change = match received {
            // Whatever was missed may have been a configuration change.
            Received::Missed(_) => {
                enabled = events.read_enabled().await;
                continue;
            }
            Received::Change(c) => c,
        };
        // Another node's change is announced by that node; this one only keeps current.
        let announce = !changes.from_other_node();
        if let Some(job_events) = &mut job_events
            && announce
            && (enabled.contains("JOB")
                || enabled.contains("JOB_EXECUTION")
                || matches!(*change, RegistryChange::Cleared))
        {
            let messages = job_events
                .messages(
                    &change,
                    enabled.contains("JOB"),
                    enabled.contains("JOB_EXECUTION"),
                )
                .await;
            for (topic, body) in messages {
                publisher.publish(topic, &body).await;
            }
        }
        if matches!(
            *change,
            RegistryChange::EventConfigurationsUpdated | RegistryChange::Cleared
        ) {
            enabled = events.read_enabled().await;
            continue;
        }
        if enabled.is_empty() || !announce {
            continue;
        }
        match events.messages(&change, &enabled).await {
            Ok(messages) => {
                for (topic, body) in messages {
                    publisher.publish(topic, &body).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "registry event not published"),
        }
    }
}

struct RegistryEvents<'a> {
    cfg: &'a EventsConfig,
    registry: Registry,
    clock: Clock,
}

type Messages = Vec<(String, Value)>;

impl RegistryEvents<'_> {
    async fn read_enabled(&self) -> HashSet<String> {
        match self.registry.describe_event_configurations().await {
            Ok(doc) => enabled_types(&doc),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event configuration");
                HashSet::new()
            }
        }
    }

    fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:{resource}",
            self.cfg.region, self.cfg.account_id
        )
    }

    /// The fields every registry event starts with.
    fn head(&self, event_type: &str, operation: &str) -> Value {
        json!({
            "eventType": event_type,
            "eventId": uuid::Uuid::new_v4().simple().to_string(),
            "timestamp": self.clock.now_ms(),
            "operation": operation,
            "accountId": self.cfg.account_id,
        })
    }

    /// The messages `change` makes under the `enabled` event types. A resource already gone
    /// again (a create followed at once by a delete) makes none.
    async fn messages(
        &self,
        change: &RegistryChange,
        enabled: &HashSet<String>,
    ) -> Result<Messages, ferrite_registry::RegistryError> {
        let on = |t: &str| enabled.contains(t);
        let mut out = Vec::new();
        match change {
            RegistryChange::ThingCreated { thing } | RegistryChange::ThingUpdated { thing }
                if on("THING") =>
            {
                let op = if matches!(change, RegistryChange::ThingCreated { .. }) {
                    "CREATED"
                } else {
                    "UPDATED"
                };
                if let Some(f) = self.registry.thing_facts(thing).await? {
                    out.push(self.thing(thing, op, &f));
                }
            }
            RegistryChange::ThingDeleted {
                thing,
                last: Some(f),
            } if on("THING") => out.push(self.thing(thing, "DELETED", f)),
            RegistryChange::ThingTypeCreated { thing_type }
            | RegistryChange::ThingTypeUpdated { thing_type }
                if on("THING_TYPE") =>
            {
                let op = if matches!(change, RegistryChange::ThingTypeCreated { .. }) {
                    "CREATED"
                } else {
                    "UPDATED"
                };
                if let Some(f) = self.registry.thing_type_facts(thing_type).await? {
                    out.push(self.thing_type(thing_type, op, &f));
                }
            }
            RegistryChange::ThingTypeDeleted { thing_type, last } if on("THING_TYPE") => {
                out.push(self.thing_type(thing_type, "DELETED", last));
            }
            RegistryChange::ThingTypeAssociated {
                thing,
                thing_id,
                thing_type,
            } if on("THING_TYPE_ASSOCIATION") => {
                out.push(self.association(thing, thing_id, thing_type, "ADDED"));
            }
            RegistryChange::ThingTypeDisassociated {
                thing,
                thing_id,
                thing_type,
            } if on("THING_TYPE_ASSOCIATION") => {
                out.push(self.association(thing, thing_id, thing_type, "REMOVED"));
            }
            RegistryChange::ThingGroupCreated { group, parent } => {
                let Some(f) = self.registry.thing_group_facts(group).await? else {
                    return Ok(out);
                };
                if on("THING_GROUP") {
                    out.push(self.thing_group(group, "CREATED", &f).await?);
                }
                if let Some(parent) = parent
                    && on("THING_GROUP_HIERARCHY")
                {
                    out.extend(self.hierarchy(parent, group, &f.id, "ADDED").await?);
                }
            }
            RegistryChange::ThingGroupUpdated { group } if on("THING_GROUP") => {
                if let Some(f) = self.registry.thing_group_facts(group).await? {
                    out.push(self.thing_group(group, "UPDATED", &f).await?);
                }
            }
            RegistryChange::ThingGroupDeleted {
                group,
                last: Some(f),
            } => {
                if on("THING_GROUP") {
                    out.push(self.thing_group(group, "DELETED", f).await?);
                }
                if let Some(parent) = f.ancestors.last()
                    && on("THING_GROUP_HIERARCHY")
                {
                    out.extend(self.hierarchy(parent, group, &f.id, "REMOVED").await?);
                }
            }
            RegistryChange::ThingAddedToGroup { thing, group }
            | RegistryChange::ThingRemovedFromGroup { thing, group }
                if on("THING_GROUP_MEMBERSHIP") =>
            {
                let op = if matches!(change, RegistryChange::ThingAddedToGroup { .. }) {
                    "ADDED"
                } else {
                    "REMOVED"
                };
                out.extend(self.membership(thing, group, op).await?);
            }
            _ => {}
        }
        Ok(out)
    }

    fn thing(&self, name: &str, op: &str, f: &ThingFacts) -> (String, Value) {
        let mut body = self.head("THING_EVENT", op);
        body["thingId"] = json!(f.id);
        body["thingName"] = json!(name);
        body["versionNumber"] = json!(f.version);
        body["thingTypeName"] = json!(f.thing_type);
        body["attributes"] = json!(f.attributes);
        (
            format!("$aws/events/thing/{name}/{}", op.to_ascii_lowercase()),
            body,
        )
    }

    fn thing_type(&self, name: &str, op: &str, f: &ThingTypeFacts) -> (String, Value) {
        let mut body = self.head("THING_TYPE_EVENT", op);
        body["thingTypeId"] = json!(f.id);
        body["thingTypeName"] = json!(name);
        body["isDeprecated"] = json!(f.deprecated);
        body["deprecationDate"] = json!(f.deprecated_at_ms);
        body["searchableAttributes"] = json!(f.searchable_attributes);
        body["description"] = json!(f.description);
        (
            format!("$aws/events/thingType/{name}/{}", op.to_ascii_lowercase()),
            body,
        )
    }

    fn association(
        &self,
        thing: &str,
        thing_id: &str,
        thing_type: &str,
        op: &str,
    ) -> (String, Value) {
        let body = json!({
            "eventId": uuid::Uuid::new_v4().simple().to_string(),
            "eventType": "THING_TYPE_ASSOCIATION_EVENT",
            "operation": op,
            "thingId": thing_id,
            "thingName": thing,
            "thingTypeName": thing_type,
            "timestamp": self.clock.now_ms(),
        });
        (
            format!("$aws/events/thingTypeAssociation/thing/{thing}/{thing_type}"),
            body,
        )
    }

    async fn thing_group(
        &self,
        name: &str,
        op: &str,
        f: &ThingGroupFacts,
    ) -> Result<(String, Value), ferrite_registry::RegistryError> {
        let mut chain = Vec::with_capacity(f.ancestors.len());
        for ancestor in &f.ancestors {
            let id = self
                .registry
                .thing_group_facts(ancestor)
                .await?
                .map(|a| a.id);
            chain.push((ancestor, id));
        }
        let mut body = self.head("THING_GROUP_EVENT", op);
        body["thingGroupId"] = json!(f.id);
        body["thingGroupName"] = json!(name);
        body["versionNumber"] = json!(f.version);
        body["parentGroupName"] = json!(chain.last().map(|(n, _)| n));
        body["parentGroupId"] = json!(chain.last().and_then(|(_, id)| id.as_ref()));
        body["description"] = json!(f.description);
        body["rootToParentThingGroups"] = chain
            .iter()
            .map(|(n, id)| json!({"groupArn": self.arn(&format!("thinggroup/{n}")), "groupId": id}))
            .collect();
        body["attributes"] = json!(f.attributes);
        body["dynamicGroupMappingId"] = Value::Null;
        Ok((
            format!("$aws/events/thingGroup/{name}/{}", op.to_ascii_lowercase()),
            body,
        ))
    }

    async fn hierarchy(
        &self,
        parent: &str,
        child: &str,
        child_id: &str,
        op: &str,
    ) -> Result<Option<(String, Value)>, ferrite_registry::RegistryError> {
        let Some(p) = self.registry.thing_group_facts(parent).await? else {
            return Ok(None);
        };
        let mut body = self.head("THING_GROUP_HIERARCHY_EVENT", op);
        body["thingGroupId"] = json!(p.id);
        body["thingGroupName"] = json!(parent);
        body["childGroupId"] = json!(child_id);
        body["childGroupName"] = json!(child);
        Ok(Some((
            format!(
                "$aws/events/thingGroupHierarchy/thingGroup/{parent}/childThingGroup/{child}/{}",
                op.to_ascii_lowercase()
            ),
            body,
        )))
    }

    async fn membership(
        &self,
        thing: &str,
        group: &str,
        op: &str,
    ) -> Result<Option<(String, Value)>, ferrite_registry::RegistryError> {
        let (Some(t), Some(g)) = (
            self.registry.thing_facts(thing).await?,
            self.registry.thing_group_facts(group).await?,
        ) else {
            return Ok(None);
        };
        let mut body = self.head("THING_GROUP_MEMBERSHIP_EVENT", op);
        body["groupArn"] = json!(self.arn(&format!("thinggroup/{group}")));
        body["groupId"] = json!(g.id);
        body["thingArn"] = json!(self.arn(&format!("thing/{thing}")));
        body["thingId"] = json!(t.id);
        body["membershipId"] = json!(membership_id(&g.id, &t.id));
        Ok(Some((
            format!(
                "$aws/events/thingGroupMembership/thingGroup/{group}/thing/{thing}/{}",
                op.to_ascii_lowercase()
            ),
            body,
        )))
    }
}

/// The same id for a thing's membership of a group on every node and in both its added and
/// removed events: the two ids hashed with fixed keys.
fn membership_id(group_id: &str, thing_id: &str) -> String {
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        (salt, group_id, thing_id).hash(&mut h);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_enabled_types_count() {
        let doc = json!({"eventConfigurations": {
            "THING": {"Enabled": true}, "JOB": {"Enabled": false}, "THING_GROUP": {}}});
        assert_eq!(enabled_types(&doc), HashSet::from(["THING".to_owned()]));
        assert!(enabled_types(&json!({})).is_empty());
    }

    #[test]
    fn membership_ids_are_stable_and_distinct() {
        assert_eq!(membership_id("g", "t"), membership_id("g", "t"));
        assert_ne!(membership_id("g", "t"), membership_id("g", "u"));
        assert_eq!(membership_id("g", "t").len(), 32);
    }
}
