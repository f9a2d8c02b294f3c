//! What the rules engine's `get_thing_shadow` and `get_registry_data` read: the shadow service
//! (through the same per-shadow queue as REST GetThingShadow, so a lookup sees every update
//! that was answered before it) and the registry (DescribeThing, ListThingGroupsForThing).

use ferrite_registry::{Registry, RegistryError, Scope};
use ferrite_rules_service::{LookupFuture, Lookups, RegistryApi};
use ferrite_shadow::{Operation, ShadowError};
use ferrite_shadow_service::{RestError, Shadows};
use ferrite_types::AwsException;

pub struct RuleLookups {
    pub shadows: Shadows,
    pub registry: Registry,
    pub scope: Scope,
}

impl Lookups for RuleLookups {
    fn thing_shadow<'a>(&'a self, thing: &'a str, shadow: Option<&'a str>) -> LookupFuture<'a> {
        Box::pin(async move {
            match self.shadows.rest(Operation::Get, thing, shadow, b"").await {
                Ok(body) => serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| format!("the shadow is not JSON: {e}")),
                Err(RestError::Refused(ShadowError::NotFound(_))) => Ok(None),
                Err(e) => Err(refusal(&e)),
            }
        })
    }

    fn registry_data<'a>(&'a self, api: RegistryApi, thing: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            // The registry's requests are what its API deserializes.
            let request = serde_json::json!({ "thingName": thing });
            let bad = |e: serde_json::Error| format!("bad registry request: {e}");
            let answer = match api {
                RegistryApi::DescribeThing => {
                    let req = serde_json::from_value(request).map_err(bad)?;
                    self.registry.describe_thing(&self.scope, req).await
                }
                RegistryApi::ListThingGroupsForThing => {
                    let req = serde_json::from_value(request).map_err(bad)?;
                    self.registry
                        .list_thing_groups_for_thing(&self.scope, req)
                        .await
                }
            };
            match answer {
                Ok(out) => Ok(Some(out)),
                Err(RegistryError::NotFound(_)) => Ok(None),
                Err(e) => Err(refusal(&e)),
            }
        })
    }
}

/// AWS's exception and message, as a lookup failure the error action reports.
fn refusal(e: &dyn AwsException) -> String {
    format!("{}: {}", e.exception_name(), e.exception_message())
}
