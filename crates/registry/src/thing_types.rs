//! Thing types: CreateThingType, DescribeThingType, UpdateThingType, DeprecateThingType,
//! DeleteThingType, ListThingTypes.

use ferrite_storage::{Expect, Write};
use ferrite_types::{RegistryChange, ThingTypeFacts};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, THING_TYPE, TYPE_THING};
use crate::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use crate::{Output, Registry, RegistryError, Scope, encode, epoch_secs, now_ms, token};

const LIST_PAGE_DEFAULT: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ThingTypeDoc {
    pub name: String,
    pub id: String,
    /// `thingTypeProperties` exactly as given (description, searchable attributes, MQTT 5).
    pub properties: serde_json::Value,
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThingType {
    pub thing_type_name: String,
    pub thing_type_properties: Option<serde_json::Value>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingTypeName {
    pub thing_type_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingType {
    pub thing_type_name: String,
    pub thing_type_properties: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeprecateThingType {
    pub thing_type_name: String,
    #[serde(default)]
    pub undo_deprecate: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingTypes {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub thing_type_name: Option<String>,
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Thing Type {name} cannot be found."))
}

fn properties(given: Option<serde_json::Value>) -> serde_json::Value {
    given.unwrap_or_else(|| json!({}))
}

impl ThingTypeDoc {
    /// What a registry event message reports of it.
    pub(crate) fn facts(&self) -> ThingTypeFacts {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        ThingTypeFacts {
            id: self.id.clone(),
            description: self.properties.get("thingTypeDescription").and_then(text),
            searchable_attributes: self
                .properties
                .get("searchableAttributes")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().filter_map(text).collect())
                .unwrap_or_default(),
            deprecated: self.deprecated,
            deprecated_at_ms: self.deprecated_at_ms,
        }
    }

    fn metadata(&self) -> Output {
        let mut m = json!({
            "deprecated": self.deprecated,
            "creationDate": epoch_secs(self.created_at_ms),
        });
        if let Some(at) = self.deprecated_at_ms {
            m["deprecationDate"] = epoch_secs(at);
        }
        m
    }
}

impl Registry {
    pub async fn create_thing_type(
        &self,
        scope: &Scope,
        req: CreateThingType,
    ) -> Result<Output, RegistryError> {
        check_create_tags(&req.tags)?;
        let props = properties(req.thing_type_properties.clone());
        if props
            .get("searchableAttributes")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.len() > 3)
        {
            return Err(RegistryError::InvalidRequest(
                "A thing type can have at most 3 searchable attributes.".into(),
            ));
        }
        let created = || {
            vec![RegistryChange::ThingTypeCreated {
                thing_type: req.thing_type_name.clone(),
            }]
        };
        self.retry_announcing(created, || async {
            let name = &req.thing_type_name;
            let arn = scope.arn(&format!("thingtype/{name}"));
            if let Some((existing, _)) = self.get::<ThingTypeDoc>(THING_TYPE, name).await? {
                if existing.properties == props {
                    let out = json!({"thingTypeName": name, "thingTypeArn": arn, "thingTypeId": existing.id});
                    return Ok((Vec::new(), out));
                }
                return Err(RegistryError::AlreadyExists {
                    message: format!("Thing Type {name} already exists in account with different properties"),
                    resource_id: existing.id,
                    resource_arn: arn,
                });
            }
            let doc = ThingTypeDoc {
                name: name.clone(),
                id: uuid::Uuid::new_v4().to_string(),
                properties: props.clone(),
                deprecated: false,
                deprecated_at_ms: None,
                created_at_ms: now_ms(),
            };
            let out = json!({"thingTypeName": name, "thingTypeArn": arn, "thingTypeId": doc.id});
            let mut writes = vec![Write::put(THING_TYPE, name, Expect::Absent, encode(&doc))];
            writes.extend(initial_tags(&doc.id, &req.tags)?);
            Ok((writes, out))
        })
        .await
    }

    pub async fn describe_thing_type(
        &self,
        scope: &Scope,
        req: ThingTypeName,
    ) -> Result<Output, RegistryError> {
        let (t, _) = self
            .get::<ThingTypeDoc>(THING_TYPE, &req.thing_type_name)
            .await?
            .ok_or_else(|| not_found(&req.thing_type_name))?;
        Ok(json!({
            "thingTypeName": t.name,
            "thingTypeId": t.id,
            "thingTypeArn": scope.arn(&format!("thingtype/{}", t.name)),
            "thingTypeProperties": t.properties,
            "thingTypeMetadata": t.metadata(),
        }))
    }

    pub async fn update_thing_type(&self, req: UpdateThingType) -> Result<Output, RegistryError> {
        let name = &req.thing_type_name;
        let out = self
            .modify(
                THING_TYPE,
                name,
                || not_found(name),
                |t: &mut ThingTypeDoc| {
                    if let (Some(new), Some(old)) =
                        (&req.thing_type_properties, t.properties.as_object_mut())
                        && let Some(new) = new.as_object()
                    {
                        for (k, v) in new {
                            old.insert(k.clone(), v.clone());
                        }
                    }
                    Ok(())
                },
            )
            .await?;
        self.announce([RegistryChange::ThingTypeUpdated {
            thing_type: name.clone(),
        }]);
        Ok(out)
    }

    pub async fn deprecate_thing_type(
        &self,
        req: DeprecateThingType,
    ) -> Result<Output, RegistryError> {
        let name = &req.thing_type_name;
        let out = self
            .modify(
                THING_TYPE,
                name,
                || not_found(name),
                |t: &mut ThingTypeDoc| {
                    t.deprecated = !req.undo_deprecate;
                    t.deprecated_at_ms = t.deprecated.then(now_ms);
                    Ok(())
                },
            )
            .await?;
        self.announce([RegistryChange::ThingTypeUpdated {
            thing_type: name.clone(),
        }]);
        Ok(out)
    }

    pub async fn delete_thing_type(&self, req: ThingTypeName) -> Result<Output, RegistryError> {
        // What the applied attempt deleted, for the registry event messages.
        let last = Mutex::new(None);
        let deleted = || {
            last.lock()
                .take()
                .map(|facts| RegistryChange::ThingTypeDeleted {
                    thing_type: req.thing_type_name.clone(),
                    last: Box::new(facts),
                })
                .into_iter()
                .collect()
        };
        self.retry_announcing(deleted, || async {
            let name = &req.thing_type_name;
            let (t, version) = self
                .get::<ThingTypeDoc>(THING_TYPE, name)
                .await?
                .ok_or_else(|| not_found(name))?;
            if !t.deprecated {
                return Err(RegistryError::InvalidRequest(format!(
                    "Thing type {name} must be deprecated before it can be deleted."
                )));
            }
            let users = self
                .store
                .list(TYPE_THING, &kinds::prefix(name), None, 1)
                .await?;
            if !users.records.is_empty() {
                return Err(RegistryError::InvalidRequest(format!(
                    "Can not delete thing type {name} because it is still associated with things."
                )));
            }
            *last.lock() = Some(t.facts());
            Ok((
                vec![
                    Write::delete(THING_TYPE, name, Expect::Version(version)),
                    drop_tags(&t.id),
                ],
                json!({}),
            ))
        })
        .await
    }

    pub async fn list_thing_types(
        &self,
        scope: &Scope,
        req: ListThingTypes,
    ) -> Result<Output, RegistryError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (types, next) = self
            .page(
                THING_TYPE,
                "",
                req.next_token.as_deref(),
                limit,
                |_, t: ThingTypeDoc| {
                    if req.thing_type_name.as_ref().is_some_and(|n| *n != t.name) {
                        return None;
                    }
                    Some(json!({
                        "thingTypeName": t.name,
                        "thingTypeArn": scope.arn(&format!("thingtype/{}", t.name)),
                        "thingTypeProperties": t.properties,
                        "thingTypeMetadata": t.metadata(),
                    }))
                },
            )
            .await?;
        let mut out = json!({ "thingTypes": types });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }
}
