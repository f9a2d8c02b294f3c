//! IoT policies and their versions: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy,
//! CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, SetDefaultPolicyVersion,
//! DeletePolicyVersion; and [`Registry::keys_listing`], the `marker`-paginated listing of
//! record keys that the policy, policy attachment and authorizer listings share.
//!
//! The policy's record holds the set of its version ids, the default one and the next id to
//! give, so every version change is one conditional write of that record (the version limit
//! and "never delete the default" hold under concurrency); each version's document is a
//! record of its own. Version ids count up from 1 and are never reused.

use std::collections::BTreeSet;

use ferrite_policy::Policy;
use ferrite_storage::{Expect, Record, Write};
use ferrite_types::RegistryChange;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, POLICY, POLICY_TARGET, POLICY_VERSION};
use crate::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use crate::token::{self, MarkerPage};
use crate::{Output, Registry, RegistryError, Scope, encode, epoch_secs, now_ms};

/// AWS: at most 5 versions per policy.
pub(crate) const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyDoc {
    pub name: String,
    /// Not on the wire; what the policy's tags are keyed by (see `kinds::TAGS`).
    pub id: String,
    pub default_version: u64,
    pub versions: BTreeSet<u64>,
    pub next_version: u64,
    pub created_at_ms: i64,
    /// When the default version last changed.
    pub last_modified_ms: i64,
    /// Changes with the default version, as AWS's `generationId`.
    pub generation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyVersionDoc {
    pub document: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePolicy {
    pub policy_name: String,
    pub policy_document: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyName {
    pub policy_name: String,
}

/// ListPolicies takes the paging members only.
pub type ListPolicies = MarkerPage;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePolicyVersion {
    pub policy_name: String,
    pub policy_document: String,
    #[serde(default)]
    pub set_as_default: bool,
}

/// GetPolicyVersion, SetDefaultPolicyVersion and DeletePolicyVersion.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersionId {
    pub policy_name: String,
    pub policy_version_id: String,
}

fn policy_arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("policy/{name}"))
}

/// `{"policyName", "policyArn"}`, as the policy listings return.
pub(crate) fn policy_item(scope: &Scope, name: &str) -> Output {
    json!({"policyName": name, "policyArn": policy_arn(scope, name)})
}

fn policy_not_found() -> RegistryError {
    RegistryError::NotFound("Policy not found".into())
}

fn version_not_found() -> RegistryError {
    RegistryError::NotFound("Policy version not found".into())
}

/// The document as AWS accepts it, or MalformedPolicyException with its reason.
fn check_document(document: &str) -> Result<(), RegistryError> {
    Policy::parse(document)
        .map(drop)
        .map_err(|e| RegistryError::MalformedPolicy(e.message))
}

/// A fresh `generationId`: 64 hex digits, as AWS's.
fn generation_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A version id as given on the wire (the model's pattern is `[0-9]+`); ids too large to
/// be ours name no version.
fn parse_version(id: &str) -> Option<u64> {
    id.parse().ok()
}

fn version_key(policy: &str, version: u64) -> String {
    kinds::link(policy, &version.to_string())
}

impl PolicyDoc {
    /// The version the wire id `given` names, if the policy has it.
    fn version_named(&self, given: &str) -> Result<u64, RegistryError> {
        parse_version(given)
            .filter(|v| self.versions.contains(v))
            .ok_or_else(version_not_found)
    }
}

impl Registry {
    /// One page of a `marker`-paginated listing of the records of `kind` under `prefix`, named
    /// by their key suffixes, ascending unless `ascendingOrder` is false, after the suffix
    /// the marker stands for. `render` makes an item of a name and its record, or `None` for
    /// one a filter rejects; the items go under `key`, with the next page's marker when
    /// another item follows. Descending order reads every key under the prefix (the store
    /// lists ascending only); the lists it serves are short: an account's policies and
    /// authorizers, a policy's or principal's attachments.
    pub(crate) async fn keys_listing(
        &self,
        kind: &str,
        prefix: &str,
        page: &MarkerPage,
        key: &str,
        mut render: impl FnMut(&str, &Record) -> Result<Option<Output>, RegistryError>,
    ) -> Result<Output, RegistryError> {
        let limit = page.limit();
        let after = token::decode_marker(page.marker.as_deref())?;
        let mut items: Vec<(String, Output)> = Vec::new();
        let mut visit = |r: &Record, items: &mut Vec<(String, Output)>| {
            let name = &r.key[prefix.len()..];
            if let Some(item) = render(name, r)? {
                items.push((name.to_owned(), item));
            }
            Ok::<_, RegistryError>(())
        };
        if page.ascending_order.unwrap_or(true) {
            let mut cursor = after.map(|a| format!("{prefix}{a}"));
            loop {
                let batch = self
                    .store
                    .list(kind, prefix, cursor.as_deref(), limit + 1 - items.len())
                    .await?;
                for r in &batch.records {
                    visit(r, &mut items)?;
                }
                match batch.next_after {
                    Some(k) if items.len() <= limit => cursor = Some(k),
                    _ => break,
                }
            }
        } else {
            self.scan(kind, prefix, |r| {
                if after.as_deref().is_none_or(|a| &r.key[prefix.len()..] < a) {
                    visit(r, &mut items)?;
                }
                Ok(())
            })
            .await?;
            items.reverse();
            items.truncate(limit + 1);
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|(name, _)| token::encode_marker(name))
        } else {
            None
        };
        let items = items.into_iter().map(|(_, item)| item).collect();
        Ok(token::marker_listing(key, items, next))
    }

    pub(crate) async fn policy(&self, name: &str) -> Result<(PolicyDoc, u64), RegistryError> {
        self.get::<PolicyDoc>(POLICY, name)
            .await?
            .ok_or_else(policy_not_found)
    }

    /// Version `version` of policy `name`, if it exists.
    async fn find_policy_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<PolicyVersionDoc>, RegistryError> {
        Ok(self
            .get::<PolicyVersionDoc>(POLICY_VERSION, &version_key(name, version))
            .await?
            .map(|(v, _)| v))
    }

    async fn policy_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<PolicyVersionDoc, RegistryError> {
        self.find_policy_version(name, version)
            .await?
            .ok_or_else(version_not_found)
    }

    /// The document of policy `name`'s default version, if the policy exists.
    pub(crate) async fn default_policy_document(
        &self,
        name: &str,
    ) -> Result<Option<String>, RegistryError> {
        let Some((p, _)) = self.get::<PolicyDoc>(POLICY, name).await? else {
            return Ok(None);
        };
        Ok(self
            .find_policy_version(name, p.default_version)
            .await?
            .map(|v| v.document))
    }

    pub async fn create_policy(
        &self,
        scope: &Scope,
        req: CreatePolicy,
    ) -> Result<Output, RegistryError> {
        check_document(&req.policy_document)?;
        check_create_tags(&req.tags)?;
        let name = &req.policy_name;
        let arn = policy_arn(scope, name);
        let out = self
            .retry(|| async {
                if self.get::<PolicyDoc>(POLICY, name).await?.is_some() {
                    return Err(RegistryError::AlreadyExists {
                        message: format!(
                            "Policy cannot be created - name already exists (name={name})"
                        ),
                        resource_id: name.clone(),
                        resource_arn: arn.clone(),
                    });
                }
                let now = now_ms();
                let doc = PolicyDoc {
                    name: name.clone(),
                    id: uuid::Uuid::new_v4().to_string(),
                    default_version: 1,
                    versions: BTreeSet::from([1]),
                    next_version: 2,
                    created_at_ms: now,
                    last_modified_ms: now,
                    generation_id: generation_id(),
                };
                let version = PolicyVersionDoc {
                    document: req.policy_document.clone(),
                    created_at_ms: now,
                };
                let mut writes = vec![
                    Write::put(POLICY, name, Expect::Absent, encode(&doc)),
                    Write::put(
                        POLICY_VERSION,
                        &version_key(name, 1),
                        Expect::Any,
                        encode(&version),
                    ),
                ];
                writes.extend(initial_tags(&doc.id, &req.tags)?);
                let out = json!({
                    "policyName": name,
                    "policyArn": arn,
                    "policyDocument": req.policy_document,
                    "policyVersionId": "1",
                });
                Ok((writes, out))
            })
            .await?;
        // A new policy is attached to nothing yet: no device's permissions change.
        Ok(out)
    }

    pub async fn get_policy(
        &self,
        scope: &Scope,
        req: PolicyName,
    ) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let (p, _) = self.policy(name).await?;
        let v = self.policy_version(name, p.default_version).await?;
        Ok(json!({
            "policyName": name,
            "policyArn": policy_arn(scope, name),
            "policyDocument": v.document,
            "defaultVersionId": p.default_version.to_string(),
            "creationDate": epoch_secs(p.created_at_ms),
            "lastModifiedDate": epoch_secs(p.last_modified_ms),
            "generationId": p.generation_id,
        }))
    }

    /// ListPolicies, by name; `ascendingOrder` false reverses the order.
    pub async fn list_policies(
        &self,
        scope: &Scope,
        req: ListPolicies,
    ) -> Result<Output, RegistryError> {
        self.keys_listing(POLICY, "", &req, "policies", |name, _| {
            Ok(Some(policy_item(scope, name)))
        })
        .await
    }

    /// DeletePolicy: refused while the policy is attached or has versions besides the
    /// default; the default version goes with it. A policy attached to nothing is in force
    /// for no device, so no permission changes.
    pub async fn delete_policy(&self, req: PolicyName) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let deleted = || {
            vec![RegistryChange::PolicyDeleted {
                policy: name.clone(),
            }]
        };
        self.retry_announcing(deleted, || async {
            let (p, version) = self.policy(name).await?;
            // Read before the attachments, so an attach racing this delete makes it re-run.
            let guard = self.guard(POLICY, name).await?;
            if self.has_links(POLICY_TARGET, name, 1).await? {
                return Err(RegistryError::DeleteConflict(format!(
                    "The policy cannot be deleted as the policy is attached to one or more principals (name={name})"
                )));
            }
            if p.versions.len() > 1 {
                // AWS's wording, doubled word included.
                return Err(RegistryError::DeleteConflict(
                    "The policy cannot be deleted as versions other than than default version exist"
                        .into(),
                ));
            }
            let mut writes = vec![
                Write::delete(POLICY, name, Expect::Version(version)),
                guard.release(),
                drop_tags(&p.id),
            ];
            for v in &p.versions {
                writes.push(Write::delete(
                    POLICY_VERSION,
                    &version_key(name, *v),
                    Expect::Any,
                ));
            }
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn create_policy_version(
        &self,
        scope: &Scope,
        req: CreatePolicyVersion,
    ) -> Result<Output, RegistryError> {
        check_document(&req.policy_document)?;
        let name = &req.policy_name;
        // The version id the attempt that applied gave.
        let created = Mutex::new(0);
        let changes = || {
            vec![RegistryChange::PolicyVersionCreated {
                policy: name.clone(),
                version: *created.lock(),
                is_default: req.set_as_default,
            }]
        };
        self.retry_announcing(changes, || async {
            let (mut p, version) = self.policy(name).await?;
            if p.versions.len() >= MAX_VERSIONS {
                return Err(RegistryError::VersionsLimitExceeded(format!(
                    "The policy {name} already has the maximum number of versions ({MAX_VERSIONS})"
                )));
            }
            let id = p.next_version;
            *created.lock() = id;
            let now = now_ms();
            p.versions.insert(id);
            p.next_version += 1;
            if req.set_as_default {
                p.default_version = id;
                p.last_modified_ms = now;
                p.generation_id = generation_id();
            }
            let doc = PolicyVersionDoc {
                document: req.policy_document.clone(),
                created_at_ms: now,
            };
            let writes = vec![
                Write::put(POLICY, name, Expect::Version(version), encode(&p)),
                Write::put(
                    POLICY_VERSION,
                    &version_key(name, id),
                    Expect::Any,
                    encode(&doc),
                ),
            ];
            let out = json!({
                "policyArn": policy_arn(scope, name),
                "policyDocument": req.policy_document,
                "policyVersionId": id.to_string(),
                "isDefaultVersion": req.set_as_default,
            });
            Ok((writes, out))
        })
        .await
    }

    pub async fn get_policy_version(
        &self,
        scope: &Scope,
        req: PolicyVersionId,
    ) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let (p, _) = self.policy(name).await?;
        let id = p.version_named(&req.policy_version_id)?;
        let v = self.policy_version(name, id).await?;
        Ok(json!({
            "policyArn": policy_arn(scope, name),
            "policyName": name,
            "policyDocument": v.document,
            "policyVersionId": id.to_string(),
            "isDefaultVersion": id == p.default_version,
            "creationDate": epoch_secs(v.created_at_ms),
            "lastModifiedDate": epoch_secs(v.created_at_ms),
            "generationId": p.generation_id,
        }))
    }

    /// ListPolicyVersions, newest first.
    pub async fn list_policy_versions(&self, req: PolicyName) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let (p, _) = self.policy(name).await?;
        let mut items = Vec::new();
        for id in p.versions.iter().rev() {
            // A version deleted since the policy was read is simply not listed.
            let Some(v) = self.find_policy_version(name, *id).await? else {
                continue;
            };
            items.push(json!({
                "versionId": id.to_string(),
                "isDefaultVersion": *id == p.default_version,
                "createDate": epoch_secs(v.created_at_ms),
            }));
        }
        Ok(json!({ "policyVersions": items }))
    }

    pub async fn set_default_policy_version(
        &self,
        req: PolicyVersionId,
    ) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let set = Mutex::new(0);
        let changes = || {
            vec![RegistryChange::PolicyDefaultVersionSet {
                policy: name.clone(),
                version: *set.lock(),
            }]
        };
        self.retry_announcing(changes, || async {
            let (mut p, version) = self.policy(name).await?;
            let id = p.version_named(&req.policy_version_id)?;
            if id == p.default_version {
                return Ok((Vec::new(), json!({})));
            }
            *set.lock() = id;
            p.default_version = id;
            p.last_modified_ms = now_ms();
            p.generation_id = generation_id();
            let write = Write::put(POLICY, name, Expect::Version(version), encode(&p));
            Ok((vec![write], json!({})))
        })
        .await
    }

    pub async fn delete_policy_version(
        &self,
        req: PolicyVersionId,
    ) -> Result<Output, RegistryError> {
        let name = &req.policy_name;
        let deleted = Mutex::new(0);
        let changes = || {
            vec![RegistryChange::PolicyVersionDeleted {
                policy: name.clone(),
                version: *deleted.lock(),
            }]
        };
        self.retry_announcing(changes, || async {
            let (mut p, version) = self.policy(name).await?;
            let id = p.version_named(&req.policy_version_id)?;
            *deleted.lock() = id;
            if id == p.default_version {
                return Err(RegistryError::DeleteConflict(
                    "Cannot delete the default version of a policy".into(),
                ));
            }
            p.versions.remove(&id);
            let writes = vec![
                Write::put(POLICY, name, Expect::Version(version), encode(&p)),
                Write::delete(POLICY_VERSION, &version_key(name, id), Expect::Any),
            ];
            Ok((writes, json!({})))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_beyond_u64_name_no_version() {
        assert_eq!(parse_version("12"), Some(12));
        assert_eq!(parse_version("99999999999999999999999"), None);
    }

    #[test]
    fn generation_ids_are_64_hex_digits_and_fresh() {
        let a = generation_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, generation_id());
    }
}
