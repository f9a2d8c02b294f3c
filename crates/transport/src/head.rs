//! Reading the HTTP/1.x request head that opens a WebSocket connection or an HTTP
//! request on the device port: bounded in size, parsed once, every byte kept so the
//! handler that takes the connection next (tungstenite, hyper) can be given them again.

use std::io;
use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::TransportError;
use crate::websocket::{MQTT_PATH, WsRequest};

/// Largest request head (request line and headers) read before deciding what a
/// connection is. Bigger heads are refused with 431: without a cap a client could make
/// us buffer without end while we wait for the blank line.
pub const MAX_HTTP_HEAD: usize = 16 * 1024;

/// Headers parsed at most; hyper's default limit, so a head we pass on to hyper is one
/// it would have accepted itself.
const MAX_HEADERS: usize = 100;

/// How much the read buffer grows by; most upgrade requests fit in the first step.
const READ_STEP: usize = 2048;

const TOO_LARGE_RESPONSE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
content-length: 0\r\nconnection: close\r\n\r\n";

/// The answer to a head that is not HTTP/1.x (or has more than [`MAX_HEADERS`] headers).
pub(crate) const BAD_REQUEST_RESPONSE: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// A request head read from a connection.
pub(crate) struct RequestHead {
    /// Everything read: the head and whatever arrived with it in the same reads.
    pub raw: Bytes,
    /// The parsed head; `None` when the bytes are not an HTTP/1.x request (whoever gets
    /// the connection next answers that with its own error).
    pub parsed: Option<WsRequest>,
}

impl RequestHead {
    /// Whether this asks to upgrade `/mqtt` to a WebSocket, i.e. MQTT over WebSocket
    /// rather than an HTTP request.
    pub fn is_mqtt_upgrade(&self) -> bool {
        let Some(request) = &self.parsed else {
            return false;
        };
        request.method == "GET"
            && request.path == MQTT_PATH
            && request.headers.iter().any(|(name, value)| {
                name == "upgrade"
                    && value
                        .split(',')
                        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
            })
    }
}

/// Reads until the end of the request head. A head longer than [`MAX_HTTP_HEAD`] gets a
/// 431 response and an error; the caller's handshake timeout bounds how long this waits.
pub(crate) async fn read_head<S>(
    stream: &mut S,
    peer: SocketAddr,
) -> Result<RequestHead, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::new();
    loop {
        let room = MAX_HTTP_HEAD - buf.len();
        if room == 0 {
            respond_and_close(stream, TOO_LARGE_RESPONSE).await;
            return Err(TransportError::HttpHeadTooLarge {
                peer,
                limit: MAX_HTTP_HEAD,
            });
        }
        if buf.capacity() == buf.len() {
            buf.reserve(READ_STEP.min(room));
        }
        let scanned = buf.len().saturating_sub(2);
        let n = stream
            .read_buf(&mut (&mut buf).limit(room))
            .await
            .map_err(|source| TransportError::HttpHead { peer, source })?;
        if n == 0 {
            return Err(TransportError::HttpHead {
                peer,
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the end of the request head",
                ),
            });
        }
        // Only a blank line can end a head, so parsing waits for one: a client sending
        // a byte at a time must not make us re-parse the whole head on every byte.
        if !has_blank_line(&buf[scanned..]) {
            continue;
        }
        match parse(&buf) {
            Parsed::Partial => continue,
            Parsed::Complete(request) => {
                return Ok(RequestHead {
                    raw: buf.freeze(),
                    parsed: Some(request),
                });
            }
            Parsed::Invalid => {
                return Ok(RequestHead {
                    raw: buf.freeze(),
                    parsed: None,
                });
            }
        }
    }
}

/// Whether `bytes` holds the end of a head: an empty line, with or without CR.
fn has_blank_line(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// Sends a final response to a request we will not serve.
pub(crate) async fn respond_and_close<S: AsyncWrite + Unpin>(stream: &mut S, response: &[u8]) {
    // Best effort: the client may already be gone, and the connection closes anyway.
    if stream.write_all(response).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

enum Parsed {
    Partial,
    Complete(WsRequest),
    Invalid,
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(target)) = (request.method, request.path) else {
                return Parsed::Invalid;
            };
            let (path, query) = match target.split_once('?') {
                Some((path, query)) => (path, Some(query.to_owned())),
                None => (target, None),
            };
            let headers: Vec<(String, String)> = request
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let host = headers
                .iter()
                .find(|(name, _)| name == "host")
                .map(|(_, value)| value.clone());
            Parsed::Complete(WsRequest {
                method: method.to_owned(),
                path: path.to_owned(),
                query,
                headers,
                host,
            })
        }
        Err(_) => Parsed::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    async fn head_of(input: &[u8]) -> Result<RequestHead, TransportError> {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(input).await.expect("write");
        drop(client);
        read_head(&mut server, peer()).await
    }

    #[tokio::test]
    async fn parses_path_raw_query_and_headers_in_order() {
        let input = b"GET /mqtt?X-Amz-Credential=AKIA%2F20240101&b=%20 HTTP/1.1\r\n\
Host: example.com:8443\r\nUpgrade: websocket\r\nX-Custom: One\r\nx-custom: two\r\n\r\nafter";
        let head = head_of(input).await.expect("head");
        assert_eq!(&head.raw[..], &input[..]);
        let request = head.parsed.as_ref().expect("parsed");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/mqtt");
        assert_eq!(
            request.query.as_deref(),
            Some("X-Amz-Credential=AKIA%2F20240101&b=%20")
        );
        assert_eq!(request.host.as_deref(), Some("example.com:8443"));
        assert_eq!(
            request.headers,
            [
                ("host", "example.com:8443"),
                ("upgrade", "websocket"),
                ("x-custom", "One"),
                ("x-custom", "two"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert!(head.is_mqtt_upgrade());
    }

    #[tokio::test]
    async fn upgrade_needs_get_mqtt_and_websocket() {
        for (input, upgrade) in [
            (
                &b"GET /mqtt HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\n"[..],
                true,
            ),
            (
                b"GET /mqtt HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c, websocket\r\n\r\n",
                true,
            ),
            (b"GET /mqtt HTTP/1.1\r\n\r\n", false),
            (b"POST /mqtt HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", false),
            (b"GET /mqtt/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", false),
            (
                b"GET /topics/a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
                false,
            ),
            (b"GET /mqtt HTTP/1.1\nUpgrade: websocket\n\n", true),
        ] {
            let head = head_of(input).await.expect("head");
            assert_eq!(
                head.is_mqtt_upgrade(),
                upgrade,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[tokio::test]
    async fn empty_query_is_kept_and_absent_query_is_none() {
        let head = head_of(b"GET /mqtt? HTTP/1.1\r\n\r\n").await.expect("head");
        assert_eq!(head.parsed.expect("parsed").query.as_deref(), Some(""));
        let head = head_of(b"GET /mqtt HTTP/1.1\r\n\r\n").await.expect("head");
        assert_eq!(head.parsed.expect("parsed").query, None);
    }

    #[tokio::test]
    async fn garbage_is_kept_unparsed() {
        let input = b"\x16\x03\x01 not http\r\n\r\n";
        let head = head_of(input).await.expect("head");
        assert!(head.parsed.is_none());
        assert!(!head.is_mqtt_upgrade());
        assert_eq!(&head.raw[..], &input[..]);
    }

    #[tokio::test]
    async fn eof_before_the_blank_line_is_an_error() {
        let err = head_of(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
            .await
            .err()
            .expect("error");
        match err {
            TransportError::HttpHead { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::UnexpectedEof);
            }
            other => panic!("unexpected error {other}"),
        }
    }

    #[tokio::test]
    async fn oversized_head_gets_431_and_reads_no_further() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let mut input = b"GET /mqtt HTTP/1.1\r\nX-Filler: ".to_vec();
        input.resize(MAX_HTTP_HEAD + 4096, b'a');
        client.write_all(&input).await.expect("write");
        let err = read_head(&mut server, peer()).await.err().expect("error");
        assert!(
            matches!(err, TransportError::HttpHeadTooLarge { limit, .. } if limit == MAX_HTTP_HEAD),
            "{err}"
        );
        let mut response = Vec::new();
        client.read_to_end(&mut response).await.expect("read");
        assert!(response.starts_with(b"HTTP/1.1 431 "), "{response:?}");
        // The cap is exact: the bytes past it were never read.
        drop(client);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.expect("read");
        assert_eq!(rest.len(), input.len() - MAX_HTTP_HEAD);
    }

    #[tokio::test]
    async fn too_many_headers_is_left_to_the_next_handler() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            input.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        let head = head_of(&input).await.expect("head");
        assert!(head.parsed.is_none());
    }

    #[test]
    fn blank_line_detection() {
        assert!(has_blank_line(b"a\r\n\r\n"));
        assert!(has_blank_line(b"a\n\n"));
        assert!(!has_blank_line(b"a\r\nb\r\n"));
        assert!(!has_blank_line(b""));
    }
}
