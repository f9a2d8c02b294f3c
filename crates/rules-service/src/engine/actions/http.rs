//! `http`: the SELECT output POSTed to `url` (a template), with the action's `headers` (values
//! are templates) and, under `auth.sigv4`, a SigV4 signature for the action's `signingRegion`
//! and `serviceName`, made with `[targets.forward]`'s keys (Ferrite assumes no role, so
//! `roleArn` is not used). The content type is AWS's default — JSON for a JSON payload,
//! `application/octet-stream` otherwise — unless a header sets it.
//!
//! As on AWS, a request goes out only under a topic rule destination that is ENABLED: the one
//! whose confirmation URL is the action's `confirmationUrl` (rendered, when it holds
//! templates) or, without one, its `url`; and the rendered `url` must begin with it. Each
//! attempt may take 3 seconds; 429, 5xx, timeouts and connections that fail are retried by the
//! action's worker, other answers fail at once. `enableBatching` and `batchConfig` are
//! accepted and not used: every message is its own request.

use std::time::{Duration, UNIX_EPOCH};

use ferrite_auth::signer::{Signer, Unsigned};
use ferrite_config::ForwardConfig;
use ferrite_rules::{CompiledSql, Template};
use ferrite_types::Clock;
use serde_json::Value;

use super::destination_status::DestinationStatuses;
use super::http_post::{self, content_type};
use super::{Action, ActionError, BoxFuture, Deps, Job};
use crate::{DestinationStatus, TopicRules};

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Headers the request sets itself; the action's own values for them are not sent.
const OWN_HEADERS: [&str; 2] = ["host", "content-length"];

pub(crate) struct Http {
    url: Template,
    url_text: String,
    /// `None`: the url is its own confirmation URL.
    confirmation: Option<Template>,
    headers: Vec<(String, Template)>,
    sets_content_type: bool,
    sigv4: Option<SigV4>,
    destinations: DestinationStatuses,
}

struct SigV4 {
    service: String,
    /// `[targets.forward]`'s keys for the action's `signingRegion`.
    signer: Signer,
}

fn template(sql: &CompiledSql, text: &str) -> Result<Template, String> {
    sql.template(text).map_err(|e| e.to_string())
}

fn render(t: &Template, job: &Job) -> Result<String, ActionError> {
    t.render(job.selected(), job.raw(), job.ctx())
        .map_err(|e| ActionError::permanent(e.to_string()))
}

impl Http {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<Http, String> {
        Http::new(
            config,
            sql,
            deps.rules.clone(),
            &deps.config.targets.forward,
        )
    }

    fn new(
        config: &Value,
        sql: &CompiledSql,
        rules: TopicRules,
        keys: &ForwardConfig,
    ) -> Result<Http, String> {
        let url_text = config["url"].as_str().ok_or("http needs a url")?.to_owned();
        let confirmation = config["confirmationUrl"]
            .as_str()
            .map(|c| template(sql, c))
            .transpose()?;
        let mut headers = Vec::new();
        for h in config["headers"].as_array().into_iter().flatten() {
            let (Some(key), Some(value)) = (h["key"].as_str(), h["value"].as_str()) else {
                continue;
            };
            if OWN_HEADERS.iter().any(|own| own.eq_ignore_ascii_case(key)) {
                continue;
            }
            headers.push((key.to_ascii_lowercase(), template(sql, value)?));
        }
        let sets_content_type = headers.iter().any(|(k, _)| k == "content-type");
        let sigv4 = match config.pointer("/auth/sigv4") {
            Some(s) if s.is_object() => {
                let region = s["signingRegion"]
                    .as_str()
                    .ok_or("sigv4 needs a signingRegion")?;
                Some(SigV4 {
                    service: s["serviceName"]
                        .as_str()
                        .ok_or("sigv4 needs a serviceName")?
                        .to_owned(),
                    signer: Signer::new(region, &keys.access_key_id, &keys.secret_access_key),
                })
            }
            _ => None,
        };
        Ok(Http {
            url: template(sql, &url_text)?,
            url_text,
            confirmation,
            headers,
            sets_content_type,
            sigv4,
            destinations: DestinationStatuses::new(rules),
        })
    }

    /// Fails unless the destination `url` goes under is ENABLED.
    async fn check_destination(&self, url: &str, job: &Job) -> Result<(), ActionError> {
        let confirmation = match &self.confirmation {
            Some(t) => render(t, job)?,
            None => url.to_owned(),
        };
        if !url.starts_with(&confirmation) {
            return Err(ActionError::permanent(format!(
                "the url {url} does not begin with its confirmationUrl {confirmation}"
            )));
        }
        match self.destinations.status(&confirmation).await {
            Ok(Some(DestinationStatus::Enabled)) => Ok(()),
            Ok(Some(status)) => Err(ActionError::permanent(format!(
                "the topic rule destination for {confirmation} is {}: HTTP actions deliver \
                 only to ENABLED destinations",
                status.as_str()
            ))),
            Ok(None) => Err(ActionError::permanent(format!(
                "no topic rule destination exists for {confirmation}: create one and confirm it"
            ))),
            Err(e) => Err(ActionError::transient(format!(
                "cannot read the topic rule destination for {confirmation}: {e}"
            ))),
        }
    }
}

impl SigV4 {
    /// Adds the signature's headers (`authorization`, `x-amz-date`, for S3
    /// `x-amz-content-sha256`) for a POST of `body` to
    /// `url` with `headers` at `now_ms`.
    fn sign(
        &self,
        url: &str,
        headers: &mut Vec<(String, String)>,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), ActionError> {
        if !self.signer.has_keys() {
            return Err(ActionError::permanent(
                "the http action signs with SigV4, which needs access_key_id and \
                 secret_access_key in [targets.forward]",
            ));
        }
        if authority(url).is_none() {
            return Err(ActionError::permanent(format!(
                "{url} is not an http(s) URL"
            )));
        }
        let unsigned: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let request = Unsigned {
            method: "POST",
            url,
            headers: &unsigned,
            body,
        };
        let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
        let signed = self
            .signer
            .sign(&self.service, &request, time)
            .map_err(|e| ActionError::permanent(format!("cannot sign the request: {e}")))?;
        *headers = signed;
        Ok(())
    }
}

/// The `host[:port]` of an http(s) URL: what the request's `host` header carries.
fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

impl Action for Http {
    fn name(&self) -> &'static str {
        "HttpAction"
    }

    fn resource(&self) -> String {
        self.url_text.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let url = render(&self.url, job)?;
            self.check_destination(&url, job).await?;
            let mut headers = Vec::with_capacity(self.headers.len() + 3);
            for (key, value) in &self.headers {
                headers.push((key.clone(), render(value, job)?));
            }
            if !self.sets_content_type {
                headers.push(("content-type".into(), content_type(&job.payload).into()));
            }
            if let Some(sigv4) = &self.sigv4 {
                sigv4.sign(&url, &mut headers, &job.payload, Clock::system().now_ms())?;
            }
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            http_post::post(&url, &headers, job.payload.clone(), TIMEOUT).await
        })
    }
}

#[cfg(test)]
mod tests;
