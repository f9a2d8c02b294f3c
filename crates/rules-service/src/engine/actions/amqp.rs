//! RabbitMQ over AMQP 0-9-1 for `sqs` actions: one connection and one publishing channel per
//! broker URL, shared by every action of the engine, opened on first use and again after any
//! failure. The channel runs in confirm mode and a publish returns once the broker has
//! confirmed it, so an action that succeeded left a persistent message in a durable queue.
//!
//! Queues are declared durable on first use. One that exists with other properties (a quorum
//! queue, a non-durable queue a consumer declared) refuses the declaration with
//! PRECONDITION_FAILED; it is then used as it is. Messages are published `mandatory`, so one
//! whose queue has gone since is returned rather than silently dropped, and the next attempt
//! declares the queue again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ErrorKind};
use parking_lot::Mutex;

use super::ActionError;

/// How long connecting (TCP, AMQP handshake, channel) may take, and how long a publish may
/// wait for the broker's confirm.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// AMQP's persistent delivery mode.
const PERSISTENT: u8 = 2;

/// The engine's AMQP links, by broker URL.
#[derive(Default)]
pub(crate) struct Links {
    links: Mutex<HashMap<String, Arc<Link>>>,
}

impl Links {
    /// The link to `url`, created (not yet connected) on first request.
    pub fn link(&self, url: &str) -> Arc<Link> {
        self.links
            .lock()
            .entry(url.to_owned())
            .or_insert_with(|| {
                Arc::new(Link {
                    url: url.to_owned(),
                    live: tokio::sync::Mutex::new(None),
                    existing: Mutex::new(HashSet::new()),
                })
            })
            .clone()
    }
}

/// One broker URL's connection, opened lazily and replaced after failures.
pub(crate) struct Link {
    url: String,
    /// An async lock: whoever finds the link down connects while the others wait for it,
    /// rather than each opening a connection of its own.
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
    /// Queues that refused a durable declaration because they exist otherwise.
    existing: Mutex<HashSet<String>>,
}

struct Live {
    /// Dropping the last handle closes the connection.
    connection: Connection,
    channel: Channel,
    /// Queues declared on this connection.
    declared: Mutex<HashSet<String>>,
}

impl Link {
    /// Publishes `body` to `queue` through the default exchange as a persistent message and
    /// waits for the broker's confirm.
    pub async fn publish(&self, queue: &str, body: &[u8]) -> Result<(), ActionError> {
        let outcome = self.attempt(queue, body).await;
        let at = self.redacted();
        outcome.map_err(|failure| {
            ActionError::transient(match failure {
                Failure::Connect(e) => format!("cannot connect to RabbitMQ at {at}: {e}"),
                Failure::Amqp(e) => format!("RabbitMQ at {at}: {e}"),
                Failure::Returned => {
                    format!("RabbitMQ at {at} has no queue {queue}; it will be declared again")
                }
                Failure::Nack => {
                    format!("RabbitMQ at {at} did not take the message for {queue} (nack)")
                }
                Failure::Timeout(what) => format!(
                    "RabbitMQ at {at} did not {what} within {} s",
                    BROKER_TIMEOUT.as_secs()
                ),
            })
        })
    }

    async fn attempt(&self, queue: &str, body: &[u8]) -> Result<(), Failure> {
        let live = self.live().await?;
        let outcome = tokio::time::timeout(BROKER_TIMEOUT, self.publish_on(&live, queue, body))
            .await
            .unwrap_or(Err(Failure::Timeout("confirm")));
        match &outcome {
            Ok(()) | Err(Failure::Nack) => {}
            Err(Failure::Returned) => {
                live.declared.lock().remove(queue);
                self.existing.lock().remove(queue);
            }
            Err(Failure::Amqp(_) | Failure::Connect(_) | Failure::Timeout(_)) => {
                self.drop_live(&live).await;
            }
        }
        outcome
    }

    async fn publish_on(&self, live: &Live, queue: &str, body: &[u8]) -> Result<(), Failure> {
        let known = live.declared.lock().contains(queue) || self.existing.lock().contains(queue);
        if !known {
            self.declare(live, queue).await?;
        }
        let confirm = live
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                BasicProperties::default().with_delivery_mode(PERSISTENT),
            )
            .await
            .map_err(Failure::Amqp)?
            .await
            .map_err(Failure::Amqp)?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(Failure::Returned),
            Confirmation::Nack(_) => Err(Failure::Nack),
            // The channel is in confirm mode; an unconfirmed publish promises nothing.
            Confirmation::NotRequested => Err(Failure::Nack),
        }
    }

    /// Declares `queue` durable on a channel of its own: a queue that exists with other
    /// properties makes the broker close the declaring channel, which must not be the one
    /// every action publishes on.
    async fn declare(&self, live: &Live, queue: &str) -> Result<(), Failure> {
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(Failure::Amqp)?;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(_) => {
                live.declared.lock().insert(queue.to_owned());
                // Only this channel's end; the queue stays.
                let _ = channel.close(200, "declared".into()).await;
                Ok(())
            }
            Err(e) if is_precondition_failed(&e) => {
                self.existing.lock().insert(queue.to_owned());
                Ok(())
            }
            Err(e) => Err(Failure::Amqp(e)),
        }
    }

    /// The open connection, opening one if there is none or it broke.
    async fn live(&self) -> Result<Arc<Live>, Failure> {
        let mut slot = self.live.lock().await;
        if let Some(live) = &*slot
            && live.channel.status().connected()
        {
            return Ok(live.clone());
        }
        *slot = None;
        let live = tokio::time::timeout(BROKER_TIMEOUT, connect(&self.url))
            .await
            .map_err(|_| Failure::Timeout("answer"))?
            .map_err(Failure::Connect)?;
        let live = Arc::new(live);
        *slot = Some(live.clone());
        Ok(live)
    }

    /// Forgets `live` (if it is still the current connection) so the next publish reconnects.
    async fn drop_live(&self, live: &Arc<Live>) {
        let mut slot = self.live.lock().await;
        if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, live)) {
            *slot = None;
        }
    }

    /// The URL without its password, for messages users and the error action see.
    fn redacted(&self) -> String {
        redact(&self.url)
    }
}

enum Failure {
    Connect(lapin::Error),
    Amqp(lapin::Error),
    /// What the broker did not do in time.
    Timeout(&'static str),
    Nack,
    Returned,
}

async fn connect(url: &str) -> Result<Live, lapin::Error> {
    let connection = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("ferrite rules engine".into()),
    )
    .await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(Live {
        connection,
        channel,
        declared: Mutex::new(HashSet::new()),
    })
}

fn is_precondition_failed(e: &lapin::Error) -> bool {
    matches!(e.kind(), ErrorKind::ProtocolError(p)
        if *p.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
}

/// `amqp://user:secret@host/` → `amqp://user:***@host/`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
