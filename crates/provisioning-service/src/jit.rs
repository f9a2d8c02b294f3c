//! Just-in-time registration and provisioning, after the registry registered a device
//! certificate presented under a CA with auto-registration
//! ([`RegistryChange::CertificateRegisteredJustInTime`]):
//! - JITR: `$aws/events/certificates/registered/{caCertificateId}` is published through the
//!   broker's one publish path (subscribers and rules see it);
//! - JITP: when the CA's `registrationConfig` names a template (`templateBody`, or
//!   `templateName` of an enabled `JITP` template), it runs with the certificate's id and
//!   subject fields as built-in parameters, and activates the certificate. As on AWS, the
//!   connection that caused it was refused; the device connects again.
//!
//! In a cluster every node hears the change: the event may be published more than once (AWS
//! promises at-least-once) and the template run twice (applying a plan is idempotent).

use ferrite_broker::{Broker, Message};
use ferrite_mqtt_codec::QoS;
use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::FleetProvisioning;

/// The JITR event publisher and JITP runner.
pub struct JustInTime {
    fleet: FleetProvisioning,
    broker: Broker,
}

impl JustInTime {
    pub fn new(fleet: FleetProvisioning, broker: Broker) -> JustInTime {
        JustInTime { fleet, broker }
    }

    /// Serves just-in-time registrations announced on `changes` until `cancel`.
    pub async fn run(self, mut changes: ChangeSubscription, cancel: CancellationToken) {
        loop {
            let change = tokio::select! {
                _ = cancel.cancelled() => return,
                change = changes.recv() => change,
            };
            match change.as_ref() {
                // The node that registered the certificate runs its template.
                Some(Received::Change(_)) if changes.from_other_node() => {}
                Some(Received::Change(c)) => {
                    if let RegistryChange::CertificateRegisteredJustInTime {
                        certificate_id,
                        ca_certificate_id,
                    } = c.as_ref()
                    {
                        self.registered(certificate_id, ca_certificate_id).await;
                    }
                }
                // A missed change may have been a registration: the device's next connection
                // attempt with its PENDING_ACTIVATION certificate gets no second chance here.
                Some(Received::Missed(_)) => {}
                None => return,
            }
        }
    }

    async fn registered(&self, certificate_id: &str, ca_certificate_id: &str) {
        let now = self.fleet.clock.now_ms();
        let event = json!({
            "certificateId": certificate_id,
            "caCertificateId": ca_certificate_id,
            "timestamp": now,
            "certificateStatus": "PENDING_ACTIVATION",
            "awsAccountId": self.fleet.scope.account,
            "certificateRegistrationTimestamp": now.to_string(),
        });
        let topic = format!("$aws/events/certificates/registered/{ca_certificate_id}");
        let msg = Message::from_service(
            "provisioning",
            topic.as_str(),
            event.to_string(),
            QoS::AtLeastOnce,
        );
        if let Err(e) = self.broker.publish(msg).await {
            tracing::warn!(error = %e, %topic, "cannot publish a JITR event");
        }
        match self
            .fleet
            .provision_just_in_time(certificate_id, ca_certificate_id)
            .await
        {
            Ok(Some(thing)) => {
                tracing::info!(
                    certificate_id,
                    thing = thing.as_deref().unwrap_or(""),
                    "JITP provisioned a certificate"
                )
            }
            Ok(None) => {}
            Err(e) => tracing::info!(certificate_id, error = %e, "JITP failed"),
        }
    }
}
