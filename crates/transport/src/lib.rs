//! Listeners: TCP, TLS (rustls), WebSocket; Ferrite's CA; client certificate identity
