//! Tags: TagResource, UntagResource, ListTagsForResource, and the `tags` member of the
//! creates that take one. Taggable: thing groups, billing groups, thing types, policies,
//! authorizers, CA certificates, and the resource types other services keep in the same store
//! and register with [`Registry::with_taggable`] (topic rules). Things are not taggable in AWS
//! (AWS IoT "doesn't allow you to directly apply tags to individual things"; CreateThing has
//! no `tags`), so a thing's ARN is refused.
//!
//! A resource's tags are one record keyed by the resource's id (see [`crate::kinds::TAGS`]);
//! a service that stores a taggable resource writes its create's tags with [`initial_tags`]
//! and drops them with [`drop_tags`] in the batch that deletes the resource.

use std::collections::BTreeMap;

use ferrite_storage::{Expect, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{
    AUTHORIZER, BILLING_GROUP, CA_CERTIFICATE, POLICY, TAGS, THING_GROUP, THING_TYPE,
};
use crate::shared::parse_arn;
use crate::token::listing;
use crate::{Output, Registry, RegistryError, Scope, decode, encode, token};

/// AWS: at most 50 tags per resource.
pub const MAX_TAGS: usize = 50;
/// Tags per ListTagsForResource page (the operation takes no `maxResults`); with at most
/// [`MAX_TAGS`] tags every listing fits one page.
const LIST_PAGE: usize = MAX_TAGS;

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: String,
}

type TagMap = BTreeMap<String, String>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResource {
    pub resource_arn: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResource {
    pub resource_arn: String,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsForResource {
    pub resource_arn: String,
    pub next_token: Option<String>,
}

/// A resource type another service keeps in the registry's store, taggable by ARN: records of
/// `kind` keyed by the resource name the ARN carries after `{arn_type}/`, whose JSON document
/// has an `id` member (the key of the resource's tags, unique among every resource's ids).
#[derive(Debug, Clone, Copy)]
pub struct Taggable {
    pub arn_type: &'static str,
    pub kind: &'static str,
}

/// Just the id every taggable resource's document carries.
#[derive(Deserialize, Serialize)]
struct Identified {
    id: String,
}

/// The given tags as a map (a key given twice keeps its last value). The `aws:` prefix is
/// AWS's own, reserved on every service.
fn tag_map(tags: &[Tag]) -> Result<TagMap, RegistryError> {
    let mut map = TagMap::new();
    for t in tags {
        if t.key.starts_with("aws:") {
            return Err(RegistryError::InvalidRequest(format!(
                "Tag keys starting with aws: are reserved for AWS use: {}",
                t.key
            )));
        }
        map.insert(t.key.clone(), t.value.clone());
    }
    Ok(map)
}

fn too_many(n: usize) -> String {
    format!("A resource can have at most {MAX_TAGS} tags; this request would leave it with {n}.")
}

/// A create's `tags`, checked before anything is written. Too many is
/// InvalidRequestException: the creates' models list no LimitExceededException.
pub fn check_create_tags(tags: &[Tag]) -> Result<TagMap, RegistryError> {
    let map = tag_map(tags)?;
    if map.len() > MAX_TAGS {
        return Err(RegistryError::InvalidRequest(too_many(map.len())));
    }
    Ok(map)
}

/// The write that stores a new resource's `tags` in its create batch, if there are any.
pub fn initial_tags(id: &str, tags: &[Tag]) -> Result<Option<Write>, RegistryError> {
    let map = check_create_tags(tags)?;
    Ok((!map.is_empty()).then(|| Write::put(TAGS, id, Expect::Absent, encode(&map))))
}

/// The write that drops a deleted resource's tags.
pub fn drop_tags(id: &str) -> Write {
    Write::delete(TAGS, id, Expect::Any)
}

impl Registry {
    /// The record kind, name, id and version of the taggable resource `arn` names.
    async fn taggable(
        &self,
        scope: &Scope,
        arn: &str,
    ) -> Result<(&'static str, String, String, u64), RegistryError> {
        let (arn_type, name) = parse_arn(scope, arn)?;
        let kind = match arn_type {
            "thinggroup" => THING_GROUP,
            "billinggroup" => BILLING_GROUP,
            "thingtype" => THING_TYPE,
            "policy" => POLICY,
            "authorizer" => AUTHORIZER,
            "cacert" => CA_CERTIFICATE,
            "thing" => {
                return Err(RegistryError::InvalidRequest(format!(
                    "Things cannot be tagged: {arn}"
                )));
            }
            other => match self.taggable.iter().find(|t| t.arn_type == other) {
                Some(t) => t.kind,
                // Every other resource type is one Ferrite cannot hold yet, so none exists.
                None => return Err(not_found(arn)),
            },
        };
        let record = self
            .store
            .get(kind, name)
            .await?
            .ok_or_else(|| not_found(arn))?;
        let doc: Identified = decode(&record)?;
        Ok((kind, name.to_owned(), doc.id, record.version))
    }

    /// Makes the tag operations accept ARNs of `taggable.arn_type` (see [`Taggable`]).
    pub fn with_taggable(mut self, taggable: Taggable) -> Registry {
        self.taggable.push(taggable);
        self
    }

    async fn tags_of(&self, id: &str) -> Result<(TagMap, Expect), RegistryError> {
        Ok(match self.get::<TagMap>(TAGS, id).await? {
            Some((map, v)) => (map, Expect::Version(v)),
            None => (TagMap::new(), Expect::Absent),
        })
    }

    pub async fn tag_resource(
        &self,
        scope: &Scope,
        req: TagResource,
    ) -> Result<Output, RegistryError> {
        let given = tag_map(&req.tags)?;
        self.retry(|| async {
            let (kind, name, id, version) = self.taggable(scope, &req.resource_arn).await?;
            let (mut map, expect) = self.tags_of(&id).await?;
            map.extend(given.clone());
            if map.len() > MAX_TAGS {
                return Err(RegistryError::LimitExceeded(too_many(map.len())));
            }
            // The resource at the version read: a racing delete makes this re-read.
            let writes = vec![
                Write::check(kind, &name, Expect::Version(version)),
                Write::put(TAGS, &id, expect, encode(&map)),
            ];
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn untag_resource(
        &self,
        scope: &Scope,
        req: UntagResource,
    ) -> Result<Output, RegistryError> {
        self.retry(|| async {
            let (_, _, id, _) = self.taggable(scope, &req.resource_arn).await?;
            let (mut map, expect) = self.tags_of(&id).await?;
            let before = map.len();
            for k in &req.tag_keys {
                map.remove(k);
            }
            let writes = if map.len() == before {
                Vec::new()
            } else if map.is_empty() {
                vec![Write::delete(TAGS, &id, expect)]
            } else {
                vec![Write::put(TAGS, &id, expect, encode(&map))]
            };
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn list_tags_for_resource(
        &self,
        scope: &Scope,
        req: ListTagsForResource,
    ) -> Result<Output, RegistryError> {
        let (_, _, id, _) = self.taggable(scope, &req.resource_arn).await?;
        let after = token::decode(req.next_token.as_deref())?;
        let (map, _) = self.tags_of(&id).await?;
        let mut rest = map
            .into_iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .peekable();
        let mut items = Vec::new();
        let mut last = None;
        while items.len() < LIST_PAGE
            && let Some((k, v)) = rest.next()
        {
            items.push(json!({"Key": k, "Value": v}));
            last = Some(k);
        }
        let next = rest.peek().and(last).map(|k| token::encode(&k));
        Ok(listing("tags", items, next))
    }
}

fn not_found(arn: &str) -> RegistryError {
    RegistryError::NotFound(format!("The resource {arn} cannot be found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn keys_are_case_sensitive_and_the_last_value_wins() {
        let map = tag_map(&[tag("Env", "a"), tag("env", "b"), tag("Env", "c")]).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["Env"], "c");
        assert_eq!(map["env"], "b");
    }

    #[test]
    fn reserved_prefix_and_create_limit() {
        assert!(matches!(
            tag_map(&[tag("aws:cost", "x")]),
            Err(RegistryError::InvalidRequest(_))
        ));
        assert!(initial_tags("id", &[]).unwrap().is_none());
        let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "")).collect();
        assert!(initial_tags("id", &fifty).unwrap().is_some());
        let more: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "")).collect();
        assert!(matches!(
            initial_tags("id", &more),
            Err(RegistryError::InvalidRequest(_))
        ));
    }
}
