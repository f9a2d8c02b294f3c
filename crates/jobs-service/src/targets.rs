//! Job targets: thing and thing group ARNs of the caller's account and region, expanded to
//! the things they reach (a group reaches its things and its child groups' things, as on
//! AWS), through the registry's own operations.

use std::collections::BTreeSet;

use ferrite_jobs::{JobError, Target, parse_target};
use ferrite_registry::Scope;
use serde_json::json;

use crate::{Jobs, JobsError};

/// Things asked of the registry per page while expanding a group.
const GROUP_PAGE: i64 = 250;

/// A target, checked: `(is_group, name)`.
pub(crate) fn check_target<'a>(scope: &Scope, arn: &'a str) -> Result<(bool, &'a str), JobsError> {
    let (group, region, account, name) = match parse_target(arn)? {
        Target::Thing {
            region,
            account,
            name,
        } => (false, region, account, name),
        Target::ThingGroup {
            region,
            account,
            name,
        } => (true, region, account, name),
    };
    if region != scope.region || account != scope.account {
        return Err(JobError::InvalidRequest(format!(
            "The target {arn} is not a resource of account {} in region {}.",
            scope.account, scope.region
        ))
        .into());
    }
    Ok((group, name))
}

/// The thing group a target ARN names, if it names one (for ListJobs' `thingGroupName`).
pub(crate) fn group_name(arn: &str) -> Option<&str> {
    match parse_target(arn).ok()? {
        Target::ThingGroup { name, .. } => Some(name),
        Target::Thing { .. } => None,
    }
}

impl Jobs {
    /// Every thing `targets` reach, in name order, each once. A thing or group that does not
    /// exist is ResourceNotFoundException.
    pub(crate) async fn resolve_targets(
        &self,
        scope: &Scope,
        targets: &[String],
    ) -> Result<BTreeSet<String>, JobsError> {
        let mut things = BTreeSet::new();
        for arn in targets {
            let (group, name) = check_target(scope, arn)?;
            if group {
                self.group_things(name, &mut things).await?;
            } else {
                let req = serde_json::from_value(json!({ "thingName": name }))
                    .expect("a thing name request");
                self.registry.describe_thing(scope, req).await?;
                things.insert(name.to_owned());
            }
        }
        Ok(things)
    }

    pub(crate) async fn group_things(
        &self,
        group: &str,
        into: &mut BTreeSet<String>,
    ) -> Result<(), JobsError> {
        let mut next: Option<String> = None;
        loop {
            let (things, token) = self.group_things_page(group, next.as_deref()).await?;
            into.extend(things);
            match token {
                Some(t) => next = Some(t),
                None => return Ok(()),
            }
        }
    }

    /// One page of the things `group` and its descendants hold, and the token of the next.
    pub(crate) async fn group_things_page(
        &self,
        group: &str,
        next: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), JobsError> {
        let req = serde_json::from_value(json!({
            "thingGroupName": group,
            "recursive": true,
            "maxResults": GROUP_PAGE,
            "nextToken": next,
        }))
        .expect("a group listing request");
        let page = self.registry.list_things_in_thing_group(req).await?;
        let things = page["things"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        Ok((things, page["nextToken"].as_str().map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            region: "eu-west-1".into(),
            account: "123456789012".into(),
        }
    }

    #[test]
    fn targets_must_be_of_the_callers_account_and_region() {
        assert_eq!(
            check_target(&scope(), "arn:aws:iot:eu-west-1:123456789012:thing/lamp").unwrap(),
            (false, "lamp")
        );
        assert_eq!(
            check_target(&scope(), "arn:aws:iot:eu-west-1:123456789012:thinggroup/g").unwrap(),
            (true, "g")
        );
        for other in [
            "arn:aws:iot:us-east-1:123456789012:thing/lamp",
            "arn:aws:iot:eu-west-1:999999999999:thing/lamp",
            "arn:aws:iot:eu-west-1:123456789012:rule/r",
        ] {
            let err = check_target(&scope(), other).unwrap_err();
            assert!(
                matches!(err, JobsError::Job(JobError::InvalidRequest(_))),
                "{other}"
            );
        }
        assert_eq!(
            group_name("arn:aws:iot:eu-west-1:123456789012:thinggroup/g"),
            Some("g")
        );
        assert_eq!(
            group_name("arn:aws:iot:eu-west-1:123456789012:thing/t"),
            None
        );
    }
}
