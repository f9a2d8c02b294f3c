//! `cloudwatchMetric`: a datapoint for a CloudWatch metric becomes a Prometheus sample on
//! `/metrics`: `ferrite_rules_cloudwatch_metric{namespace,name,unit}` holds the last value and
//! `ferrite_rules_cloudwatch_datapoints_total{...}` counts the datapoints. `metricNamespace`,
//! `metricName`, `metricValue` and `metricUnit` are templates; the value must be a number and
//! the unit one of CloudWatch's, as PutMetricData requires. `metricTimestamp` is accepted and
//! not used: a Prometheus sample carries the time it is scraped.
//!
//! With `[targets.cloudwatch_metric].forward_endpoint` the datapoint goes to CloudWatch's
//! `PutMetricData` at that endpoint instead (query protocol, version 2010-08-01): namespace,
//! name, value and unit as above, and the timestamp `metricTimestamp` renders (seconds since
//! the epoch, as AWS's action takes it), or the message's time when it is absent or renders
//! empty, as AWS defaults to the current time.

use std::sync::Arc;

use ferrite_rules::{CompiledSql, Template};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::forward::Forward;
use super::{Action, ActionError, BoxFuture, Deps, Job};
use crate::engine::metrics::{CloudwatchLabel, RuleMetrics};

/// CloudWatch's `StandardUnit` values.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// CloudWatch's limit on namespace and metric name lengths.
const MAX_NAME: usize = 255;

pub(crate) struct CloudwatchMetric {
    namespace: Template,
    name: Template,
    value: Template,
    unit: Template,
    timestamp: Option<Template>,
    namespace_text: String,
    delivery: Delivery,
}

/// Where datapoints go.
enum Delivery {
    /// Gauges on `/metrics`.
    Prometheus(Arc<RuleMetrics>),
    Forward(Forward),
}

impl From<Arc<RuleMetrics>> for Delivery {
    fn from(metrics: Arc<RuleMetrics>) -> Delivery {
        Delivery::Prometheus(metrics)
    }
}

impl CloudwatchMetric {
    pub fn build(
        config: &Value,
        sql: &CompiledSql,
        deps: &Deps,
    ) -> Result<CloudwatchMetric, String> {
        let targets = &deps.config.targets;
        let delivery = match Forward::for_section(
            &targets.cloudwatch_metric.forward_endpoint,
            &targets.forward,
        ) {
            Some(forward) => Delivery::Forward(forward),
            None => Delivery::Prometheus(deps.metrics.clone()),
        };
        CloudwatchMetric::new(config, sql, delivery)
    }

    fn new(
        config: &Value,
        sql: &CompiledSql,
        delivery: impl Into<Delivery>,
    ) -> Result<CloudwatchMetric, String> {
        let field = |name: &str| -> Result<Template, String> {
            let text = config[name]
                .as_str()
                .ok_or_else(|| format!("cloudwatchMetric needs {name}"))?;
            sql.template(text).map_err(|e| e.to_string())
        };
        Ok(CloudwatchMetric {
            namespace: field("metricNamespace")?,
            name: field("metricName")?,
            value: field("metricValue")?,
            unit: field("metricUnit")?,
            timestamp: config["metricTimestamp"]
                .as_str()
                .map(|t| sql.template(t).map_err(|e| e.to_string()))
                .transpose()?,
            namespace_text: config["metricNamespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            delivery: delivery.into(),
        })
    }
}

/// A datapoint's time as ISO 8601 (what the query protocol takes): `rendered` seconds since
/// the epoch (fractions kept to the millisecond), or `default_ms` when it is empty.
fn timestamp(rendered: &str, default_ms: i64) -> Result<String, ActionError> {
    let text = rendered.trim();
    let ms = if text.is_empty() {
        default_ms
    } else {
        let seconds = text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 253_402_300_800.0)
            .ok_or_else(|| {
                ActionError::permanent(format!(
                    "the metric timestamp {rendered:?} is not seconds since the epoch"
                ))
            })?;
        // Within the year 9999, so the cast is exact enough and never overflows.
        (seconds * 1000.0).round() as i64
    };
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| ActionError::permanent(format!("the metric time {ms} ms is out of range")))
}

fn name(kind: &str, text: String) -> Result<String, ActionError> {
    if text.is_empty() || text.chars().count() > MAX_NAME {
        return Err(ActionError::permanent(format!(
            "the metric {kind} {text:?} must have 1 to {MAX_NAME} characters"
        )));
    }
    Ok(text)
}

impl Action for CloudwatchMetric {
    fn name(&self) -> &'static str {
        "CloudwatchMetricAction"
    }

    fn resource(&self) -> String {
        self.namespace_text.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let render = |t: &Template| {
                t.render(job.selected(), job.raw(), job.ctx())
                    .map_err(|e| ActionError::permanent(e.to_string()))
            };
            let namespace = name("namespace", render(&self.namespace)?)?;
            let metric = name("name", render(&self.name)?)?;
            let value_text = render(&self.value)?;
            let value = value_text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ActionError::permanent(format!(
                        "the metric value {value_text:?} is not a number"
                    ))
                })?;
            let unit = render(&self.unit)?;
            if !UNITS.contains(&unit.as_str()) {
                return Err(ActionError::permanent(format!(
                    "the metric unit {unit:?} is not one of CloudWatch's units ({})",
                    UNITS.join(", ")
                )));
            }
            let label = CloudwatchLabel {
                namespace,
                name: metric,
                unit,
            };
            match &self.delivery {
                Delivery::Prometheus(metrics) => metrics
                    .cloudwatch(&label, value)
                    .map_err(ActionError::permanent),
                Delivery::Forward(forward) => {
                    let rendered = match &self.timestamp {
                        Some(t) => render(t)?,
                        None => String::new(),
                    };
                    let time = timestamp(&rendered, job.ctx().timestamp_ms())?;
                    let value = value.to_string();
                    forward
                        .query_call(
                            "monitoring",
                            "PutMetricData",
                            "2010-08-01",
                            &put_metric_data(&label, &value, &time),
                        )
                        .await
                        .map(drop)
                }
            }
        })
    }
}

/// PutMetricData's parameters for one datapoint.
fn put_metric_data<'a>(
    label: &'a CloudwatchLabel,
    value: &'a str,
    time: &'a str,
) -> [(&'static str, &'a str); 5] {
    [
        ("Namespace", label.namespace.as_str()),
        ("MetricData.member.1.MetricName", label.name.as_str()),
        ("MetricData.member.1.Value", value),
        ("MetricData.member.1.Unit", label.unit.as_str()),
        ("MetricData.member.1.Timestamp", time),
    ]
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;
    use serde_json::json;

    use super::*;
    use crate::engine::actions::test_job::job;
    use crate::engine::metrics::MAX_CLOUDWATCH_SERIES;

    fn page(metrics: &RuleMetrics) -> String {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    fn action(metrics: &Arc<RuleMetrics>, sql: &CompiledSql, config: Value) -> CloudwatchMetric {
        CloudwatchMetric::new(&config, sql, metrics.clone()).unwrap()
    }

    #[test]
    fn timestamps_are_epoch_seconds_or_the_messages_time() {
        assert_eq!(
            timestamp("", 1_700_000_000_123).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            timestamp(" 1700000000 ", 0).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            timestamp("1700000000.5", 0).unwrap(),
            "2023-11-14T22:13:20.5Z"
        );
        for bad in ["soon", "-1", "1e20", "NaN"] {
            assert!(!timestamp(bad, 0).unwrap_err().retry, "{bad}");
        }
    }

    #[tokio::test]
    async fn forwarded_datapoints_are_put_with_their_time() {
        use crate::engine::actions::test_endpoint::{endpoint, keys, next};

        let (url, mut rx, answer) = endpoint().await;
        *answer.lock() = (200, "text/xml", "<PutMetricDataResponse/>".into());
        let (sql, j) = job(
            "SELECT * FROM 'plant/+/temp'",
            "plant/p1/temp",
            br#"{"t": 21.5}"#,
        );
        let config = json!({"metricNamespace": "Plant/${topic(2)}", "metricName": "Temp",
                            "metricValue": "${t}", "metricUnit": "None",
                            "metricTimestamp": "${1700000000}"});
        let forward = Forward::for_section(&url, &keys()).unwrap();
        let a = CloudwatchMetric::new(&config, &sql, Delivery::Forward(forward)).unwrap();
        a.execute(&j).await.unwrap();
        let hit = next(&mut rx).await;
        assert_eq!(hit.verified.unwrap().service, "monitoring");
        assert_eq!(
            std::str::from_utf8(&hit.body).unwrap(),
            "Action=PutMetricData&Version=2010-08-01&Namespace=Plant%2Fp1\
             &MetricData.member.1.MetricName=Temp&MetricData.member.1.Value=21.5\
             &MetricData.member.1.Unit=None\
             &MetricData.member.1.Timestamp=2023-11-14T22%3A13%3A20Z"
        );
    }

    #[tokio::test]
    async fn datapoints_become_gauges_labelled_by_rendered_templates() {
        let metrics = Arc::new(RuleMetrics::default());
        let (sql, first) = job(
            "SELECT * FROM 'plant/+/temp'",
            "plant/p1/temp",
            br#"{"t": 21.5}"#,
        );
        let a = action(
            &metrics,
            &sql,
            json!({"roleArn": "r", "metricNamespace": "Plant/${topic(2)}",
                   "metricName": "Temperature", "metricValue": "${t}", "metricUnit": "None",
                   "metricTimestamp": "${timestamp() / 1000}"}),
        );
        assert_eq!(a.resource(), "Plant/${topic(2)}");
        a.execute(&first).await.unwrap();
        let (_, second) = job(
            "SELECT * FROM 'plant/+/temp'",
            "plant/p1/temp",
            br#"{"t": -3}"#,
        );
        a.execute(&second).await.unwrap();
        let text = page(&metrics);
        let labels = r#"{namespace="Plant/p1",name="Temperature",unit="None"}"#;
        assert!(
            text.contains(&format!("ferrite_rules_cloudwatch_metric{labels} -3.0")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ferrite_rules_cloudwatch_datapoints_total{labels} 2"
            )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn values_units_and_names_are_checked_as_cloudwatch_does() {
        let metrics = Arc::new(RuleMetrics::default());
        let (sql, j) = job("SELECT * FROM 'a'", "a", br#"{"v": "warm", "n": 1}"#);
        let base = json!({"metricNamespace": "ns", "metricName": "m", "metricValue": "${n}",
                          "metricUnit": "Count"});
        let failure = |patch: Value| {
            let mut config = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                config[k] = v.clone();
            }
            let a = action(&metrics, &sql, config);
            let j = &j;
            async move { a.execute(j).await.unwrap_err() }
        };
        let e = failure(json!({"metricValue": "${v}"})).await;
        assert!(
            !e.retry && e.message.contains("\"warm\" is not a number"),
            "{}",
            e.message
        );
        let e = failure(json!({"metricUnit": "Furlongs"})).await;
        assert!(
            e.message.contains("\"Furlongs\" is not one of"),
            "{}",
            e.message
        );
        let e = failure(json!({"metricName": "${missing}"})).await;
        assert!(e.message.contains("1 to 255"), "{}", e.message);
        action(&metrics, &sql, base.clone())
            .execute(&j)
            .await
            .unwrap();
        let mut per_second = base.clone();
        per_second["metricUnit"] = json!("Bytes/Second");
        action(&metrics, &sql, per_second)
            .execute(&j)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_number_of_series_is_capped() {
        let metrics = Arc::new(RuleMetrics::default());
        for i in 0..MAX_CLOUDWATCH_SERIES {
            let label = CloudwatchLabel {
                namespace: "ns".into(),
                name: format!("m{i}"),
                unit: "None".into(),
            };
            metrics.cloudwatch(&label, 1.0).unwrap();
        }
        let (sql, j) = job("SELECT * FROM 'a'", "a", b"{}");
        let config = |name: &str| {
            json!({"metricNamespace": "ns", "metricName": name, "metricValue": "2",
                   "metricUnit": "None"})
        };
        let e = action(&metrics, &sql, config("one_more"))
            .execute(&j)
            .await
            .unwrap_err();
        assert!(e.message.contains("no new one"), "{}", e.message);
        // Existing series still take datapoints.
        action(&metrics, &sql, config("m7"))
            .execute(&j)
            .await
            .unwrap();
    }
}
