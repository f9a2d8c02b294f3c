//! The rules scenario: N publishers → a topic rule that filters and republishes → N
//! subscribers, so the rules engine's end-to-end throughput is measured like the broker's own
//! p2p scenario. The rule is created before and deleted after the run through the API,
//! SigV4-signed with the keys the broker was started with.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

pub const RULE: &str = "ferrite_bench_republish";

/// Where the API is and who may call it.
#[derive(Clone, Debug)]
pub struct Api {
    pub addr: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl Api {
    /// One signed call; the status and body.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        let identity = Credentials::new(
            self.access_key_id.as_str(),
            self.secret_access_key.as_str(),
            None,
            None,
            "bench",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("iot")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let url = format!("http://{}{path}", self.addr);
        let headers = [
            ("host", self.addr.as_str()),
            ("content-type", "application/json"),
        ];
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
        let mut stream =
            TcpStream::connect(&self.addr).with_context(|| format!("connect {}", self.addr))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no HTTP status")?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }
}

/// Creates the rule: every message on `bench/rin/{i}` that passes a WHERE on its topic is
/// republished, bytes unchanged (the payload carries the tool's timestamp), to
/// `bench/rout/{i}` at `qos`.
pub fn create(api: &Api, qos: u8) -> Result<()> {
    let _ = delete(api);
    let payload = serde_json::json!({
        "sql": "SELECT * FROM 'bench/rin/+' WHERE topic(3) <> 'none'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {
            "roleArn": "arn:aws:iam::000000000000:role/bench",
            "topic": "bench/rout/${topic(3)}",
            "qos": qos,
        }}],
    });
    let (status, body) = api.call("POST", &format!("/rules/{RULE}"), &payload.to_string())?;
    if status != 200 {
        bail!("CreateTopicRule answered {status}: {body}");
    }
    Ok(())
}

pub fn delete(api: &Api) -> Result<()> {
    api.call("DELETE", &format!("/rules/{RULE}"), "")?;
    Ok(())
}
