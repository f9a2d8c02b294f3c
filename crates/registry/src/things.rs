//! Things: CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings.

use std::collections::BTreeMap;

use ferrite_storage::{Expect, Write};
use ferrite_types::{RegistryChange, ThingFacts};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, THING, THING_TYPE, TYPE_THING};
use crate::shared::{AttributePayload, check_version, existing};
use crate::thing_types::ThingTypeDoc;
use crate::{Output, Registry, RegistryError, Scope, encode, token};

/// AWS: at most 3 attributes on a thing without a type, 50 with one.
const MAX_ATTRIBUTES_UNTYPED: usize = 3;
const MAX_ATTRIBUTES_TYPED: usize = 50;
const LIST_PAGE_DEFAULT: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThingDoc {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_type: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThing {
    pub thing_name: String,
    pub thing_type_name: Option<String>,
    pub attribute_payload: Option<AttributePayload>,
    pub billing_group_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingName {
    pub thing_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThing {
    pub thing_name: String,
    pub thing_type_name: Option<String>,
    pub attribute_payload: Option<AttributePayload>,
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub remove_thing_type: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteThing {
    pub thing_name: String,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThings {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
    pub thing_type_name: Option<String>,
    #[serde(default)]
    pub use_prefix_attribute_value: bool,
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Thing {name} cannot be found."))
}

fn check_attribute_count(
    attributes: &BTreeMap<String, String>,
    typed: bool,
) -> Result<(), RegistryError> {
    let max = if typed {
        MAX_ATTRIBUTES_TYPED
    } else {
        MAX_ATTRIBUTES_UNTYPED
    };
    if attributes.len() > max {
        return Err(RegistryError::InvalidRequest(format!(
            "A thing {} a thing type can have at most {max} attributes.",
            if typed { "with" } else { "without" }
        )));
    }
    Ok(())
}

impl Registry {
    /// The thing type `name` if it exists, for assigning it to a thing.
    async fn assignable_type(&self, name: &str) -> Result<u64, RegistryError> {
        match self.get::<ThingTypeDoc>(THING_TYPE, name).await? {
            None => Err(RegistryError::NotFound(format!(
                "Thing Type {name} cannot be found."
            ))),
            Some((t, _)) if t.deprecated => Err(RegistryError::InvalidRequest(format!(
                "Can not create new thing with deprecated thing type {name}."
            ))),
            Some((_, version)) => Ok(version),
        }
    }

    pub async fn create_thing(
        &self,
        scope: &Scope,
        req: CreateThing,
    ) -> Result<Output, RegistryError> {
        let attributes = AttributePayload::initial(req.attribute_payload.as_ref());
        check_attribute_count(&attributes, req.thing_type_name.is_some())?;
        // The id the applied attempt gave the thing, for the type association it announces.
        let new_id = Mutex::new(None);
        let created = || {
            let mut changes = vec![RegistryChange::ThingCreated {
                thing: req.thing_name.clone(),
            }];
            if let (Some(thing_type), Some(thing_id)) = (&req.thing_type_name, new_id.lock().take())
            {
                changes.push(RegistryChange::ThingTypeAssociated {
                    thing: req.thing_name.clone(),
                    thing_id,
                    thing_type: thing_type.clone(),
                });
            }
            changes
        };
        self.retry_announcing(created, || async {
            let name = &req.thing_name;
            let arn = scope.arn(&format!("thing/{name}"));
            if let Some((t, _)) = self.get::<ThingDoc>(THING, name).await? {
                // A create without billingGroupName matches whatever billing group it has.
                let same_billing = match &req.billing_group_name {
                    None => true,
                    Some(bg) => self
                        .billing_group_of(name)
                        .await?
                        .is_some_and(|(g, _)| g == *bg),
                };
                let same = t.thing_type == req.thing_type_name
                    && t.attributes == attributes
                    && same_billing;
                let out = json!({"thingName": name, "thingArn": arn, "thingId": t.id});
                let message =
                    format!("Thing {name} already exists in account with different attributes");
                return existing(same, message, &t.id, arn, out);
            }
            let mut writes = Vec::new();
            if let Some(t) = &req.thing_type_name {
                let version = self.assignable_type(t).await?;
                writes.push(Write::check(THING_TYPE, t, Expect::Version(version)));
                writes.push(Write::put(
                    TYPE_THING,
                    &kinds::link(t, name),
                    Expect::Any,
                    String::new(),
                ));
            }
            if let Some(bg) = &req.billing_group_name {
                writes.extend(self.join_billing_group_on_create(bg, name).await?);
            }
            let doc = ThingDoc {
                name: name.clone(),
                id: uuid::Uuid::new_v4().to_string(),
                thing_type: req.thing_type_name.clone(),
                attributes: attributes.clone(),
            };
            let out = json!({"thingName": name, "thingArn": arn, "thingId": doc.id});
            writes.push(Write::put(THING, name, Expect::Absent, encode(&doc)));
            *new_id.lock() = Some(doc.id.clone());
            Ok((writes, out))
        })
        .await
    }

    pub async fn describe_thing(
        &self,
        scope: &Scope,
        req: ThingName,
    ) -> Result<Output, RegistryError> {
        let (t, version) = self
            .get::<ThingDoc>(THING, &req.thing_name)
            .await?
            .ok_or_else(|| not_found(&req.thing_name))?;
        let mut out = json!({
            "defaultClientId": t.name,
            "thingName": t.name,
            "thingId": t.id,
            "thingArn": scope.arn(&format!("thing/{}", t.name)),
            "attributes": t.attributes,
            "version": version,
        });
        if let Some(ty) = &t.thing_type {
            out["thingTypeName"] = json!(ty);
        }
        if let Some((bg, _)) = self.billing_group_of(&t.name).await? {
            out["billingGroupName"] = json!(bg);
        }
        Ok(out)
    }

    pub async fn update_thing(&self, req: UpdateThing) -> Result<Output, RegistryError> {
        if req.remove_thing_type && req.thing_type_name.is_some() {
            return Err(RegistryError::InvalidRequest(
                "Cannot set thingTypeName and removeThingType at the same time.".into(),
            ));
        }
        // Policy variables read the thing's type and attributes. The type association
        // changes the applied attempt decided follow.
        let associations = Mutex::new(Vec::new());
        let updated = || {
            let mut changes = vec![RegistryChange::ThingUpdated {
                thing: req.thing_name.clone(),
            }];
            changes.append(&mut associations.lock());
            changes
        };
        self.retry_announcing(updated, || async {
            let name = &req.thing_name;
            let (mut t, version) = self
                .get::<ThingDoc>(THING, name)
                .await?
                .ok_or_else(|| not_found(name))?;
            check_version(req.expected_version, version, "thing", name)?;
            let mut writes = Vec::new();
            let old_type = t.thing_type.clone();
            if req.remove_thing_type {
                t.thing_type = None;
            } else if let Some(ty) = &req.thing_type_name
                && Some(ty) != old_type.as_ref()
            {
                let type_version = self.assignable_type(ty).await?;
                writes.push(Write::check(THING_TYPE, ty, Expect::Version(type_version)));
                t.thing_type = Some(ty.clone());
            }
            if let Some(payload) = &req.attribute_payload {
                payload.apply_to(&mut t.attributes);
            }
            check_attribute_count(&t.attributes, t.thing_type.is_some())?;
            let mut decided = Vec::new();
            if old_type != t.thing_type {
                if let Some(old) = &old_type {
                    decided.push(RegistryChange::ThingTypeDisassociated {
                        thing: name.clone(),
                        thing_id: t.id.clone(),
                        thing_type: old.clone(),
                    });
                    writes.push(Write::delete(
                        TYPE_THING,
                        &kinds::link(old, name),
                        Expect::Any,
                    ));
                }
                if let Some(new) = &t.thing_type {
                    decided.push(RegistryChange::ThingTypeAssociated {
                        thing: name.clone(),
                        thing_id: t.id.clone(),
                        thing_type: new.clone(),
                    });
                    writes.push(Write::put(
                        TYPE_THING,
                        &kinds::link(new, name),
                        Expect::Any,
                        String::new(),
                    ));
                }
            }
            writes.push(Write::put(
                THING,
                name,
                Expect::Version(version),
                encode(&t),
            ));
            *associations.lock() = decided;
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn delete_thing(&self, req: DeleteThing) -> Result<Output, RegistryError> {
        // What the applied attempt deleted, for the registry event messages.
        let last = Mutex::new(None);
        let deleted = || {
            let last: Option<ThingFacts> = last.lock().take();
            let mut changes = Vec::new();
            if let Some(f) = &last
                && let Some(thing_type) = &f.thing_type
            {
                changes.push(RegistryChange::ThingTypeDisassociated {
                    thing: req.thing_name.clone(),
                    thing_id: f.id.clone(),
                    thing_type: thing_type.clone(),
                });
            }
            changes.push(RegistryChange::ThingDeleted {
                thing: req.thing_name.clone(),
                last: last.map(Box::new),
            });
            changes
        };
        self.retry_announcing(deleted, || async {
            let name = &req.thing_name;
            // AWS: deleting a thing that does not exist succeeds.
            let Some((t, version)) = self.get::<ThingDoc>(THING, name).await? else {
                return Ok((Vec::new(), json!({})));
            };
            check_version(req.expected_version, version, "thing", name)?;
            // The guard makes a group join or principal attach racing this delete re-run it,
            // so no membership or attachment outlives the thing.
            let guard = self.guard(THING, name).await?;
            if self.has_links(kinds::THING_PRINCIPAL, name, 1).await? {
                return Err(RegistryError::InvalidRequest(format!(
                    "Cannot delete. Thing {name} is still attached to one or more principals"
                )));
            }
            let mut writes = vec![
                Write::delete(THING, name, Expect::Version(version)),
                guard.release(),
            ];
            writes.extend(self.leave_thing_groups(name).await?);
            writes.extend(self.leave_billing_group(name).await?);
            if let Some(ty) = &t.thing_type {
                writes.push(Write::delete(
                    TYPE_THING,
                    &kinds::link(ty, name),
                    Expect::Any,
                ));
            }
            if let Some(cascade) = &self.cascade {
                writes.extend(cascade.deletes_for_thing(name).await?);
            }
            *last.lock() = Some(ThingFacts {
                id: t.id.clone(),
                version,
                thing_type: t.thing_type.clone(),
                attributes: t.attributes.clone(),
            });
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn list_things(
        &self,
        scope: &Scope,
        req: ListThings,
    ) -> Result<Output, RegistryError> {
        if req.attribute_value.is_some() && req.attribute_name.is_none() {
            return Err(RegistryError::InvalidRequest(
                "attributeValue requires attributeName.".into(),
            ));
        }
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (things, next) = self
            .page(
                THING,
                "",
                req.next_token.as_deref(),
                limit,
                |r, t: ThingDoc| {
                    if !matches_filters(&t, &req) {
                        return None;
                    }
                    let mut item = json!({
                        "thingName": t.name,
                        "thingArn": scope.arn(&format!("thing/{}", t.name)),
                        "attributes": t.attributes,
                        "version": r.version,
                    });
                    if let Some(ty) = &t.thing_type {
                        item["thingTypeName"] = json!(ty);
                    }
                    Some(item)
                },
            )
            .await?;
        let mut out = json!({ "things": things });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }
}

fn matches_filters(t: &ThingDoc, req: &ListThings) -> bool {
    if let Some(ty) = &req.thing_type_name
        && t.thing_type.as_ref() != Some(ty)
    {
        return false;
    }
    if let Some(name) = &req.attribute_name {
        let Some(value) = t.attributes.get(name) else {
            return false;
        };
        if let Some(want) = &req.attribute_value {
            let ok = if req.use_prefix_attribute_value {
                value.starts_with(want.as_str())
            } else {
                value == want
            };
            if !ok {
                return false;
            }
        }
    }
    true
}
