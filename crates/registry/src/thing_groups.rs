//! Static thing groups: CreateThingGroup, DescribeThingGroup, UpdateThingGroup,
//! DeleteThingGroup, ListThingGroups, and membership: AddThingToThingGroup,
//! RemoveThingFromThingGroup, UpdateThingGroupsForThing, ListThingsInThingGroup,
//! ListThingGroupsForThing.
//!
//! A group's parent is fixed at creation and a group with children cannot be deleted, so a
//! group's chain of ancestors never changes: it is stored in the group's document, which
//! makes depth checks, `rootToParentThingGroups` and recursive listings single reads.

use std::collections::{BTreeMap, BTreeSet};

use ferrite_storage::{Expect, Write};
use ferrite_types::{RegistryChange, ThingGroupFacts};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, GROUP_CHILD, GROUP_THING, LINK_DOC, THING, THING_GROUP, THING_IN_GROUP};
use crate::shared::{AttributePayload, Guard, check_version, existing, group_item, name_or_arn};
use crate::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use crate::token::listing;
use crate::{Output, Registry, RegistryError, Scope, encode, epoch_secs, now_ms, token};

/// AWS: a hierarchy is at most 7 groups deep (a root is at depth 1).
const MAX_DEPTH: usize = 7;
/// AWS: at most 100 direct child groups.
const MAX_CHILDREN: usize = 100;
/// AWS: a thing is directly in at most 10 thing groups.
const MAX_GROUPS_PER_THING: usize = 10;
const LIST_PAGE_DEFAULT: usize = 50;
const ARN_TYPE: &str = "thinggroup";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThingGroupDoc {
    pub name: String,
    pub id: String,
    /// Root first, parent last; empty for a root group.
    #[serde(default)]
    pub ancestors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub created_at_ms: i64,
}

impl ThingGroupDoc {
    fn parent(&self) -> Option<&String> {
        self.ancestors.last()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupProperties {
    pub thing_group_description: Option<String>,
    pub attribute_payload: Option<AttributePayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThingGroup {
    pub thing_group_name: String,
    pub parent_group_name: Option<String>,
    pub thing_group_properties: Option<ThingGroupProperties>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupName {
    pub thing_group_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingGroup {
    pub thing_group_name: String,
    pub thing_group_properties: ThingGroupProperties,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteThingGroup {
    pub thing_group_name: String,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingGroups {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub parent_group: Option<String>,
    pub name_prefix_filter: Option<String>,
    pub recursive: Option<bool>,
}

/// AddThingToThingGroup and RemoveThingFromThingGroup: each side by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupMembership {
    pub thing_group_name: Option<String>,
    pub thing_group_arn: Option<String>,
    pub thing_name: Option<String>,
    pub thing_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingGroupsForThing {
    pub thing_name: Option<String>,
    #[serde(default)]
    pub thing_groups_to_add: Vec<String>,
    #[serde(default)]
    pub thing_groups_to_remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingsInThingGroup {
    pub thing_group_name: String,
    #[serde(default)]
    pub recursive: bool,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingGroupsForThing {
    pub thing_name: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Thing Group {name} cannot be found."))
}

fn arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("{ARN_TYPE}/{name}"))
}

fn too_many_groups(thing: &str) -> RegistryError {
    // The membership operations' models list no LimitExceededException.
    RegistryError::InvalidRequest(format!(
        "Thing {thing} cannot be in more than {MAX_GROUPS_PER_THING} thing groups."
    ))
}

/// The writes that put `thing` into `group` (both link directions and the group's guard).
fn join(group: &str, thing: &str) -> [Write; 4] {
    [
        Write::check(THING_GROUP, group, Expect::Present),
        Write::put(
            GROUP_THING,
            &kinds::link(group, thing),
            Expect::Any,
            LINK_DOC.into(),
        ),
        Write::put(
            THING_IN_GROUP,
            &kinds::link(thing, group),
            Expect::Any,
            LINK_DOC.into(),
        ),
        Guard::touch_any(THING_GROUP, group),
    ]
}

/// The writes that take `thing` out of `group`.
fn leave(group: &str, thing: &str) -> [Write; 2] {
    [
        Write::delete(GROUP_THING, &kinds::link(group, thing), Expect::Any),
        Write::delete(THING_IN_GROUP, &kinds::link(thing, group), Expect::Any),
    ]
}

impl Registry {
    async fn thing_group(&self, name: &str) -> Result<(ThingGroupDoc, u64), RegistryError> {
        self.get::<ThingGroupDoc>(THING_GROUP, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    pub async fn create_thing_group(
        &self,
        scope: &Scope,
        req: CreateThingGroup,
    ) -> Result<Output, RegistryError> {
        check_create_tags(&req.tags)?;
        let props = req.thing_group_properties.unwrap_or_default();
        let attributes = AttributePayload::initial(props.attribute_payload.as_ref());
        let created = || {
            vec![RegistryChange::ThingGroupCreated {
                group: req.thing_group_name.clone(),
                parent: req.parent_group_name.clone(),
            }]
        };
        self.retry_announcing(created, || async {
            let name = &req.thing_group_name;
            let arn = arn(scope, name);
            if let Some((g, _)) = self.get::<ThingGroupDoc>(THING_GROUP, name).await? {
                // Tags are not compared: they are managed apart from the group's definition.
                let same = g.parent() == req.parent_group_name.as_ref()
                    && g.description == props.thing_group_description
                    && g.attributes == attributes;
                let out = json!({"thingGroupName": name, "thingGroupArn": arn, "thingGroupId": g.id});
                let message =
                    format!("Thing Group {name} already exists in current account with different properties");
                return existing(same, message, &g.id, arn, out);
            }
            let mut writes = Vec::new();
            let mut ancestors = Vec::new();
            if let Some(parent) = &req.parent_group_name {
                let (p, _) = self.thing_group(parent).await?;
                // The new group sits below the parent's ancestors and the parent.
                if p.ancestors.len() + 2 > MAX_DEPTH {
                    return Err(RegistryError::InvalidRequest(format!(
                        "Thing group {name} cannot be added under {parent}: a thing group hierarchy can be at most {MAX_DEPTH} levels deep."
                    )));
                }
                if self.has_links(GROUP_CHILD, parent, MAX_CHILDREN).await? {
                    return Err(RegistryError::InvalidRequest(format!(
                        "Thing group {parent} already has {MAX_CHILDREN} child groups."
                    )));
                }
                ancestors = p.ancestors;
                ancestors.push(parent.clone());
                writes.push(Write::check(THING_GROUP, parent, Expect::Present));
                writes.push(Write::put(
                    GROUP_CHILD,
                    &kinds::link(parent, name),
                    Expect::Any,
                    LINK_DOC.into(),
                ));
                writes.push(Guard::touch_any(THING_GROUP, parent));
            }
            let doc = ThingGroupDoc {
                name: name.clone(),
                id: uuid::Uuid::new_v4().to_string(),
                ancestors,
                description: props.thing_group_description.clone(),
                attributes: attributes.clone(),
                created_at_ms: now_ms(),
            };
            writes.push(Write::put(THING_GROUP, name, Expect::Absent, encode(&doc)));
            writes.extend(initial_tags(&doc.id, &req.tags)?);
            let out = json!({"thingGroupName": name, "thingGroupArn": arn, "thingGroupId": doc.id});
            Ok((writes, out))
        })
        .await
    }

    pub async fn describe_thing_group(
        &self,
        scope: &Scope,
        req: ThingGroupName,
    ) -> Result<Output, RegistryError> {
        let (g, version) = self.thing_group(&req.thing_group_name).await?;
        let mut properties = json!({});
        if let Some(d) = &g.description {
            properties["thingGroupDescription"] = json!(d);
        }
        if !g.attributes.is_empty() {
            properties["attributePayload"] = json!({"attributes": g.attributes});
        }
        // Empty optional members are left out, as AWS does: a root group has no parent.
        let mut metadata = json!({"creationDate": epoch_secs(g.created_at_ms)});
        if let Some(parent) = g.parent() {
            metadata["parentGroupName"] = json!(parent);
            let chain: Vec<Output> = g
                .ancestors
                .iter()
                .map(|a| group_item(scope, ARN_TYPE, a))
                .collect();
            metadata["rootToParentThingGroups"] = json!(chain);
        }
        Ok(json!({
            "thingGroupName": g.name,
            "thingGroupId": g.id,
            "thingGroupArn": arn(scope, &g.name),
            "version": version,
            "thingGroupProperties": properties,
            "thingGroupMetadata": metadata,
        }))
    }

    pub async fn update_thing_group(&self, req: UpdateThingGroup) -> Result<Output, RegistryError> {
        let updated = || {
            vec![RegistryChange::ThingGroupUpdated {
                group: req.thing_group_name.clone(),
            }]
        };
        self.retry_announcing(updated, || async {
            let name = &req.thing_group_name;
            let (mut g, version) = self.thing_group(name).await?;
            check_version(req.expected_version, version, "thing group", name)?;
            let props = &req.thing_group_properties;
            if let Some(d) = &props.thing_group_description {
                g.description = Some(d.clone());
            }
            if let Some(payload) = &props.attribute_payload {
                payload.apply_to(&mut g.attributes);
            }
            let write = Write::put(THING_GROUP, name, Expect::Version(version), encode(&g));
            Ok((vec![write], json!({"version": version + 1})))
        })
        .await
    }

    pub async fn delete_thing_group(&self, req: DeleteThingGroup) -> Result<Output, RegistryError> {
        // What the applied attempt deleted, for the registry event messages.
        let last = Mutex::new(None);
        let deleted = || {
            vec![RegistryChange::ThingGroupDeleted {
                group: req.thing_group_name.clone(),
                last: last.lock().take().map(Box::new),
            }]
        };
        self.retry_announcing(deleted, || async {
            let name = &req.thing_group_name;
            // AWS: deleting a group that does not exist succeeds.
            let Some((g, version)) = self.get::<ThingGroupDoc>(THING_GROUP, name).await? else {
                return Ok((Vec::new(), json!({})));
            };
            check_version(req.expected_version, version, "thing group", name)?;
            let guard = self.guard(THING_GROUP, name).await?;
            if self.has_links(GROUP_CHILD, name, 1).await? {
                return Err(RegistryError::InvalidRequest(format!(
                    "Cannot delete thing group {name} when there are still child groups attached to it."
                )));
            }
            let mut writes = vec![
                Write::delete(THING_GROUP, name, Expect::Version(version)),
                guard.release(),
                drop_tags(&g.id),
            ];
            if let Some(parent) = g.parent() {
                writes.push(Write::delete(GROUP_CHILD, &kinds::link(parent, name), Expect::Any));
            }
            // Its things stay; only their membership goes.
            for thing in self.linked(GROUP_THING, name).await? {
                writes.extend(leave(name, &thing));
            }
            // Its policies are detached, or a new group of this name would inherit them.
            let key = crate::principals::Principal::ThingGroup(name.clone()).key();
            writes.extend(self.detach_all_policies(&key).await?);
            *last.lock() = Some(ThingGroupFacts {
                id: g.id.clone(),
                version,
                ancestors: g.ancestors.clone(),
                description: g.description.clone(),
                attributes: g.attributes.clone(),
            });
            Ok((writes, json!({})))
        })
        .await
    }

    /// ListThingGroups. Without `parentGroup` it lists every group, or only root groups when
    /// `recursive` is false; with it, the parent's descendants, or only its children when
    /// `recursive` is false. An absent `recursive` counts as true.
    pub async fn list_thing_groups(
        &self,
        scope: &Scope,
        req: ListThingGroups,
    ) -> Result<Output, RegistryError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let name_prefix = req.name_prefix_filter.as_deref().unwrap_or("");
        let recursive = req.recursive.unwrap_or(true);
        let token = req.next_token.as_deref();
        let parent = req.parent_group.as_deref();
        if let Some(parent) = parent {
            self.thing_group(parent).await?;
            if !recursive {
                let owners = [parent.to_owned()];
                let (names, next) = self
                    .names_page(GROUP_CHILD, &owners, name_prefix, token, limit)
                    .await?;
                let items = names
                    .iter()
                    .map(|n| group_item(scope, ARN_TYPE, n))
                    .collect();
                return Ok(listing("thingGroups", items, next));
            }
        }
        let (items, next) = self
            .page(
                THING_GROUP,
                name_prefix,
                token,
                limit,
                |_, g: ThingGroupDoc| {
                    let keep = match parent {
                        Some(p) => g.ancestors.iter().any(|a| a == p),
                        None => recursive || g.ancestors.is_empty(),
                    };
                    keep.then(|| group_item(scope, ARN_TYPE, &g.name))
                },
            )
            .await?;
        Ok(listing("thingGroups", items, next))
    }

    pub async fn add_thing_to_thing_group(
        &self,
        scope: &Scope,
        req: ThingGroupMembership,
    ) -> Result<Output, RegistryError> {
        let (group, thing) = membership_names(scope, &req)?;
        let added = || {
            vec![RegistryChange::ThingAddedToGroup {
                thing: thing.clone(),
                group: group.clone(),
            }]
        };
        self.retry_announcing(added, || async {
            self.thing_group(&group).await?;
            self.require_thing(&thing).await?;
            let guard = self.guard(THING, &thing).await?;
            let current = self.linked(THING_IN_GROUP, &thing).await?;
            if current.contains(&group) {
                return Ok((Vec::new(), json!({})));
            }
            if current.len() >= MAX_GROUPS_PER_THING {
                return Err(too_many_groups(&thing));
            }
            let mut writes = vec![Write::check(THING, &thing, Expect::Present), guard.touch()];
            writes.extend(join(&group, &thing));
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn remove_thing_from_thing_group(
        &self,
        scope: &Scope,
        req: ThingGroupMembership,
    ) -> Result<Output, RegistryError> {
        let (group, thing) = membership_names(scope, &req)?;
        self.thing_group(&group).await?;
        self.require_thing(&thing).await?;
        // Removing a thing that is not in the group is not an error. Unconditional deletes
        // of two links: nothing to decide, so nothing to retry.
        self.store.write(leave(&group, &thing).to_vec()).await?;
        self.announce([RegistryChange::ThingRemovedFromGroup { thing, group }]);
        Ok(json!({}))
    }

    pub async fn update_thing_groups_for_thing(
        &self,
        req: UpdateThingGroupsForThing,
    ) -> Result<Output, RegistryError> {
        let thing = req
            .thing_name
            .clone()
            .ok_or_else(|| RegistryError::InvalidRequest("thingName must be specified.".into()))?;
        // What the attempt that applied decided.
        let decided = Mutex::new(Vec::new());
        let changes = || std::mem::take(&mut *decided.lock());
        self.retry_announcing(changes, || async {
            self.require_thing(&thing).await?;
            for g in req
                .thing_groups_to_add
                .iter()
                .chain(&req.thing_groups_to_remove)
            {
                self.thing_group(g).await?;
            }
            let guard = self.guard(THING, &thing).await?;
            let current: BTreeSet<String> = self
                .linked(THING_IN_GROUP, &thing)
                .await?
                .into_iter()
                .collect();
            let mut wanted = current.clone();
            // Removals first, so a group named in both lists ends up added.
            for g in &req.thing_groups_to_remove {
                wanted.remove(g);
            }
            wanted.extend(req.thing_groups_to_add.iter().cloned());
            if wanted.len() > MAX_GROUPS_PER_THING {
                return Err(too_many_groups(&thing));
            }
            if wanted == current {
                return Ok((Vec::new(), json!({})));
            }
            let mut writes = vec![Write::check(THING, &thing, Expect::Present), guard.touch()];
            let mut changes = Vec::new();
            for g in current.difference(&wanted) {
                writes.extend(leave(g, &thing));
                changes.push(RegistryChange::ThingRemovedFromGroup {
                    thing: thing.clone(),
                    group: g.clone(),
                });
            }
            for g in wanted.difference(&current) {
                writes.extend(join(g, &thing));
                changes.push(RegistryChange::ThingAddedToGroup {
                    thing: thing.clone(),
                    group: g.clone(),
                });
            }
            *decided.lock() = changes;
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn list_things_in_thing_group(
        &self,
        req: ListThingsInThingGroup,
    ) -> Result<Output, RegistryError> {
        let name = &req.thing_group_name;
        self.thing_group(name).await?;
        let mut groups = vec![name.clone()];
        if req.recursive {
            // Breadth first down the child links: a subtree is at most 7 levels deep.
            let mut i = 0;
            while i < groups.len() {
                let children = self.linked(GROUP_CHILD, &groups[i]).await?;
                groups.extend(children);
                i += 1;
            }
        }
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (things, next) = self
            .names_page(GROUP_THING, &groups, "", req.next_token.as_deref(), limit)
            .await?;
        Ok(listing(
            "things",
            things.into_iter().map(|t| json!(t)).collect(),
            next,
        ))
    }

    pub async fn list_thing_groups_for_thing(
        &self,
        scope: &Scope,
        req: ListThingGroupsForThing,
    ) -> Result<Output, RegistryError> {
        self.require_thing(&req.thing_name).await?;
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let owners = [req.thing_name.clone()];
        let (groups, next) = self
            .names_page(
                THING_IN_GROUP,
                &owners,
                "",
                req.next_token.as_deref(),
                limit,
            )
            .await?;
        let items = groups
            .iter()
            .map(|g| group_item(scope, ARN_TYPE, g))
            .collect();
        Ok(listing("thingGroups", items, next))
    }

    /// The writes that take a thing being deleted out of all its thing groups.
    pub(crate) async fn leave_thing_groups(
        &self,
        thing: &str,
    ) -> Result<Vec<Write>, RegistryError> {
        let groups = self.linked(THING_IN_GROUP, thing).await?;
        Ok(groups.iter().flat_map(|g| leave(g, thing)).collect())
    }
}

/// The group and thing a membership request names.
fn membership_names(
    scope: &Scope,
    req: &ThingGroupMembership,
) -> Result<(String, String), RegistryError> {
    let group = name_or_arn(
        scope,
        "thingGroupName",
        ARN_TYPE,
        req.thing_group_name.as_deref(),
        req.thing_group_arn.as_deref(),
    )?;
    let thing = name_or_arn(
        scope,
        "thingName",
        "thing",
        req.thing_name.as_deref(),
        req.thing_arn.as_deref(),
    )?;
    Ok((group, thing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_leave_touch_both_link_directions() {
        let keys = |ws: &[Write]| -> Vec<(String, String)> {
            ws.iter().map(|w| (w.kind.clone(), w.key.clone())).collect()
        };
        let joined = keys(&join("g", "t"));
        assert!(joined.contains(&(GROUP_THING.into(), "g/t".into())));
        assert!(joined.contains(&(THING_IN_GROUP.into(), "t/g".into())));
        assert!(joined.contains(&(kinds::GUARD.into(), "thing-group/g".into())));
        let left = keys(&leave("g", "t"));
        assert_eq!(
            left,
            [
                (GROUP_THING.to_owned(), "g/t".to_owned()),
                (THING_IN_GROUP.to_owned(), "t/g".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn a_group_recreated_with_other_properties_is_refused_in_aws_words() {
        let f = crate::test_support::Fixture::new();
        let create = |description: &str| CreateThingGroup {
            thing_group_name: "fleet".into(),
            parent_group_name: None,
            thing_group_properties: Some(ThingGroupProperties {
                thing_group_description: Some(description.into()),
                attribute_payload: None,
            }),
            tags: Vec::new(),
        };
        let first = f.r.create_thing_group(&f.scope, create("a")).await.unwrap();
        let again = f.r.create_thing_group(&f.scope, create("a")).await.unwrap();
        assert_eq!(first, again);
        match f.r.create_thing_group(&f.scope, create("b")).await {
            Err(RegistryError::AlreadyExists {
                message,
                resource_id,
                ..
            }) => {
                assert_eq!(
                    message,
                    "Thing Group fleet already exists in current account with different properties"
                );
                assert_eq!(resource_id, first["thingGroupId"].as_str().unwrap());
            }
            other => panic!("expected ResourceAlreadyExists, got {other:?}"),
        }
    }

    #[test]
    fn the_parent_is_the_last_ancestor() {
        let doc = ThingGroupDoc {
            name: "c".into(),
            id: "id".into(),
            ancestors: vec!["root".into(), "mid".into()],
            description: None,
            attributes: BTreeMap::new(),
            created_at_ms: 0,
        };
        assert_eq!(doc.parent().map(String::as_str), Some("mid"));
    }
}
