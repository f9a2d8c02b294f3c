//! `sns`: the message published to a NATS subject or POSTed to an HTTP endpoint, per topic
//! ARN in `[targets.sns].topics` (`nats:{subject}` or `http(s)://...`); an unmapped ARN
//! publishes to the NATS subject `sns.{topic name}` (characters other than letters, digits,
//! `_` and `-` replaced by `_`) on `[targets.sns].nats_url`.
//!
//! The message is the payload (`messageFormat` RAW, the default). With JSON the payload is
//! SNS's per-protocol message structure, and the member for the protocol is sent: `http` or
//! `https` for an HTTP endpoint when present, else `default` (which SNS requires). NATS
//! messages carry the headers `Sns-Topic-Arn` and `Sns-Message-Id`; HTTP requests carry
//! SNS's `x-amz-sns-message-type: Notification`, `x-amz-sns-topic-arn` and
//! `x-amz-sns-message-id`, with the message as the body, as SNS delivers with raw message
//! delivery. A NATS message counts as delivered when the server has it (flush); an HTTP one
//! on a 2xx answer (5xx and 429 are retried, other statuses fail).
//!
//! With `[targets.sns].forward_endpoint` it is SNS's `Publish` at that endpoint instead (the
//! query protocol): `TopicArn` the rule's `targetArn`, `Message` the payload, and with
//! `messageFormat` JSON `MessageStructure=json`, so SNS itself picks each protocol's member.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use ferrite_auth::custom::client;
use serde_json::Value;

use super::forward::Forward;
use super::{Action, ActionError, BoxFuture, Deps, Job};
use crate::engine::clients::Clients;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where one topic's messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Nats(String),
    Http(String),
    /// A mapping that names neither: every job fails, saying why.
    Invalid(String),
}

fn target(arn: &str, topics: &std::collections::BTreeMap<String, String>) -> Target {
    match topics.get(arn) {
        Some(mapped) => {
            if let Some(subject) = mapped.strip_prefix("nats:") {
                if valid_subject(subject) {
                    Target::Nats(subject.to_owned())
                } else {
                    Target::Invalid(format!(
                        "{subject:?}, mapped from {arn}, is not a NATS subject"
                    ))
                }
            } else if mapped.starts_with("http://") || mapped.starts_with("https://") {
                Target::Http(mapped.clone())
            } else {
                Target::Invalid(format!(
                    "the mapping of {arn} in [targets.sns] topics must be nats:{{subject}} or an \
                     http(s):// URL, not {mapped}"
                ))
            }
        }
        None => {
            let name = arn.rsplit(':').next().unwrap_or_default();
            let token: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if token.is_empty() {
                Target::Invalid(format!("{arn} names no topic"))
            } else {
                Target::Nats(format!("sns.{token}"))
            }
        }
    }
}

/// A subject to publish to: dot-separated non-empty tokens, no wildcards or whitespace.
fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject
            .split('.')
            .all(|t| !t.is_empty() && t != "*" && t != ">" && !t.chars().any(char::is_whitespace))
}

pub(crate) struct Sns {
    arn: String,
    /// SNS's API, when forwarding; `target` is then not used.
    forward: Option<Forward>,
    target: Target,
    json_format: bool,
    nats_url: String,
    clients: Arc<Clients>,
}

impl Sns {
    pub fn build(config: &Value, deps: &Deps) -> Result<Sns, String> {
        let arn = config["targetArn"]
            .as_str()
            .ok_or("sns needs a targetArn")?;
        let targets = &deps.config.targets.sns;
        Ok(Sns {
            arn: arn.to_owned(),
            forward: Forward::for_section(&targets.forward_endpoint, &deps.config.targets.forward),
            target: target(arn, &targets.topics),
            json_format: config["messageFormat"].as_str() == Some("JSON"),
            nats_url: targets.nats_url.clone(),
            clients: deps.clients.clone(),
        })
    }

    /// The message for a protocol: the payload, or with the JSON format its member for
    /// `protocols` (first present) or `default`.
    fn message(&self, payload: &Bytes, protocols: &[&str]) -> Result<Bytes, ActionError> {
        if !self.json_format {
            return Ok(payload.clone());
        }
        let structure: Value = serde_json::from_slice(payload).map_err(|_| {
            ActionError::permanent("with messageFormat JSON the payload must be a JSON object")
        })?;
        let member = protocols
            .iter()
            .chain(&["default"])
            .find_map(|p| structure.get(*p))
            .ok_or_else(|| {
                ActionError::permanent(
                    "with messageFormat JSON the payload must have a default member",
                )
            })?;
        Ok(match member {
            Value::String(s) => Bytes::from(s.clone()),
            other => Bytes::from(other.to_string()),
        })
    }

    async fn to_nats(&self, subject: &str, job: &Job) -> Result<(), ActionError> {
        let message = self.message(&job.payload, &[])?;
        let client = self
            .clients
            .nats(&self.nats_url)
            .await
            .map_err(ActionError::transient)?;
        let mut headers = HeaderMap::new();
        headers.insert("Sns-Topic-Arn", self.arn.as_str());
        headers.insert("Sns-Message-Id", uuid::Uuid::new_v4().to_string().as_str());
        let sent = async {
            client
                .publish_with_headers(subject.to_owned(), headers, message)
                .await
                .map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ActionError::transient(format!(
                "cannot publish to NATS subject {subject}: {e}"
            ))),
            Err(_) => Err(ActionError::transient(format!(
                "NATS did not take the message for {subject} in time"
            ))),
        }
    }

    async fn to_sns(&self, forward: &Forward, job: &Job) -> Result<(), ActionError> {
        let message = std::str::from_utf8(&job.payload).map_err(|_| {
            ActionError::permanent("the message is not UTF-8 text, which SNS messages must be")
        })?;
        forward
            .query_call("sns", "Publish", "2010-03-31", &self.publish(message))
            .await
            .map(drop)
    }

    /// Publish's parameters for `message`.
    fn publish<'a>(&'a self, message: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut params = vec![("TopicArn", self.arn.as_str()), ("Message", message)];
        if self.json_format {
            params.push(("MessageStructure", "json"));
        }
        params
    }

    async fn to_http(&self, url: &str, job: &Job) -> Result<(), ActionError> {
        let protocol = if url.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        let message = self.message(&job.payload, &[protocol])?;
        let id = uuid::Uuid::new_v4().to_string();
        let headers = [
            ("x-amz-sns-message-type", "Notification"),
            ("x-amz-sns-topic-arn", self.arn.as_str()),
            ("x-amz-sns-message-id", id.as_str()),
            ("user-agent", "ferrite-rules"),
        ];
        let response =
            tokio::time::timeout(TIMEOUT, client::post_json(url, &headers, message.to_vec()))
                .await
                .map_err(|_| ActionError::transient(format!("{url} did not answer in time")))?
                .map_err(|e| ActionError::transient(e.to_string()))?;
        match response.status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(ActionError::transient(format!(
                "{url} answered {}",
                response.status
            ))),
            status => Err(ActionError::permanent(format!("{url} answered {status}"))),
        }
    }
}

impl Action for Sns {
    fn name(&self) -> &'static str {
        "SnsAction"
    }

    fn resource(&self) -> String {
        self.arn.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            if let Some(forward) = &self.forward {
                return self.to_sns(forward, job).await;
            }
            match &self.target {
                Target::Nats(subject) => self.to_nats(subject, job).await,
                Target::Http(url) => self.to_http(url, job).await,
                Target::Invalid(why) => Err(ActionError::permanent(why.clone())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn topics_map_to_subjects_or_urls() {
        let mut topics = BTreeMap::new();
        topics.insert(
            "arn:aws:sns:us-east-1:1:a".to_owned(),
            "nats:alerts.a".to_owned(),
        );
        topics.insert(
            "arn:aws:sns:us-east-1:1:b".to_owned(),
            "http://127.0.0.1:9/b".to_owned(),
        );
        topics.insert(
            "arn:aws:sns:us-east-1:1:c".to_owned(),
            "nats:bad subject".to_owned(),
        );
        topics.insert("arn:aws:sns:us-east-1:1:d".to_owned(), "ftp://x".to_owned());
        assert_eq!(
            target("arn:aws:sns:us-east-1:1:a", &topics),
            Target::Nats("alerts.a".into())
        );
        assert_eq!(
            target("arn:aws:sns:us-east-1:1:b", &topics),
            Target::Http("http://127.0.0.1:9/b".into())
        );
        assert!(matches!(
            target("arn:aws:sns:us-east-1:1:c", &topics),
            Target::Invalid(_)
        ));
        assert!(matches!(
            target("arn:aws:sns:us-east-1:1:d", &topics),
            Target::Invalid(_)
        ));
        assert_eq!(
            target("arn:aws:sns:us-east-1:1:orders.fifo", &topics),
            Target::Nats("sns.orders_fifo".into())
        );
    }

    #[tokio::test]
    async fn forwarded_messages_are_published_with_their_structure() {
        use crate::engine::actions::test_endpoint::{endpoint, keys, next};
        use crate::engine::actions::test_job::job;

        let (url, mut rx, answer) = endpoint().await;
        *answer.lock() = (200, "text/xml", "<PublishResponse/>".into());
        let arn = "arn:aws:sns:eu-central-1:123456789012:alerts";
        let sns = |json_format| Sns {
            arn: arn.into(),
            forward: Forward::for_section(&url, &keys()),
            target: Target::Invalid("not used".into()),
            json_format,
            nats_url: String::new(),
            clients: Arc::default(),
        };
        let (_, j) = job("SELECT t FROM 'a'", "a", br#"{"t": 1}"#);
        sns(false).execute(&j).await.unwrap();
        let hit = next(&mut rx).await;
        assert_eq!(hit.verified.unwrap().service, "sns");
        let form = std::str::from_utf8(&hit.body).unwrap();
        assert_eq!(
            form,
            "Action=Publish&Version=2010-03-31\
             &TopicArn=arn%3Aaws%3Asns%3Aeu-central-1%3A123456789012%3Aalerts\
             &Message=%7B%22t%22%3A1%7D"
        );
        sns(true).execute(&j).await.unwrap();
        let hit = next(&mut rx).await;
        let form = std::str::from_utf8(&hit.body).unwrap();
        assert!(form.ends_with("&MessageStructure=json"), "{form}");
    }
}
