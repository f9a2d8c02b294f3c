//! The in-process message lives in `ferrite-types`; the broker re-exports it so its users
//! need no second dependency for it.

pub use ferrite_types::Message;
