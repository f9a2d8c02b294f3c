//! What the transport learned about a connection, in the broker's terms.

use ferrite_broker::{HttpRequestHead, TransportIdentity};
use ferrite_transport::Accepted;

pub fn transport_identity(accepted: &Accepted) -> TransportIdentity {
    TransportIdentity {
        certificate_der: accepted.peer_certificate.as_ref().map(|c| c.der.clone()),
        certificate_id: accepted
            .peer_certificate
            .as_ref()
            .map(|c| c.certificate_id.clone()),
        sni: accepted.sni.clone(),
        alpn: accepted.alpn.clone(),
        tls: accepted.kind.uses_tls(),
        websocket: accepted.websocket.as_ref().map(|ws| HttpRequestHead {
            method: ws.method.clone(),
            path: ws.path.clone(),
            query: ws.query.clone(),
            headers: ws.headers.clone(),
        }),
    }
}
