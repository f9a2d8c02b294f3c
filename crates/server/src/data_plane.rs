//! Wiring: the API's data plane (`ferrite_http_api::data_plane::DataPlane`) on the broker and
//! the device authorizer.

use std::net::SocketAddr;
use std::sync::Arc;

use ferrite_broker::{Broker, BrokerError, Message, Permissions};
use ferrite_http_api::data_plane::{
    BoxFuture, CertificateRefused, DataPlane, PublishRefused, ShadowFailure, ShadowOp,
};
use ferrite_identity::{HttpAuthError, IotAuthorizer};
use ferrite_shadow::Operation;
use ferrite_shadow_service::{RestError, Shadows};

pub struct DevicePlane {
    pub auth: IotAuthorizer,
    pub broker: Broker,
    pub shadows: Shadows,
    pub region: String,
}

fn failure(e: RestError) -> ShadowFailure {
    ShadowFailure {
        status: e.status,
        code: e.code,
        message: e.message,
    }
}

impl DataPlane for DevicePlane {
    fn certificate_permissions<'a>(
        &'a self,
        der: &'a [u8],
        peer: SocketAddr,
    ) -> BoxFuture<'a, Result<Arc<dyn Permissions>, CertificateRefused>> {
        Box::pin(async move {
            self.auth
                .certificate_permissions(der, peer)
                .await
                .map_err(|e| match e {
                    HttpAuthError::Denied(_) => CertificateRefused::Denied,
                    HttpAuthError::Unavailable => CertificateRefused::Unavailable,
                })
        })
    }

    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<(), PublishRefused>> {
        Box::pin(async move {
            match self.broker.publish(msg).await {
                Ok(_) => Ok(()),
                Err(e @ (BrokerError::Topic(_) | BrokerError::PayloadTooLarge { .. })) => {
                    Err(PublishRefused::Invalid(e.to_string()))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "HTTPS publish failed");
                    Err(PublishRefused::Unavailable)
                }
            }
        })
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn retained(&self, topic: &str) -> Option<Arc<Message>> {
        self.broker.retained(topic)
    }

    fn retained_page(&self, after: Option<&str>, limit: usize) -> (Vec<Arc<Message>>, bool) {
        self.broker.retained_page(after, limit)
    }

    fn shadow<'a>(
        &'a self,
        op: ShadowOp,
        thing: &'a str,
        shadow: Option<&'a str>,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ShadowFailure>> {
        let op = match op {
            ShadowOp::Get => Operation::Get,
            ShadowOp::Update => Operation::Update,
            ShadowOp::Delete => Operation::Delete,
        };
        Box::pin(async move {
            self.shadows
                .rest(op, thing, shadow, payload)
                .await
                .map_err(failure)
        })
    }

    fn list_named_shadows<'a>(
        &'a self,
        thing: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Vec<String>, bool), ShadowFailure>> {
        Box::pin(async move {
            self.shadows
                .list_named(thing, after, limit)
                .await
                .map_err(failure)
        })
    }
}
