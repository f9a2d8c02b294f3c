//! One arm per implemented operation: typed input from the validated JSON, the registry
//! call, its JSON output. Everything else answers `NotImplementedException` naming the
//! operation.

use ferrite_api_model::Operation;
use ferrite_registry::Scope;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ApiError, ApiState};

/// The validated input as the operation's request type. The model already checked types and
/// constraints, so a failure here is a member the request type reads differently.
fn input<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::invalid_request(e.to_string()))
}

pub(crate) async fn dispatch(
    state: &ApiState,
    scope: &Scope,
    op: Operation,
    v: Value,
) -> Result<Value, ApiError> {
    let r = &state.registry;
    let service = op.service();
    let result = match op {
        Operation::CreateThing => r.create_thing(scope, input(v)?).await,
        Operation::DescribeThing => r.describe_thing(scope, input(v)?).await,
        Operation::UpdateThing => r.update_thing(input(v)?).await,
        Operation::DeleteThing => r.delete_thing(input(v)?).await,
        Operation::ListThings => r.list_things(scope, input(v)?).await,
        Operation::CreateThingType => r.create_thing_type(scope, input(v)?).await,
        Operation::DescribeThingType => r.describe_thing_type(scope, input(v)?).await,
        Operation::UpdateThingType => r.update_thing_type(input(v)?).await,
        Operation::DeprecateThingType => r.deprecate_thing_type(input(v)?).await,
        Operation::DeleteThingType => r.delete_thing_type(input(v)?).await,
        Operation::ListThingTypes => r.list_thing_types(scope, input(v)?).await,
        Operation::CreateThingGroup => r.create_thing_group(scope, input(v)?).await,
        Operation::DescribeThingGroup => r.describe_thing_group(scope, input(v)?).await,
        Operation::UpdateThingGroup => r.update_thing_group(input(v)?).await,
        Operation::DeleteThingGroup => r.delete_thing_group(input(v)?).await,
        Operation::ListThingGroups => r.list_thing_groups(scope, input(v)?).await,
        Operation::AddThingToThingGroup => r.add_thing_to_thing_group(scope, input(v)?).await,
        Operation::RemoveThingFromThingGroup => {
            r.remove_thing_from_thing_group(scope, input(v)?).await
        }
        Operation::UpdateThingGroupsForThing => r.update_thing_groups_for_thing(input(v)?).await,
        Operation::ListThingsInThingGroup => r.list_things_in_thing_group(input(v)?).await,
        Operation::ListThingGroupsForThing => r.list_thing_groups_for_thing(scope, input(v)?).await,
        Operation::CreateBillingGroup => r.create_billing_group(scope, input(v)?).await,
        Operation::DescribeBillingGroup => r.describe_billing_group(scope, input(v)?).await,
        Operation::UpdateBillingGroup => r.update_billing_group(input(v)?).await,
        Operation::DeleteBillingGroup => r.delete_billing_group(input(v)?).await,
        Operation::ListBillingGroups => r.list_billing_groups(scope, input(v)?).await,
        Operation::AddThingToBillingGroup => r.add_thing_to_billing_group(scope, input(v)?).await,
        Operation::RemoveThingFromBillingGroup => {
            r.remove_thing_from_billing_group(scope, input(v)?).await
        }
        Operation::ListThingsInBillingGroup => r.list_things_in_billing_group(input(v)?).await,
        Operation::TagResource => r.tag_resource(scope, input(v)?).await,
        Operation::UntagResource => r.untag_resource(scope, input(v)?).await,
        Operation::ListTagsForResource => r.list_tags_for_resource(scope, input(v)?).await,
        Operation::DescribeEndpoint => r.describe_endpoint(input(v)?),
        Operation::GetIndexingConfiguration => r.get_indexing_configuration().await,
        Operation::UpdateIndexingConfiguration => r.update_indexing_configuration(v).await,
        Operation::DescribeEventConfigurations => r.describe_event_configurations().await,
        Operation::UpdateEventConfigurations => r.update_event_configurations(v).await,
        other => return Err(ApiError::not_implemented(other.name(), service)),
    };
    result.map_err(|e| ApiError::from_registry(service, e))
}
