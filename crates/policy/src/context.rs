//! The request context: where policy variables and condition keys get their values, and the
//! rules AWS applies to those values before a policy sees them.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::pattern::Variable;
use crate::typed::format_iso8601;

/// A value of a context key / policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    /// A single-valued key (`iot:ClientId`, `aws:SourceIp`, ...).
    One(String),
    /// A multi-valued key (`iot:ConnectAttributes`, `iot:Certificate.Subject.Organization.List`).
    /// Usable with `ForAnyValue:` / `ForAllValues:` conditions; never substituted as a variable.
    Many(Vec<String>),
}

/// Where policy variables (`${iot:ClientId}`, `${iot:Connection.Thing.ThingName}`,
/// `${iot:Certificate.Subject.CommonName}`, ...) and condition keys (`aws:SourceIp`,
/// `iot:ConnectAttributes`, `iot:LastWillTopic`, ...) get their values.
///
/// Keys are passed exactly as written in the policy (e.g. `"iot:ClientId"`,
/// `"iot:Connection.Thing.Attributes[color]"`).
pub trait Context {
    /// The value of `key`, or `None` when the request has none.
    fn get(&self, key: &str) -> Option<ContextValue>;
}

impl Context for HashMap<String, ContextValue> {
    fn get(&self, key: &str) -> Option<ContextValue> {
        HashMap::get(self, key).cloned()
    }
}

/// A context with no keys at all.
impl Context for () {
    fn get(&self, _key: &str) -> Option<ContextValue> {
        None
    }
}

impl<F: Fn(&str) -> Option<ContextValue>> Context for F {
    fn get(&self, key: &str) -> Option<ContextValue> {
        self(key)
    }
}

/// A context that answers the clock keys `aws:CurrentTime` (ISO 8601, UTC, whole seconds) and
/// `aws:EpochTime` (seconds) from `now`, and everything else from `inner`. The time is passed
/// in so that evaluation stays pure; a policy reading these keys is
/// [`time dependent`](crate::Policy::is_time_dependent), so its decisions must not be cached.
#[derive(Clone, Copy)]
pub struct WithTime<'a> {
    /// Where every other key comes from.
    pub inner: &'a dyn Context,
    /// The request's time.
    pub now: SystemTime,
}

impl Context for WithTime<'_> {
    fn get(&self, key: &str) -> Option<ContextValue> {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if !is("aws:CurrentTime") && !is("aws:EpochTime") {
            return self.inner.get(key);
        }
        let secs = match self.now.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Some(ContextValue::One(if is("aws:EpochTime") {
            secs.to_string()
        } else {
            format_iso8601(secs)
        }))
    }
}

/// Certificate attribute values longer than this are treated as absent (AWS's limit).
pub const MAX_CERTIFICATE_VALUE_CHARS: usize = 1024;

/// Characters that make AWS leave a certificate variable unresolved: an attribute chosen by
/// whoever requested the certificate must not be able to act as a wildcard.
const CERTIFICATE_FORBIDDEN: &[char] = &['*', '$', '+', '?', '#'];

fn is_certificate_key(key: &str) -> bool {
    key.get(..16)
        .is_some_and(|p| p.eq_ignore_ascii_case("iot:Certificate."))
}

fn certificate_value_ok(value: &str) -> bool {
    !value.contains(CERTIFICATE_FORBIDDEN) && value.chars().count() <= MAX_CERTIFICATE_VALUE_CHARS
}

/// Reads `key` from the context, applying AWS's certificate-attribute rules: a certificate
/// value that is too long or contains `* $ + ? #` makes the key absent.
pub(crate) fn lookup(ctx: &dyn Context, key: &str) -> Option<ContextValue> {
    let value = ctx.get(key)?;
    if is_certificate_key(key) {
        let ok = match &value {
            ContextValue::One(v) => certificate_value_ok(v),
            ContextValue::Many(vs) => vs.iter().all(|v| certificate_value_ok(v)),
        };
        if !ok {
            return None;
        }
    }
    Some(value)
}

/// The value a policy variable stands for; `None` leaves the enclosing string unable to match.
/// Multi-valued keys are not substituted (IAM only substitutes single values).
pub(crate) fn resolve(ctx: &dyn Context, var: &Variable) -> Option<String> {
    match lookup(ctx, &var.key) {
        Some(ContextValue::One(value)) => Some(value),
        Some(ContextValue::Many(_)) => None,
        None => var.default.as_deref().map(str::to_owned),
    }
}

/// Resolves a variable table (allocates nothing when the table is empty).
pub(crate) fn resolve_table(ctx: &dyn Context, vars: &[Variable]) -> Vec<Option<String>> {
    vars.iter().map(|var| resolve(ctx, var)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Option<ContextValue> {
        Some(ContextValue::One(v.to_owned()))
    }

    #[test]
    fn certificate_values_with_wildcard_characters_are_absent() {
        let ctx = |key: &str| match key {
            "iot:Certificate.Subject.CommonName" => one("dev*"),
            "iot:Certificate.Subject.Organization" => one("acme"),
            "iot:Certificate.Subject.Title" => one(&"x".repeat(1025)),
            "iot:ClientId" => one("dev*"),
            _ => None,
        };
        assert_eq!(lookup(&ctx, "iot:Certificate.Subject.CommonName"), None);
        assert_eq!(
            lookup(&ctx, "iot:Certificate.Subject.Organization"),
            one("acme")
        );
        assert_eq!(lookup(&ctx, "iot:Certificate.Subject.Title"), None);
        // Client ids are substituted as they are (and then matched literally).
        assert_eq!(lookup(&ctx, "iot:ClientId"), one("dev*"));
    }

    #[test]
    fn with_time_answers_the_clock_keys() {
        let inner = |key: &str| (key == "iot:ClientId").then(|| ContextValue::One("c".into()));
        let ctx = WithTime {
            inner: &inner,
            now: UNIX_EPOCH + std::time::Duration::from_secs(1_709_209_815),
        };
        assert_eq!(
            ctx.get("aws:EpochTime"),
            Some(ContextValue::One("1709209815".into()))
        );
        assert_eq!(
            ctx.get("aws:CurrentTime"),
            Some(ContextValue::One("2024-02-29T12:30:15Z".into()))
        );
        assert_eq!(
            ctx.get("aws:currenttime"),
            Some(ContextValue::One("2024-02-29T12:30:15Z".into()))
        );
        assert_eq!(ctx.get("iot:ClientId"), Some(ContextValue::One("c".into())));
        assert_eq!(ctx.get("aws:SourceIp"), None);
    }

    #[test]
    fn multi_valued_keys_are_not_substituted_and_defaults_apply() {
        let ctx = |key: &str| match key {
            "iot:ConnectAttributes" => Some(ContextValue::Many(vec!["LastWill".into()])),
            _ => None,
        };
        let var = |key: &str, default: Option<&str>| Variable {
            key: key.into(),
            default: default.map(Into::into),
        };
        assert_eq!(resolve(&ctx, &var("iot:ConnectAttributes", None)), None);
        assert_eq!(
            resolve(&ctx, &var("aws:username", Some("anon"))).as_deref(),
            Some("anon")
        );
    }
}
