//! The broker's `Authorizer` with AWS IoT's rules: which credentials a CONNECT carries,
//! who that makes the client, which policies apply, and `iot:Connect`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_auth::custom::{self, CustomAuthInput, MqttCredentials};

use ferrite_auth::sigv4::{SecretKey, Verifier};
use ferrite_broker::{
    AllowAll, Authorizer, ConnectContext, ConnectFuture, Permissions, TransportIdentity,
};
use ferrite_mqtt_codec::ReasonCode;
use ferrite_policy::Policy;
use ferrite_registry::{Registry, RegistryError, Scope};
use ferrite_types::ChangeSubscription;
use tokio_util::sync::CancellationToken;

use crate::compiled::PolicyCache;
use crate::context::{self, ConnContext, ConnectFacts, Vars};
use crate::live::{Basis, Key, Live, LiveConn};
use crate::permissions::{PolicyPermissions, Snapshot};
use crate::{certificate, sigv4_ws};

/// How the authorizer is set up.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub region: String,
    pub account_id: String,
    /// The policy for clients without credentials on loopback, unencrypted listeners
    /// (local development); `None` refuses them.
    pub anonymous_policy: Option<Policy>,
    /// SigV4-signed WebSocket connections are closed at this age (AWS: 24 hours,
    /// `WEBSOCKET_TTL_EXPIRATION`); `None`: no limit.
    pub websocket_max_lifetime: Option<std::time::Duration>,
}

/// The refusal of a certificate the registry does not know (just-in-time registration may
/// follow).
const NOT_REGISTERED: &str = "certificate_not_registered";

/// The refusal of a registered certificate that is not ACTIVE.
const NOT_ACTIVE: &str = "certificate_not_active";

/// Why a certificate-authenticated HTTPS request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuthError {
    /// The certificate is unknown or not ACTIVE (or its CA is not).
    Denied(&'static str),
    /// The registry could not be read.
    Unavailable,
}

/// Why a connection is refused, or could not be resolved.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client is not who it must be, or may not connect.
    Denied(&'static str),
    /// The registry could not answer; refuse now, keep live connections as they are.
    Unavailable(RegistryError),
}

impl From<RegistryError> for Refusal {
    fn from(e: RegistryError) -> Self {
        Refusal::Unavailable(e)
    }
}

pub(crate) struct Inner {
    pub registry: Registry,
    pub cfg: IdentityConfig,
    /// `arn:aws:iot:{region}:{account}:`
    pub arn_prefix: Arc<str>,
    pub verifier: Verifier<HashMap<String, SecretKey>>,
    pub live: Live,
    pub policies: PolicyCache,
    /// Batches of changes the refresher has taken in. A connection that was resolved while
    /// it moved may have missed one before it was indexed, and is resolved again.
    pub changes_seen: AtomicU64,
    /// Custom-authorized connections' refresh/disconnect timers and SigV4 WebSocket
    /// connections' lifetimes. Each ends with its connection, its revocation or the broker's
    /// shutdown (which cancels every revoker).
    pub timers: tokio_util::task::TaskTracker,
}

/// A connection's permissions as just resolved, with what they were resolved from.
pub(crate) struct Resolved {
    pub snapshot: Snapshot,
    /// Where the connection is indexed, so the changes that affect it find it.
    pub keys: Vec<Key>,
    /// Who the connection authenticated as.
    pub principal: Option<Arc<str>>,
}

/// Authenticates devices and authorizes them with IoT policies. Cheap to clone.
#[derive(Clone)]
pub struct IotAuthorizer {
    inner: Arc<Inner>,
}

impl IotAuthorizer {
    /// `keys` are the IAM-style access keys SigV4-signed WebSocket connections may use.
    pub fn new(
        registry: Registry,
        cfg: IdentityConfig,
        keys: HashMap<String, SecretKey>,
    ) -> IotAuthorizer {
        let arn_prefix = format!("arn:aws:iot:{}:{}:", cfg.region, cfg.account_id).into();
        IotAuthorizer {
            inner: Arc::new(Inner {
                registry,
                cfg,
                arn_prefix,
                verifier: Verifier::new(keys),
                live: Live::default(),
                policies: PolicyCache::default(),
                timers: tokio_util::task::TaskTracker::new(),
                changes_seen: AtomicU64::new(0),
            }),
        }
    }

    /// Keeps live connections' permissions current until `cancel` fires: each registry
    /// change heard on `changes` resolves again the connections it affects (and only
    /// those), and those no longer allowed to connect are closed. Subscribe before any
    /// device connects.
    pub async fn run(self, changes: ChangeSubscription, cancel: CancellationToken) {
        self.inner.refresh_on_changes(changes, cancel).await;
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// The permissions of an HTTPS request authenticated by a client certificate (the
    /// device port's data plane). HTTP has no client id, so `iot:ClientId` and the thing
    /// variables stay unresolved, and `iot:Connect` does not apply. Not tracked: each
    /// request is authorized as the registry stands when it arrives.
    pub async fn certificate_permissions(
        &self,
        der: &[u8],
        peer_addr: std::net::SocketAddr,
    ) -> Result<Arc<dyn Permissions>, HttpAuthError> {
        let id = ferrite_types::certificate_id(der);
        let facts = ConnectFacts {
            client_id: String::new(),
            peer_addr,
            tls: true,
            persistent: false,
            will_topic: None,
        };
        let basis = Basis::Certificate {
            id: id.into(),
            vars: certificate::variables(der),
        };
        let resolved = self.inner.resolve_policies(&basis, &facts).await;
        match self.inner.with_jitr(der, resolved).await {
            Ok(r) => Ok(Arc::new(PolicyPermissions::new(r.snapshot, r.principal))),
            Err(Refusal::Denied(why)) => Err(HttpAuthError::Denied(why)),
            Err(Refusal::Unavailable(e)) => {
                tracing::warn!(error = %e, "cannot authorize an HTTPS request: registry unavailable");
                Err(HttpAuthError::Unavailable)
            }
        }
    }
}

impl Authorizer for IotAuthorizer {
    fn connect<'a>(&'a self, ctx: ConnectContext<'a>) -> ConnectFuture<'a> {
        Box::pin(async move {
            match self.inner.connect(&ctx).await {
                Ok(perms) => Ok(perms),
                Err(Refusal::Denied(why)) => {
                    tracing::debug!(client_id = ctx.client_id, peer = %ctx.peer_addr, why, "connect refused");
                    Err(ReasonCode::NotAuthorized)
                }
                Err(Refusal::Unavailable(e)) => {
                    tracing::warn!(client_id = ctx.client_id, error = %e, "cannot authorize: registry unavailable");
                    Err(ReasonCode::ServerUnavailable)
                }
            }
        })
    }
}

impl Inner {
    async fn connect(
        self: &Arc<Self>,
        ctx: &ConnectContext<'_>,
    ) -> Result<Arc<dyn Permissions>, Refusal> {
        let transport = ctx.transport.cloned().unwrap_or_default();
        let facts = ConnectFacts {
            client_id: ctx.client_id.to_owned(),
            peer_addr: ctx.peer_addr,
            tls: transport.tls,
            persistent: ctx.session_expiry_secs > 0,
            will_topic: ctx.will_topic.map(str::to_owned),
        };
        let custom_alpn = transport.alpn.as_deref() == Some(b"mqtt");
        let basis = if let (Some(id), Some(der), false) = (
            &transport.certificate_id,
            &transport.certificate_der,
            custom_alpn,
        ) {
            Basis::Certificate {
                id: id.as_str().into(),
                vars: certificate::variables(der),
            }
        } else if let Some(head) = transport
            .websocket
            .as_ref()
            .filter(|h| sigv4_ws::is_presigned(h))
        {
            return match sigv4_ws::verify(&self.verifier, head) {
                Ok(key) => {
                    tracing::debug!(client_id = ctx.client_id, access_key_id = %key, "SigV4 WebSocket connection");
                    if let Some(lifetime) = self.cfg.websocket_max_lifetime {
                        self.timers.spawn(sigv4_ws::close_at_ttl(
                            ctx.revoker.clone(),
                            lifetime,
                            ctx.client_id.to_owned(),
                        ));
                    }
                    // The configured keys are the account's: everything is allowed.
                    Ok(Arc::new(AllowAll {
                        principal: Some(key.into()),
                    }))
                }
                Err(e) => {
                    tracing::debug!(client_id = ctx.client_id, error = %e, "SigV4 WebSocket signature refused");
                    Err(Refusal::Denied("sigv4_invalid"))
                }
            };
        } else if custom_alpn || custom_requested(ctx, &transport) {
            Basis::Custom(Box::new(custom_input(ctx, &transport)))
        } else if self.anonymous_allowed(ctx, &transport) {
            Basis::Anonymous
        } else if transport.tls {
            // No certificate and no signature: the account's default authorizer, if any.
            Basis::Custom(Box::new(custom_input(ctx, &transport)))
        } else {
            return Err(Refusal::Denied("no_credentials"));
        };
        let seen = self.changes_seen.load(Ordering::SeqCst);
        let resolved = self.resolve(&basis, &facts).await;
        let resolved = match &transport.certificate_der {
            Some(der) if matches!(basis, Basis::Certificate { .. }) => {
                self.with_jitr(der, resolved).await?
            }
            _ => resolved?,
        };
        let Resolved {
            snapshot,
            keys,
            principal,
        } = resolved;
        let timers = (snapshot.refresh_after, snapshot.disconnect_after);
        if matches!(basis, Basis::Anonymous) {
            // The anonymous policy is configuration, not registry state: nothing to refresh.
            return Ok(Arc::new(PolicyPermissions::new(snapshot, principal)));
        }
        let perms = Arc::new(PolicyPermissions::new(snapshot, principal));
        let conn = LiveConn {
            basis,
            facts,
            perms: Arc::downgrade(&perms),
            revoker: ctx.revoker.clone(),
        };
        let tracked = self.live.insert(conn, keys);
        if self.changes_seen.load(Ordering::SeqCst) != seen {
            // A change arrived while this connection was resolved and before it could be
            // found: it may have been resolved from what the change replaced.
            self.refresh_one(&tracked).await;
        }
        if let (Some(refresh), Some(disconnect)) = timers {
            let ended = perms.ended();
            self.timers
                .spawn(self.custom_timers(tracked, ended, refresh, disconnect));
        }
        Ok(perms)
    }

    fn anonymous_allowed(&self, ctx: &ConnectContext<'_>, transport: &TransportIdentity) -> bool {
        self.cfg.anonymous_policy.is_some() && !transport.tls && ctx.local_addr.ip().is_loopback()
    }

    /// A certificate nobody registered may be registered now (just-in-time registration
    /// under a CA with auto-registration); as on AWS, the connection that caused it is still
    /// refused.
    async fn register_just_in_time(&self, der: &[u8]) -> Result<(), Refusal> {
        let scope = Scope {
            region: self.cfg.region.clone(),
            account: self.cfg.account_id.clone(),
        };
        if let Some(status) = self
            .registry
            .auto_register_certificate(&scope, &pem_of(der))
            .await?
        {
            tracing::info!(
                status = status.as_str(),
                "certificate registered just in time"
            );
        }
        Ok(())
    }

    /// `resolve`/`resolve_policies` for a certificate, registering it just in time when it
    /// is unknown, and announcing it again when it is still PENDING_ACTIVATION under a CA
    /// (AWS publishes the JITR event at every such attempt).
    async fn with_jitr<T>(&self, der: &[u8], resolved: Result<T, Refusal>) -> Result<T, Refusal> {
        match &resolved {
            Err(Refusal::Denied(NOT_REGISTERED)) => self.register_just_in_time(der).await?,
            Err(Refusal::Denied(NOT_ACTIVE)) => {
                self.registry
                    .reannounce_pending_registration(&ferrite_types::certificate_id(der))
                    .await?;
            }
            _ => {}
        }
        resolved
    }

    /// What `basis` may do now, provided the credentials are still good and `iot:Connect`
    /// is allowed.
    pub(crate) async fn resolve(
        &self,
        basis: &Basis,
        facts: &ConnectFacts,
    ) -> Result<Resolved, Refusal> {
        let resolved = self.resolve_policies(basis, facts).await?;
        if !resolved
            .snapshot
            .allows("iot:Connect", "client", &facts.client_id)
        {
            return Err(Refusal::Denied("connect_not_allowed"));
        }
        Ok(resolved)
    }

    /// The current policies and variables of `basis`, if its credentials are still good.
    pub(crate) async fn resolve_policies(
        &self,
        basis: &Basis,
        facts: &ConnectFacts,
    ) -> Result<Resolved, Refusal> {
        let mut vars = context::base(facts, &self.arn_prefix);
        let mut timers = None;
        let mut keys = Vec::new();
        let mut principal = None;
        let policies = match basis {
            Basis::Anonymous => match &self.cfg.anonymous_policy {
                Some(p) => vec![p.clone()],
                None => return Err(Refusal::Denied("anonymous_not_allowed")),
            },
            Basis::Certificate {
                id,
                vars: cert_vars,
            } => {
                principal = Some(id.clone());
                self.certificate_policies(id, facts, &mut vars, cert_vars, &mut keys)
                    .await?
            }
            Basis::Custom(input) => {
                if input.authorizer_name().is_none() {
                    keys.push(Key::DefaultAuthorizer);
                }
                let outcome = self
                    .registry
                    .authorize_custom(input)
                    .await
                    .map_err(custom_refusal)?;
                keys.push(Key::Authorizer(outcome.authorizer_name));
                timers = Some((outcome.refresh_after, outcome.disconnect_after));
                principal = Some(outcome.principal_id.as_str().into());
                vars.insert(
                    "iot:PrincipalId",
                    ferrite_policy::ContextValue::One(outcome.principal_id),
                );
                outcome.policies
            }
        };
        let time_dependent = policies.iter().any(Policy::is_time_dependent);
        let snapshot = Snapshot {
            time_dependent,
            policies,
            vars,
            arn_prefix: self.arn_prefix.clone(),
            refresh_after: timers.map(|t| t.0),
            disconnect_after: timers.map(|t| t.1),
        };
        Ok(Resolved {
            snapshot,
            keys,
            principal,
        })
    }

    /// The policies of a certificate connection; `keys` gets what they were read from.
    async fn certificate_policies(
        &self,
        id: &Arc<str>,
        facts: &ConnectFacts,
        vars: &mut ConnContext,
        cert_vars: &Vars,
        keys: &mut Vec<Key>,
    ) -> Result<Vec<Policy>, Refusal> {
        let Some(cert) = self.registry.certificate_for_auth(id).await? else {
            return Err(Refusal::Denied(NOT_REGISTERED));
        };
        if !cert.status.is_active() {
            return Err(Refusal::Denied(NOT_ACTIVE));
        }
        if cert.ca_status.is_some_and(|s| !s.is_active()) {
            return Err(Refusal::Denied("ca_not_active"));
        }
        keys.push(Key::Certificate(id.clone()));
        if let Some(ca) = cert.ca_certificate_id {
            keys.push(Key::CaCertificate(ca));
        }
        if !facts.client_id.is_empty() {
            keys.push(Key::Thing(facts.client_id.clone()));
        }
        let principal = format!("cert:{id}");
        let thing = if self
            .registry
            .thing_attached_to(&facts.client_id, &principal)
            .await?
        {
            self.registry
                .describe_thing_for_auth(&facts.client_id)
                .await?
        } else {
            None
        };
        context::add_thing(vars, thing.as_ref());
        vars.extend(cert_vars);
        let effective = self
            .registry
            .effective_policies(&principal, thing.as_ref().map(|t| t.name.as_str()))
            .await?;
        keys.extend(
            effective
                .policies
                .iter()
                .map(|p| Key::Policy(p.name.clone())),
        );
        keys.extend(effective.thing_groups.into_iter().map(Key::ThingGroup));
        Ok(self
            .policies
            .compile(effective.policies.iter().map(|p| (&*p.name, &*p.document))))
    }
}

/// Whether the client asks for a custom authorizer by name (MQTT user name query, or the
/// WebSocket upgrade's headers or query).
fn custom_requested(ctx: &ConnectContext<'_>, transport: &TransportIdentity) -> bool {
    let in_username = ctx
        .username
        .is_some_and(|u| u.contains(custom::input::NAME_KEY));
    let in_ws = transport.websocket.as_ref().is_some_and(|h| {
        h.query
            .as_deref()
            .is_some_and(|q| q.contains(custom::input::NAME_KEY))
            || h.headers.iter().any(|(n, _)| n == custom::input::NAME_KEY)
    });
    in_username || in_ws
}

fn custom_input(ctx: &ConnectContext<'_>, transport: &TransportIdentity) -> CustomAuthInput {
    CustomAuthInput {
        mqtt: Some(MqttCredentials {
            username: ctx.username.map(str::to_owned),
            password: ctx.password.map(<[u8]>::to_vec),
            client_id: Some(ctx.client_id.to_owned()),
        }),
        http_headers: transport.websocket.as_ref().map(|h| h.headers.clone()),
        query_string: transport.websocket.as_ref().and_then(|h| h.query.clone()),
        tls: transport.tls,
        server_name: transport.sni.clone(),
        ..CustomAuthInput::default()
    }
}

/// A custom authorizer's refusal: the function could not be asked → unavailable (MQTT 5:
/// server unavailable); anything about the client or the function's answer → denied.
fn custom_refusal(e: RegistryError) -> Refusal {
    match e {
        RegistryError::ServiceUnavailable(_) | RegistryError::Storage(_) => Refusal::Unavailable(e),
        other => {
            tracing::debug!(error = %other, "custom authorizer refused the client");
            Refusal::Denied("custom_authorizer_refused")
        }
    }
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
