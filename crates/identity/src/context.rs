//! The policy context of a connection: the variables and condition keys its policies may
//! read (`iot:ClientId`, `iot:Connection.Thing.*`, certificate fields, `aws:SourceIp`,
//! `iot:ConnectAttributes`, `iot:LastWillTopic`, …). Built once at CONNECT and rebuilt
//! when the registry changes; evaluation only reads it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ferrite_policy::{Context, ContextValue};
use ferrite_registry::ThingForAuth;

/// What a CONNECT tells about the client, kept for re-resolving its permissions later.
#[derive(Debug, Clone)]
pub struct ConnectFacts {
    pub client_id: String,
    pub peer_addr: SocketAddr,
    pub tls: bool,
    /// Clean session off / session expiry > 0.
    pub persistent: bool,
    pub will_topic: Option<String>,
}

/// Variables kept as a map (certificate fields, thing attributes, …).
pub type Vars = HashMap<String, ContextValue>;

/// A connection's policy context. The keys every connection has are kept as plain fields
/// and turned into values only when a policy asks (on a decision-cache miss), because an
/// idle connection keeps its context for life; the rest (thing and certificate variables,
/// custom-authorizer principal) live in `extra`, empty and unallocated for most clients.
#[derive(Debug, Clone)]
pub struct ConnContext {
    client_id: Option<Box<str>>,
    source_ip: IpAddr,
    tls: bool,
    persistent: bool,
    /// `arn:…:topic/{will topic}`.
    will_topic_arn: Option<Box<str>>,
    extra: Vars,
}

impl ConnContext {
    pub fn insert(&mut self, key: impl Into<String>, value: ContextValue) {
        self.extra.insert(key.into(), value);
    }

    pub fn extend(&mut self, vars: &Vars) {
        self.extra
            .extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

impl Context for ConnContext {
    fn get(&self, key: &str) -> Option<ContextValue> {
        match key {
            "iot:ClientId" => self.client_id.as_deref().map(one),
            "aws:SourceIp" => Some(one(self.source_ip.to_string())),
            "aws:SecureTransport" => Some(one(if self.tls { "true" } else { "false" })),
            "iot:ConnectAttributes" => {
                let mut attributes = Vec::new();
                if self.persistent {
                    attributes.push("PersistentConnect".to_owned());
                }
                if self.will_topic_arn.is_some() {
                    attributes.push("LastWill".to_owned());
                }
                Some(ContextValue::Many(attributes))
            }
            "iot:LastWillTopic" => self.will_topic_arn.as_deref().map(one),
            _ => self.extra.get(key).cloned(),
        }
    }
}

fn one(v: impl Into<String>) -> ContextValue {
    ContextValue::One(v.into())
}

/// The variables every connection has; `arn_prefix` is `arn:aws:iot:{region}:{account}:`.
/// HTTPS requests have no client id: `iot:ClientId` then stays unresolved.
pub fn base(facts: &ConnectFacts, arn_prefix: &str) -> ConnContext {
    ConnContext {
        client_id: (!facts.client_id.is_empty()).then(|| facts.client_id.as_str().into()),
        source_ip: facts.peer_addr.ip(),
        tls: facts.tls,
        persistent: facts.persistent,
        will_topic_arn: facts
            .will_topic
            .as_ref()
            .map(|t| format!("{arn_prefix}topic/{t}").into()),
        extra: Vars::new(),
    }
}

/// The `iot:Connection.Thing.*` variables: the thing named like the client id, when it is
/// attached to the connection's principal.
pub fn add_thing(vars: &mut ConnContext, thing: Option<&ThingForAuth>) {
    let Some(thing) = thing else {
        vars.insert("iot:Connection.Thing.IsAttached", one("false"));
        return;
    };
    vars.insert("iot:Connection.Thing.IsAttached", one("true"));
    vars.insert("iot:Connection.Thing.ThingName", one(&thing.name));
    if let Some(t) = &thing.thing_type {
        vars.insert("iot:Connection.Thing.ThingTypeName", one(t));
    }
    for (k, v) in &thing.attributes {
        vars.insert(format!("iot:Connection.Thing.Attributes[{k}]"), one(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_keys_are_answered_from_fields() {
        let facts = ConnectFacts {
            client_id: "dev-1".into(),
            peer_addr: SocketAddr::from(([10, 0, 0, 7], 4000)),
            tls: true,
            persistent: true,
            will_topic: Some("wills/dev-1".into()),
        };
        let mut ctx = base(&facts, "arn:aws:iot:r:1:");
        add_thing(&mut ctx, None);
        assert_eq!(ctx.get("iot:ClientId"), Some(one("dev-1")));
        assert_eq!(ctx.get("aws:SourceIp"), Some(one("10.0.0.7")));
        assert_eq!(ctx.get("aws:SecureTransport"), Some(one("true")));
        assert_eq!(
            ctx.get("iot:ConnectAttributes"),
            Some(ContextValue::Many(vec![
                "PersistentConnect".into(),
                "LastWill".into()
            ]))
        );
        assert_eq!(
            ctx.get("iot:LastWillTopic"),
            Some(one("arn:aws:iot:r:1:topic/wills/dev-1"))
        );
        assert_eq!(
            ctx.get("iot:Connection.Thing.IsAttached"),
            Some(one("false"))
        );
        assert_eq!(ctx.get("iot:Connection.Thing.ThingName"), None);
        let http = base(
            &ConnectFacts {
                client_id: String::new(),
                will_topic: None,
                persistent: false,
                ..facts
            },
            "arn:aws:iot:r:1:",
        );
        assert_eq!(http.get("iot:ClientId"), None);
        assert_eq!(
            http.get("iot:ConnectAttributes"),
            Some(ContextValue::Many(vec![]))
        );
    }
}
