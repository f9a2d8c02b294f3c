//! Accept loops: one per listener, each connection handed to its own task that completes
//! the transport handshake and then runs the broker session (or, for HTTP on the device
//! port, the HTTP app). A semaphore caps connections; MQTT clients beyond the cap get
//! "server busy" from the broker instead of a silent drop, HTTP clients a 503.

use std::sync::Arc;
use std::time::Duration;

use ferrite_broker::{Broker, ConnInfo};
use ferrite_transport::{Handshaken, Listener};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct AcceptCtx {
    pub broker: Broker,
    pub slots: Arc<Semaphore>,
    pub connect_timeout: Duration,
    /// Stops the accept loops and handshakes, and ends device-port HTTP connections.
    pub cancel: CancellationToken,
    /// Accept loops, handshakes and device-port HTTP connections.
    pub tasks: TaskTracker,
    /// MQTT connections, which end with the broker.
    pub connections: TaskTracker,
    /// Serves HTTP connections of the device port (the API listener's app).
    pub http_app: axum::Router,
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
                Ok(Handshaken::Mqtt(a)) => a,
                Ok(Handshaken::Http(conn)) => {
                    let app = ctx2.http_app.clone();
                    let cancel = ctx2.cancel.clone();
                    ctx2.tasks.spawn(async move {
                        if permit.is_some() {
                            ferrite_http_api::serve_device_connection(conn, app, cancel).await;
                        } else {
                            ferrite_http_api::refuse_busy(conn).await;
                        }
                        drop(permit);
                    });
                    return;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "handshake failed");
                    ctx2.broker.metrics().refused("handshake_failed");
                    return;
                }
            };
            let info = ConnInfo {
                local_addr,
                peer_addr: peer,
                transport: Some(Box::new(crate::peer::transport_identity(&accepted))),
                connect_timeout: ctx2.connect_timeout,
                over_capacity: permit.is_none(),
            };
            // A task of its own, so an idle connection does not keep the (larger) TLS and
            // WebSocket handshake state of this one for its lifetime.
            let broker = ctx2.broker.clone();
            // Only the stream moves into the connection's task: the rest of `accepted`
            // (certificate, upgrade request) is dropped with this one.
            let stream = accepted.stream;
            ctx2.connections.spawn(async move {
                broker.serve(stream, info).await;
                drop(permit);
            });
        });
    }
}
