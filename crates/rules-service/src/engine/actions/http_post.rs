//! The one request HTTP and Lambda actions make: a POST bounded by a deadline, its outcome
//! sorted as AWS's HTTP action retries: a connection that fails, a timeout, 429 and 5xx may
//! succeed later; any other non-2xx answer will not.

use std::time::Duration;

use bytes::Bytes;
use ferrite_auth::custom::client::{self, ClientError};

use super::ActionError;

/// POSTs `body` to `url` with `headers`; `Ok` for a 2xx answer, whose body is ignored.
pub(crate) async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<(), ActionError> {
    match tokio::time::timeout(timeout, client::post(url, headers, body)).await {
        Err(_) => Err(ActionError::transient(format!(
            "{url} did not answer within {} ms",
            timeout.as_millis()
        ))),
        Ok(Err(e @ ClientError::Unreachable { .. })) => Err(ActionError::transient(e.to_string())),
        Ok(Err(e)) => Err(ActionError::permanent(e.to_string())),
        Ok(Ok(response)) => classify(url, response.status),
    }
}

fn classify(url: &str, status: u16) -> Result<(), ActionError> {
    let message = || format!("{url} answered HTTP status {status}");
    match status {
        200..=299 => Ok(()),
        429 | 500..=599 => Err(ActionError::transient(message())),
        _ => Err(ActionError::permanent(message())),
    }
}

/// AWS's default content type of an HTTP request carrying `payload`: JSON when it parses as
/// JSON, bytes otherwise.
pub(crate) fn content_type(payload: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_server_errors_are_worth_retrying() {
        assert!(classify("u", 200).is_ok());
        assert!(classify("u", 204).is_ok());
        for status in [429, 500, 503, 599] {
            let e = classify("http://h/x", status).unwrap_err();
            assert!(e.retry, "{status}");
            assert_eq!(
                e.message,
                format!("http://h/x answered HTTP status {status}")
            );
        }
        for status in [301, 400, 403, 404, 413] {
            assert!(!classify("u", status).unwrap_err().retry, "{status}");
        }
    }

    #[test]
    fn json_payloads_are_sent_as_json() {
        assert_eq!(content_type(br#"{"a": 1}"#), "application/json");
        assert_eq!(content_type(b"42"), "application/json");
        assert_eq!(content_type(b"\"text\""), "application/json");
        assert_eq!(content_type(b"plain text"), "application/octet-stream");
        assert_eq!(content_type(&[0xff, 0x00]), "application/octet-stream");
    }

    #[tokio::test]
    async fn unreachable_endpoints_are_transient_and_bad_urls_permanent() {
        // A port nothing listens on: bind one, learn its number, close it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let e = post(
            &format!("http://{addr}/x"),
            &[],
            Bytes::new(),
            Duration::from_secs(3),
        )
        .await
        .unwrap_err();
        assert!(e.retry, "{}", e.message);
        let e = post("ftp://h/x", &[], Bytes::new(), Duration::from_secs(3))
            .await
            .unwrap_err();
        assert!(!e.retry, "{}", e.message);
    }
}
