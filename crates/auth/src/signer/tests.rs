use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use http::HeaderMap;

use super::*;
use crate::sigv4::{Payload, SecretKey, SignedRequest, Verified, Verifier};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn at(unix_seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

/// Checks a signed request with the crate's own verifier, which shares no code with the signer.
fn verify(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: SystemTime,
) -> Result<Verified, crate::sigv4::SigV4Error> {
    let uri: http::Uri = url.parse().unwrap();
    let mut map = HeaderMap::new();
    map.insert("host", uri.authority().unwrap().as_str().parse().unwrap());
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let verifier = Verifier::new(HashMap::from([(AKID.to_owned(), SecretKey::new(SECRET))]));
    verifier.verify(
        &SignedRequest {
            method,
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: &map,
            payload: Payload::Bytes(body),
        },
        now,
    )
}

#[test]
fn a_request_signs_to_aws_documented_signature() {
    // AWS's SigV4 test suite, `get-vanilla`.
    let signer = Signer::new("us-east-1", AKID, SECRET);
    let headers = signer
        .sign(
            "service",
            &Unsigned {
                method: "GET",
                url: "https://example.amazonaws.com/",
                headers: &[],
                body: b"",
            },
            at(1_440_938_160),
        )
        .unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(
        header("authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    );
    assert_eq!(header("host"), None, "clients set host from the URL");
    assert_eq!(header("x-amz-content-sha256"), None);
}

#[test]
fn an_s3_get_presigns_to_aws_documented_url() {
    // The example in S3's "Authenticating Requests: Using Query Parameters".
    let signer = Signer::new(
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let url = signer
        .presign(
            "s3",
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            Duration::from_secs(86_400),
            at(1_369_353_600),
        )
        .unwrap();
    assert_eq!(
        url,
        "https://examplebucket.s3.amazonaws.com/test.txt\
         ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z\
         &X-Amz-Expires=86400\
         &X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

#[test]
fn signed_requests_verify_for_their_service_and_region() {
    let signer = Signer::new("eu-central-1", AKID, SECRET);
    let now = at(1_704_110_400);
    let body = br#"{"QueueUrl":"q","MessageBody":"hi"}"#;
    let url = "http://127.0.0.1:4566/";
    let headers = signer
        .sign(
            "sqs",
            &Unsigned {
                method: "POST",
                url,
                headers: &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "AmazonSQS.SendMessage"),
                ],
                body,
            },
            now,
        )
        .unwrap();
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "x-amz-target" && v == "AmazonSQS.SendMessage"),
        "{headers:?}"
    );
    let verified = verify("POST", url, &headers, body, now).unwrap();
    assert_eq!(verified.service, "sqs");
    assert_eq!(verified.region, "eu-central-1");
    assert_eq!(verified.access_key_id, AKID);
    assert!(
        verify("POST", url, &headers, b"{}", now).is_err(),
        "the body is signed"
    );

    // S3 signs the path as sent; unescaped, the verifier's second encoding changes nothing.
    let url = "http://127.0.0.1:4566/bucket/a/b-c.json";
    let headers = signer
        .sign(
            "s3",
            &Unsigned {
                method: "PUT",
                url,
                headers: &[("x-amz-acl", "public-read")],
                body: b"{}",
            },
            now,
        )
        .unwrap();
    let sha = headers
        .iter()
        .find(|(n, _)| n == "x-amz-content-sha256")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        sha,
        Some("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    );
    let verified = verify("PUT", url, &headers, b"{}", now).unwrap();
    assert_eq!(verified.service, "s3");
}

#[test]
fn presigned_urls_verify_until_they_expire() {
    let signer = Signer::new("us-west-2", AKID, SECRET);
    let now = at(1_704_110_400);
    let url = signer
        .presign(
            "s3",
            "GET",
            "http://127.0.0.1:9000/b/r/x.jsonl",
            Duration::from_secs(3600),
            now,
        )
        .unwrap();
    let verified = verify("GET", &url, &[], b"", now + Duration::from_secs(3599)).unwrap();
    assert_eq!(verified.service, "s3");
    assert_eq!(verified.region, "us-west-2");
    assert!(verify("GET", &url, &[], b"", now + Duration::from_secs(3601)).is_err());

    // A URL with a query keeps it and signs it.
    let url = signer
        .presign(
            "iotdevicegateway",
            "GET",
            "https://127.0.0.1:8443/mqtt?a=1",
            Duration::from_secs(60),
            now,
        )
        .unwrap();
    assert!(
        url.starts_with("https://127.0.0.1:8443/mqtt?a=1&X-Amz-Algorithm="),
        "{url}"
    );
    assert!(verify("GET", &url, &[], b"", now).is_ok());
    let tampered = url.replace("a=1", "a=2");
    assert!(verify("GET", &tampered, &[], b"", now).is_err());
}

#[test]
fn keys_are_required_and_the_secret_stays_out_of_debug_and_errors() {
    assert!(Signer::new("us-east-1", AKID, SECRET).has_keys());
    assert!(!Signer::new("us-east-1", "", SECRET).has_keys());
    assert!(!Signer::new("us-east-1", AKID, "").has_keys());
    let signer = Signer::new("us-east-1", AKID, SECRET);
    assert!(!format!("{signer:?}").contains(SECRET));
    let request = |url| Unsigned {
        method: "GET",
        url,
        headers: &[],
        body: b"",
    };
    let e = signer.sign("s3", &request("not a url"), at(0)).unwrap_err();
    assert_eq!(e.to_string(), "not a url is not a valid URL");
    let e = signer
        .sign("s3", &request("/only/a/path"), at(0))
        .unwrap_err();
    assert_eq!(e.to_string(), "/only/a/path has no host");
}
