//! One arm per implemented operation: typed input from the validated JSON, the registry
//! call, its JSON output. Everything else answers `NotImplementedException` naming the
//! operation.

use ferrite_api_model::Operation;
use ferrite_registry::Scope;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::data_plane::{self, Caller, ShadowOp};
use crate::{ApiError, ApiState};

/// The validated input as the operation's request type. The model already checked types and
/// constraints, so a failure here is a member the request type reads differently.
fn input<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::invalid_request(e.to_string()))
}

pub(crate) async fn dispatch(
    state: &ApiState,
    scope: &Scope,
    caller: &Caller,
    op: Operation,
    v: Value,
) -> Result<Value, ApiError> {
    let shadow_op = match op {
        Operation::GetThingShadow => Some(ShadowOp::Get),
        Operation::UpdateThingShadow => Some(ShadowOp::Update),
        Operation::DeleteThingShadow => Some(ShadowOp::Delete),
        _ => None,
    };
    if matches!(
        op,
        Operation::Publish
            | Operation::ListNamedShadowsForThing
            | Operation::GetRetainedMessage
            | Operation::ListRetainedMessages
    ) || shadow_op.is_some()
    {
        let Some(plane) = &state.data_plane else {
            return Err(ApiError::not_implemented(op.name(), op.service()));
        };
        return match (op, shadow_op) {
            (_, Some(sop)) => data_plane::shadow(plane.as_ref(), caller, sop, v).await,
            (Operation::Publish, _) => data_plane::publish(plane.as_ref(), caller, v).await,
            (Operation::GetRetainedMessage, _) => {
                data_plane::get_retained(plane.as_ref(), caller, v)
            }
            (Operation::ListRetainedMessages, _) => {
                data_plane::list_retained(plane.as_ref(), caller, v)
            }
            _ => data_plane::list_named_shadows(plane.as_ref(), caller, v).await,
        };
    }
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
        Operation::CreateKeysAndCertificate => {
            r.create_keys_and_certificate(scope, input(v)?).await
        }
        Operation::CreateCertificateFromCsr => {
            r.create_certificate_from_csr(scope, input(v)?).await
        }
        Operation::RegisterCertificate => r.register_certificate(scope, input(v)?).await,
        Operation::RegisterCertificateWithoutCA => {
            r.register_certificate_without_ca(scope, input(v)?).await
        }
        Operation::DescribeCertificate => r.describe_certificate(scope, input(v)?).await,
        Operation::ListCertificates => r.list_certificates(scope, input(v)?).await,
        Operation::ListCertificatesByCA => r.list_certificates_by_ca(scope, input(v)?).await,
        Operation::UpdateCertificate => r.update_certificate(input(v)?).await,
        Operation::DeleteCertificate => r.delete_certificate(scope, input(v)?).await,
        Operation::GetRegistrationCode => r.get_registration_code().await,
        Operation::DeleteRegistrationCode => r.delete_registration_code().await,
        Operation::RegisterCACertificate => r.register_ca_certificate(scope, input(v)?).await,
        Operation::DescribeCACertificate => r.describe_ca_certificate(scope, input(v)?).await,
        Operation::ListCACertificates => r.list_ca_certificates(scope, input(v)?).await,
        Operation::UpdateCACertificate => r.update_ca_certificate(input(v)?).await,
        Operation::DeleteCACertificate => r.delete_ca_certificate(input(v)?).await,
        Operation::CreatePolicy => r.create_policy(scope, input(v)?).await,
        Operation::GetPolicy => r.get_policy(scope, input(v)?).await,
        Operation::ListPolicies => r.list_policies(scope, input(v)?).await,
        Operation::DeletePolicy => r.delete_policy(input(v)?).await,
        Operation::CreatePolicyVersion => r.create_policy_version(scope, input(v)?).await,
        Operation::GetPolicyVersion => r.get_policy_version(scope, input(v)?).await,
        Operation::ListPolicyVersions => r.list_policy_versions(input(v)?).await,
        Operation::SetDefaultPolicyVersion => r.set_default_policy_version(input(v)?).await,
        Operation::DeletePolicyVersion => r.delete_policy_version(input(v)?).await,
        Operation::AttachPolicy => r.attach_policy(scope, input(v)?).await,
        Operation::DetachPolicy => r.detach_policy(input(v)?).await,
        Operation::AttachPrincipalPolicy => r.attach_principal_policy(scope, input(v)?).await,
        Operation::DetachPrincipalPolicy => r.detach_principal_policy(input(v)?).await,
        Operation::ListAttachedPolicies => r.list_attached_policies(scope, input(v)?).await,
        Operation::ListPrincipalPolicies => r.list_principal_policies(scope, input(v)?).await,
        Operation::ListTargetsForPolicy => r.list_targets_for_policy(scope, input(v)?).await,
        Operation::ListPolicyPrincipals => r.list_policy_principals(scope, input(v)?).await,
        Operation::GetEffectivePolicies => r.get_effective_policies(scope, input(v)?).await,
        Operation::TestAuthorization => r.test_authorization(scope, input(v)?).await,
        Operation::AttachThingPrincipal => r.attach_thing_principal(scope, input(v)?).await,
        Operation::DetachThingPrincipal => r.detach_thing_principal(input(v)?).await,
        Operation::ListThingPrincipals => r.list_thing_principals(scope, input(v)?).await,
        Operation::ListThingPrincipalsV2 => r.list_thing_principals_v2(scope, input(v)?).await,
        Operation::ListPrincipalThings => r.list_principal_things(scope, input(v)?).await,
        Operation::ListPrincipalThingsV2 => r.list_principal_things_v2(scope, input(v)?).await,
        Operation::CreateAuthorizer => r.create_authorizer(scope, input(v)?).await,
        Operation::DescribeAuthorizer => r.describe_authorizer(scope, input(v)?).await,
        Operation::ListAuthorizers => r.list_authorizers(scope, input(v)?).await,
        Operation::UpdateAuthorizer => r.update_authorizer(scope, input(v)?).await,
        Operation::DeleteAuthorizer => r.delete_authorizer(input(v)?).await,
        Operation::SetDefaultAuthorizer => r.set_default_authorizer(scope, input(v)?).await,
        Operation::ClearDefaultAuthorizer => r.clear_default_authorizer(input(v)?).await,
        Operation::DescribeDefaultAuthorizer => {
            r.describe_default_authorizer(scope, input(v)?).await
        }
        Operation::TestInvokeAuthorizer => r.test_invoke_authorizer(input(v)?).await,
        other => return Err(ApiError::not_implemented(other.name(), service)),
    };
    result.map_err(|e| ApiError::from_registry(service, e))
}
