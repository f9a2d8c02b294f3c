//! Wiring of the shadow service: its settings from `[shadow]`, and DeleteThing's cascade to a
//! thing's shadows when `shadow.delete_with_thing` is on.

use ferrite_config::{Config, DeltaTrigger};
use ferrite_registry::ThingCascade;
use ferrite_shadow::ShadowConfig;
use ferrite_shadow_service::{ServiceConfig, ShadowStore};
use ferrite_storage::{StoreFuture, Write};

pub fn service_config(cfg: &Config) -> ServiceConfig {
    let s = &cfg.shadow;
    ServiceConfig {
        shadow: ShadowConfig {
            max_state_bytes: s.max_state_bytes,
            deleted_version_memory_secs: s.deleted_version_memory_secs,
            delta_trigger: match s.delta_trigger {
                DeltaTrigger::DesiredInRequest => ferrite_shadow::DeltaTrigger::DesiredInRequest,
                DeltaTrigger::AnyUpdate => ferrite_shadow::DeltaTrigger::AnyUpdate,
            },
            get_metadata_delta: s.get_metadata_delta,
            ..ShadowConfig::default()
        },
        max_in_flight_per_client: s.max_in_flight_per_client,
        max_requests_per_thing_per_sec: s.max_requests_per_thing_per_sec,
    }
}

/// DeleteThing deletes the thing's shadows in its own batch.
pub struct ShadowCascade(pub ShadowStore);

impl ThingCascade for ShadowCascade {
    fn deletes_for_thing<'a>(&'a self, thing: &'a str) -> StoreFuture<'a, Vec<Write>> {
        Box::pin(self.0.deletes_for_thing(thing))
    }
}
