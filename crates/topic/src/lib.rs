//! Topic names and filters for the Ferrite broker.
//!
//! This crate owns everything that interprets a topic string: validation against the AWS IoT Core
//! limits ([`validate_topic_name`], [`validate_topic_filter`]), MQTT wildcard matching ([`matches()`]),
//! `$share/{group}/{filter}` parsing ([`parse_shared`]), the subscription trie consulted on every
//! publish ([`SubscriptionTrie`]), the retained-message store index ([`RetainedTree`]) and the
//! classification of AWS reserved `$` topics ([`classify`], [`client_may_publish`],
//! [`client_may_subscribe`]).
//!
//! It is pure and synchronous: no I/O, no async, no global state. Callers are expected to validate
//! filters and topics before putting them into the trie or the retained tree; unvalidated input is
//! handled without panicking but the stack used grows with the number of levels.

#![warn(missing_docs)]

mod children;
mod error;
mod levels;
mod limits;
mod matching;
mod reserved;
mod retained;
mod shared;
mod trie;
mod validate;

pub use error::TopicError;
pub use levels::{Levels, level};
pub use limits::TopicLimits;
pub use matching::{MatchOptions, matches};
pub use reserved::{
    ReservedKind, basic_ingest_rule, classify, client_may_publish, client_may_subscribe,
};
pub use retained::{RetainedIter, RetainedTree};
pub use shared::{SharedFilter, parse_shared};
pub use trie::{Match, SubscriptionTrie};
pub use validate::{validate_topic_filter, validate_topic_name};
