//! Builds the device authorizer from the config: IoT policies from the registry, the
//! anonymous loopback policy, and the access keys SigV4 WebSocket clients sign with.

use anyhow::Context as _;
use ferrite_auth::sigv4::SecretKey;
use ferrite_config::Config;
use ferrite_identity::{IdentityConfig, IotAuthorizer};
use ferrite_policy::Policy;
use ferrite_registry::Registry;

pub fn authorizer(cfg: &Config, registry: Registry) -> anyhow::Result<IotAuthorizer> {
    let anonymous = &cfg.auth.anonymous_loopback_policy;
    let anonymous_policy = if anonymous.trim().is_empty() {
        None
    } else {
        Some(
            Policy::parse(anonymous)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("invalid setting auth.anonymous_loopback_policy")?,
        )
    };
    let keys = crate::credentials::resolve(cfg)?
        .into_iter()
        .map(|k| (k.access_key_id, SecretKey::new(k.secret_access_key)))
        .collect();
    Ok(IotAuthorizer::new(
        registry,
        IdentityConfig {
            region: cfg.aws.region.clone(),
            account_id: cfg.aws.account_id.clone(),
            anonymous_policy,
            websocket_max_lifetime: (cfg.mqtt.websocket_max_lifetime_secs > 0)
                .then(|| std::time::Duration::from_secs(cfg.mqtt.websocket_max_lifetime_secs)),
        },
        keys,
    ))
}
