//! S3 at an AWS-compatible endpoint (`[targets.s3] forward_endpoint`, signed with
//! `[targets.forward]`'s keys by [`ferrite_auth::signer`], as the rules engine's forwarded `s3`
//! action is): path-style GetObject of an input file, PutObject of a report, and a presigned
//! GetObject URL as the report's link.

use std::time::Duration;

use bytes::Bytes;
use ferrite_auth::custom::client;
use ferrite_auth::signer::{Signer, Unsigned};
use ferrite_config::ForwardConfig;
use ferrite_types::Clock;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// How long one call may take: an input file of 64 MiB from a nearby endpoint is read well
/// within it, and it is below the task's lease.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a report's presigned link is valid. [VERIFY: AWS's expiry of report links.]
pub const LINK_EXPIRY: Duration = Duration::from_secs(3600);

/// What S3's URI encoding leaves as it is (RFC 3986's unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An S3-compatible endpoint and the keys calls to it are signed with.
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// `scheme://host[:port]`, without a trailing `/`.
    endpoint: String,
    signer: Signer,
}

impl S3Endpoint {
    /// The endpoint `forward_endpoint` names, `None` when it is empty (buckets are local).
    pub fn new(forward_endpoint: &str, keys: &ForwardConfig) -> Option<S3Endpoint> {
        let endpoint = forward_endpoint.trim().trim_end_matches('/');
        (!endpoint.is_empty()).then(|| S3Endpoint {
            endpoint: endpoint.to_owned(),
            signer: Signer::new(&keys.region, &keys.access_key_id, &keys.secret_access_key),
        })
    }

    fn url(&self, bucket: &str, key: &str) -> String {
        let key: Vec<String> = key
            .split('/')
            .map(|s| utf8_percent_encode(s, UNRESERVED).to_string())
            .collect();
        format!(
            "{}/{}/{}",
            self.endpoint,
            utf8_percent_encode(bucket, UNRESERVED),
            key.join("/")
        )
    }

    /// The object's bytes, refused unread beyond `max_bytes`.
    pub async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Bytes, String> {
        let url = self.url(bucket, key);
        self.call(Method::GET, &url, Bytes::new(), max_bytes).await
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Bytes) -> Result<(), String> {
        let url = self.url(bucket, key);
        self.call(Method::PUT, &url, body, 64 * 1024)
            .await
            .map(drop)
    }

    /// A URL that reads the object without further credentials until [`LINK_EXPIRY`].
    pub fn presigned_get(&self, bucket: &str, key: &str, clock: &Clock) -> Result<String, String> {
        let url = self.url(bucket, key);
        self.signer
            .presign("s3", "GET", &url, LINK_EXPIRY, clock.now_system_time())
            .map_err(|e| e.to_string())
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        max_bytes: u64,
    ) -> Result<Bytes, String> {
        if !self.signer.has_keys() {
            return Err(format!(
                "reading buckets at {} needs [targets.forward] access_key_id and secret_access_key",
                self.endpoint
            ));
        }
        let request = Unsigned {
            method: method.as_str(),
            url,
            headers: &[],
            body: &body,
        };
        let headers = self
            .signer
            .sign("s3", &request, Clock::system().now_system_time())
            .map_err(|e| e.to_string())?;
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let sent = client::send_limited(method.clone(), url, &borrowed, body, limit);
        let response = match tokio::time::timeout(CALL_TIMEOUT, sent).await {
            Err(_) => {
                return Err(format!(
                    "{url} did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                ));
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(response)) => response,
        };
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        Err(format!(
            "{method} {url} answered {}: {}",
            response.status,
            error_text(&response.body)
        ))
    }
}

/// S3's `<Code>: <Message>` from an XML error body.
fn error_text(body: &[u8]) -> String {
    let (code, message) = ferrite_auth::signer::aws_error(body);
    format!("{code}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_addressed_path_style_and_links_are_presigned() {
        let keys = ForwardConfig {
            region: "us-west-2".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
        };
        assert!(S3Endpoint::new(" ", &keys).is_none());
        let s3 = S3Endpoint::new("http://127.0.0.1:9000/", &keys).unwrap();
        assert_eq!(
            s3.url("b", "in/a b+ü.jsonl"),
            "http://127.0.0.1:9000/b/in/a%20b%2B%C3%BC.jsonl"
        );
        let link = s3
            .presigned_get("b", "r/x.jsonl", &Clock::following_tokio(0))
            .unwrap();
        assert!(
            link.starts_with("http://127.0.0.1:9000/b/r/x.jsonl?"),
            "{link}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKID%2F19700101%2Fus-west-2%2Fs3%2Faws4_request",
            "X-Amz-Expires=3600",
            "X-Amz-Signature=",
        ] {
            assert!(link.contains(part), "{part} in {link}");
        }
    }
}
