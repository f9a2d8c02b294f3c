//! Billing groups: CreateBillingGroup, DescribeBillingGroup, UpdateBillingGroup,
//! DeleteBillingGroup, ListBillingGroups, AddThingToBillingGroup,
//! RemoveThingFromBillingGroup, ListThingsInBillingGroup, and the `billingGroupName` of
//! CreateThing / DescribeThing. Billing groups are flat, and a thing is in at most one:
//! adding it to another moves it.

use ferrite_storage::{Expect, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, BILLING_GROUP, BILLING_THING, LINK_DOC, THING, THING_BILLING};
use crate::shared::{Guard, check_version, existing, group_item, name_or_arn};
use crate::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use crate::token::listing;
use crate::{Output, Registry, RegistryError, Scope, encode, epoch_secs, now_ms, token};

const LIST_PAGE_DEFAULT: usize = 50;
const ARN_TYPE: &str = "billinggroup";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BillingGroupDoc {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingGroupProperties {
    pub billing_group_description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBillingGroup {
    pub billing_group_name: String,
    pub billing_group_properties: Option<BillingGroupProperties>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingGroupName {
    pub billing_group_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBillingGroup {
    pub billing_group_name: String,
    pub billing_group_properties: BillingGroupProperties,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBillingGroup {
    pub billing_group_name: String,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBillingGroups {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub name_prefix_filter: Option<String>,
}

/// AddThingToBillingGroup and RemoveThingFromBillingGroup: each side by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingGroupMembership {
    pub billing_group_name: Option<String>,
    pub billing_group_arn: Option<String>,
    pub thing_name: Option<String>,
    pub thing_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingsInBillingGroup {
    pub billing_group_name: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Billing Group {name} cannot be found."))
}

fn arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("{ARN_TYPE}/{name}"))
}

/// The writes that make `group` the billing group of `thing`, which was in `current`
/// (read at the given version of its [`THING_BILLING`] record).
fn join(group: &str, thing: &str, current: Option<&(String, u64)>) -> Vec<Write> {
    let mut writes = vec![
        Write::check(BILLING_GROUP, group, Expect::Present),
        Write::put(
            BILLING_THING,
            &kinds::link(group, thing),
            Expect::Any,
            LINK_DOC.into(),
        ),
        Guard::touch_any(BILLING_GROUP, group),
        Guard::touch_any(THING, thing),
    ];
    let expect = match current {
        Some((old, version)) => {
            writes.push(Write::delete(
                BILLING_THING,
                &kinds::link(old, thing),
                Expect::Any,
            ));
            // The old group's delete, racing this move, must not clear the new membership.
            writes.push(Guard::touch_any(BILLING_GROUP, old));
            Expect::Version(*version)
        }
        None => Expect::Absent,
    };
    writes.push(Write::put(THING_BILLING, thing, expect, encode(&group)));
    writes
}

/// The writes that take `thing` out of billing group `group`.
fn leave(group: &str, thing: &str) -> [Write; 2] {
    [
        Write::delete(THING_BILLING, thing, Expect::Any),
        Write::delete(BILLING_THING, &kinds::link(group, thing), Expect::Any),
    ]
}

impl Registry {
    async fn billing_group(&self, name: &str) -> Result<(BillingGroupDoc, u64), RegistryError> {
        self.get::<BillingGroupDoc>(BILLING_GROUP, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// The billing group `thing` is in, with the version of that record.
    pub(crate) async fn billing_group_of(
        &self,
        thing: &str,
    ) -> Result<Option<(String, u64)>, RegistryError> {
        self.get::<String>(THING_BILLING, thing).await
    }

    /// The writes that put a thing being created into billing group `group`.
    pub(crate) async fn join_billing_group_on_create(
        &self,
        group: &str,
        thing: &str,
    ) -> Result<Vec<Write>, RegistryError> {
        self.billing_group(group).await?;
        Ok(join(group, thing, None))
    }

    /// The writes that take a thing being deleted out of its billing group.
    pub(crate) async fn leave_billing_group(
        &self,
        thing: &str,
    ) -> Result<Vec<Write>, RegistryError> {
        Ok(match self.billing_group_of(thing).await? {
            Some((group, _)) => leave(&group, thing).to_vec(),
            None => Vec::new(),
        })
    }

    pub async fn create_billing_group(
        &self,
        scope: &Scope,
        req: CreateBillingGroup,
    ) -> Result<Output, RegistryError> {
        check_create_tags(&req.tags)?;
        let description = req
            .billing_group_properties
            .as_ref()
            .and_then(|p| p.billing_group_description.clone());
        self.retry(|| async {
            let name = &req.billing_group_name;
            let arn = arn(scope, name);
            if let Some((g, _)) = self.get::<BillingGroupDoc>(BILLING_GROUP, name).await? {
                let out = json!({"billingGroupName": name, "billingGroupArn": arn, "billingGroupId": g.id});
                let message = format!(
                    "Billing Group {name} already exists in account with different properties"
                );
                return existing(g.description == description, message, &g.id, arn, out);
            }
            let doc = BillingGroupDoc {
                name: name.clone(),
                id: uuid::Uuid::new_v4().to_string(),
                description: description.clone(),
                created_at_ms: now_ms(),
            };
            let mut writes = vec![Write::put(BILLING_GROUP, name, Expect::Absent, encode(&doc))];
            writes.extend(initial_tags(&doc.id, &req.tags)?);
            let out = json!({"billingGroupName": name, "billingGroupArn": arn, "billingGroupId": doc.id});
            Ok((writes, out))
        })
        .await
    }

    pub async fn describe_billing_group(
        &self,
        scope: &Scope,
        req: BillingGroupName,
    ) -> Result<Output, RegistryError> {
        let (g, version) = self.billing_group(&req.billing_group_name).await?;
        let mut properties = json!({});
        if let Some(d) = &g.description {
            properties["billingGroupDescription"] = json!(d);
        }
        Ok(json!({
            "billingGroupName": g.name,
            "billingGroupId": g.id,
            "billingGroupArn": arn(scope, &g.name),
            "version": version,
            "billingGroupProperties": properties,
            "billingGroupMetadata": {"creationDate": epoch_secs(g.created_at_ms)},
        }))
    }

    pub async fn update_billing_group(
        &self,
        req: UpdateBillingGroup,
    ) -> Result<Output, RegistryError> {
        self.retry(|| async {
            let name = &req.billing_group_name;
            let (mut g, version) = self.billing_group(name).await?;
            check_version(req.expected_version, version, "billing group", name)?;
            if let Some(d) = &req.billing_group_properties.billing_group_description {
                g.description = Some(d.clone());
            }
            let write = Write::put(BILLING_GROUP, name, Expect::Version(version), encode(&g));
            Ok((vec![write], json!({"version": version + 1})))
        })
        .await
    }

    pub async fn delete_billing_group(
        &self,
        req: DeleteBillingGroup,
    ) -> Result<Output, RegistryError> {
        self.retry(|| async {
            let name = &req.billing_group_name;
            // As with thing groups, deleting one that does not exist succeeds.
            let Some((g, version)) = self.get::<BillingGroupDoc>(BILLING_GROUP, name).await? else {
                return Ok((Vec::new(), json!({})));
            };
            check_version(req.expected_version, version, "billing group", name)?;
            let guard = self.guard(BILLING_GROUP, name).await?;
            let mut writes = vec![
                Write::delete(BILLING_GROUP, name, Expect::Version(version)),
                guard.release(),
                drop_tags(&g.id),
            ];
            // Its things stay, in no billing group.
            for thing in self.linked(BILLING_THING, name).await? {
                writes.extend(leave(name, &thing));
            }
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn list_billing_groups(
        &self,
        scope: &Scope,
        req: ListBillingGroups,
    ) -> Result<Output, RegistryError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let prefix = req.name_prefix_filter.as_deref().unwrap_or("");
        let (items, next) = self
            .page(
                BILLING_GROUP,
                prefix,
                req.next_token.as_deref(),
                limit,
                |_, g: BillingGroupDoc| Some(group_item(scope, ARN_TYPE, &g.name)),
            )
            .await?;
        Ok(listing("billingGroups", items, next))
    }

    pub async fn add_thing_to_billing_group(
        &self,
        scope: &Scope,
        req: BillingGroupMembership,
    ) -> Result<Output, RegistryError> {
        let (group, thing) = membership_names(scope, &req)?;
        self.retry(|| async {
            self.billing_group(&group).await?;
            self.require_thing(&thing).await?;
            let current = self.billing_group_of(&thing).await?;
            if current.as_ref().is_some_and(|(g, _)| *g == group) {
                return Ok((Vec::new(), json!({})));
            }
            let mut writes = vec![Write::check(THING, &thing, Expect::Present)];
            writes.extend(join(&group, &thing, current.as_ref()));
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn remove_thing_from_billing_group(
        &self,
        scope: &Scope,
        req: BillingGroupMembership,
    ) -> Result<Output, RegistryError> {
        let (group, thing) = membership_names(scope, &req)?;
        self.retry(|| async {
            self.billing_group(&group).await?;
            self.require_thing(&thing).await?;
            // A thing in another billing group, or in none, is left as it is.
            let writes = match self.billing_group_of(&thing).await? {
                Some((g, version)) if g == group => vec![
                    Write::delete(THING_BILLING, &thing, Expect::Version(version)),
                    Write::delete(BILLING_THING, &kinds::link(&group, &thing), Expect::Any),
                ],
                _ => Vec::new(),
            };
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn list_things_in_billing_group(
        &self,
        req: ListThingsInBillingGroup,
    ) -> Result<Output, RegistryError> {
        let name = &req.billing_group_name;
        self.billing_group(name).await?;
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let owners = [name.clone()];
        let (things, next) = self
            .names_page(BILLING_THING, &owners, "", req.next_token.as_deref(), limit)
            .await?;
        Ok(listing(
            "things",
            things.into_iter().map(|t| json!(t)).collect(),
            next,
        ))
    }
}

/// The billing group and thing a membership request names.
fn membership_names(
    scope: &Scope,
    req: &BillingGroupMembership,
) -> Result<(String, String), RegistryError> {
    let group = name_or_arn(
        scope,
        "billingGroupName",
        ARN_TYPE,
        req.billing_group_name.as_deref(),
        req.billing_group_arn.as_deref(),
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
    use ferrite_storage::Change;

    #[test]
    fn moving_a_thing_leaves_the_old_group_and_guards_it() {
        let current = ("old".to_owned(), 4);
        let writes = join("new", "t", Some(&current));
        let find = |kind: &str, key: &str| {
            writes
                .iter()
                .find(|w| w.kind == kind && w.key == key)
                .unwrap_or_else(|| panic!("no write to {kind} {key}"))
        };
        assert_eq!(find(BILLING_THING, "old/t").change, Change::Delete);
        assert_eq!(
            find(BILLING_THING, "new/t").change,
            Change::Put(LINK_DOC.into())
        );
        assert_eq!(find(THING_BILLING, "t").expect, Expect::Version(4));
        find(kinds::GUARD, "billing-group/old");
        find(kinds::GUARD, "billing-group/new");

        let fresh = join("new", "t", None);
        let record = fresh.iter().find(|w| w.kind == THING_BILLING).unwrap();
        assert_eq!(record.expect, Expect::Absent);
        assert_eq!(record.change, Change::Put("\"new\"".into()));
    }
}
