//! MQTT 3.1.1 and 5.0 packets: incremental decoding and encoding over `bytes`, with no I/O.
//! Sizes are checked against the caller's limit before a packet is buffered.

mod packet;
mod properties;

pub use packet::*;
pub use properties::*;
