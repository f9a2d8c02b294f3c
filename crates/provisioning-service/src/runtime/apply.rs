//! Applying an evaluated [`Plan`] through the registry, in an order that leaves nothing usable
//! half-done: the thing (created, or updated as `OverrideSettings` allow), the policies
//! (created from their documents when absent) attached to the certificate, the certificate
//! attached to the thing, and last the certificate's status, so a failed run never leaves an
//! active certificate behind. Every step is idempotent (creates that find the resource, attaches
//! that find the attachment), so a device that retries the same request gets the same result.
//!
//! Every `FAIL` override is checked before anything is written: a conflicting run changes
//! nothing.

use std::collections::{BTreeMap, BTreeSet};

use ferrite_provisioning::{Override, Plan, PolicySource, ThingPlan};
use ferrite_registry::{Registry, RegistryError, Scope};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::ProvisionFailure;

/// What the registry looks like after a run: the thing's name and every resource's ARN by
/// the template's logical name (RegisterThing's `resourceArns`).
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub thing_name: Option<String>,
    pub resource_arns: BTreeMap<String, String>,
}

/// The certificate a plan provisions, already in the registry.
pub(crate) struct TargetCertificate<'a> {
    pub id: &'a str,
    /// Created for this provisioning (fleet provisioning's own certificates): its status is
    /// the template's whatever `OverrideSettings` says, as it has no status of its own yet.
    pub fresh: bool,
}

/// A registry request from the JSON its operation takes (the request types are the
/// registry's wire shapes).
fn req<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("provisioning builds well-formed registry requests")
}

fn reg(e: RegistryError) -> ProvisionFailure {
    ProvisionFailure::from_registry(e)
}

pub(crate) async fn apply(
    registry: &Registry,
    scope: &Scope,
    plan: &Plan,
    cert: Option<TargetCertificate<'_>>,
) -> Result<Applied, ProvisionFailure> {
    let cert_arn = cert.as_ref().map(|c| scope.arn(&format!("cert/{}", c.id)));
    let mut applied = Applied::default();
    let thing_update = match &plan.thing {
        Some(t) => Some(decide_thing(registry, scope, t).await?),
        None => None,
    };
    let status = match (&plan.certificate, &cert) {
        (Some(c), Some(cert)) => decide_status(registry, cert, c).await?,
        _ => None,
    };

    if let (Some(t), Some(update)) = (&plan.thing, thing_update) {
        apply_thing(registry, scope, t, update).await?;
        applied.thing_name = Some(t.thing_name.clone());
        applied.resource_arns.insert(
            t.logical_name.clone(),
            scope.arn(&format!("thing/{}", t.thing_name)),
        );
    }
    for p in &plan.policies {
        match &p.source {
            PolicySource::Existing => {
                registry
                    .get_policy(scope, req(json!({"policyName": p.policy_name})))
                    .await
                    .map_err(reg)?;
            }
            PolicySource::Document(document) => {
                let create = json!({"policyName": p.policy_name, "policyDocument": document});
                match registry.create_policy(scope, req(create)).await {
                    // Made by an earlier run (or another device of the fleet): reused.
                    Ok(_) | Err(RegistryError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(reg(e)),
                }
            }
        }
        if let Some(cert_arn) = &cert_arn {
            registry
                .attach_policy(
                    scope,
                    req(json!({"policyName": p.policy_name, "target": cert_arn})),
                )
                .await
                .map_err(reg)?;
        }
        applied.resource_arns.insert(
            p.logical_name.clone(),
            scope.arn(&format!("policy/{}", p.policy_name)),
        );
    }
    if let (Some(thing), Some(cert_arn)) = (&applied.thing_name, &cert_arn) {
        registry
            .attach_thing_principal(
                scope,
                req(json!({"thingName": thing, "principal": cert_arn})),
            )
            .await
            .map_err(reg)?;
    }
    if let (Some(c), Some(cert), Some(cert_arn)) = (&plan.certificate, &cert, cert_arn) {
        if let Some(status) = status {
            registry
                .update_certificate(req(json!({"certificateId": cert.id, "newStatus": status})))
                .await
                .map_err(reg)?;
        }
        applied
            .resource_arns
            .insert(c.logical_name.clone(), cert_arn);
    }
    Ok(applied)
}

/// The status to set, if any, after checking a `FAIL` override.
async fn decide_status(
    registry: &Registry,
    cert: &TargetCertificate<'_>,
    plan: &ferrite_provisioning::CertificatePlan,
) -> Result<Option<&'static str>, ProvisionFailure> {
    let wanted = plan.status.as_str();
    let current = registry
        .certificate_for_auth(cert.id)
        .await
        .map_err(reg)?
        .ok_or_else(|| {
            ProvisionFailure::InvalidParameters(format!(
                "The certificate {} does not exist.",
                cert.id
            ))
        })?
        .status;
    if current.as_str() == wanted {
        return Ok(None);
    }
    if cert.fresh {
        return Ok(Some(wanted));
    }
    match plan.status_override {
        Override::Fail => Err(ProvisionFailure::ResourceConflict(format!(
            "The certificate {} has status {}, not {wanted}.",
            cert.id,
            current.as_str()
        ))),
        // [VERIFY] AWS's default for an existing certificate: the template's status applies
        // (RegisterThing "sets the certificate status"), as with REPLACE.
        _ => Ok(Some(wanted)),
    }
}

/// What to change on the thing.
enum ThingUpdate {
    Create,
    Update {
        attributes: Option<Value>,
        thing_type: Option<String>,
        groups_to_add: Vec<String>,
        groups_to_remove: Vec<String>,
        billing_group: Option<String>,
    },
}

/// `true` when the template's value must be written over `current` (checking `FAIL`).
fn overrides<T: PartialEq + std::fmt::Debug>(
    how: Override,
    what: &str,
    thing: &str,
    current: &T,
    wanted: &T,
) -> Result<bool, ProvisionFailure> {
    if current == wanted {
        return Ok(false);
    }
    match how {
        Override::DoNothing => Ok(false),
        Override::Replace | Override::Merge => Ok(true),
        Override::Fail => Err(ProvisionFailure::ResourceConflict(format!(
            "The thing {thing} exists with {what} {current:?}, not {wanted:?}, and the template \
             says FAIL."
        ))),
    }
}

async fn decide_thing(
    registry: &Registry,
    scope: &Scope,
    t: &ThingPlan,
) -> Result<ThingUpdate, ProvisionFailure> {
    let name = &t.thing_name;
    let desc = match registry
        .describe_thing(scope, req(json!({"thingName": name})))
        .await
    {
        Ok(d) => d,
        Err(RegistryError::NotFound(_)) => return Ok(ThingUpdate::Create),
        Err(e) => return Err(reg(e)),
    };
    let o = t.overrides;
    let current_attributes: BTreeMap<String, String> =
        serde_json::from_value(desc["attributes"].clone()).unwrap_or_default();
    let attributes = match o.attribute_payload {
        Override::Merge => {
            let mut merged = current_attributes.clone();
            merged.extend(t.attributes.clone());
            overrides(
                o.attribute_payload,
                "attributes",
                name,
                &current_attributes,
                &merged,
            )?
            .then(|| json!({"attributes": t.attributes, "merge": true}))
        }
        how => overrides(how, "attributes", name, &current_attributes, &t.attributes)?.then(|| {
            // Replacing: the template's attributes, and the others removed.
            let mut all: BTreeMap<String, String> = current_attributes
                .keys()
                .map(|k| (k.clone(), String::new()))
                .collect();
            all.extend(t.attributes.clone());
            json!({"attributes": all, "merge": true})
        }),
    };
    let current_type = desc["thingTypeName"].as_str().map(str::to_owned);
    let thing_type = match &t.thing_type_name {
        Some(wanted) => overrides(
            o.thing_type_name,
            "thing type",
            name,
            &current_type,
            &Some(wanted.clone()),
        )?
        .then(|| wanted.clone()),
        None => None,
    };
    let groups_now = thing_groups(registry, scope, name).await?;
    let wanted_groups: BTreeSet<String> = t.thing_groups.iter().cloned().collect();
    let (mut groups_to_add, mut groups_to_remove) = (Vec::new(), Vec::new());
    let target = match o.thing_groups {
        Override::Merge => groups_now.union(&wanted_groups).cloned().collect(),
        _ => wanted_groups.clone(),
    };
    if !wanted_groups.is_empty()
        && overrides(o.thing_groups, "thing groups", name, &groups_now, &target)?
    {
        groups_to_add = target.difference(&groups_now).cloned().collect();
        groups_to_remove = groups_now.difference(&target).cloned().collect();
    }
    let current_billing = desc["billingGroupName"].as_str().map(str::to_owned);
    let billing_group = match &t.billing_group {
        Some(wanted) => overrides(
            o.billing_group,
            "billing group",
            name,
            &current_billing,
            &Some(wanted.clone()),
        )?
        .then(|| wanted.clone()),
        None => None,
    };
    Ok(ThingUpdate::Update {
        attributes,
        thing_type,
        groups_to_add,
        groups_to_remove,
        billing_group,
    })
}

async fn thing_groups(
    registry: &Registry,
    scope: &Scope,
    thing: &str,
) -> Result<BTreeSet<String>, ProvisionFailure> {
    let mut groups = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let page = registry
            .list_thing_groups_for_thing(
                scope,
                req(json!({"thingName": thing, "nextToken": next, "maxResults": 250})),
            )
            .await
            .map_err(reg)?;
        for g in page["thingGroups"].as_array().into_iter().flatten() {
            if let Some(n) = g["groupName"].as_str() {
                groups.insert(n.to_owned());
            }
        }
        match page["nextToken"].as_str() {
            Some(t) => next = Some(t.to_owned()),
            None => return Ok(groups),
        }
    }
}

async fn apply_thing(
    registry: &Registry,
    scope: &Scope,
    t: &ThingPlan,
    update: ThingUpdate,
) -> Result<(), ProvisionFailure> {
    let name = &t.thing_name;
    match update {
        ThingUpdate::Create => {
            let mut create =
                json!({"thingName": name, "attributePayload": {"attributes": t.attributes}});
            if let Some(ty) = &t.thing_type_name {
                create["thingTypeName"] = json!(ty);
            }
            if let Some(bg) = &t.billing_group {
                create["billingGroupName"] = json!(bg);
            }
            match registry.create_thing(scope, req(create)).await {
                Ok(_) => {}
                // Created meanwhile by a concurrent run of the same request: the same thing.
                Err(RegistryError::AlreadyExists { .. }) => {}
                Err(e) => return Err(reg(e)),
            }
            if !t.thing_groups.is_empty() {
                registry
                    .update_thing_groups_for_thing(req(
                        json!({"thingName": name, "thingGroupsToAdd": t.thing_groups}),
                    ))
                    .await
                    .map_err(reg)?;
            }
        }
        ThingUpdate::Update {
            attributes,
            thing_type,
            groups_to_add,
            groups_to_remove,
            billing_group,
        } => {
            if attributes.is_some() || thing_type.is_some() {
                let mut update = json!({"thingName": name});
                if let Some(a) = attributes {
                    update["attributePayload"] = a;
                }
                if let Some(ty) = thing_type {
                    update["thingTypeName"] = json!(ty);
                }
                registry.update_thing(req(update)).await.map_err(reg)?;
            }
            if !groups_to_add.is_empty() || !groups_to_remove.is_empty() {
                registry
                    .update_thing_groups_for_thing(req(json!({
                        "thingName": name,
                        "thingGroupsToAdd": groups_to_add,
                        "thingGroupsToRemove": groups_to_remove,
                    })))
                    .await
                    .map_err(reg)?;
            }
            if let Some(bg) = billing_group {
                registry
                    .add_thing_to_billing_group(
                        scope,
                        req(json!({"billingGroupName": bg, "thingName": name})),
                    )
                    .await
                    .map_err(reg)?;
            }
        }
    }
    Ok(())
}

/// Test helpers: registry requests and a thing's groups.
#[cfg(test)]
pub(super) fn tests_req<T: DeserializeOwned>(v: Value) -> T {
    req(v)
}

#[cfg(test)]
pub(super) async fn tests_groups(registry: &Registry, scope: &Scope, thing: &str) -> Vec<String> {
    thing_groups(registry, scope, thing)
        .await
        .unwrap()
        .into_iter()
        .collect()
}
