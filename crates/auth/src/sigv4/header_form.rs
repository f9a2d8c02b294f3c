//! The header form: `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
//! Signature=…` plus an `X-Amz-Date` or `Date` header.

use http::{HeaderMap, HeaderValue};

use super::amz_date::{format_iso_basic, parse_http_date, parse_iso_basic};
use super::claim::{Claim, Form};
use super::error::SigV4Error;

/// Reads the claim from an `Authorization` header, checking its shape in AWS's order: every
/// component is `key=value`, then the three components and a date header exist, then the date
/// parses.
pub(crate) fn parse(authorization: &HeaderValue, headers: &HeaderMap) -> Result<Claim, SigV4Error> {
    // AWS answers anything that is not an `AWS4-` scheme as if there were no authentication.
    let Ok(text) = authorization.to_str() else {
        return Err(SigV4Error::MissingAuthentication);
    };
    let text = text.trim();
    if !text.starts_with("AWS4-") {
        return Err(SigV4Error::MissingAuthentication);
    }
    let (algorithm, rest) = text
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((text, ""));

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for pair in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|pair| !pair.is_empty())
    {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorizationPair {
                pair: pair.to_owned(),
                authorization: text.to_owned(),
            });
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert(value);
    }

    let x_amz_date = headers.get("x-amz-date");
    let date = headers.get("date");
    let mut missing = Vec::new();
    if credential.is_none_or(str::is_empty) {
        missing.push("Credential");
    }
    if signature.is_none_or(str::is_empty) {
        missing.push("Signature");
    }
    // An empty list is present; it then fails for not signing `host`.
    if signed_headers.is_none() {
        missing.push("SignedHeaders");
    }
    if x_amz_date.is_none() && date.is_none() {
        missing.push("Date");
    }
    if !missing.is_empty() {
        return Err(SigV4Error::IncompleteAuthorization {
            missing,
            authorization: text.to_owned(),
        });
    }

    let (amz_date, request_time) = request_date(x_amz_date, date)?;
    Ok(Claim {
        form: Form::Header,
        algorithm: algorithm.to_owned(),
        credential: credential.unwrap_or_default().to_owned(),
        signed_headers: signed_headers.unwrap_or_default().to_owned(),
        signature: signature.unwrap_or_default().to_owned(),
        amz_date,
        request_time,
        expires: None,
        session_token: headers
            .get("x-amz-security-token")
            .and_then(|token| token.to_str().ok())
            .map(str::to_owned),
    })
}

/// The signed timestamp: `X-Amz-Date` when present, else `Date` converted to the basic form the
/// string to sign uses.
fn request_date(
    x_amz_date: Option<&HeaderValue>,
    date: Option<&HeaderValue>,
) -> Result<(String, i64), SigV4Error> {
    let invalid = |value: &HeaderValue| SigV4Error::InvalidDate {
        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    };
    if let Some(value) = x_amz_date {
        let text = value.to_str().map_err(|_| invalid(value))?;
        let seconds = parse_iso_basic(text).ok_or_else(|| invalid(value))?;
        return Ok((text.to_owned(), seconds));
    }
    let value = date.ok_or(SigV4Error::MissingAuthentication)?;
    let seconds = value
        .to_str()
        .ok()
        .and_then(parse_http_date)
        .ok_or_else(|| invalid(value))?;
    Ok((format_iso_basic(seconds), seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iot/aws4_request, \
                        SignedHeaders=host;x-amz-date, Signature=abcd";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn parse_with(
        authorization: &str,
        pairs: &[(&'static str, &str)],
    ) -> Result<Claim, SigV4Error> {
        parse(&authorization.parse().unwrap(), &headers(pairs))
    }

    #[test]
    fn reads_the_three_components_and_x_amz_date() {
        let claim = parse_with(
            AUTH,
            &[
                ("x-amz-date", "20150830T123600Z"),
                ("x-amz-security-token", "token"),
            ],
        )
        .unwrap();
        assert_eq!(claim.form, Form::Header);
        assert_eq!(claim.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(claim.credential, "AKID/20150830/us-east-1/iot/aws4_request");
        assert_eq!(claim.signed_headers, "host;x-amz-date");
        assert_eq!(claim.signature, "abcd");
        assert_eq!(claim.amz_date, "20150830T123600Z");
        assert_eq!(claim.request_time, 1_440_938_160);
        assert_eq!(claim.session_token.as_deref(), Some("token"));
    }

    #[test]
    fn tolerates_missing_spaces_and_extra_components() {
        let claim = parse_with(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iot/aws4_request,\
             SignedHeaders=host,Foo=bar,Signature=abcd",
            &[("x-amz-date", "20150830T123600Z")],
        )
        .unwrap();
        assert_eq!(claim.signed_headers, "host");
        assert_eq!(claim.signature, "abcd");
    }

    #[test]
    fn falls_back_to_the_date_header() {
        let claim = parse_with(AUTH, &[("date", "Sun, 30 Aug 2015 12:36:00 GMT")]).unwrap();
        assert_eq!(claim.amz_date, "20150830T123600Z");
        assert_eq!(claim.request_time, 1_440_938_160);
    }

    #[test]
    fn non_aws4_schemes_count_as_no_authentication() {
        for authorization in ["Bearer abc", "AWS AKID:signature", "aws4-hmac-sha256 x=y"] {
            assert_eq!(
                parse_with(authorization, &[("x-amz-date", "20150830T123600Z")]),
                Err(SigV4Error::MissingAuthentication),
                "{authorization}"
            );
        }
    }

    #[test]
    fn lists_every_missing_component_and_the_date() {
        assert_eq!(
            parse_with("AWS4-HMAC-SHA256 Signature=", &[]),
            Err(SigV4Error::IncompleteAuthorization {
                missing: vec!["Credential", "Signature", "SignedHeaders", "Date"],
                authorization: "AWS4-HMAC-SHA256 Signature=".to_owned(),
            })
        );
    }

    #[test]
    fn a_component_without_equals_is_reported_first() {
        assert_eq!(
            parse_with(
                "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders",
                &[]
            ),
            Err(SigV4Error::MalformedAuthorizationPair {
                pair: "Credential".to_owned(),
                authorization: "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders"
                    .to_owned(),
            })
        );
    }

    #[test]
    fn malformed_dates_are_rejected_with_the_value() {
        assert_eq!(
            parse_with(AUTH, &[("x-amz-date", "2015-08-30T12:36:00Z")]),
            Err(SigV4Error::InvalidDate {
                value: "2015-08-30T12:36:00Z".to_owned()
            })
        );
        assert_eq!(
            parse_with(AUTH, &[("date", "yesterday")]),
            Err(SigV4Error::InvalidDate {
                value: "yesterday".to_owned()
            })
        );
    }
}
