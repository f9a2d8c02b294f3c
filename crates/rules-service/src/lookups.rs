//! The seam `get_thing_shadow` and `get_registry_data` read through: the server's own shadow
//! service and registry, behind a trait so the rules crates depend on neither (and a cluster
//! node answers from the shared store like any API call).

use std::pin::Pin;

pub use ferrite_rules::functions::RegistryApi;

/// What a lookup answers: the document, `None` when what it names does not exist, or why the
/// lookup failed (the rule then fails and its error action runs).
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<serde_json::Value>, String>> + Send + 'a>>;

pub trait Lookups: Send + Sync + 'static {
    /// The shadow document as GetThingShadow answers it (`state`, `metadata`, `version`,
    /// `timestamp`); the classic shadow when `shadow` is `None`.
    fn thing_shadow<'a>(&'a self, thing: &'a str, shadow: Option<&'a str>) -> LookupFuture<'a>;

    /// The response of `api` (DescribeThing or ListThingGroupsForThing) for `thing`.
    fn registry_data<'a>(&'a self, api: RegistryApi, thing: &'a str) -> LookupFuture<'a>;
}
