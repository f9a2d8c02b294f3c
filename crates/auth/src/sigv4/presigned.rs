//! The presigned query form, as the AWS IoT Device SDK builds it for `GET /mqtt`:
//! `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`, and optionally `X-Amz-Expires` and `X-Amz-Security-Token`.
//!
//! The v2 Device SDKs sign through the AWS CRT with no expiry, so `X-Amz-Expires` is usually
//! absent; the request time is then held to the same ±15 minutes as the header form.

use super::amz_date::parse_iso_basic;
use super::canonical::QueryParams;
use super::claim::{Claim, Form};
use super::error::SigV4Error;

pub(crate) const ALGORITHM_PARAM: &str = "X-Amz-Algorithm";
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";
pub(crate) const SECURITY_TOKEN_PARAM: &str = "X-Amz-Security-Token";

/// `X-Amz-Expires` may not exceed seven days.
pub(crate) const MAX_EXPIRES: u64 = 604_800;

/// Reads the claim from the query, checking in AWS's order: every required parameter, then the
/// date, then the expiry.
pub(crate) fn parse(query: &QueryParams) -> Result<Claim, SigV4Error> {
    const REQUIRED: [&str; 5] = [
        ALGORITHM_PARAM,
        "X-Amz-Credential",
        SIGNATURE_PARAM,
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let values = REQUIRED.map(|name| match query.get(name) {
        Some(Ok(value)) if !value.is_empty() => Some(value),
        _ => None,
    });
    let missing: Vec<&'static str> = REQUIRED
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    let [
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(signed_headers),
        Some(date),
    ] = values
    else {
        return Err(SigV4Error::MissingQueryParameters { missing });
    };

    let request_time = parse_iso_basic(date).ok_or_else(|| SigV4Error::InvalidDate {
        value: date.to_owned(),
    })?;
    let expires = match query.get("X-Amz-Expires") {
        None => None,
        Some(value) => {
            let text = value.unwrap_or("");
            let seconds = text
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds <= MAX_EXPIRES)
                .ok_or_else(|| SigV4Error::InvalidExpires {
                    value: text.to_owned(),
                })?;
            Some(seconds)
        }
    };

    Ok(Claim {
        form: Form::Presigned,
        algorithm: algorithm.to_owned(),
        credential: credential.to_owned(),
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        amz_date: date.to_owned(),
        request_time,
        expires,
        session_token: match query.get(SECURITY_TOKEN_PARAM) {
            Some(Ok(token)) => Some(token.to_owned()),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKID%2F20191029%2Fus-east-1%2Fiotdevicegateway%2Faws4_request\
        &X-Amz-Date=20191029T180332Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd";

    fn parse_query(query: &str) -> Result<Claim, SigV4Error> {
        parse(&QueryParams::parse(query))
    }

    #[test]
    fn reads_the_device_sdk_parameters() {
        let claim = parse_query(&format!("{URL}&X-Amz-Security-Token=a%2Bb%2F%3D")).unwrap();
        assert_eq!(claim.form, Form::Presigned);
        assert_eq!(claim.algorithm, "AWS4-HMAC-SHA256");
        assert_eq!(
            claim.credential,
            "AKID/20191029/us-east-1/iotdevicegateway/aws4_request"
        );
        assert_eq!(claim.signed_headers, "host");
        assert_eq!(claim.signature, "abcd");
        assert_eq!(claim.amz_date, "20191029T180332Z");
        assert_eq!(claim.expires, None);
        assert_eq!(claim.session_token.as_deref(), Some("a+b/="));
    }

    #[test]
    fn lists_every_missing_or_empty_parameter_in_aws_order() {
        assert_eq!(
            parse_query("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=&X-Amz-Date=x"),
            Err(SigV4Error::MissingQueryParameters {
                missing: vec!["X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders"],
            })
        );
    }

    #[test]
    fn expires_must_be_a_number_up_to_seven_days() {
        assert_eq!(
            parse_query(&format!("{URL}&X-Amz-Expires=604800"))
                .unwrap()
                .expires,
            Some(604_800)
        );
        assert_eq!(
            parse_query(&format!("{URL}&X-Amz-Expires=0"))
                .unwrap()
                .expires,
            Some(0)
        );
        for bad in ["604801", "-1", "1.5", "soon", ""] {
            assert_eq!(
                parse_query(&format!("{URL}&X-Amz-Expires={bad}")),
                Err(SigV4Error::InvalidExpires {
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_date_is_rejected() {
        let query = URL.replace("20191029T180332Z", "2019-10-29");
        assert_eq!(
            parse_query(&query),
            Err(SigV4Error::InvalidDate {
                value: "2019-10-29".to_owned()
            })
        );
    }
}
