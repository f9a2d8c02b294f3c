//! Rules several registry resources follow alike: attribute payloads and their merge,
//! AWS's idempotent create, `expectedVersion`, naming a resource by name or ARN, attachment
//! guards, and paging the names a set of link prefixes hold.

use std::collections::{BTreeMap, BTreeSet};

use ferrite_storage::{Expect, Write};
use serde::Deserialize;

use crate::kinds::{self, GUARD, LINK_DOC};
use crate::{Output, Registry, RegistryError, Scope, token};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributePayload {
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub merge: Option<bool>,
}

impl AttributePayload {
    /// The attributes a create stores.
    pub fn initial(payload: Option<&AttributePayload>) -> BTreeMap<String, String> {
        payload
            .and_then(|p| p.attributes.clone())
            .unwrap_or_default()
    }

    /// Applies an update: with `merge` the given attributes are set over the current ones,
    /// otherwise they replace them. Either way an empty value removes the attribute, as on
    /// AWS ("to remove an attribute, call UpdateThing with an empty attribute value").
    pub fn apply_to(&self, current: &mut BTreeMap<String, String>) {
        let Some(given) = &self.attributes else {
            return;
        };
        if !self.merge.unwrap_or(false) {
            current.clear();
        }
        for (k, v) in given {
            if v.is_empty() {
                current.remove(k);
            } else {
                current.insert(k.clone(), v.clone());
            }
        }
    }
}

/// AWS's idempotent create: when the resource exists, identical input returns it (no writes)
/// and different input is ResourceAlreadyExistsException carrying its id and ARN.
pub fn existing(
    same: bool,
    message: String,
    id: &str,
    arn: String,
    output: Output,
) -> Result<(Vec<Write>, Output), RegistryError> {
    if same {
        return Ok((Vec::new(), output));
    }
    Err(RegistryError::AlreadyExists {
        message,
        resource_id: id.to_owned(),
        resource_arn: arn,
    })
}

/// `expectedVersion`, when given, must be the stored version.
pub fn check_version(
    expected: Option<i64>,
    actual: u64,
    what: &str,
    name: &str,
) -> Result<(), RegistryError> {
    match expected {
        Some(e) if e != actual as i64 => Err(RegistryError::VersionConflict(format!(
            "The version for {what} {name} does not match the expected version."
        ))),
        _ => Ok(()),
    }
}

/// An ARN of this account and region: `(resource type, resource name)`, e.g.
/// `("thinggroup", "g1")`. Names may contain `:` and never `/`.
pub fn parse_arn<'a>(scope: &Scope, arn: &'a str) -> Result<(&'a str, &'a str), RegistryError> {
    let invalid = || RegistryError::InvalidRequest(format!("{arn} is not a valid ARN."));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    if prefix != "arn" || partition != "aws" || service != "iot" {
        return Err(invalid());
    }
    if account != scope.account || region != scope.region {
        return Err(RegistryError::InvalidRequest(format!(
            "{arn} is not a resource of account {} in region {}.",
            scope.account, scope.region
        )));
    }
    match resource.split_once('/') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok((kind, name)),
        _ => Err(invalid()),
    }
}

/// The name of the resource a request names by `name`, by `arn` (of ARN resource type
/// `arn_type`) or by both, which must then agree. `member` is the name member's wire name.
pub fn name_or_arn(
    scope: &Scope,
    member: &str,
    arn_type: &str,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<String, RegistryError> {
    let from_arn = match arn {
        None => None,
        Some(arn) => match parse_arn(scope, arn)? {
            (kind, n) if kind == arn_type => Some(n),
            _ => {
                return Err(RegistryError::InvalidRequest(format!(
                    "{arn} is not the ARN of a {arn_type}."
                )));
            }
        },
    };
    match (name, from_arn) {
        (Some(n), Some(a)) if n != a => Err(RegistryError::InvalidRequest(format!(
            "{member} {n} and the ARN given name different resources."
        ))),
        (Some(n), _) | (None, Some(n)) => Ok(n.to_owned()),
        (None, None) => Err(RegistryError::InvalidRequest(format!(
            "Either {member} or its ARN must be specified."
        ))),
    }
}

/// The attachment guard of one resource as read (see [`kinds::GUARD`]). Read it before the
/// links it protects: an attachment applied after the links were read then shows as a newer
/// guard version, and the batch conflicts instead of deciding on a stale list.
pub struct Guard {
    key: String,
    version: Option<u64>,
}

impl Guard {
    fn key(kind: &str, name: &str) -> String {
        kinds::link(kind, name)
    }

    /// Bumps the guard of a resource something is attached to, with no condition: attachments
    /// never conflict with each other, only with the resource's delete.
    pub fn touch_any(kind: &str, name: &str) -> Write {
        Write::put(GUARD, &Guard::key(kind, name), Expect::Any, LINK_DOC.into())
    }

    fn expect(&self) -> Expect {
        self.version.map_or(Expect::Absent, Expect::Version)
    }

    /// Bumps the guard if nothing was attached since it was read, so a decision that
    /// counted the attachments (a thing's ten groups) holds when it applies.
    pub fn touch(&self) -> Write {
        Write::put(GUARD, &self.key, self.expect(), LINK_DOC.into())
    }

    /// Removes the guard with its resource, if nothing was attached since it was read.
    pub fn release(&self) -> Write {
        match self.version {
            Some(v) => Write::delete(GUARD, &self.key, Expect::Version(v)),
            None => Write::check(GUARD, &self.key, Expect::Absent),
        }
    }
}

impl Registry {
    /// Fails unless thing `name` exists.
    pub(crate) async fn require_thing(&self, name: &str) -> Result<(), RegistryError> {
        match self.store.get(kinds::THING, name).await? {
            Some(_) => Ok(()),
            None => Err(RegistryError::NotFound(format!(
                "Thing {name} cannot be found."
            ))),
        }
    }

    pub(crate) async fn guard(&self, kind: &str, name: &str) -> Result<Guard, RegistryError> {
        let key = Guard::key(kind, name);
        let version = self.store.get(GUARD, &key).await?.map(|r| r.version);
        Ok(Guard { key, version })
    }

    /// Every name linked under `owner` in link kind `kind` (the part of the key after
    /// `{owner}/`), in key order.
    pub(crate) async fn linked(
        &self,
        kind: &str,
        owner: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let prefix = kinds::prefix(owner);
        let mut names = Vec::new();
        self.scan(kind, &prefix, |r| {
            names.push(r.key[prefix.len()..].to_owned());
            Ok(())
        })
        .await?;
        Ok(names)
    }

    /// Whether `owner` has at least `n` links of kind `kind`.
    pub(crate) async fn has_links(
        &self,
        kind: &str,
        owner: &str,
        n: usize,
    ) -> Result<bool, RegistryError> {
        let page = self
            .store
            .list(kind, &kinds::prefix(owner), None, n)
            .await?;
        Ok(page.records.len() >= n)
    }

    /// One page of the names linked under any of `owners` (duplicates once), starting with
    /// `name_prefix`, in name order, after the name `next_token` stands for. Returns the names
    /// and the next page's token, present only when another name follows.
    pub(crate) async fn names_page(
        &self,
        kind: &str,
        owners: &[String],
        name_prefix: &str,
        next_token: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), RegistryError> {
        let after = token::decode(next_token)?;
        let mut names = BTreeSet::new();
        for owner in owners {
            let base = kinds::prefix(owner);
            let prefix = format!("{base}{name_prefix}");
            let mut cursor = after.as_ref().map(|a| format!("{base}{a}"));
            // The first `limit + 1` names of the union are among each owner's first `limit + 1`.
            let mut taken = 0;
            while taken <= limit {
                let page = self
                    .store
                    .list(kind, &prefix, cursor.as_deref(), limit + 1 - taken)
                    .await?;
                taken += page.records.len();
                names.extend(page.records.iter().map(|r| r.key[base.len()..].to_owned()));
                match page.next_after {
                    Some(k) => cursor = Some(k),
                    None => break,
                }
            }
        }
        let mut names: Vec<String> = names.into_iter().take(limit + 1).collect();
        let next = if names.len() > limit {
            names.truncate(limit);
            names.last().map(|n| token::encode(n))
        } else {
            None
        };
        Ok((names, next))
    }
}

/// A `{"groupName", "groupArn"}` item, as the group listings return.
pub fn group_item(scope: &Scope, arn_type: &str, name: &str) -> Output {
    let arn = scope.arn(&format!("{arn_type}/{name}"));
    serde_json::json!({"groupName": name, "groupArn": arn})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::scope;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn merge_sets_and_removes_while_replace_starts_over() {
        let mut current = attrs(&[("a", "1"), ("b", "2")]);
        AttributePayload {
            attributes: Some(attrs(&[("b", ""), ("c", "3")])),
            merge: Some(true),
        }
        .apply_to(&mut current);
        assert_eq!(current, attrs(&[("a", "1"), ("c", "3")]));
        AttributePayload {
            attributes: Some(attrs(&[("d", "4"), ("e", "")])),
            merge: None,
        }
        .apply_to(&mut current);
        assert_eq!(current, attrs(&[("d", "4")]));
        // No attributes at all leaves them alone, merge or not.
        AttributePayload::default().apply_to(&mut current);
        assert_eq!(current, attrs(&[("d", "4")]));
    }

    #[test]
    fn arns_of_this_account_and_region_only() {
        let s = scope();
        assert_eq!(
            parse_arn(&s, "arn:aws:iot:eu-west-1:123456789012:thinggroup/a:b").unwrap(),
            ("thinggroup", "a:b")
        );
        for bad in [
            "thinggroup/a",
            "arn:aws:s3:eu-west-1:123456789012:thinggroup/a",
            "arn:aws:iot:eu-west-1:123456789012:thinggroup",
            "arn:aws:iot:eu-west-1:123456789012:/a",
            "arn:aws-cn:iot:eu-west-1:123456789012:thinggroup/a",
        ] {
            let e = parse_arn(&s, bad).unwrap_err();
            assert!(e.to_string().contains("not a valid ARN"), "{bad}: {e}");
        }
        for foreign in [
            "arn:aws:iot:eu-west-1:999999999999:thinggroup/a",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/a",
        ] {
            assert!(matches!(
                parse_arn(&s, foreign),
                Err(RegistryError::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn name_or_arn_needs_one_and_agreement() {
        let s = scope();
        let arn = "arn:aws:iot:eu-west-1:123456789012:thing/t1";
        let n = |name, arn| name_or_arn(&s, "thingName", "thing", name, arn);
        assert_eq!(n(Some("t1"), None).unwrap(), "t1");
        assert_eq!(n(None, Some(arn)).unwrap(), "t1");
        assert_eq!(n(Some("t1"), Some(arn)).unwrap(), "t1");
        assert!(n(Some("t2"), Some(arn)).is_err());
        assert!(n(None, None).is_err());
        let group_arn = "arn:aws:iot:eu-west-1:123456789012:thinggroup/t1";
        assert!(n(None, Some(group_arn)).is_err());
    }

    #[test]
    fn expected_version_is_optional_but_exact() {
        assert!(check_version(None, 3, "thing group", "g").is_ok());
        assert!(check_version(Some(3), 3, "thing group", "g").is_ok());
        assert!(matches!(
            check_version(Some(2), 3, "thing group", "g"),
            Err(RegistryError::VersionConflict(_))
        ));
    }

    #[test]
    fn idempotent_create_returns_or_conflicts() {
        let out = serde_json::json!({"id": "x"});
        let (writes, o) = existing(true, "m".into(), "x", "arn".into(), out.clone()).unwrap();
        assert!(writes.is_empty());
        assert_eq!(o, out);
        match existing(false, "m".into(), "x", "arn".into(), out) {
            Err(RegistryError::AlreadyExists {
                resource_id,
                resource_arn,
                ..
            }) => assert_eq!((resource_id.as_str(), resource_arn.as_str()), ("x", "arn")),
            other => panic!("{other:?}"),
        }
    }
}
