//! Record kinds (collections) and link key layouts. Links are keyed `{one}/{other}` so a
//! prefix lists one side; names never contain `/` (the model's name patterns forbid it), so
//! the separator is unambiguous.

pub const THING: &str = "thing";
pub const THING_TYPE: &str = "thing-type";
/// `{type}/{thing}`: things of a type, so a type with things cannot be deleted.
pub const TYPE_THING: &str = "type-thing";
pub const SETTINGS: &str = "settings";

pub const THING_GROUP: &str = "thing-group";
/// `{parent}/{child}`: a group's direct child groups.
pub const GROUP_CHILD: &str = "group-child";
/// `{group}/{thing}`: a thing group's direct members.
pub const GROUP_THING: &str = "group-thing";
/// `{thing}/{group}`: the thing groups a thing is directly in (the other side of
/// [`GROUP_THING`], so either side lists without a scan).
pub const THING_IN_GROUP: &str = "thing-in-group";

pub const BILLING_GROUP: &str = "billing-group";
/// `{billing group}/{thing}`: a billing group's members.
pub const BILLING_THING: &str = "billing-thing";
/// `{thing}`: the billing group a thing is in (a JSON string). Kept apart from the thing's
/// own record so that joining a billing group does not bump the thing's `version`.
pub const THING_BILLING: &str = "thing-billing";

/// `{resource id}`: a resource's tags as one map. Keyed by the resource's id, not its name,
/// so tags a delete failed to remove can never reappear on a new resource of the same name.
pub const TAGS: &str = "tags";

// Identity and access (issue 4). A *principal key* names a principal or policy target
// without `/`: `cert:{certificateId}`, `thinggroup:{groupName}`, `cognito:{identityId}`
// (see `principal_key`), so link keys stay `{one}/{other}`.

/// `{certificateId}`: a device certificate (DescribeCertificate's document plus internals).
pub const CERTIFICATE: &str = "certificate";
/// `{caCertificateId}`: a registered CA certificate.
pub const CA_CERTIFICATE: &str = "ca-certificate";
/// `{caCertificateId}/{certificateId}`: certificates registered under a CA.
pub const CA_CERT: &str = "ca-cert";
/// `{policyName}`: a policy (default version id, next version number, dates).
pub const POLICY: &str = "policy";
/// `{policyName}/{versionId}`: one version of a policy's document.
pub const POLICY_VERSION: &str = "policy-version";
/// `{policyName}/{principal key}`: the targets a policy is attached to.
pub const POLICY_TARGET: &str = "policy-target";
/// `{principal key}/{policyName}`: the policies attached to a target (the other side).
pub const TARGET_POLICY: &str = "target-policy";
/// `{thingName}/{principal key}`: principals attached to a thing.
pub const THING_PRINCIPAL: &str = "thing-principal";
/// `{principal key}/{thingName}`: things attached to a principal (the other side).
pub const PRINCIPAL_THING: &str = "principal-thing";
/// `{authorizerName}`: a custom authorizer.
pub const AUTHORIZER: &str = "authorizer";

/// `{kind}/{name}`: a counter bumped by every write that attaches something to the resource
/// (a member, a child group). Deletes check it at the version they read, so an attachment
/// racing a delete makes the delete re-read rather than leave a dangling link.
pub const GUARD: &str = "guard";

/// The document of a link record: links carry nothing but their key.
pub const LINK_DOC: &str = "{}";

pub fn link(a: &str, b: &str) -> String {
    format!("{a}/{b}")
}

pub fn prefix(a: &str) -> String {
    format!("{a}/")
}
