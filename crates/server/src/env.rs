//! `ferrite env`: the shell exports that point the AWS CLI, boto3 and the Device SDK at this
//! server.

use std::net::SocketAddr;

use ferrite_config::Config;

use crate::credentials;

/// The API's address: the running server's (from `listeners.json`) or the configured one.
fn api_addr(cfg: &Config) -> Option<SocketAddr> {
    let running = std::fs::read_to_string(cfg.data_dir.join(crate::LISTENERS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["api"].as_str().and_then(|a| a.parse().ok()));
    running.or(cfg.listeners.api)
}

pub fn exports(cfg: &Config) -> anyhow::Result<String> {
    let keys = credentials::resolve(cfg)?;
    let key = &keys[0];
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("export {k}={}\n", shell_quote(v)));
    line("AWS_ACCESS_KEY_ID", &key.access_key_id);
    line("AWS_SECRET_ACCESS_KEY", &key.secret_access_key);
    line("AWS_REGION", &cfg.aws.region);
    line("AWS_DEFAULT_REGION", &cfg.aws.region);
    if let Some(addr) = api_addr(cfg) {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{}", SocketAddr::new(host.parse()?, addr.port()));
        line("AWS_ENDPOINT_URL_IOT", &url);
        line("AWS_ENDPOINT_URL_IOT_DATA_PLANE", &url);
        line("AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE", &url);
    }
    let ca = cfg.data_dir.join("ca").join("ca.pem");
    line("FERRITE_CA_FILE", &ca.display().to_string());
    Ok(out)
}

fn shell_quote(v: &str) -> String {
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.:+=@".contains(&b))
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}
