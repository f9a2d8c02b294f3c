//! MQTT over WebSocket: the upgrade rules and the adapter that turns WebSocket messages
//! into the plain byte stream the broker reads and writes.
//!
//! Framing rules (MQTT 3.1.1 §6 / MQTT 5 §6): data travels in binary frames, and a frame
//! may hold part of a packet or several packets, so the reader concatenates frames. The
//! writer sends one binary frame per flush, which lets the broker decide the framing by
//! flushing once per batch of packets.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// The only path MQTT clients may upgrade on, as on AWS IoT.
pub const MQTT_PATH: &str = "/mqtt";
/// Subprotocols we accept, in order of preference. `mqttv3.1` is what MQTT 3.1 clients
/// (and some old libraries) offer.
pub const MQTT_SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// Default cap on one incoming WebSocket message and frame: room for a 256 KiB MQTT
/// packet plus its fixed header, so a peer cannot make us buffer unbounded data.
pub const DEFAULT_MAX_WS_MESSAGE_SIZE: usize = 256 * 1024 + 1024;

/// Once this much unflushed output has piled up, it goes out as a frame without waiting
/// for a flush. MQTT allows packets to span frames; this only bounds our memory when a
/// writer never flushes.
const MAX_PENDING_WRITE: usize = 1024 * 1024;

/// The HTTP request that opened a WebSocket connection, as the client sent it: what
/// verifying a SigV4 presigned URL (the Device SDK signs `GET /mqtt?X-Amz-...` for the
/// service `iotdevicegateway`) and calling a custom authorizer need. The method is always
/// `GET`; `path` and `query` rebuild the canonical URI and query string, and `headers`
/// (including `host`) the canonical headers.
///
/// It is only needed until CONNECT is authorized: take it out of [`crate::Accepted`]
/// before serving the connection, so an idle connection does not keep a few hundred bytes
/// of request for its whole life.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WsRequest {
    /// The request method (`GET` for every accepted upgrade).
    pub method: String,
    /// The path of the request target, still percent-encoded (`/mqtt`).
    pub path: String,
    /// The raw query string after `?`, still percent-encoded; `None` without a `?`.
    pub query: Option<String>,
    /// Every header in arrival order, names lowercased, values as sent (bytes that are
    /// not UTF-8 replaced by U+FFFD); repeated headers appear once per line.
    pub headers: Vec<(String, String)>,
    /// The `Host` header.
    pub host: Option<String>,
}

impl WsRequest {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Leaves out the query and header values: they carry signatures and authorizer tokens,
/// and connections are logged at debug level.
impl std::fmt::Debug for WsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.as_ref().map(String::len))
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("host", &self.host)
            .finish()
    }
}

/// The tungstenite configuration for accepted connections, with incoming messages and
/// frames capped at `max_message_size` bytes.
pub fn websocket_config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
        // MQTT packets are small and latency matters more than syscall count; a flush
        // writes regardless, so a smaller buffer just saves memory per connection.
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

/// Decides the upgrade: path must be `/mqtt` (404 otherwise) and the client must offer
/// an MQTT subprotocol (400 otherwise), which the response echoes.
// The signature is tungstenite's `Callback`; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
pub(crate) fn check_upgrade(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    if request.uri().path() != MQTT_PATH {
        return Err(error_response(StatusCode::NOT_FOUND, "not found"));
    }
    let Some(chosen) = choose_subprotocol(request) else {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "the mqtt websocket subprotocol is required",
        ));
    };
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(chosen),
    );
    Ok(response)
}

fn choose_subprotocol(request: &Request) -> Option<&'static str> {
    let offered: Vec<&str> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    MQTT_SUBPROTOCOLS.iter().copied().find(|ours| {
        offered
            .iter()
            .any(|theirs| theirs.eq_ignore_ascii_case(ours))
    })
}

fn error_response(status: StatusCode, body: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body.to_string()));
    *response.status_mut() = status;
    response
}

/// A WebSocket connection seen as a byte stream.
pub struct WsByteStream<S> {
    ws: WebSocketStream<S>,
    /// The rest of the last binary frame not yet handed to the reader.
    read_pending: Bytes,
    read_eof: bool,
    /// Bytes written since the last flush: the next frame.
    write_pending: BytesMut,
}

impl<S> WsByteStream<S> {
    /// Wraps an upgraded WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsByteStream {
            ws,
            read_pending: Bytes::new(),
            read_eof: false,
            write_pending: BytesMut::new(),
        }
    }
}

impl<S> std::fmt::Debug for WsByteStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsByteStream")
            .field("read_pending", &self.read_pending.len())
            .field("read_eof", &self.read_eof)
            .field("write_pending", &self.write_pending.len())
            .finish_non_exhaustive()
    }
}

fn to_io(error: tungstenite::Error) -> io::Error {
    use tungstenite::Error;
    match error {
        Error::Io(e) => e,
        Error::ConnectionClosed | Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "websocket closed")
        }
        Error::Capacity(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            io::Error::new(
                io::ErrorKind::ConnectionReset,
                "websocket reset without close",
            )
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

impl<S> WsByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Turns the pending bytes into one binary frame queued in tungstenite.
    fn poll_queue_frame(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        let frame = self.write_pending.split().freeze();
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(frame))
            .map_err(to_io)?;
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncRead for WsByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.read_pending.is_empty() {
                let n = this.read_pending.len().min(buf.remaining());
                buf.put_slice(&this.read_pending[..n]);
                this.read_pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.read_eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // Polling also lets tungstenite send queued Pong replies to Pings.
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.read_pending = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frames are not allowed on an mqtt websocket",
                    )));
                }
                Some(Ok(Message::Close(_))) | None => this.read_eof = true,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S> AsyncWrite for WsByteStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_pending.len() >= MAX_PENDING_WRITE {
            ready!(this.poll_queue_frame(cx))?;
        }
        this.write_pending.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_queue_frame(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Whatever was written still goes out before the Close frame.
        ready!(this.poll_queue_frame(cx))?;
        Pin::new(&mut this.ws).poll_close(cx).map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, protocols: &[&str]) -> Request {
        let mut builder = Request::builder().uri(path);
        for p in protocols {
            builder = builder.header(header::SEC_WEBSOCKET_PROTOCOL, *p);
        }
        builder.body(()).expect("request")
    }

    fn chosen(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn accepts_mqtt_and_echoes_it() {
        let response =
            check_upgrade(&request("/mqtt", &["mqtt"]), Response::default()).expect("ok");
        assert_eq!(chosen(&response), Some("mqtt"));
    }

    #[test]
    fn prefers_mqtt_among_several_offers() {
        let response =
            check_upgrade(&request("/mqtt", &["mqttv3.1, MQTT"]), Response::default()).expect("ok");
        assert_eq!(chosen(&response), Some("mqtt"));
        let response = check_upgrade(
            &request("/mqtt", &["wamp", "mqttv3.1"]),
            Response::default(),
        )
        .expect("ok");
        assert_eq!(chosen(&response), Some("mqttv3.1"));
    }

    #[test]
    fn query_string_is_allowed() {
        // AWS SigV4 WebSocket auth puts its parameters in the query string.
        let uri = "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256";
        assert!(check_upgrade(&request(uri, &["mqtt"]), Response::default()).is_ok());
    }

    #[test]
    fn other_paths_get_404() {
        let err = check_upgrade(&request("/", &["mqtt"]), Response::default()).expect_err("404");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        let err =
            check_upgrade(&request("/mqtt/x", &["mqtt"]), Response::default()).expect_err("404");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn missing_subprotocol_gets_400() {
        let err = check_upgrade(&request("/mqtt", &[]), Response::default()).expect_err("400");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let err =
            check_upgrade(&request("/mqtt", &["wamp"]), Response::default()).expect_err("400");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
