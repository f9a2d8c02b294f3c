//! The cluster's message fabric (ARCHITECTURE.md, "Cluster design"): MQTT topics and filters
//! as NATS subjects (`subject`), routed messages as binary batches (`envelope`), the
//! [`Bus`] trait with an in-process implementation (one node, and the sandbox where several
//! nodes share one bus) and a NATS one, the node id kept in the data directory, and the
//! [`Link`] between a node's broker and the bus (interest → subscriptions, forwarding,
//! remote delivery), the [`BusFeed`] that carries registry changes between nodes, the
//! [`RetainedSync`] that keeps every node's retained messages alike, the [`Peers`] a node
//! hears announce themselves, and [`ClusterSessions`], through which a session moves to the
//! node its client connects to and a gone node's parked sessions to a live one.

mod adoption;
pub mod bus;
mod dedup;
mod durable;
pub mod envelope;
mod feed;
mod in_process;
mod link;
mod nats;
mod node_id;
mod outbox;
mod peers;
mod receipts;
mod retained;
mod sessions;
pub mod subject;

pub use bus::{Bus, BusError, BusFuture, BusMessage, Headers, Subscription};
pub use feed::BusFeed;
pub use in_process::InProcessBus;
pub use link::Link;
pub use nats::NatsBus;
pub use node_id::{NodeIdError, load_or_create_node_id};
pub use peers::{MISSED_BEATS, Peer, Peers};
pub use receipts::RECEIPT_TIMEOUT;
pub use retained::RetainedSync;
pub use sessions::{ClusterSessions, TAKEOVER_TIMEOUT, disconnect_subject, takeover_subject};
