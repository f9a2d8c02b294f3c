//! `ferrite env`: the shell exports that point the AWS CLI, boto3 and the Device SDK at this
//! server.

use std::net::{IpAddr, SocketAddr};

use ferrite_config::Config;

use crate::credentials;

/// A listener's address: the running server's (key `name` of `listeners.json`) or the
/// configured one.
fn listener_addr(cfg: &Config, name: &str, configured: Option<SocketAddr>) -> Option<SocketAddr> {
    let running = std::fs::read_to_string(cfg.data_dir.join(crate::LISTENERS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v[name].as_str().and_then(|a| a.parse().ok()));
    running.or(configured)
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
    if let Some(addr) = listener_addr(cfg, "api", cfg.listeners.api) {
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
    // The device port speaks TLS with Ferrite's server certificate, which names localhost
    // (and the configured server names) rather than an IP address a wildcard bind gives.
    if let Some(addr) = listener_addr(cfg, "https", cfg.listeners.https) {
        let host = match addr.ip() {
            ip if ip.is_unspecified() || ip.is_loopback() => "localhost".to_owned(),
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        line(
            "FERRITE_DEVICE_ENDPOINT_URL",
            &format!("https://{host}:{}", addr.port()),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, https: Option<&str>) -> Config {
        let mut cfg = Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        };
        cfg.listeners.https = https.map(|a| a.parse().expect("addr"));
        cfg
    }

    fn device_url(out: &str) -> Option<&str> {
        out.lines()
            .find_map(|l| l.strip_prefix("export FERRITE_DEVICE_ENDPOINT_URL="))
    }

    #[test]
    fn device_endpoint_names_a_host_the_server_certificate_covers() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (bind, url) in [
            (Some("127.0.0.1:8443"), Some("https://localhost:8443")),
            (Some("0.0.0.0:9443"), Some("https://localhost:9443")),
            (Some("192.0.2.7:443"), Some("https://192.0.2.7:443")),
            // Quoted: brackets are glob characters to a shell.
            (
                Some("[2001:db8::1]:443"),
                Some("'https://[2001:db8::1]:443'"),
            ),
            (None, None),
        ] {
            let out = exports(&config(dir.path(), bind)).expect("exports");
            assert_eq!(device_url(&out), url, "{bind:?}");
        }
    }

    #[test]
    fn device_endpoint_prefers_the_running_servers_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(crate::LISTENERS_FILE),
            r#"{"https": "127.0.0.1:40443", "api": "127.0.0.1:40090"}"#,
        )
        .expect("write");
        let out = exports(&config(dir.path(), Some("127.0.0.1:0"))).expect("exports");
        assert_eq!(device_url(&out), Some("https://localhost:40443"));
        assert!(
            out.contains("export AWS_ENDPOINT_URL_IOT=http://127.0.0.1:40090\n"),
            "{out}"
        );
    }
}
