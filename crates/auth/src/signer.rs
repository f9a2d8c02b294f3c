use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a presigned URL's query leaves as it is (RFC 3986's unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request to sign, before its signature.
#[derive(Debug, Clone, Copy)]
pub struct Unsigned<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The full URL, path and query already URI-encoded as they go on the wire.
    pub url: &'a str,
    /// Headers to send and sign besides `host`, which the URL gives.
    pub headers: &'a [(&'a str, &'a str)],
    /// The complete body.
    pub body: &'a [u8],
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The URL does not parse.
    #[error("{0} is not a valid URL")]
    BadUrl(String),
    /// The URL parses but names no host to sign.
    #[error("{0} has no host")]
    NoHost(String),
    /// `aws-sigv4` refused the request or the parameters.
    #[error("cannot sign for {url}: {reason}")]
    Refused {
        /// The URL being signed.
        url: String,
        /// What `aws-sigv4` said.
        reason: String,
    },
}

/// Signs outbound requests to AWS-compatible endpoints with one set of keys and one region
/// (`[targets.forward]`), for any service's signing name.
///
/// S3 (`s3`) is signed as S3 wants it: the path as sent (neither encoded again nor
/// normalised) and the payload's hash in `x-amz-content-sha256`. Every other service gets
/// AWS's general rules.
#[derive(Clone)]
pub struct Signer {
    region: String,
    access_key_id: String,
    secret_access_key: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `region` with these keys.
    pub fn new(region: &str, access_key_id: &str, secret_access_key: &str) -> Signer {
        Signer {
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        }
    }

    /// Whether both keys are set: without them nothing AWS accepts can be signed, and callers
    /// explain which configuration is missing.
    pub fn has_keys(&self) -> bool {
        !self.access_key_id.is_empty() && !self.secret_access_key.is_empty()
    }

    /// All headers to send for `request` to `service` at `time`: the request's own plus the
    /// signature's (`authorization`, `x-amz-date`, and for S3 `x-amz-content-sha256`). `host`
    /// is signed but not returned, since HTTP clients set it from the URL themselves.
    pub fn sign(
        &self,
        service: &str,
        request: &Unsigned<'_>,
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let url = request.url;
        let host = host_of(url)?;
        let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
        headers.extend(
            request
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        let signable = SignableRequest::new(
            request.method,
            url,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(request.body),
        )
        .map_err(|e| refused(url, e))?;
        let instructions = self.instructions(service, signable, settings(service), time, url)?;
        headers.extend(
            instructions
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned())),
        );
        headers.retain(|(n, _)| n != "host");
        Ok(headers)
    }

    /// `url` with the query parameters that let anyone holding it `method` it, without a body
    /// and without further credentials, for `expires_in` from `time`. The payload is signed as
    /// `UNSIGNED-PAYLOAD`, as presigned URLs are.
    pub fn presign(
        &self,
        service: &str,
        method: &str,
        url: &str,
        expires_in: Duration,
        time: SystemTime,
    ) -> Result<String, SignError> {
        let mut settings = settings(service);
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        // The body is not signed, so no header carries its hash.
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let host = host_of(url)?;
        let headers = [("host", host.as_str())];
        let signable = SignableRequest::new(
            method,
            url,
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| refused(url, e))?;
        let instructions = self.instructions(service, signable, settings, time, url)?;
        let query: Vec<String> = instructions
            .params()
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(name, UNRESERVED),
                    utf8_percent_encode(value, UNRESERVED)
                )
            })
            .collect();
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}{}", query.join("&")))
    }

    fn instructions(
        &self,
        service: &str,
        signable: SignableRequest<'_>,
        settings: SigningSettings,
        time: SystemTime,
        url: &str,
    ) -> Result<SigningInstructions, SignError> {
        let identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "ferrite-targets-forward",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| refused(url, e))?
            .into();
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| refused(url, e))?
            .into_parts();
        Ok(instructions)
    }
}

/// AWS's error code and message from an error body: JSON (`__type`, `message`) or XML
/// (`<Code>`, `<Message>`), whichever the protocol uses.
pub fn aws_error(body: &[u8]) -> (String, String) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let code = v["__type"]
            .as_str()
            .or_else(|| v["code"].as_str())
            .unwrap_or("UnknownError");
        // JSON errors may qualify the code with its namespace (`com.amazonaws.sqs#...`).
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = v["message"]
            .as_str()
            .or_else(|| v["Message"].as_str())
            .unwrap_or_default();
        return (code.to_owned(), message.to_owned());
    }
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    };
    (
        element("Code").unwrap_or_else(|| "UnknownError".into()),
        element("Message").unwrap_or_default(),
    )
}

fn settings(service: &str) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3 signs its paths as sent and wants the payload's hash in a header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

fn host_of(url: &str) -> Result<String, SignError> {
    let uri: http::Uri = url.parse().map_err(|_| SignError::BadUrl(url.into()))?;
    uri.authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| SignError::NoHost(url.into()))
}

fn refused(url: &str, reason: impl fmt::Display) -> SignError {
    SignError::Refused {
        url: url.into(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests;
