//! `cloudwatchMetric`: a datapoint for a CloudWatch metric becomes a Prometheus sample on
//! `/metrics`: `ferrite_rules_cloudwatch_metric{namespace,name,unit}` holds the last value and
//! `ferrite_rules_cloudwatch_datapoints_total{...}` counts the datapoints. `metricNamespace`,
//! `metricName`, `metricValue` and `metricUnit` are templates; the value must be a number and
//! the unit one of CloudWatch's, as PutMetricData requires. `metricTimestamp` is accepted and
//! not used: a Prometheus sample carries the time it is scraped.

use std::sync::Arc;

use ferrite_rules::{CompiledSql, Template};
use serde_json::Value;

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
    namespace_text: String,
    metrics: Arc<RuleMetrics>,
}

impl CloudwatchMetric {
    pub fn build(
        config: &Value,
        sql: &CompiledSql,
        deps: &Deps,
    ) -> Result<CloudwatchMetric, String> {
        CloudwatchMetric::new(config, sql, deps.metrics.clone())
    }

    fn new(
        config: &Value,
        sql: &CompiledSql,
        metrics: Arc<RuleMetrics>,
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
            namespace_text: config["metricNamespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            metrics,
        })
    }
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
                t.render(&job.selected, &job.raw, &*job.ctx)
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
            self.metrics
                .cloudwatch(&label, value)
                .map_err(ActionError::permanent)
        })
    }
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
