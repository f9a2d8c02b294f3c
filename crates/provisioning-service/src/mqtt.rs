//! The fleet provisioning API over MQTT: `$aws/certificates/create/json`,
//! `$aws/certificates/create-from-csr/json` and
//! `$aws/provisioning-templates/{template}/provision/json`, each answered on the request topic
//! plus `/accepted` or `/rejected`.
//!
//! Requests reach the service through exclusive hold-policy taps: no subscriber, rule or other
//! node sees them (a RegisterThing request carries an ownership token), and a service that
//! falls behind holds the publisher rather than losing a request. Whether the device may
//! publish them is the broker's ordinary `iot:Publish` check, before any tap.
//!
//! Answers carry private keys and ownership tokens, so they go only to the connection that
//! asked ([`Broker::deliver_to`]): to its session, through its own subscription to the answer
//! topic and its `iot:Receive` check; another client subscribed to `$aws/certificates/#`
//! receives nothing. A request without a client id (none over MQTT) is not answered. CBOR
//! (`/cbor`) is not served.
//!
//! Every minute the loop also sweeps expired ownership tokens and deletes the certificates
//! they leave unprovisioned ([`FleetProvisioning::sweep_expired`]); in a cluster each node
//! sweeps, and conditional deletes make one of them win each token.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrite_broker::{Broker, BrokerError, Message, TapOptions};
use ferrite_mqtt_codec::QoS;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::{FleetProvisioning, ProvisionFailure, Requester};

/// Requests waiting in each tap before publishers are held.
const TAP_QUEUE: usize = 256;
/// Requests served at once: each may generate an RSA key or call a hook.
const CONCURRENT: usize = 16;
/// How often expired ownership tokens (and their unprovisioned certificates) are swept.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

const CREATE: &str = "$aws/certificates/create/json";
const CREATE_FROM_CSR: &str = "$aws/certificates/create-from-csr/json";
const PROVISION: &str = "$aws/provisioning-templates/+/provision/json";

/// The MQTT side of fleet provisioning: its taps.
pub struct FleetProvisioningDevice {
    provisioning: FleetProvisioning,
    broker: Broker,
    taps: Vec<mpsc::Receiver<Arc<Message>>>,
}

impl FleetProvisioningDevice {
    /// Taps the request topics on `broker`.
    pub fn new(
        provisioning: FleetProvisioning,
        broker: Broker,
    ) -> Result<FleetProvisioningDevice, BrokerError> {
        let taps = [CREATE, CREATE_FROM_CSR, PROVISION]
            .iter()
            .map(|f| broker.tap_with(f, TapOptions::hold("provisioning", TAP_QUEUE).exclusive()))
            .collect::<Result<_, _>>()?;
        Ok(FleetProvisioningDevice {
            provisioning,
            broker,
            taps,
        })
    }

    /// Serves requests until `cancel`, then lets the requests in flight finish.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut taps = std::mem::take(&mut self.taps);
        let [a, b, c] = &mut taps[..] else {
            unreachable!("one tap per request filter")
        };
        let tasks = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = sweep.tick() => {
                    match self.provisioning.sweep_expired().await {
                        Ok(gone) if !gone.is_empty() => tracing::info!(
                            certificates = gone.len(),
                            "deleted certificates whose ownership token expired unprovisioned"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot sweep ownership tokens"),
                    }
                    continue;
                }
                Some(m) = a.recv() => m,
                Some(m) = b.recv() => m,
                Some(m) = c.recv() => m,
                else => break,
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let (provisioning, broker) = (self.provisioning.clone(), self.broker.clone());
            tasks.spawn(async move {
                serve(&provisioning, &broker, &msg).await;
                drop(slot);
            });
        }
        tasks.close();
        tasks.wait().await;
    }
}

async fn serve(provisioning: &FleetProvisioning, broker: &Broker, msg: &Message) {
    let Some(client_id) = msg.origin.client_id.clone() else {
        tracing::debug!(topic = %msg.topic, "a provisioning request without a client id");
        return;
    };
    let requester = Requester {
        client_id: Some(&client_id),
        principal: msg.origin.principal.as_deref(),
    };
    let answer = answer(provisioning, &msg.topic, &msg.payload, requester).await;
    let (suffix, body) = match answer {
        Ok(body) => ("accepted", body),
        Err(e) => {
            if let ProvisionFailure::Internal(why) = &e {
                tracing::warn!(error = %why, topic = %msg.topic, "a provisioning request failed");
            }
            ("rejected", e.rejected())
        }
    };
    let topic = format!("{}/{suffix}", msg.topic);
    let reply = Message::from_service(
        "provisioning",
        topic.as_str(),
        body.to_string(),
        QoS::AtLeastOnce,
    );
    match broker.deliver_to(&client_id, reply).await {
        Ok(0) => tracing::debug!(%topic, %client_id, "nobody subscribed to a provisioning answer"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, %topic, "cannot deliver a provisioning answer"),
    }
}

fn payload_object(payload: &[u8], allow_empty: bool) -> Result<Value, ProvisionFailure> {
    if allow_empty && payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ProvisionFailure::InvalidPayload(
            "The payload is not a valid JSON object.".into(),
        )),
    }
}

async fn answer(
    provisioning: &FleetProvisioning,
    topic: &str,
    payload: &[u8],
    requester: Requester<'_>,
) -> Result<Value, ProvisionFailure> {
    if topic == CREATE {
        payload_object(payload, true)?;
        return provisioning.create_keys_and_certificate().await;
    }
    let body = payload_object(payload, false)?;
    if topic == CREATE_FROM_CSR {
        let csr = body["certificateSigningRequest"].as_str().ok_or_else(|| {
            ProvisionFailure::InvalidPayload("certificateSigningRequest is missing.".into())
        })?;
        return provisioning.create_certificate_from_csr(csr).await;
    }
    let template = topic
        .strip_prefix("$aws/provisioning-templates/")
        .and_then(|rest| rest.strip_suffix("/provision/json"))
        .ok_or_else(|| ProvisionFailure::InvalidPayload("Unknown provisioning topic.".into()))?;
    let token = match &body["certificateOwnershipToken"] {
        Value::String(t) => t.as_str(),
        Value::Null => "",
        _ => {
            return Err(ProvisionFailure::InvalidPayload(
                "certificateOwnershipToken must be a string.".into(),
            ));
        }
    };
    let parameters: BTreeMap<String, String> = match &body["parameters"] {
        Value::Null => BTreeMap::new(),
        p => serde_json::from_value(p.clone()).map_err(|_| {
            ProvisionFailure::InvalidPayload("parameters must map names to strings.".into())
        })?,
    };
    provisioning
        .register_thing(template, token, parameters, requester)
        .await
}
