//! `republish`: the SELECT output published to another topic through the broker's one
//! publish path, with the QoS and MQTT 5 headers the action names (all templates). The topic
//! template writes `$$` for a `$`; the API already refused reserved topics AWS refuses.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_broker::{Broker, Message};
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_rules::{CompiledSql, Template};
use ferrite_types::message::local_node;
use ferrite_types::{Clock, Origin};
use serde_json::Value;

use super::{Action, ActionError, BoxFuture, Deps, Job, JobRef};

thread_local! {
    /// Where republish topics are rendered before they become a message's `Arc<str>`.
    static TOPIC_BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

pub(crate) struct Republish {
    topic: Template,
    topic_text: String,
    qos: QoS,
    headers: Headers,
    broker: Broker,
    origin: Arc<Origin>,
}

#[derive(Default)]
struct Headers {
    payload_format_indicator: Option<Template>,
    content_type: Option<Template>,
    response_topic: Option<Template>,
    correlation_data: Option<Template>,
    message_expiry: Option<Template>,
    user_properties: Vec<(Template, Template)>,
}

impl Headers {
    fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.content_type.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.message_expiry.is_none()
            && self.user_properties.is_empty()
    }
}

fn template(sql: &CompiledSql, text: &str) -> Result<Template, String> {
    sql.template(text).map_err(|e| e.to_string())
}

impl Republish {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<Republish, String> {
        let topic_text = config["topic"]
            .as_str()
            .ok_or("republish needs a topic")?
            .to_owned();
        let qos = match config["qos"].as_i64().unwrap_or(0) {
            0 => QoS::AtMostOnce,
            _ => QoS::AtLeastOnce,
        };
        let mut headers = Headers::default();
        if let Some(h) = config.get("headers").filter(|h| h.is_object()) {
            let field = |name: &str| -> Result<Option<Template>, String> {
                h.get(name)
                    .and_then(Value::as_str)
                    .map(|t| template(sql, t))
                    .transpose()
            };
            headers.payload_format_indicator = field("payloadFormatIndicator")?;
            headers.content_type = field("contentType")?;
            headers.response_topic = field("responseTopic")?;
            headers.correlation_data = field("correlationData")?;
            headers.message_expiry = field("messageExpiry")?;
            for p in h["userProperties"].as_array().into_iter().flatten() {
                let (Some(k), Some(v)) = (p["key"].as_str(), p["value"].as_str()) else {
                    continue;
                };
                headers
                    .user_properties
                    .push((template(sql, k)?, template(sql, v)?));
            }
        }
        Ok(Republish {
            topic: template(sql, &topic_text)?,
            topic_text,
            qos,
            headers,
            broker: deps.broker.clone(),
            origin: Arc::new(Origin::service("rules", local_node())),
        })
    }

    fn properties(&self, job: JobRef<'_>) -> Result<Properties, ActionError> {
        let render = |t: &Option<Template>| -> Result<Option<String>, ActionError> {
            t.as_ref()
                .map(|t| t.render(job.selected, job.raw(), job.ctx))
                .transpose()
                .map_err(|e| ActionError::permanent(e.to_string()))
        };
        let h = &self.headers;
        let mut props = Properties {
            content_type: render(&h.content_type)?,
            response_topic: render(&h.response_topic)?,
            ..Properties::default()
        };
        if let Some(pfi) = render(&h.payload_format_indicator)? {
            props.payload_format_indicator = match pfi.as_str() {
                "UTF8_DATA" | "1" => Some(1),
                "UNSPECIFIED_BYTES" | "0" => Some(0),
                other => {
                    return Err(ActionError::permanent(format!(
                        "payloadFormatIndicator must be UTF8_DATA or UNSPECIFIED_BYTES, not {other}"
                    )));
                }
            };
        }
        if let Some(cd) = render(&h.correlation_data)? {
            let bytes = STANDARD
                .decode(cd.as_bytes())
                .map_err(|_| ActionError::permanent("correlationData must be base64-encoded"))?;
            props.correlation_data = Some(bytes.into());
        }
        if let Some(expiry) = render(&h.message_expiry)? {
            let secs = expiry.trim().parse::<u32>().map_err(|_| {
                ActionError::permanent(format!(
                    "messageExpiry must be a number of seconds, not {expiry}"
                ))
            })?;
            props.message_expiry_interval = Some(secs);
        }
        for (k, v) in &h.user_properties {
            let key = k
                .render(job.selected, job.raw(), job.ctx)
                .map_err(|e| ActionError::permanent(e.to_string()))?;
            let value = v
                .render(job.selected, job.raw(), job.ctx)
                .map_err(|e| ActionError::permanent(e.to_string()))?;
            props.user_properties.push((key, value));
        }
        Ok(props)
    }
}

impl Action for Republish {
    fn name(&self) -> &'static str {
        "RepublishAction"
    }

    fn resource(&self) -> String {
        self.topic_text.clone()
    }

    fn fields(&self) -> ferrite_rules::json::Fields {
        let h = &self.headers;
        [
            &h.payload_format_indicator,
            &h.content_type,
            &h.response_topic,
            &h.correlation_data,
            &h.message_expiry,
        ]
        .into_iter()
        .flatten()
        .chain(h.user_properties.iter().flat_map(|(k, v)| [k, v]))
        .fold(self.topic.fields(), |acc, t| acc.union(t.fields()))
    }

    fn as_republish(&self) -> Option<&Republish> {
        Some(self)
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(self.publish(job.as_ref()))
    }
}

impl Republish {
    /// The message to publish on `topic`, shared at once: a `Message` is large (its MQTT 5
    /// properties), and built straight into its allocation it is not copied on the way.
    fn message(&self, topic: Arc<str>, job: JobRef<'_>) -> Result<Arc<Message>, ActionError> {
        if self.headers.is_empty() {
            // No headers: no properties to render, copy and drop per message, and no expiry,
            // so the time the engine read the message (the rule's `timestamp()`, a moment
            // ago) serves as its receipt time: one clock read per message fewer.
            return Ok(Arc::new(Message {
                topic,
                payload: job.payload.clone(),
                qos: self.qos,
                retain: false,
                properties: Properties::default(),
                received_at_ms: job.ctx.timestamp_ms(),
                expires_at_ms: None,
                origin: self.origin.clone(),
            }));
        }
        // A messageExpiry header starts counting now, not when the rule ran (a retry or a
        // rule that waited for a lookup republishes later).
        Ok(Arc::new(Message::new(
            topic,
            job.payload.clone(),
            self.qos,
            false,
            &self.properties(job)?,
            self.origin.clone(),
            Clock::system().now_ms(),
        )))
    }

    /// Publishes `job`'s output (what [`Action::execute`] does, without boxing the future: the
    /// engine awaits this on its own task, per message).
    pub(crate) async fn publish(&self, job: JobRef<'_>) -> Result<(), ActionError> {
        // Rendered into the thread's buffer: the message's topic is one allocation, not two.
        let topic: Arc<str> = TOPIC_BUFFER.with_borrow_mut(|buf| {
            buf.clear();
            self.topic
                .render_into(buf, job.selected, job.raw(), job.ctx)
                .map(|()| Arc::from(buf.as_str()))
                .map_err(|e| ActionError::permanent(e.to_string()))
        })?;
        // Shared before it reaches the broker, so it is not moved through the futures' states.
        let msg = self.message(topic.clone(), job)?;
        match self.broker.publish_shared(msg).await {
            Ok(_) => Ok(()),
            Err(ferrite_broker::BrokerError::ShuttingDown) => {
                Err(ActionError::transient("the broker is shutting down"))
            }
            Err(e) => Err(ActionError::permanent(format!(
                "cannot republish to {topic}: {e}"
            ))),
        }
    }
}
