//! Types every service shares, so that the broker, the registry, the API edge and the services
//! above them speak one vocabulary: the in-process [`Message`] with its [`Origin`] (what the
//! rules engine and event messages need to know about who published), the AWS certificate
//! id and certificate statuses, the registry's [`RegistryChange`] events and the
//! [`ChangeFeed`] that carries them, the wall [`Clock`] (injectable so timed behaviour is testable on Tokio's paused clock),
//! and [`AwsException`], the one trait through which any error reaches an AWS client.
//!
//! The crate sits just below `mqtt-codec` in the dependency graph: a message carries the
//! codec's `QoS` and `Properties` as they are, so routing never converts them.

pub mod certificate;
pub mod change;
pub mod clock;
pub mod exception;
pub mod message;

pub use certificate::{CaStatus, CertStatus, certificate_id};
pub use change::{
    ChangeFeed, ChangeSubscription, InProcessFeed, Received, RegistryChange, ThingFacts,
    ThingGroupFacts, ThingTypeFacts,
};
pub use clock::Clock;
pub use exception::AwsException;
pub use message::{Message, Origin, Protocol};
