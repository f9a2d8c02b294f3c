//! `sqs`: the SELECT output (base64-encoded when `useBase64`) sent to a queue. Locally that
//! is a RabbitMQ queue: `[targets.sqs].queues` maps the queue URL, or the URL's last path
//! segment names it (`https://sqs.us-east-1.amazonaws.com/123456789012/orders` → `orders`).
//! With `[targets.sqs].forward_endpoint` it is SQS's `SendMessage` at that endpoint, with the
//! rule's queue URL as it is.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::amqp::Link;
use super::forward::Forward;
use super::{Action, ActionError, BoxFuture, Deps, Job};

/// AMQP's limit on a queue name (a short string).
const MAX_QUEUE_NAME: usize = 255;

pub(crate) struct Sqs {
    queue_url: String,
    base64: bool,
    target: Target,
}

enum Target {
    Rabbit { link: Arc<Link>, queue: String },
    Forward(Forward),
}

impl Sqs {
    pub fn build(config: &Value, deps: &Deps) -> Result<Sqs, String> {
        let queue_url = config["queueUrl"]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or("sqs needs a queueUrl")?
            .to_owned();
        let base64 = flag(&config["useBase64"]);
        let targets = &deps.config.targets;
        let target = match Forward::for_section(&targets.sqs.forward_endpoint, &targets.forward) {
            Some(forward) => Target::Forward(forward),
            None => Target::Rabbit {
                link: deps.amqp.link(&targets.sqs.amqp_url),
                queue: queue_name(&queue_url, &targets.sqs.queues)?,
            },
        };
        Ok(Sqs {
            queue_url,
            base64,
            target,
        })
    }
}

/// AWS's JSON holds booleans as booleans; older stored rules and the CLI's shorthand may hold
/// `"true"`.
fn flag(v: &Value) -> bool {
    v.as_bool()
        .or_else(|| v.as_str().map(|s| s.eq_ignore_ascii_case("true")))
        .unwrap_or(false)
}

/// The RabbitMQ queue a queue URL maps to.
fn queue_name(
    url: &str,
    mapped: &std::collections::BTreeMap<String, String>,
) -> Result<String, String> {
    let name = match mapped.get(url) {
        Some(name) => name.clone(),
        None => {
            let without_query = url.split(['?', '#']).next().unwrap_or(url);
            let after_scheme = without_query
                .split_once("://")
                .map_or(without_query, |(_, rest)| rest);
            // The path, without the authority: a URL without one names no queue.
            let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
            path.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    };
    if name.is_empty() || name.len() > MAX_QUEUE_NAME {
        return Err(format!(
            "the queue URL {url} names no usable queue (map it in [targets.sqs].queues)"
        ));
    }
    Ok(name)
}

impl Action for Sqs {
    fn name(&self) -> &'static str {
        "SqsAction"
    }

    fn resource(&self) -> String {
        self.queue_url.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let body = if self.base64 {
                STANDARD.encode(&job.payload).into_bytes().into()
            } else {
                job.payload.clone()
            };
            match &self.target {
                Target::Rabbit { link, queue } => link.publish(queue, &body).await,
                Target::Forward(forward) => {
                    // SQS takes text only; binary payloads need useBase64, as on AWS.
                    let text = std::str::from_utf8(&body).map_err(|_| {
                        ActionError::permanent(
                            "the message is not UTF-8 text; SQS needs useBase64 for binary payloads",
                        )
                    })?;
                    let input = json!({"QueueUrl": self.queue_url, "MessageBody": text});
                    forward
                        .json_call("sqs", "1.0", "AmazonSQS.SendMessage", &input)
                        .await
                        .map(drop)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn queue_urls_name_queues_by_their_last_segment_unless_mapped() {
        let none = BTreeMap::new();
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders";
        assert_eq!(queue_name(url, &none).unwrap(), "orders");
        assert_eq!(queue_name(&format!("{url}/"), &none).unwrap(), "orders");
        assert_eq!(
            queue_name("http://localhost:4566/000000000000/q1?x=1", &none).unwrap(),
            "q1"
        );
        let mapped = BTreeMap::from([(url.to_owned(), "rabbit.orders".to_owned())]);
        assert_eq!(queue_name(url, &mapped).unwrap(), "rabbit.orders");
        assert!(queue_name("https://sqs.example/", &none).is_err());
        assert!(queue_name(&format!("https://h/{}", "q".repeat(256)), &none).is_err());
    }

    #[test]
    fn use_base64_is_a_boolean_or_its_text() {
        assert!(flag(&json!(true)));
        assert!(flag(&json!("true")));
        assert!(!flag(&json!(false)));
        assert!(!flag(&Value::Null));
    }
}
