//! What the jobs service's unit tests share: the account and region their requests run in,
//! ARNs in it, and typed requests from JSON as the HTTP edge makes them.

use ferrite_registry::Scope;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "eu-west-1";

pub(crate) fn scope() -> Scope {
    Scope {
        region: REGION.into(),
        account: ACCOUNT.into(),
    }
}

/// `arn:aws:iot:{REGION}:{ACCOUNT}:{resource}`.
pub(crate) fn arn(resource: &str) -> String {
    format!("arn:aws:iot:{REGION}:{ACCOUNT}:{resource}")
}

/// A typed request from its JSON, as the HTTP edge makes it.
pub(crate) fn req<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}
