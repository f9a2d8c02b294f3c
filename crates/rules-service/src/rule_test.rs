//! Evaluating a rule without creating it — a development aid AWS does not offer: the SQL as the
//! engine compiles it, a topic and a payload in, and out whether the FROM filter matches, whether
//! WHERE holds, the output actions would receive, and any action templates rendered. Served by
//! `ferrite rules test` and `POST /_ferrite/rules/test`.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_rules::functions::MessageContext;
use ferrite_rules::{Evaluation, SqlVersion};
use ferrite_topic::MatchOptions;
use ferrite_types::Clock;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::RulesError;

/// What to evaluate (the request body of the endpoint, the flags of the CLI).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleTest {
    pub sql: String,
    /// `2015-10-08` (AWS's default when omitted), `2016-03-23` or `beta`.
    pub aws_iot_sql_version: Option<String>,
    pub topic: String,
    /// The payload as text (JSON or not).
    #[serde(default)]
    pub payload: Option<String>,
    /// The payload as base64, for binary payloads.
    #[serde(default)]
    pub payload_base64: Option<String>,
    pub client_id: Option<String>,
    pub principal: Option<String>,
    pub source_ip: Option<IpAddr>,
    /// Action fields with `${...}` templates to render for this message.
    #[serde(default)]
    pub templates: Vec<String>,
}

/// Evaluates `test` for `account_id`. SQL that does not compile is the API's
/// SqlParseException; everything about the message is in the result.
pub fn test_rule(test: &RuleTest, account_id: &str) -> Result<Value, RulesError> {
    let version = match &test.aws_iot_sql_version {
        None => SqlVersion::default(),
        Some(v) => SqlVersion::parse(v).ok_or_else(|| {
            RulesError::InvalidRequest(format!(
                "awsIotSqlVersion must be 2015-10-08, 2016-03-23 or beta, not {v}"
            ))
        })?,
    };
    let sql = ferrite_rules::compile(&test.sql, version)
        .map_err(|e| RulesError::SqlParse(e.to_string()))?;
    let payload =
        match (&test.payload, &test.payload_base64) {
            (_, Some(b64)) => Bytes::from(STANDARD.decode(b64).map_err(|_| {
                RulesError::InvalidRequest("payloadBase64 is not valid base64".into())
            })?),
            (Some(text), None) => Bytes::from(text.clone()),
            (None, None) => Bytes::new(),
        };
    let topic_matches = sql
        .topic_filter()
        .is_none_or(|f| ferrite_topic::matches(f, &test.topic, MatchOptions::default()));
    let ctx = MessageContext {
        sql_version: version,
        topic: test.topic.clone(),
        client_id: test.client_id.clone(),
        principal: test.principal.clone(),
        source_ip: test.source_ip,
        account_id: account_id.to_owned(),
        trace_id: Some(uuid::Uuid::new_v4().to_string()),
        timestamp_ms: Clock::system().now_ms(),
        ..MessageContext::default()
    };
    let mut out = json!({
        "topicFilter": sql.topic_filter(),
        "topicMatches": topic_matches,
        "sqlVersion": version.as_str(),
    });
    match sql.evaluate(&payload, &ctx) {
        Ok(Evaluation::Filtered) => out["whereMatches"] = json!(false),
        Ok(Evaluation::Selected(selected)) => {
            out["whereMatches"] = json!(true);
            let bytes = selected.payload();
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => out["output"] = v,
                Err(_) if bytes.is_empty() => out["output"] = Value::Null,
                Err(_) => out["outputBase64"] = json!(STANDARD.encode(&bytes)),
            }
            let mut rendered = Vec::with_capacity(test.templates.len());
            for t in &test.templates {
                rendered.push(match sql.template(t) {
                    Ok(template) => match template.render(&selected, &payload, &ctx) {
                        Ok(text) => json!({"template": t, "value": text}),
                        Err(e) => json!({"template": t, "error": e.to_string()}),
                    },
                    Err(e) => json!({"template": t, "error": e.to_string()}),
                });
            }
            out["templates"] = Value::Array(rendered);
        }
        Err(e) => out["error"] = json!(e.to_string()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_message_shows_output_and_templates() {
        let out = test_rule(
            &RuleTest {
                sql: "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30".into(),
                aws_iot_sql_version: Some("2016-03-23".into()),
                topic: "sensors/d1/data".into(),
                payload: Some(r#"{"temp": 31}"#.into()),
                templates: vec!["alerts/${topic(2)}".into(), "${nope(".into()],
                ..RuleTest::default()
            },
            "123456789012",
        )
        .expect("compiles");
        assert_eq!(out["topicMatches"], true);
        assert_eq!(out["whereMatches"], true);
        assert_eq!(out["output"], json!({"temp": 31, "id": "d1"}));
        assert_eq!(out["templates"][0]["value"], "alerts/d1");
        assert!(out["templates"][1]["error"].is_string());
    }

    #[test]
    fn a_filtered_or_non_matching_message_says_so() {
        let out = test_rule(
            &RuleTest {
                sql: "SELECT * FROM 'a/b' WHERE x = 1".into(),
                topic: "c/d".into(),
                payload: Some(r#"{"x": 2}"#.into()),
                ..RuleTest::default()
            },
            "1",
        )
        .expect("compiles");
        assert_eq!(out["topicMatches"], false);
        assert_eq!(out["whereMatches"], false);
        assert!(out.get("output").is_none());
    }

    #[test]
    fn bad_sql_is_a_sql_parse_error_and_binary_output_is_base64() {
        assert!(matches!(
            test_rule(
                &RuleTest {
                    sql: "SELECT FROM".into(),
                    topic: "t".into(),
                    ..RuleTest::default()
                },
                "1"
            ),
            Err(RulesError::SqlParse(_))
        ));
        let out = test_rule(
            &RuleTest {
                sql: "SELECT * FROM 't'".into(),
                topic: "t".into(),
                payload_base64: Some("AAEC".into()),
                ..RuleTest::default()
            },
            "1",
        )
        .expect("compiles");
        assert_eq!(out["outputBase64"], "AAEC");
    }
}
