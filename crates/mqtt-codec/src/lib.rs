//! MQTT 3.1.1 and 5.0 packets: incremental decoding and encoding over `bytes`, with no I/O.
//! Sizes are checked against the caller's limit before a packet is buffered.

mod decode;
mod encode;
mod error;
mod packet;
mod properties;
mod properties_codec;
mod reason;
mod wire;

#[doc(hidden)]
pub mod fuzzing;

pub use decode::decode;
pub use encode::encode;
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::*;

/// The largest remaining length a fixed header can express (four variable byte integer bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;
