//! The credential scope: `AKID/20150830/us-east-1/iot/aws4_request`.

use super::error::SigV4Error;

/// The fixed last element of every SigV4 credential scope.
pub(crate) const TERMINATOR: &str = "aws4_request";

/// A parsed `Credential` value (header form) or `X-Amz-Credential` parameter (query form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CredentialScope<'a> {
    pub(crate) access_key_id: &'a str,
    /// `YYYYMMDD`, which must be the date part of the request timestamp.
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    /// `date/region/service/aws4_request`, the scope line of the string to sign.
    pub(crate) scope: &'a str,
}

impl<'a> CredentialScope<'a> {
    pub(crate) fn parse(credential: &'a str) -> Result<Self, SigV4Error> {
        let malformed = || SigV4Error::MalformedCredential {
            credential: credential.to_owned(),
        };
        let mut parts = credential.split('/');
        let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(malformed());
        };
        if [access_key_id, date, region, service]
            .iter()
            .any(|part| part.is_empty())
        {
            return Err(malformed());
        }
        if terminator != TERMINATOR {
            return Err(SigV4Error::InvalidTerminator {
                terminator: terminator.to_owned(),
            });
        }
        Ok(Self {
            access_key_id,
            date,
            region,
            service,
            scope: &credential[access_key_id.len() + 1..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_five_elements() {
        let scope = CredentialScope::parse("AKID/20240101/us-east-1/iot/aws4_request").unwrap();
        assert_eq!(scope.access_key_id, "AKID");
        assert_eq!(scope.date, "20240101");
        assert_eq!(scope.region, "us-east-1");
        assert_eq!(scope.service, "iot");
        assert_eq!(scope.scope, "20240101/us-east-1/iot/aws4_request");
    }

    #[test]
    fn rejects_wrong_element_counts_and_empty_elements() {
        for credential in [
            "AKID/20240101/us-east-1/iot",
            "AKID/20240101/us-east-1/iot/aws4_request/extra",
            "AKID",
            "",
            "/20240101/us-east-1/iot/aws4_request",
            "AKID/20240101//iot/aws4_request",
        ] {
            assert_eq!(
                CredentialScope::parse(credential),
                Err(SigV4Error::MalformedCredential {
                    credential: credential.to_owned()
                }),
                "{credential}"
            );
        }
    }

    #[test]
    fn rejects_a_foreign_terminator() {
        assert_eq!(
            CredentialScope::parse("AKID/20240101/us-east-1/iot/aws4_requestX"),
            Err(SigV4Error::InvalidTerminator {
                terminator: "aws4_requestX".to_owned()
            })
        );
    }
}
