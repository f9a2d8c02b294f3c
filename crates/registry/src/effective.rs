//! Which policies apply to a principal, and what they allow: GetEffectivePolicies,
//! TestAuthorization, and the registry reads device authorization uses
//! ([`Registry::effective_policies`], [`Registry::thing_attached_to`],
//! [`Registry::describe_thing_for_auth`]).
//!
//! A principal's policies are those attached to it, plus, when it connects as a thing, those
//! attached to the thing's groups and to every ancestor of those groups (thing group policies
//! are inherited down the hierarchy).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ferrite_policy::{ContextValue, Decision, Policy, Request};
use serde::Deserialize;
use serde_json::json;

use crate::kinds::{self, TARGET_POLICY, THING, THING_GROUP, THING_IN_GROUP, THING_PRINCIPAL};
use crate::policies::policy_item;
use crate::principals::Principal;
use crate::thing_groups::ThingGroupDoc;
use crate::things::ThingDoc;
use crate::{Output, Registry, RegistryError, Scope};

/// A policy in force for a principal: its name and its default version's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    pub name: String,
    pub document: String,
}

/// The policies in force for a connection, and the thing groups they were looked up through
/// (so a change to one of those groups can be traced to the connection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectivePolicies {
    pub policies: Vec<EffectivePolicy>,
    /// The thing's groups and all their ancestors, in name order.
    pub thing_groups: Vec<String>,
}

/// What policy variables read from a connection's thing (`iot:Connection.Thing.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingForAuth {
    pub name: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetEffectivePolicies {
    pub principal: Option<String>,
    pub cognito_identity_pool_id: Option<String>,
    pub thing_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthInfo {
    pub action_type: Option<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestAuthorization {
    pub principal: Option<String>,
    pub cognito_identity_pool_id: Option<String>,
    pub auth_infos: Vec<AuthInfo>,
    pub client_id: Option<String>,
    #[serde(default)]
    pub policy_names_to_add: Vec<String>,
    #[serde(default)]
    pub policy_names_to_skip: Vec<String>,
}

/// The IoT action an `actionType` stands for.
fn action_of(action_type: &str) -> Option<&'static str> {
    Some(match action_type {
        "PUBLISH" => "iot:Publish",
        "SUBSCRIBE" => "iot:Subscribe",
        "RECEIVE" => "iot:Receive",
        "CONNECT" => "iot:Connect",
        _ => return None,
    })
}

/// The policy variables a thing defines, keyed as policies write them.
fn thing_context(ctx: &mut HashMap<String, ContextValue>, thing: Option<&ThingForAuth>) {
    let one = |v: &str| ContextValue::One(v.to_owned());
    let Some(thing) = thing else {
        ctx.insert("iot:Connection.Thing.IsAttached".into(), one("false"));
        return;
    };
    ctx.insert("iot:Connection.Thing.IsAttached".into(), one("true"));
    ctx.insert("iot:Connection.Thing.ThingName".into(), one(&thing.name));
    if let Some(t) = &thing.thing_type {
        ctx.insert("iot:Connection.Thing.ThingTypeName".into(), one(t));
    }
    for (k, v) in &thing.attributes {
        ctx.insert(format!("iot:Connection.Thing.Attributes[{k}]"), one(v));
    }
}

impl Registry {
    /// The names of the policies attached to `principal_key` (and to its ancestors when it is
    /// a thing group) and to the groups of `thing_name` and their ancestors, each once, the
    /// principal's first; and those groups.
    async fn effective_policy_names(
        &self,
        principal_key: Option<&str>,
        thing_name: Option<&str>,
    ) -> Result<(Vec<String>, BTreeSet<String>), RegistryError> {
        let mut targets: Vec<String> = Vec::new();
        let mut groups = BTreeSet::new();
        if let Some(key) = principal_key {
            targets.push(key.to_owned());
            if let Some(Principal::ThingGroup(g)) = Principal::from_key(key) {
                groups.insert(g);
            }
        }
        if let Some(thing) = thing_name {
            groups.extend(self.linked(THING_IN_GROUP, thing).await?);
        }
        let mut with_ancestors = BTreeSet::new();
        for g in groups {
            // A group deleted since its link was read contributes nothing.
            if let Some((doc, _)) = self.get::<ThingGroupDoc>(THING_GROUP, &g).await? {
                with_ancestors.extend(doc.ancestors);
                with_ancestors.insert(g);
            }
        }
        targets.extend(
            with_ancestors
                .iter()
                .map(|g| Principal::ThingGroup(g.clone()).key()),
        );
        targets.dedup();
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        for target in &targets {
            for name in self.linked(TARGET_POLICY, target).await? {
                if seen.insert(name.clone()) {
                    names.push(name);
                }
            }
        }
        Ok((names, with_ancestors))
    }

    /// The policies in force for a connection authenticated as `principal_key`
    /// (`cert:{certificateId}`, `cognito:{identityId}`) connecting as thing `thing_name`
    /// (pass a thing only when it is attached to the principal and named by the client id):
    /// each policy's default version, each policy once.
    pub async fn effective_policies(
        &self,
        principal_key: &str,
        thing_name: Option<&str>,
    ) -> Result<EffectivePolicies, RegistryError> {
        let (names, groups) = self
            .effective_policy_names(Some(principal_key), thing_name)
            .await?;
        let mut policies = Vec::with_capacity(names.len());
        for name in names {
            // A policy detached and deleted since its link was read is no longer in force.
            if let Some(document) = self.default_policy_document(&name).await? {
                policies.push(EffectivePolicy { name, document });
            }
        }
        Ok(EffectivePolicies {
            policies,
            thing_groups: groups.into_iter().collect(),
        })
    }

    /// Whether `principal_key` is attached to thing `thing_name`.
    pub async fn thing_attached_to(
        &self,
        thing_name: &str,
        principal_key: &str,
    ) -> Result<bool, RegistryError> {
        let key = kinds::link(thing_name, principal_key);
        Ok(self.store.get(THING_PRINCIPAL, &key).await?.is_some())
    }

    /// Thing `thing_name`'s name, type and attributes, if it exists.
    pub async fn describe_thing_for_auth(
        &self,
        thing_name: &str,
    ) -> Result<Option<ThingForAuth>, RegistryError> {
        Ok(self
            .get::<ThingDoc>(THING, thing_name)
            .await?
            .map(|(t, _)| ThingForAuth {
                name: t.name,
                thing_type: t.thing_type,
                attributes: t.attributes,
            }))
    }

    /// The principal a request names, checked to exist.
    async fn existing_principal(
        &self,
        scope: &Scope,
        principal: Option<&str>,
    ) -> Result<Option<Principal>, RegistryError> {
        let Some(text) = principal else {
            return Ok(None);
        };
        let p = Principal::parse(text)?;
        self.require_principal(scope, &p).await?;
        Ok(Some(p))
    }

    /// GetEffectivePolicies: the policies attached to `principal`, plus those the groups of
    /// `thingName` (and their ancestors) pass down.
    pub async fn get_effective_policies(
        &self,
        scope: &Scope,
        req: GetEffectivePolicies,
    ) -> Result<Output, RegistryError> {
        let principal = self
            .existing_principal(scope, req.principal.as_deref())
            .await?;
        if let Some(thing) = &req.thing_name {
            self.require_thing(thing).await?;
        }
        let key = principal.as_ref().map(Principal::key);
        let (names, _) = self
            .effective_policy_names(key.as_deref(), req.thing_name.as_deref())
            .await?;
        let mut items = Vec::new();
        for name in names {
            if let Some(document) = self.default_policy_document(&name).await? {
                let mut item = policy_item(scope, &name);
                item["policyDocument"] = json!(document);
                items.push(item);
            }
        }
        Ok(json!({ "effectivePolicies": items }))
    }

    /// TestAuthorization: evaluates each `authInfo` against the principal's effective
    /// policies (the thing named `clientId` counts when it is attached to the principal),
    /// less `policyNamesToSkip`, plus `policyNamesToAdd`. A decision covers all of an
    /// authInfo's resources: any explicit deny denies, then any resource nothing allows.
    pub async fn test_authorization(
        &self,
        scope: &Scope,
        req: TestAuthorization,
    ) -> Result<Output, RegistryError> {
        let mut actions = Vec::with_capacity(req.auth_infos.len());
        for info in &req.auth_infos {
            let action = info.action_type.as_deref().ok_or_else(|| {
                RegistryError::InvalidRequest("actionType must be specified.".into())
            })?;
            actions.push(action_of(action).ok_or_else(|| {
                RegistryError::InvalidRequest(format!("Invalid actionType: {action}"))
            })?);
        }
        let principal = self
            .existing_principal(scope, req.principal.as_deref())
            .await?;
        let key = principal.as_ref().map(Principal::key);
        let thing = match (&key, &req.client_id) {
            (Some(key), Some(client)) if self.thing_attached_to(client, key).await? => {
                self.describe_thing_for_auth(client).await?
            }
            _ => None,
        };
        let (mut names, _) = self
            .effective_policy_names(key.as_deref(), thing.as_ref().map(|t| t.name.as_str()))
            .await?;
        names.retain(|n| !req.policy_names_to_skip.contains(n));
        for extra in &req.policy_names_to_add {
            if !names.contains(extra) {
                names.push(extra.clone());
            }
        }
        let mut policies: Vec<(String, Policy)> = Vec::with_capacity(names.len());
        for name in names {
            let Some(document) = self.default_policy_document(&name).await? else {
                if req.policy_names_to_add.contains(&name) {
                    return Err(RegistryError::NotFound(format!("Policy {name} not found")));
                }
                continue;
            };
            // Stored documents passed this parser when they were created; one a stricter
            // parser now refuses grants nothing.
            if let Ok(p) = Policy::parse(&document) {
                policies.push((name, p));
            }
        }

        let mut ctx: HashMap<String, ContextValue> = HashMap::new();
        if let Some(client) = &req.client_id {
            ctx.insert("iot:ClientId".into(), ContextValue::One(client.clone()));
        }
        if key.is_some() {
            thing_context(&mut ctx, thing.as_ref());
        }

        let mut results = Vec::with_capacity(req.auth_infos.len());
        for (info, action) in req.auth_infos.iter().zip(actions) {
            results.push(evaluate_info(scope, info, action, &policies, &ctx));
        }
        Ok(json!({ "authResults": results }))
    }
}

/// One `authResults` entry.
fn evaluate_info(
    scope: &Scope,
    info: &AuthInfo,
    action: &str,
    policies: &[(String, Policy)],
    ctx: &HashMap<String, ContextValue>,
) -> Output {
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut decision = Decision::Allowed;
    for resource in &info.resources {
        let request = Request {
            action,
            resource: resource.as_str(),
        };
        let e =
            ferrite_policy::evaluate(policies.iter().map(|(n, p)| (n.as_str(), p)), &request, ctx);
        allowed.extend(e.allowed_by);
        denied.extend(e.denied_by);
        missing.extend(e.missing_context);
        decision = match (decision, e.decision) {
            (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
            (Decision::ImplicitDeny, _) | (_, Decision::ImplicitDeny) => Decision::ImplicitDeny,
            _ => Decision::Allowed,
        };
    }
    let items = |names: &BTreeSet<String>| -> Vec<Output> {
        names.iter().map(|n| policy_item(scope, n)).collect()
    };
    // Implicitly denied means no policy allowed everything asked: each one evaluated is listed.
    let implicit: BTreeSet<String> = if decision == Decision::ImplicitDeny {
        policies.iter().map(|(n, _)| n.clone()).collect()
    } else {
        BTreeSet::new()
    };
    let auth_decision = match decision {
        Decision::Allowed => "ALLOWED",
        Decision::ExplicitDeny => "EXPLICIT_DENY",
        Decision::ImplicitDeny => "IMPLICIT_DENY",
    };
    json!({
        "authInfo": {"actionType": info_action_type(info), "resources": info.resources},
        "allowed": {"policies": items(&allowed)},
        "denied": {
            "implicitDeny": {"policies": items(&implicit)},
            "explicitDeny": {"policies": items(&denied)},
        },
        "authDecision": auth_decision,
        "missingContextValues": missing.into_iter().collect::<Vec<_>>(),
    })
}

fn info_action_type(info: &AuthInfo) -> &str {
    info.action_type.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ferrite_storage::{Expect, Write};
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;
    use ferrite_types::{RegistryChange, change};

    use crate::test_support::{Fixture, announced, scope};

    const CERT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    const COGNITO: &str = "eu-west-1:6b1f2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c";

    fn arn(resource: &str) -> String {
        scope().arn(resource)
    }

    /// A typed request from the JSON the HTTP edge would pass.
    fn req<T: DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("request")
    }

    fn allow(action: &str) -> String {
        json!({"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
        .to_string()
    }

    /// The shared fixture's registry, with certificate [`CERT`] registered.
    async fn registry() -> (Registry, tempfile::TempDir) {
        let Fixture { r, dir, .. } = Fixture::new();
        // The certificate operations are another module's; its record only has to exist.
        let cert = Write::put(kinds::CERTIFICATE, CERT, Expect::Absent, "{}".into());
        r.store.write(vec![cert]).await.unwrap();
        (r, dir)
    }

    async fn create_policy(r: &Registry, name: &str, document: &str) {
        r.create_policy(
            &scope(),
            req(json!({"policyName": name, "policyDocument": document})),
        )
        .await
        .unwrap();
    }

    async fn attach(r: &Registry, policy: &str, target: &str) -> Result<Output, RegistryError> {
        r.attach_policy(
            &scope(),
            req(json!({"policyName": policy, "target": target})),
        )
        .await
    }

    async fn create_group(r: &Registry, name: &str, parent: Option<&str>) {
        let mut v = json!({"thingGroupName": name});
        if let Some(p) = parent {
            v["parentGroupName"] = json!(p);
        }
        r.create_thing_group(&scope(), req(v)).await.unwrap();
    }

    async fn create_thing(r: &Registry, name: &str) {
        r.create_thing(&scope(), req(json!({"thingName": name})))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn effective_policies_inherit_down_the_group_hierarchy() {
        let (r, _dir) = registry().await;
        for p in ["p-cert", "p-root", "p-child", "p-other"] {
            create_policy(&r, p, &allow("iot:Connect")).await;
        }
        create_group(&r, "root", None).await;
        create_group(&r, "child", Some("root")).await;
        create_group(&r, "other", None).await;
        create_thing(&r, "t1").await;
        r.add_thing_to_thing_group(
            &scope(),
            req(json!({"thingGroupName": "child", "thingName": "t1"})),
        )
        .await
        .unwrap();
        let cert = arn(&format!("cert/{CERT}"));
        attach(&r, "p-cert", &cert).await.unwrap();
        attach(&r, "p-root", &cert).await.unwrap();
        attach(&r, "p-root", &arn("thinggroup/root")).await.unwrap();
        attach(&r, "p-child", &arn("thinggroup/child"))
            .await
            .unwrap();
        attach(&r, "p-other", &arn("thinggroup/other"))
            .await
            .unwrap();
        // The policy in force is the default version.
        r.create_policy_version(
            &scope(),
            req(json!({"policyName": "p-child", "policyDocument": allow("iot:Publish"), "setAsDefault": true})),
        )
        .await
        .unwrap();

        let key = format!("cert:{CERT}");
        let names = |e: &EffectivePolicies| {
            e.policies
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        };
        let with_thing = r.effective_policies(&key, Some("t1")).await.unwrap();
        assert_eq!(names(&with_thing), ["p-cert", "p-root", "p-child"]);
        assert_eq!(with_thing.policies[2].document, allow("iot:Publish"));
        assert_eq!(with_thing.policies[0].document, allow("iot:Connect"));
        assert_eq!(with_thing.thing_groups, ["child", "root"]);
        let alone = r.effective_policies(&key, None).await.unwrap();
        assert_eq!(names(&alone), ["p-cert", "p-root"]);
        assert!(alone.thing_groups.is_empty());
        // A thing group as the principal inherits from its ancestors too.
        let group = r
            .effective_policies("thinggroup:child", None)
            .await
            .unwrap();
        assert_eq!(names(&group), ["p-child", "p-root"]);
    }

    #[tokio::test]
    async fn things_for_auth_and_their_attachment() {
        let (r, _dir) = registry().await;
        r.create_thing(
            &scope(),
            req(json!({"thingName": "lamp", "attributePayload": {"attributes": {"room": "hall"}}})),
        )
        .await
        .unwrap();
        let key = format!("cert:{CERT}");
        assert!(!r.thing_attached_to("lamp", &key).await.unwrap());
        r.attach_thing_principal(
            &scope(),
            req(json!({"thingName": "lamp", "principal": arn(&format!("cert/{CERT}"))})),
        )
        .await
        .unwrap();
        assert!(r.thing_attached_to("lamp", &key).await.unwrap());
        assert!(!r.thing_attached_to("lamp", "cognito:x").await.unwrap());
        let t = r.describe_thing_for_auth("lamp").await.unwrap().unwrap();
        assert_eq!(t.name, "lamp");
        assert_eq!(t.thing_type, None);
        assert_eq!(t.attributes.get("room").map(String::as_str), Some("hall"));
        assert_eq!(r.describe_thing_for_auth("nope").await.unwrap(), None);
    }

    #[tokio::test]
    async fn writes_announce_what_devices_may_do() {
        let (r, _dir) = registry().await;
        let mut changes = r.subscribe_changes();
        let p = || "p".to_owned();
        let cognito = || change::Principal::Cognito(COGNITO.into());
        let t = || "t".to_owned();
        create_policy(&r, "p", &allow("iot:Connect")).await;
        assert_eq!(
            announced(&mut changes),
            [],
            "a new policy is attached to nothing"
        );
        attach(&r, "p", COGNITO).await.unwrap();
        attach(&r, "p", COGNITO).await.unwrap();
        assert_eq!(
            announced(&mut changes),
            [RegistryChange::PolicyAttached {
                policy: p(),
                target: cognito()
            }],
            "attaching again writes nothing"
        );
        r.create_policy_version(
            &scope(),
            req(json!({"policyName": "p", "policyDocument": allow("iot:*")})),
        )
        .await
        .unwrap();
        r.set_default_policy_version(req(json!({"policyName": "p", "policyVersionId": "2"})))
            .await
            .unwrap();
        r.set_default_policy_version(req(json!({"policyName": "p", "policyVersionId": "2"})))
            .await
            .unwrap();
        r.delete_policy_version(req(json!({"policyName": "p", "policyVersionId": "1"})))
            .await
            .unwrap();
        assert_eq!(
            announced(&mut changes),
            [
                RegistryChange::PolicyVersionCreated {
                    policy: p(),
                    version: 2,
                    is_default: false
                },
                RegistryChange::PolicyDefaultVersionSet {
                    policy: p(),
                    version: 2
                },
                RegistryChange::PolicyVersionDeleted {
                    policy: p(),
                    version: 1
                },
            ]
        );
        r.detach_policy(req(json!({"policyName": "p", "target": COGNITO})))
            .await
            .unwrap();
        assert_eq!(
            announced(&mut changes),
            [RegistryChange::PolicyDetached {
                policy: p(),
                target: cognito()
            }]
        );
        create_thing(&r, "t").await;
        r.attach_thing_principal(
            &scope(),
            req(json!({"thingName": "t", "principal": COGNITO})),
        )
        .await
        .unwrap();
        r.update_thing(req(
            json!({"thingName": "t", "attributePayload": {"attributes": {"a": "b"}}}),
        ))
        .await
        .unwrap();
        assert_eq!(
            announced(&mut changes),
            [
                RegistryChange::ThingCreated { thing: t() },
                RegistryChange::ThingPrincipalAttached {
                    thing: t(),
                    principal: cognito()
                },
                RegistryChange::ThingUpdated { thing: t() },
            ]
        );
        create_group(&r, "g", None).await;
        create_group(&r, "h", Some("g")).await;
        r.add_thing_to_thing_group(
            &scope(),
            req(json!({"thingGroupName": "g", "thingName": "t"})),
        )
        .await
        .unwrap();
        r.update_thing_groups_for_thing(req(
            json!({"thingName": "t", "thingGroupsToAdd": ["h"], "thingGroupsToRemove": ["g"]}),
        ))
        .await
        .unwrap();
        r.remove_thing_from_thing_group(
            &scope(),
            req(json!({"thingGroupName": "h", "thingName": "t"})),
        )
        .await
        .unwrap();
        let group = |g: &str| g.to_owned();
        assert_eq!(
            announced(&mut changes),
            [
                RegistryChange::ThingGroupCreated {
                    group: group("g"),
                    parent: None
                },
                RegistryChange::ThingGroupCreated {
                    group: group("h"),
                    parent: Some(group("g"))
                },
                RegistryChange::ThingAddedToGroup {
                    thing: t(),
                    group: group("g")
                },
                RegistryChange::ThingRemovedFromGroup {
                    thing: t(),
                    group: group("g")
                },
                RegistryChange::ThingAddedToGroup {
                    thing: t(),
                    group: group("h")
                },
                RegistryChange::ThingRemovedFromGroup {
                    thing: t(),
                    group: group("h")
                },
            ]
        );
        r.detach_thing_principal(req(json!({"thingName": "t", "principal": COGNITO})))
            .await
            .unwrap();
        r.delete_thing(req(json!({"thingName": "t"})))
            .await
            .unwrap();
        r.delete_thing_group(req(json!({"thingGroupName": "h"})))
            .await
            .unwrap();
        r.delete_policy(req(json!({"policyName": "p"})))
            .await
            .unwrap();
        assert_eq!(
            announced(&mut changes)
                .into_iter()
                .map(|c| match c {
                    // What the deleted documents were is checked by the events tests.
                    RegistryChange::ThingDeleted { thing, .. } => {
                        RegistryChange::ThingDeleted { thing, last: None }
                    }
                    RegistryChange::ThingGroupDeleted { group, .. } => {
                        RegistryChange::ThingGroupDeleted { group, last: None }
                    }
                    c => c,
                })
                .collect::<Vec<_>>(),
            [
                RegistryChange::ThingPrincipalDetached {
                    thing: t(),
                    principal: cognito()
                },
                RegistryChange::ThingDeleted {
                    thing: t(),
                    last: None
                },
                RegistryChange::ThingGroupDeleted {
                    group: group("h"),
                    last: None
                },
                RegistryChange::PolicyDeleted { policy: p() },
            ]
        );
        // Deleting what does not exist changes nothing.
        r.delete_thing(req(json!({"thingName": "t"})))
            .await
            .unwrap();
        r.delete_thing_group(req(json!({"thingGroupName": "h"})))
            .await
            .unwrap();
        assert_eq!(announced(&mut changes), []);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_attaches_keep_the_per_target_limit() {
        let (r, _dir) = registry().await;
        let n = crate::principals::MAX_POLICIES_PER_TARGET + 3;
        for i in 0..n {
            create_policy(&r, &format!("p{i}"), &allow("iot:Connect")).await;
        }
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let r = r.clone();
                tokio::spawn(async move { attach(&r, &format!("p{i}"), COGNITO).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(RegistryError::LimitExceeded(_)) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, crate::principals::MAX_POLICIES_PER_TARGET);
        let attached = r
            .linked(TARGET_POLICY, &format!("cognito:{COGNITO}"))
            .await
            .unwrap();
        assert_eq!(attached.len(), crate::principals::MAX_POLICIES_PER_TARGET);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_versions_keep_the_version_limit() {
        let (r, _dir) = registry().await;
        create_policy(&r, "p", &allow("iot:Connect")).await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let r = r.clone();
                let doc = allow(&format!("iot:Action{i}"));
                tokio::spawn(async move {
                    r.create_policy_version(
                        &scope(),
                        req(json!({"policyName": "p", "policyDocument": doc})),
                    )
                    .await
                })
            })
            .collect();
        let mut ids = BTreeSet::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(out) => assert!(ids.insert(out["policyVersionId"].as_str().unwrap().to_owned())),
                Err(RegistryError::VersionsLimitExceeded(_)) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ids.len(), crate::policies::MAX_VERSIONS - 1);
        let listed = r
            .list_policy_versions(req(json!({"policyName": "p"})))
            .await
            .unwrap();
        assert_eq!(
            listed["policyVersions"].as_array().unwrap().len(),
            crate::policies::MAX_VERSIONS
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delete_racing_an_attach_leaves_no_dangling_link() {
        let (r, _dir) = registry().await;
        for round in 0..20 {
            let name = format!("p{round}");
            create_policy(&r, &name, &allow("iot:Connect")).await;
            let (del, att) = {
                let (r1, r2) = (r.clone(), r.clone());
                let (n1, n2) = (name.clone(), name.clone());
                let del =
                    tokio::spawn(
                        async move { r1.delete_policy(req(json!({"policyName": n1}))).await },
                    );
                let att = tokio::spawn(async move { attach(&r2, &n2, COGNITO).await });
                (del.await.unwrap(), att.await.unwrap())
            };
            let exists = r
                .get::<crate::policies::PolicyDoc>(kinds::POLICY, &name)
                .await
                .unwrap()
                .is_some();
            let linked = r.thing_or_policy_linked(&name).await;
            match (del, att) {
                (Ok(_), Err(RegistryError::NotFound(_))) => assert!(!exists && !linked),
                (Err(RegistryError::DeleteConflict(_)), Ok(_)) => {
                    assert!(exists && linked);
                    // Keep the target under its 10-policy limit for the rounds to come.
                    r.detach_policy(req(json!({"policyName": name, "target": COGNITO})))
                        .await
                        .unwrap();
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
    }

    impl Registry {
        /// Whether either direction of a link between policy `name` and [`COGNITO`] exists.
        async fn thing_or_policy_linked(&self, name: &str) -> bool {
            let key = format!("cognito:{COGNITO}");
            let forward = self.linked(kinds::POLICY_TARGET, name).await.unwrap();
            let back = self.linked(TARGET_POLICY, &key).await.unwrap();
            !forward.is_empty() || back.iter().any(|p| p == name)
        }
    }

    #[test]
    fn action_types_map_to_iot_actions() {
        assert_eq!(action_of("PUBLISH"), Some("iot:Publish"));
        assert_eq!(action_of("SUBSCRIBE"), Some("iot:Subscribe"));
        assert_eq!(action_of("RECEIVE"), Some("iot:Receive"));
        assert_eq!(action_of("CONNECT"), Some("iot:Connect"));
        assert_eq!(action_of("RETAIN"), None);
    }

    #[test]
    fn thing_variables_are_keyed_as_policies_write_them() {
        let mut ctx = HashMap::new();
        let thing = ThingForAuth {
            name: "lamp-1".into(),
            thing_type: Some("lamp".into()),
            attributes: BTreeMap::from([("room".to_owned(), "kitchen".to_owned())]),
        };
        thing_context(&mut ctx, Some(&thing));
        let one = |v: &str| Some(ContextValue::One(v.into()));
        assert_eq!(
            ctx.get("iot:Connection.Thing.ThingName").cloned(),
            one("lamp-1")
        );
        assert_eq!(
            ctx.get("iot:Connection.Thing.ThingTypeName").cloned(),
            one("lamp")
        );
        assert_eq!(
            ctx.get("iot:Connection.Thing.Attributes[room]").cloned(),
            one("kitchen")
        );
        assert_eq!(
            ctx.get("iot:Connection.Thing.IsAttached").cloned(),
            one("true")
        );
        let mut none = HashMap::new();
        thing_context(&mut none, None);
        assert_eq!(none.len(), 1);
        assert_eq!(
            none.get("iot:Connection.Thing.IsAttached").cloned(),
            one("false")
        );
    }
}
