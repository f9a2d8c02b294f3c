//! The `iot` control plane: one handler per operation, grouped by resource family, each
//! decoding the operation's typed request and calling the registry, the topic rule API, the
//! provisioning template API or the jobs API with
//! the caller's scope.

mod account;
mod authorizers;
mod billing_groups;
mod ca_certificates;
mod certificates;
mod destinations;
mod jobs;
mod policies;
mod policy_targets;
mod provisioning;
mod rules;
mod tags;
mod thing_groups;
mod thing_principals;
mod thing_registration_tasks;
mod thing_types;
mod things;

use ferrite_api_model::Operation;
use serde_json::Value;

use crate::ApiError;
use crate::call::Call;
use crate::error::RequestError;

pub(crate) async fn dispatch(cx: &Call<'_>, op: Operation, v: Value) -> Result<Value, ApiError> {
    match op {
        // things
        Operation::CreateThing => things::create_thing(cx, v).await,
        Operation::DescribeThing => things::describe_thing(cx, v).await,
        Operation::UpdateThing => things::update_thing(cx, v).await,
        Operation::DeleteThing => things::delete_thing(cx, v).await,
        Operation::ListThings => things::list_things(cx, v).await,
        // thing types
        Operation::CreateThingType => thing_types::create_thing_type(cx, v).await,
        Operation::DescribeThingType => thing_types::describe_thing_type(cx, v).await,
        Operation::UpdateThingType => thing_types::update_thing_type(cx, v).await,
        Operation::DeprecateThingType => thing_types::deprecate_thing_type(cx, v).await,
        Operation::DeleteThingType => thing_types::delete_thing_type(cx, v).await,
        Operation::ListThingTypes => thing_types::list_thing_types(cx, v).await,
        // thing groups
        Operation::CreateThingGroup => thing_groups::create_thing_group(cx, v).await,
        Operation::DescribeThingGroup => thing_groups::describe_thing_group(cx, v).await,
        Operation::UpdateThingGroup => thing_groups::update_thing_group(cx, v).await,
        Operation::DeleteThingGroup => thing_groups::delete_thing_group(cx, v).await,
        Operation::ListThingGroups => thing_groups::list_thing_groups(cx, v).await,
        Operation::AddThingToThingGroup => thing_groups::add_thing_to_thing_group(cx, v).await,
        Operation::RemoveThingFromThingGroup => {
            thing_groups::remove_thing_from_thing_group(cx, v).await
        }
        Operation::UpdateThingGroupsForThing => {
            thing_groups::update_thing_groups_for_thing(cx, v).await
        }
        Operation::ListThingsInThingGroup => thing_groups::list_things_in_thing_group(cx, v).await,
        Operation::ListThingGroupsForThing => {
            thing_groups::list_thing_groups_for_thing(cx, v).await
        }
        // billing groups
        Operation::CreateBillingGroup => billing_groups::create_billing_group(cx, v).await,
        Operation::DescribeBillingGroup => billing_groups::describe_billing_group(cx, v).await,
        Operation::UpdateBillingGroup => billing_groups::update_billing_group(cx, v).await,
        Operation::DeleteBillingGroup => billing_groups::delete_billing_group(cx, v).await,
        Operation::ListBillingGroups => billing_groups::list_billing_groups(cx, v).await,
        Operation::AddThingToBillingGroup => {
            billing_groups::add_thing_to_billing_group(cx, v).await
        }
        Operation::RemoveThingFromBillingGroup => {
            billing_groups::remove_thing_from_billing_group(cx, v).await
        }
        Operation::ListThingsInBillingGroup => {
            billing_groups::list_things_in_billing_group(cx, v).await
        }
        // tags
        Operation::TagResource => tags::tag_resource(cx, v).await,
        Operation::UntagResource => tags::untag_resource(cx, v).await,
        Operation::ListTagsForResource => tags::list_tags_for_resource(cx, v).await,
        // account
        Operation::DescribeEndpoint => account::describe_endpoint(cx, v),
        Operation::GetIndexingConfiguration => account::get_indexing_configuration(cx).await,
        Operation::UpdateIndexingConfiguration => {
            account::update_indexing_configuration(cx, v).await
        }
        Operation::DescribeEventConfigurations => account::describe_event_configurations(cx).await,
        Operation::UpdateEventConfigurations => account::update_event_configurations(cx, v).await,
        // certificates
        Operation::CreateKeysAndCertificate => {
            certificates::create_keys_and_certificate(cx, v).await
        }
        Operation::CreateCertificateFromCsr => {
            certificates::create_certificate_from_csr(cx, v).await
        }
        Operation::RegisterCertificate => certificates::register_certificate(cx, v).await,
        Operation::RegisterCertificateWithoutCA => {
            certificates::register_certificate_without_ca(cx, v).await
        }
        Operation::DescribeCertificate => certificates::describe_certificate(cx, v).await,
        Operation::ListCertificates => certificates::list_certificates(cx, v).await,
        Operation::ListCertificatesByCA => certificates::list_certificates_by_ca(cx, v).await,
        Operation::UpdateCertificate => certificates::update_certificate(cx, v).await,
        Operation::DeleteCertificate => certificates::delete_certificate(cx, v).await,
        // ca certificates
        Operation::GetRegistrationCode => ca_certificates::get_registration_code(cx).await,
        Operation::DeleteRegistrationCode => ca_certificates::delete_registration_code(cx).await,
        Operation::RegisterCACertificate => ca_certificates::register_ca_certificate(cx, v).await,
        Operation::DescribeCACertificate => ca_certificates::describe_ca_certificate(cx, v).await,
        Operation::ListCACertificates => ca_certificates::list_ca_certificates(cx, v).await,
        Operation::UpdateCACertificate => ca_certificates::update_ca_certificate(cx, v).await,
        Operation::DeleteCACertificate => ca_certificates::delete_ca_certificate(cx, v).await,
        // policies
        Operation::CreatePolicy => policies::create_policy(cx, v).await,
        Operation::GetPolicy => policies::get_policy(cx, v).await,
        Operation::ListPolicies => policies::list_policies(cx, v).await,
        Operation::DeletePolicy => policies::delete_policy(cx, v).await,
        Operation::CreatePolicyVersion => policies::create_policy_version(cx, v).await,
        Operation::GetPolicyVersion => policies::get_policy_version(cx, v).await,
        Operation::ListPolicyVersions => policies::list_policy_versions(cx, v).await,
        Operation::SetDefaultPolicyVersion => policies::set_default_policy_version(cx, v).await,
        Operation::DeletePolicyVersion => policies::delete_policy_version(cx, v).await,
        Operation::GetEffectivePolicies => policies::get_effective_policies(cx, v).await,
        Operation::TestAuthorization => policies::test_authorization(cx, v).await,
        // policy targets
        Operation::AttachPolicy => policy_targets::attach_policy(cx, v).await,
        Operation::DetachPolicy => policy_targets::detach_policy(cx, v).await,
        Operation::AttachPrincipalPolicy => policy_targets::attach_principal_policy(cx, v).await,
        Operation::DetachPrincipalPolicy => policy_targets::detach_principal_policy(cx, v).await,
        Operation::ListAttachedPolicies => policy_targets::list_attached_policies(cx, v).await,
        Operation::ListPrincipalPolicies => policy_targets::list_principal_policies(cx, v).await,
        Operation::ListTargetsForPolicy => policy_targets::list_targets_for_policy(cx, v).await,
        Operation::ListPolicyPrincipals => policy_targets::list_policy_principals(cx, v).await,
        // thing principals
        Operation::AttachThingPrincipal => thing_principals::attach_thing_principal(cx, v).await,
        Operation::DetachThingPrincipal => thing_principals::detach_thing_principal(cx, v).await,
        Operation::ListThingPrincipals => thing_principals::list_thing_principals(cx, v).await,
        Operation::ListThingPrincipalsV2 => thing_principals::list_thing_principals_v2(cx, v).await,
        Operation::ListPrincipalThings => thing_principals::list_principal_things(cx, v).await,
        Operation::ListPrincipalThingsV2 => thing_principals::list_principal_things_v2(cx, v).await,
        // authorizers
        Operation::CreateAuthorizer => authorizers::create_authorizer(cx, v).await,
        Operation::DescribeAuthorizer => authorizers::describe_authorizer(cx, v).await,
        Operation::ListAuthorizers => authorizers::list_authorizers(cx, v).await,
        Operation::UpdateAuthorizer => authorizers::update_authorizer(cx, v).await,
        Operation::DeleteAuthorizer => authorizers::delete_authorizer(cx, v).await,
        Operation::SetDefaultAuthorizer => authorizers::set_default_authorizer(cx, v).await,
        Operation::ClearDefaultAuthorizer => authorizers::clear_default_authorizer(cx, v).await,
        Operation::DescribeDefaultAuthorizer => {
            authorizers::describe_default_authorizer(cx, v).await
        }
        Operation::TestInvokeAuthorizer => authorizers::test_invoke_authorizer(cx, v).await,
        // topic rules
        Operation::CreateTopicRule => rules::create_topic_rule(cx, v).await,
        Operation::GetTopicRule => rules::get_topic_rule(cx, v).await,
        Operation::ReplaceTopicRule => rules::replace_topic_rule(cx, v).await,
        Operation::DeleteTopicRule => rules::delete_topic_rule(cx, v).await,
        Operation::EnableTopicRule => rules::enable_topic_rule(cx, v).await,
        Operation::DisableTopicRule => rules::disable_topic_rule(cx, v).await,
        Operation::ListTopicRules => rules::list_topic_rules(cx, v).await,
        // topic rule destinations
        Operation::CreateTopicRuleDestination => {
            destinations::create_topic_rule_destination(cx, v).await
        }
        Operation::GetTopicRuleDestination => destinations::get_topic_rule_destination(cx, v).await,
        Operation::UpdateTopicRuleDestination => {
            destinations::update_topic_rule_destination(cx, v).await
        }
        Operation::DeleteTopicRuleDestination => {
            destinations::delete_topic_rule_destination(cx, v).await
        }
        Operation::ListTopicRuleDestinations => {
            destinations::list_topic_rule_destinations(cx, v).await
        }
        Operation::ConfirmTopicRuleDestination => {
            destinations::confirm_topic_rule_destination(cx, v).await
        }
        // provisioning templates
        Operation::CreateProvisioningTemplate => {
            provisioning::create_provisioning_template(cx, v).await
        }
        Operation::DescribeProvisioningTemplate => {
            provisioning::describe_provisioning_template(cx, v).await
        }
        Operation::UpdateProvisioningTemplate => {
            provisioning::update_provisioning_template(cx, v).await
        }
        Operation::DeleteProvisioningTemplate => {
            provisioning::delete_provisioning_template(cx, v).await
        }
        Operation::ListProvisioningTemplates => {
            provisioning::list_provisioning_templates(cx, v).await
        }
        Operation::CreateProvisioningTemplateVersion => {
            provisioning::create_provisioning_template_version(cx, v).await
        }
        Operation::DescribeProvisioningTemplateVersion => {
            provisioning::describe_provisioning_template_version(cx, v).await
        }
        Operation::DeleteProvisioningTemplateVersion => {
            provisioning::delete_provisioning_template_version(cx, v).await
        }
        Operation::ListProvisioningTemplateVersions => {
            provisioning::list_provisioning_template_versions(cx, v).await
        }
        Operation::RegisterThing => provisioning::register_thing(cx, v).await,
        Operation::CreateProvisioningClaim => provisioning::create_provisioning_claim(cx, v).await,
        Operation::StartThingRegistrationTask => thing_registration_tasks::start(cx, v).await,
        Operation::DescribeThingRegistrationTask => thing_registration_tasks::describe(cx, v).await,
        Operation::ListThingRegistrationTasks => thing_registration_tasks::list(cx, v).await,
        Operation::StopThingRegistrationTask => thing_registration_tasks::stop(cx, v).await,
        Operation::ListThingRegistrationTaskReports => {
            thing_registration_tasks::reports(cx, v).await
        }
        // jobs
        Operation::CreateJob => jobs::create_job(cx, v).await,
        Operation::DescribeJob => jobs::describe_job(cx, v).await,
        Operation::ListJobs => jobs::list_jobs(cx, v).await,
        Operation::UpdateJob => jobs::update_job(cx, v).await,
        Operation::CancelJob => jobs::cancel_job(cx, v).await,
        Operation::DeleteJob => jobs::delete_job(cx, v).await,
        Operation::GetJobDocument => jobs::get_job_document(cx, v).await,
        Operation::AssociateTargetsWithJob => jobs::associate_targets_with_job(cx, v).await,
        Operation::DescribeJobExecution => jobs::describe_job_execution(cx, v).await,
        Operation::ListJobExecutionsForJob => jobs::list_job_executions_for_job(cx, v).await,
        Operation::ListJobExecutionsForThing => jobs::list_job_executions_for_thing(cx, v).await,
        Operation::CancelJobExecution => jobs::cancel_job_execution(cx, v).await,
        Operation::DeleteJobExecution => jobs::delete_job_execution(cx, v).await,
        Operation::CreateJobTemplate => jobs::create_job_template(cx, v).await,
        Operation::DescribeJobTemplate => jobs::describe_job_template(cx, v).await,
        Operation::ListJobTemplates => jobs::list_job_templates(cx, v).await,
        Operation::DeleteJobTemplate => jobs::delete_job_template(cx, v).await,
        other => Err(RequestError::not_implemented(other).into()),
    }
}
