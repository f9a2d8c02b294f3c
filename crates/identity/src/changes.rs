//! Which live connections a registry change can affect: each change names the one index key
//! (see [`Key`]) its connections are found under, so that the refresher resolves those
//! connections again and no others.

use std::sync::Arc;

use ferrite_types::RegistryChange;
use ferrite_types::change::Principal;

use crate::live::{Key, LiveConn};

/// The connections a change affects: those indexed under `key`, of certificate
/// `certificate` when given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    pub key: Key,
    pub certificate: Option<String>,
}

impl Selector {
    fn key(key: Key) -> Option<Selector> {
        Some(Selector {
            key,
            certificate: None,
        })
    }

    pub fn keeps(&self, conn: &LiveConn) -> bool {
        self.certificate
            .as_deref()
            .is_none_or(|c| conn.basis.certificate_id() == Some(c))
    }
}

/// The connections `change` may affect; `None` when it cannot affect any.
pub fn affected(change: &RegistryChange) -> Option<Selector> {
    use RegistryChange as C;
    match change {
        // Only the default version is in force; a deleted policy was attached to nothing.
        C::PolicyVersionCreated {
            policy,
            is_default: true,
            ..
        }
        | C::PolicyDefaultVersionSet { policy, .. }
        | C::PolicyDeleted { policy } => Selector::key(Key::Policy(policy.clone())),
        C::PolicyVersionCreated { .. } | C::PolicyVersionDeleted { .. } => None,
        C::PolicyAttached { target, .. } | C::PolicyDetached { target, .. } => match target {
            Principal::Certificate(id) => Selector::key(Key::Certificate(Arc::from(id.as_str()))),
            Principal::ThingGroup(group) => Selector::key(Key::ThingGroup(group.clone())),
            // No connection authenticates as a Cognito identity here.
            Principal::Cognito(_) => None,
        },
        C::CertificateStatusChanged { certificate_id, .. }
        | C::CertificateDeleted { certificate_id } => {
            Selector::key(Key::Certificate(Arc::from(certificate_id.as_str())))
        }
        C::CaCertificateStatusChanged {
            ca_certificate_id, ..
        }
        | C::CaCertificateDeleted { ca_certificate_id } => {
            Selector::key(Key::CaCertificate(ca_certificate_id.clone()))
        }
        // A new thing has no principal yet, a new group no member.
        C::ThingCreated { .. } | C::ThingGroupCreated { .. } => None,
        C::ThingUpdated { thing }
        | C::ThingDeleted { thing, .. }
        | C::ThingAddedToGroup { thing, .. }
        | C::ThingRemovedFromGroup { thing, .. } => Selector::key(Key::Thing(thing.clone())),
        C::ThingPrincipalAttached { thing, principal }
        | C::ThingPrincipalDetached { thing, principal } => match principal {
            Principal::Certificate(id) => Some(Selector {
                key: Key::Thing(thing.clone()),
                certificate: Some(id.clone()),
            }),
            Principal::ThingGroup(_) | Principal::Cognito(_) => None,
        },
        C::ThingGroupDeleted { group, .. } => Selector::key(Key::ThingGroup(group.clone())),
        C::AuthorizerCreated { .. } => None,
        C::AuthorizerUpdated { authorizer } | C::AuthorizerDeleted { authorizer } => {
            Selector::key(Key::Authorizer(authorizer.clone()))
        }
        C::DefaultAuthorizerSet { .. } | C::DefaultAuthorizerCleared => {
            Selector::key(Key::DefaultAuthorizer)
        }
        // Changes to what does not decide access (rules, jobs, ...).
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use ferrite_types::CertStatus;

    use super::*;

    fn key(change: RegistryChange) -> Option<Key> {
        affected(&change).map(|s| s.key)
    }

    #[test]
    fn changes_map_to_the_keys_of_the_connections_they_affect() {
        let p = || "p".to_owned();
        let cert = || Principal::Certificate("c1".into());
        assert_eq!(
            key(RegistryChange::PolicyDefaultVersionSet {
                policy: p(),
                version: 2
            }),
            Some(Key::Policy(p()))
        );
        assert_eq!(
            key(RegistryChange::PolicyVersionCreated {
                policy: p(),
                version: 2,
                is_default: false
            }),
            None
        );
        assert_eq!(
            key(RegistryChange::PolicyAttached {
                policy: p(),
                target: cert()
            }),
            Some(Key::Certificate("c1".into()))
        );
        assert_eq!(
            key(RegistryChange::PolicyDetached {
                policy: p(),
                target: Principal::ThingGroup("g".into())
            }),
            Some(Key::ThingGroup("g".into()))
        );
        assert_eq!(
            key(RegistryChange::CertificateStatusChanged {
                certificate_id: "c1".into(),
                status: CertStatus::Revoked
            }),
            Some(Key::Certificate("c1".into()))
        );
        assert_eq!(
            key(RegistryChange::ThingUpdated { thing: "t".into() }),
            Some(Key::Thing("t".into()))
        );
        assert_eq!(
            affected(&RegistryChange::ThingPrincipalAttached {
                thing: "t".into(),
                principal: cert()
            }),
            Some(Selector {
                key: Key::Thing("t".into()),
                certificate: Some("c1".into())
            })
        );
        assert_eq!(
            key(RegistryChange::DefaultAuthorizerCleared),
            Some(Key::DefaultAuthorizer)
        );
        assert_eq!(
            key(RegistryChange::ThingCreated { thing: "t".into() }),
            None
        );
    }
}
