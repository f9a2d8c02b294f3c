//! Accept loops: one per listener, each connection handed to its own task that completes
//! the transport handshake and then runs the broker session. A semaphore caps connections;
//! clients beyond the cap get "server busy" from the broker instead of a silent drop.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{Broker, ConnInfo};
use ferrite_transport::Listener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct AcceptCtx {
    pub broker: Broker,
    pub slots: Arc<Semaphore>,
    pub connect_timeout: Duration,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
}

pub async fn accept_loop(listener: Arc<Listener>, ctx: Arc<AcceptCtx>) {
    let local_addr = listener.local_addr();
    loop {
        let accepted = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, %local_addr, "accept failed");
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let permit = ctx.slots.clone().try_acquire_owned().ok();
        let listener = listener.clone();
        let ctx2 = ctx.clone();
        ctx.tasks.spawn(async move {
            let accepted = tokio::select! {
                _ = ctx2.cancel.cancelled() => return,
                a = listener.handshake(tcp, peer, ctx2.connect_timeout) => a,
            };
            let accepted = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "handshake failed");
                    ctx2.broker.metrics().refused("handshake_failed");
                    return;
                }
            };
            let info = ConnInfo {
                local_addr,
                peer_addr: peer,
                certificate_id: accepted
                    .peer_certificate
                    .as_ref()
                    .map(|c| c.certificate_id.clone()),
                connect_timeout: ctx2.connect_timeout,
                over_capacity: permit.is_none(),
            };
            // A task of its own, so an idle connection does not keep the (larger) TLS and
            // WebSocket handshake state of this one for its lifetime.
            let broker = ctx2.broker.clone();
            ctx2.tasks.spawn(async move {
                broker.serve(accepted.stream, info).await;
                drop(permit);
            });
        });
    }
}
