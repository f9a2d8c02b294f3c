//! Things and their principals: AttachThingPrincipal, DetachThingPrincipal,
//! ListThingPrincipals(V2), ListPrincipalThings(V2).
//!
//! A thing's principals are certificates and Cognito identities. Each attachment is a link in
//! both directions (`thing-principal`, `principal-thing`) whose document carries its
//! `thingPrincipalType`; it bumps the guards of the thing and the certificate, so a delete of
//! either racing it re-reads and refuses instead of leaving a dangling link.

use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, PRINCIPAL_THING, THING, THING_PRINCIPAL};
use crate::principals::{Principal, principal_arn};
use crate::shared::Guard;
use crate::{Output, Registry, RegistryError, Scope, decode, encode, token};

/// Default page size when the request gives none.
const PAGE_DEFAULT: usize = 25;

/// EXCLUSIVE_THING / NON_EXCLUSIVE_THING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThingPrincipalType {
    #[serde(rename = "EXCLUSIVE_THING")]
    Exclusive,
    #[default]
    #[serde(rename = "NON_EXCLUSIVE_THING")]
    NonExclusive,
}

/// The document of a thing-principal link (both directions).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThingPrincipalLink {
    #[serde(default)]
    thing_principal_type: ThingPrincipalType,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachThingPrincipal {
    pub thing_name: String,
    pub principal: String,
    pub thing_principal_type: Option<ThingPrincipalType>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetachThingPrincipal {
    pub thing_name: String,
    pub principal: String,
}

/// ListThingPrincipals and ListThingPrincipalsV2 (which alone may filter by type).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingPrincipals {
    pub thing_name: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub thing_principal_type: Option<ThingPrincipalType>,
}

/// ListPrincipalThings and ListPrincipalThingsV2 (which alone may filter by type).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPrincipalThings {
    pub principal: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub thing_principal_type: Option<ThingPrincipalType>,
}

/// One direction of the thing-principal links, as its two listings present it: the first
/// version names the other side of each link; V2 names it in an object with the link's type,
/// and can filter by type.
struct LinkListing {
    kind: &'static str,
    /// The first version's output member.
    names: &'static str,
    /// V2's output member.
    objects: &'static str,
    /// The member of V2's objects that names the other side.
    other: &'static str,
}

/// ListThingPrincipals(V2): a thing's principals.
const THING_PRINCIPALS: LinkListing = LinkListing {
    kind: THING_PRINCIPAL,
    names: "principals",
    objects: "thingPrincipalObjects",
    other: "principal",
};

/// ListPrincipalThings(V2): a principal's things.
const PRINCIPAL_THINGS: LinkListing = LinkListing {
    kind: PRINCIPAL_THING,
    names: "things",
    objects: "principalThingObjects",
    other: "thingName",
};

/// Which of a link listing's two versions answers; V2 carries its type filter.
#[derive(Clone, Copy)]
enum Version {
    V1,
    V2(Option<ThingPrincipalType>),
}

impl Registry {
    /// A thing principal: a certificate or a Cognito identity (thing groups are not).
    fn thing_principal(text: &str) -> Result<Principal, RegistryError> {
        Principal::parse_not_group(text, || {
            format!(
                "Invalid principal: {text}. A thing principal is a certificate ARN or an Amazon Cognito identity id."
            )
        })
    }

    /// AttachThingPrincipal. An EXCLUSIVE_THING attachment makes the thing the principal's
    /// only one: it is refused while the principal has other things, and while it has one
    /// the principal cannot be attached to another.
    pub async fn attach_thing_principal(
        &self,
        scope: &Scope,
        req: AttachThingPrincipal,
    ) -> Result<Output, RegistryError> {
        let principal = Self::thing_principal(&req.principal)?;
        let key = principal.key();
        let thing = &req.thing_name;
        let wanted = req.thing_principal_type.unwrap_or_default();
        let attached = || {
            vec![RegistryChange::ThingPrincipalAttached {
                thing: thing.clone(),
                principal: principal.announced(),
            }]
        };
        self.retry_announcing(attached, || async {
            self.require_thing(thing).await?;
            self.require_principal(scope, &principal).await?;
            let guard = self.guard(PRINCIPAL_THING, &key).await?;
            let links = self.thing_links(PRINCIPAL_THING, &key).await?;
            let mut others = Vec::new();
            for (other, link) in &links {
                if other == thing {
                    if link.thing_principal_type == wanted {
                        return Ok((Vec::new(), json!({})));
                    }
                } else {
                    others.push((other, link.thing_principal_type));
                }
            }
            if let Some((other, _)) = others
                .iter()
                .find(|(_, t)| *t == ThingPrincipalType::Exclusive)
            {
                return Err(RegistryError::InvalidRequest(format!(
                    "Principal {} is exclusively attached to thing {other}.",
                    req.principal
                )));
            }
            if wanted == ThingPrincipalType::Exclusive && !others.is_empty() {
                return Err(RegistryError::InvalidRequest(format!(
                    "Principal {} cannot be attached exclusively to thing {thing}: it is attached to other things.",
                    req.principal
                )));
            }
            let doc = encode(&ThingPrincipalLink {
                thing_principal_type: wanted,
            });
            let mut writes = vec![
                Write::check(THING, thing, Expect::Present),
                Guard::touch_any(THING, thing),
                guard.touch(),
                Write::put(
                    THING_PRINCIPAL,
                    &kinds::link(thing, &key),
                    Expect::Any,
                    doc.clone(),
                ),
                Write::put(PRINCIPAL_THING, &kinds::link(&key, thing), Expect::Any, doc),
            ];
            if let Some((kind, name)) = principal.resource() {
                writes.push(Write::check(kind, name, Expect::Present));
                writes.push(Guard::touch_any(kind, name));
            }
            Ok((writes, json!({})))
        })
        .await
    }

    pub async fn detach_thing_principal(
        &self,
        req: DetachThingPrincipal,
    ) -> Result<Output, RegistryError> {
        let principal = Self::thing_principal(&req.principal)?;
        self.require_thing(&req.thing_name).await?;
        let key = principal.key();
        // Detaching what is not attached succeeds: nothing to decide, so nothing to retry.
        self.store
            .write(vec![
                Write::delete(
                    THING_PRINCIPAL,
                    &kinds::link(&req.thing_name, &key),
                    Expect::Any,
                ),
                Write::delete(
                    PRINCIPAL_THING,
                    &kinds::link(&key, &req.thing_name),
                    Expect::Any,
                ),
            ])
            .await?;
        self.announce([RegistryChange::ThingPrincipalDetached {
            thing: req.thing_name,
            principal: principal.announced(),
        }]);
        Ok(json!({}))
    }

    /// Every `(name, link)` linked under `owner` in a thing-principal link kind.
    async fn thing_links(
        &self,
        kind: &str,
        owner: &str,
    ) -> Result<Vec<(String, ThingPrincipalLink)>, RegistryError> {
        let prefix = kinds::prefix(owner);
        let mut out = Vec::new();
        self.scan(kind, &prefix, |r| {
            out.push((r.key[prefix.len()..].to_owned(), decode(r)?));
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// One page of `listing`'s links under `owner` in `version`'s shape, the other side of
    /// each named by `name`.
    async fn list_links(
        &self,
        listing: &LinkListing,
        owner: &str,
        next_token: Option<&str>,
        max_results: Option<i64>,
        version: Version,
        name: impl Fn(&str) -> String,
    ) -> Result<Output, RegistryError> {
        let prefix = kinds::prefix(owner);
        let limit = token::page_size(max_results, PAGE_DEFAULT);
        let (items, next) = self
            .page(
                listing.kind,
                &prefix,
                next_token,
                limit,
                |r, link: ThingPrincipalLink| {
                    let t = link.thing_principal_type;
                    let other = name(&r.key[prefix.len()..]);
                    match version {
                        Version::V1 => Some(json!(other)),
                        Version::V2(only) => only
                            .is_none_or(|o| o == t)
                            .then(|| json!({listing.other: other, "thingPrincipalType": t})),
                    }
                },
            )
            .await?;
        let key = match version {
            Version::V1 => listing.names,
            Version::V2(_) => listing.objects,
        };
        Ok(token::listing(key, items, next))
    }

    /// ListThingPrincipals in `version`'s shape.
    async fn thing_principals(
        &self,
        scope: &Scope,
        req: &ListThingPrincipals,
        version: Version,
    ) -> Result<Output, RegistryError> {
        let thing = &req.thing_name;
        if self.store.get(THING, thing).await?.is_none() {
            return Err(RegistryError::NotFound(format!(
                "Failed to list principals for thing {thing} because the thing does not exist in your account"
            )));
        }
        self.list_links(
            &THING_PRINCIPALS,
            &req.thing_name,
            req.next_token.as_deref(),
            req.max_results,
            version,
            |key| principal_arn(scope, key),
        )
        .await
    }

    /// ListPrincipalThings in `version`'s shape.
    async fn principal_things(
        &self,
        scope: &Scope,
        req: &ListPrincipalThings,
        version: Version,
    ) -> Result<Output, RegistryError> {
        let principal = Self::thing_principal(&req.principal)?;
        self.require_principal(scope, &principal).await?;
        self.list_links(
            &PRINCIPAL_THINGS,
            &principal.key(),
            req.next_token.as_deref(),
            req.max_results,
            version,
            str::to_owned,
        )
        .await
    }

    pub async fn list_thing_principals(
        &self,
        scope: &Scope,
        req: ListThingPrincipals,
    ) -> Result<Output, RegistryError> {
        self.thing_principals(scope, &req, Version::V1).await
    }

    pub async fn list_thing_principals_v2(
        &self,
        scope: &Scope,
        req: ListThingPrincipals,
    ) -> Result<Output, RegistryError> {
        let version = Version::V2(req.thing_principal_type);
        self.thing_principals(scope, &req, version).await
    }

    pub async fn list_principal_things(
        &self,
        scope: &Scope,
        req: ListPrincipalThings,
    ) -> Result<Output, RegistryError> {
        self.principal_things(scope, &req, Version::V1).await
    }

    pub async fn list_principal_things_v2(
        &self,
        scope: &Scope,
        req: ListPrincipalThings,
    ) -> Result<Output, RegistryError> {
        let version = Version::V2(req.thing_principal_type);
        self.principal_things(scope, &req, version).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::LINK_DOC;

    #[tokio::test]
    async fn listing_the_principals_of_a_missing_thing_is_not_found_in_aws_words() {
        let f = crate::test_support::Fixture::new();
        let req = || ListThingPrincipals {
            thing_name: "ghost".into(),
            next_token: None,
            max_results: None,
            thing_principal_type: None,
        };
        let expected = "Failed to list principals for thing ghost because the thing does not exist in your account";
        for result in [
            f.r.list_thing_principals(&f.scope, req()).await,
            f.r.list_thing_principals_v2(&f.scope, req()).await,
        ] {
            match result {
                Err(RegistryError::NotFound(message)) => assert_eq!(message, expected),
                other => panic!("expected ResourceNotFound, got {other:?}"),
            }
        }
    }

    #[test]
    fn thing_principal_links_default_to_non_exclusive() {
        let link: ThingPrincipalLink = serde_json::from_str(LINK_DOC).unwrap();
        assert_eq!(link.thing_principal_type, ThingPrincipalType::NonExclusive);
        let exclusive = encode(&ThingPrincipalLink {
            thing_principal_type: ThingPrincipalType::Exclusive,
        });
        assert_eq!(exclusive, r#"{"thingPrincipalType":"EXCLUSIVE_THING"}"#);
    }
}
