//! Principals and the policies attached to them: AttachPolicy, DetachPolicy,
//! ListAttachedPolicies, ListTargetsForPolicy (and the deprecated Attach/DetachPrincipalPolicy,
//! ListPrincipalPolicies, ListPolicyPrincipals). Things' principals are in `thing_principals`.
//!
//! A principal (or policy target) is named on the wire by a certificate ARN, a thing group
//! ARN or an Amazon Cognito identity id, and in the store by a *principal key* without `/`
//! (`cert:{id}`, `thinggroup:{name}`, `cognito:{id}`), so link keys stay `{one}/{other}`.
//! Every link is written in both directions in one batch, and each attachment bumps the
//! guards of what it links, so a delete racing it re-reads instead of leaving a dangling link.

use ferrite_storage::{Expect, Write};
use ferrite_types::{RegistryChange, change};
use serde::Deserialize;
use serde_json::json;

use crate::certificates::certificate_arn;
use crate::kinds::{
    self, CERTIFICATE, LINK_DOC, POLICY, POLICY_TARGET, TARGET_POLICY, THING_GROUP,
};
use crate::policies::policy_item;
use crate::shared::Guard;
use crate::thing_groups::ThingGroupDoc;
use crate::token::{self, MarkerPage};
use crate::{Output, Registry, RegistryError, Scope};

/// AWS: at most 10 policies attached to a certificate or Cognito identity; Ferrite holds
/// thing groups to the same limit.
pub(crate) const MAX_POLICIES_PER_TARGET: usize = 10;

const CERT_PREFIX: &str = "cert:";
const GROUP_PREFIX: &str = "thinggroup:";
const COGNITO_PREFIX: &str = "cognito:";

/// A principal or policy target, parsed from what the request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A certificate, by its 64-hex-digit id (lowercase).
    Certificate(String),
    ThingGroup(String),
    /// An Amazon Cognito identity id, `{region}:{uuid}`.
    Cognito(String),
}

impl Principal {
    /// Parses a certificate ARN (`arn:aws:iot:{region}:{account}:cert/{id}`), a thing group ARN
    /// or a Cognito identity id. The region and account of an ARN are not compared with the
    /// request's: the store holds one account's resources whatever the region.
    pub fn parse(text: &str) -> Result<Principal, RegistryError> {
        if let Some(rest) = text.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if let [partition, "iot", _region, _account, resource] = parts[..]
                && partition.starts_with("aws")
            {
                if let Some(id) = resource.strip_prefix("cert/")
                    && is_certificate_id(id)
                {
                    return Ok(Principal::Certificate(id.to_ascii_lowercase()));
                }
                if let Some(name) = resource.strip_prefix("thinggroup/")
                    && is_thing_group_name(name)
                {
                    return Ok(Principal::ThingGroup(name.to_owned()));
                }
            }
        } else if is_cognito_identity_id(text) {
            return Ok(Principal::Cognito(text.to_owned()));
        }
        Err(RegistryError::InvalidRequest(format!(
            "Invalid principal: {text}. A principal is a certificate ARN, a thing group ARN or an Amazon Cognito identity id."
        )))
    }

    /// A certificate or Cognito identity, as the operations that take no thing groups accept
    /// (things' principals, the deprecated policy operations); a thing group ARN is
    /// InvalidRequestException with `refusal`'s message.
    pub fn parse_not_group(
        text: &str,
        refusal: impl FnOnce() -> String,
    ) -> Result<Principal, RegistryError> {
        match Principal::parse(text)? {
            Principal::ThingGroup(_) => Err(RegistryError::InvalidRequest(refusal())),
            p => Ok(p),
        }
    }

    /// The principal of a principal key written by [`Principal::key`].
    pub fn from_key(key: &str) -> Option<Principal> {
        if let Some(id) = key.strip_prefix(CERT_PREFIX) {
            Some(Principal::Certificate(id.to_owned()))
        } else if let Some(name) = key.strip_prefix(GROUP_PREFIX) {
            Some(Principal::ThingGroup(name.to_owned()))
        } else {
            key.strip_prefix(COGNITO_PREFIX)
                .map(|id| Principal::Cognito(id.to_owned()))
        }
    }

    pub fn key(&self) -> String {
        match self {
            Principal::Certificate(id) => format!("{CERT_PREFIX}{id}"),
            Principal::ThingGroup(name) => format!("{GROUP_PREFIX}{name}"),
            Principal::Cognito(id) => format!("{COGNITO_PREFIX}{id}"),
        }
    }

    /// How AWS names the principal in listings: an ARN, or the bare Cognito identity id.
    pub fn wire_name(&self, scope: &Scope) -> String {
        match self {
            Principal::Certificate(id) => certificate_arn(scope, id),
            Principal::ThingGroup(name) => scope.arn(&format!("thinggroup/{name}")),
            Principal::Cognito(id) => id.clone(),
        }
    }

    /// The principal as change events name it.
    pub fn announced(&self) -> change::Principal {
        match self {
            Principal::Certificate(id) => change::Principal::Certificate(id.clone()),
            Principal::ThingGroup(name) => change::Principal::ThingGroup(name.clone()),
            Principal::Cognito(id) => change::Principal::Cognito(id.clone()),
        }
    }

    /// The record that must exist for the principal to be attached to, with its guard's
    /// kind: a Cognito identity lives outside IoT, so it is taken on trust as AWS does.
    pub fn resource(&self) -> Option<(&'static str, &str)> {
        match self {
            Principal::Certificate(id) => Some((CERTIFICATE, id)),
            Principal::ThingGroup(name) => Some((THING_GROUP, name)),
            Principal::Cognito(_) => None,
        }
    }
}

/// The principal key of a certificate ARN, thing group ARN or Cognito identity id.
#[allow(
    dead_code,
    reason = "for the certificate and authorizer operations' principals"
)]
pub(crate) fn principal_key(principal: &str) -> Result<String, RegistryError> {
    Principal::parse(principal).map(|p| p.key())
}

/// The wire name (ARN or Cognito id) of a stored principal key.
pub(crate) fn principal_arn(scope: &Scope, key: &str) -> String {
    Principal::from_key(key).map_or_else(|| key.to_owned(), |p| p.wire_name(scope))
}

fn is_certificate_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The model's ThingGroupName: 1-128 of `[a-zA-Z0-9:_-]`.
fn is_thing_group_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
}

/// `{region}:{id}`: a region such as `eu-west-1`, then a lowercase UUID-like id.
fn is_cognito_identity_id(text: &str) -> bool {
    let Some((region, id)) = text.split_once(':') else {
        return false;
    };
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && parts[0].len() == 2
        && words.iter().all(lower)
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
}

fn certificate_not_found() -> RegistryError {
    RegistryError::NotFound("The certificate given in the principal does not exist.".into())
}

fn target_not_found(principal: &Principal, scope: &Scope) -> RegistryError {
    match principal {
        Principal::Certificate(_) => certificate_not_found(),
        other => RegistryError::NotFound(format!(
            "The target {} does not exist.",
            other.wire_name(scope)
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachPolicy {
    pub policy_name: String,
    pub target: String,
}

/// AttachPrincipalPolicy and DetachPrincipalPolicy (deprecated): the principal comes in the
/// `x-amzn-iot-principal` header.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalPolicy {
    pub policy_name: String,
    pub principal: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAttachedPolicies {
    pub target: String,
    #[serde(default)]
    pub recursive: bool,
    pub marker: Option<String>,
    pub page_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPrincipalPolicies {
    pub principal: String,
    #[serde(flatten)]
    pub page: MarkerPage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTargetsForPolicy {
    pub policy_name: String,
    pub marker: Option<String>,
    pub page_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPolicyPrincipals {
    pub policy_name: String,
    #[serde(flatten)]
    pub page: MarkerPage,
}

/// The writes that detach `policy` from the target with principal key `key`.
pub(crate) fn unlink_policy(policy: &str, key: &str) -> [Write; 2] {
    [
        Write::delete(POLICY_TARGET, &kinds::link(policy, key), Expect::Any),
        Write::delete(TARGET_POLICY, &kinds::link(key, policy), Expect::Any),
    ]
}

impl Registry {
    /// Fails with AWS's ResourceNotFoundException unless the principal's record exists.
    pub(crate) async fn require_principal(
        &self,
        scope: &Scope,
        principal: &Principal,
    ) -> Result<(), RegistryError> {
        if let Some((kind, key)) = principal.resource()
            && self.store.get(kind, key).await?.is_none()
        {
            return Err(target_not_found(principal, scope));
        }
        Ok(())
    }

    /// The writes that detach every policy from a target that is being deleted (a thing group
    /// or a certificate), for its delete batch.
    pub(crate) async fn detach_all_policies(&self, key: &str) -> Result<Vec<Write>, RegistryError> {
        let policies = self.linked(TARGET_POLICY, key).await?;
        Ok(policies
            .iter()
            .flat_map(|p| unlink_policy(p, key))
            .collect())
    }

    async fn attach(
        &self,
        scope: &Scope,
        policy: &str,
        target: &Principal,
    ) -> Result<Output, RegistryError> {
        let key = target.key();
        let attached = || {
            vec![RegistryChange::PolicyAttached {
                policy: policy.to_owned(),
                target: target.announced(),
            }]
        };
        self.retry_announcing(attached, || async {
            self.policy(policy).await?;
            self.require_principal(scope, target).await?;
            // Read before the links it protects, so the limit holds when the batch applies.
            let guard = self.guard(TARGET_POLICY, &key).await?;
            let attached = self.linked(TARGET_POLICY, &key).await?;
            if attached.iter().any(|p| p == policy) {
                return Ok((Vec::new(), json!({})));
            }
            if attached.len() >= MAX_POLICIES_PER_TARGET {
                return Err(RegistryError::LimitExceeded(format!(
                    "The target {} already has the maximum number of policies attached ({MAX_POLICIES_PER_TARGET}).",
                    target.wire_name(scope)
                )));
            }
            let mut writes = vec![
                Write::check(POLICY, policy, Expect::Present),
                Guard::touch_any(POLICY, policy),
                guard.touch(),
                Write::put(
                    POLICY_TARGET,
                    &kinds::link(policy, &key),
                    Expect::Any,
                    LINK_DOC.into(),
                ),
                Write::put(
                    TARGET_POLICY,
                    &kinds::link(&key, policy),
                    Expect::Any,
                    LINK_DOC.into(),
                ),
            ];
            if let Some((kind, name)) = target.resource() {
                writes.push(Write::check(kind, name, Expect::Present));
                writes.push(Guard::touch_any(kind, name));
            }
            Ok((writes, json!({})))
        })
        .await
    }

    async fn detach(&self, policy: &str, target: &Principal) -> Result<Output, RegistryError> {
        // Detaching what is not attached succeeds: nothing to decide, so nothing to retry.
        self.store
            .write(unlink_policy(policy, &target.key()).to_vec())
            .await?;
        self.announce([RegistryChange::PolicyDetached {
            policy: policy.to_owned(),
            target: target.announced(),
        }]);
        Ok(json!({}))
    }

    pub async fn attach_policy(
        &self,
        scope: &Scope,
        req: AttachPolicy,
    ) -> Result<Output, RegistryError> {
        let target = Principal::parse(&req.target)?;
        self.attach(scope, &req.policy_name, &target).await
    }

    pub async fn detach_policy(&self, req: AttachPolicy) -> Result<Output, RegistryError> {
        let target = Principal::parse(&req.target)?;
        self.detach(&req.policy_name, &target).await
    }

    /// The deprecated operations predate thing-group targets and take certificates and
    /// Cognito identities only.
    fn principal_of_deprecated(text: &str) -> Result<Principal, RegistryError> {
        Principal::parse_not_group(text, || "The given ARN does not represent a cert".into())
    }

    pub async fn attach_principal_policy(
        &self,
        scope: &Scope,
        req: PrincipalPolicy,
    ) -> Result<Output, RegistryError> {
        let principal = Self::principal_of_deprecated(&req.principal)?;
        self.attach(scope, &req.policy_name, &principal).await
    }

    pub async fn detach_principal_policy(
        &self,
        req: PrincipalPolicy,
    ) -> Result<Output, RegistryError> {
        let principal = Self::principal_of_deprecated(&req.principal)?;
        self.policy(&req.policy_name).await?;
        self.detach(&req.policy_name, &principal).await
    }

    /// ListAttachedPolicies. With `recursive`, a thing group's list includes what its
    /// ancestors have attached, which its things inherit.
    pub async fn list_attached_policies(
        &self,
        scope: &Scope,
        req: ListAttachedPolicies,
    ) -> Result<Output, RegistryError> {
        let target = Principal::parse(&req.target)?;
        let limit = token::page_size(req.page_size, token::MARKER_PAGE_DEFAULT);
        let mut owners = vec![target.key()];
        if let Principal::ThingGroup(name) = &target {
            let (group, _) = self
                .get::<ThingGroupDoc>(THING_GROUP, name)
                .await?
                .ok_or_else(|| target_not_found(&target, scope))?;
            if req.recursive {
                owners.extend(group.ancestors.iter().map(|a| format!("{GROUP_PREFIX}{a}")));
            }
        } else {
            self.require_principal(scope, &target).await?;
        }
        // The union of several owners' links pages by token; the wire wants a marker.
        let after = token::marker_to_token(req.marker.as_deref())?;
        let (names, next) = self
            .names_page(TARGET_POLICY, &owners, "", after.as_deref(), limit)
            .await?;
        let items = names.iter().map(|n| policy_item(scope, n)).collect();
        Ok(token::marker_listing(
            "policies",
            items,
            token::token_to_marker(next)?,
        ))
    }

    pub async fn list_principal_policies(
        &self,
        scope: &Scope,
        req: ListPrincipalPolicies,
    ) -> Result<Output, RegistryError> {
        let principal = Self::principal_of_deprecated(&req.principal)?;
        self.require_principal(scope, &principal).await?;
        let prefix = kinds::prefix(&principal.key());
        self.keys_listing(TARGET_POLICY, &prefix, &req.page, "policies", |name, _| {
            Ok(Some(policy_item(scope, name)))
        })
        .await
    }

    pub async fn list_targets_for_policy(
        &self,
        scope: &Scope,
        req: ListTargetsForPolicy,
    ) -> Result<Output, RegistryError> {
        self.policy(&req.policy_name).await?;
        let page = MarkerPage {
            marker: req.marker,
            page_size: req.page_size,
            ascending_order: None,
        };
        self.policy_principals(scope, &req.policy_name, &page, "targets")
            .await
    }

    /// ListPolicyPrincipals (deprecated): unlike ListTargetsForPolicy, a policy that does not
    /// exist lists no principals rather than failing.
    pub async fn list_policy_principals(
        &self,
        scope: &Scope,
        req: ListPolicyPrincipals,
    ) -> Result<Output, RegistryError> {
        self.policy_principals(scope, &req.policy_name, &req.page, "principals")
            .await
    }

    /// The principals (by wire name) policy `name` is attached to, under `key`.
    async fn policy_principals(
        &self,
        scope: &Scope,
        name: &str,
        page: &MarkerPage,
        key: &str,
    ) -> Result<Output, RegistryError> {
        let prefix = kinds::prefix(name);
        self.keys_listing(POLICY_TARGET, &prefix, page, key, |principal, _| {
            Ok(Some(json!(principal_arn(scope, principal))))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::scope;

    const CERT_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    #[test]
    fn principals_map_to_keys_and_back() {
        let s = scope();
        for (wire, key) in [
            (
                format!("arn:aws:iot:eu-west-1:123456789012:cert/{CERT_ID}"),
                format!("cert:{CERT_ID}"),
            ),
            (
                "arn:aws:iot:eu-west-1:123456789012:thinggroup/floor:1_a-b".to_owned(),
                "thinggroup:floor:1_a-b".to_owned(),
            ),
            (
                "eu-west-1:6b1f2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c".to_owned(),
                "cognito:eu-west-1:6b1f2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c".to_owned(),
            ),
        ] {
            assert_eq!(principal_key(&wire).unwrap(), key);
            assert_eq!(principal_arn(&s, &key), wire);
        }
        // Upper-case hex ids name the same certificate.
        let upper = format!(
            "arn:aws:iot:eu-west-1:123456789012:cert/{}",
            CERT_ID.to_uppercase()
        );
        assert_eq!(principal_key(&upper).unwrap(), format!("cert:{CERT_ID}"));
    }

    #[test]
    fn anything_else_is_an_invalid_request() {
        for bad in [
            "",
            "cert/abc",
            &format!("arn:aws:iot:eu-west-1:123456789012:cert/{}", &CERT_ID[1..]),
            "arn:aws:iot:eu-west-1:123456789012:thing/t1",
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/",
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/a/b",
            &format!("arn:aws:s3:eu-west-1:123456789012:cert/{CERT_ID}"),
            "arn:aws:iam::123456789012:user/alice",
            "eu-west-1",
            "eu-west-1:",
            "EU-west-1:6b1f2a3c",
            "euwest1:6b1f2a3c",
            "eu-west-1:xyz",
            "eu-west:6b1f2a3c",
        ] {
            match principal_key(bad) {
                Err(RegistryError::InvalidRequest(m)) => {
                    assert!(m.contains("Invalid principal"), "{m}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(is_cognito_identity_id("us-gov-west-1:6b1f2a3c-0d4e"));
    }
}
