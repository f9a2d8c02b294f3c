//! What CreateTopicRule and ReplaceTopicRule check in a `TopicRulePayload` beyond the model's
//! own constraints (which the HTTP edge has already applied): the SQL and its version, the
//! action list, each action's type, republish topics, HTTP action URLs, and the functions
//! called in the SQL and in substitution templates.

use ferrite_rules_sql::SqlVersion;
use ferrite_topic::{ReservedKind, classify};
use serde_json::Value;

use crate::RulesError;
use crate::sql::{SqlCheck, SqlInfo};

/// AWS: at most 10 actions per rule (the model's `ActionList` maximum and the service quota).
pub const MAX_ACTIONS: usize = 10;

/// The action types Ferrite runs (AWS's names in `Action`); `errorAction` may be any of them.
pub const SUPPORTED_ACTIONS: [&str; 13] = [
    "republish",
    "http",
    "lambda",
    "dynamoDB",
    "dynamoDBv2",
    "kinesis",
    "firehose",
    "sqs",
    "sns",
    "s3",
    "cloudwatchMetric",
    "cloudwatchLogs",
    "kafka",
];

/// Functions AWS offers that Ferrite cannot serve: a rule calling one is refused rather than
/// failing on every message.
const UNSERVED_FUNCTIONS: [&str; 1] = ["machinelearning_predict"];

/// Functions that call other services, which AWS does not allow in an error action's
/// substitution templates.
const EXTERNAL_FUNCTIONS: [&str; 5] = [
    "get_thing_shadow",
    "aws_lambda",
    "machinelearning_predict",
    "get_dynamodb",
    "get_secret",
];

/// A payload that passed every check.
pub struct Checked {
    pub topic_pattern: Option<String>,
    /// The confirmation URLs of the HTTP actions (the `url` when no `confirmationUrl` is
    /// given), without substitution templates: each needs a destination.
    pub confirmation_urls: Vec<String>,
}

fn invalid(message: impl Into<String>) -> RulesError {
    RulesError::InvalidRequest(message.into())
}

/// Checks `payload` (a `TopicRulePayload` as decoded from the request).
pub fn check_payload(payload: &Value, sql: &dyn SqlCheck) -> Result<Checked, RulesError> {
    let Some(payload) = payload.as_object() else {
        return Err(invalid("The topicRulePayload must be a JSON object."));
    };
    let version = match payload.get("awsIotSqlVersion").and_then(Value::as_str) {
        None => SqlVersion::default(),
        Some(text) => SqlVersion::parse(text).ok_or_else(|| {
            invalid(format!(
                "awsIotSqlVersion {text} is not supported: use 2015-10-08, 2016-03-23 or beta."
            ))
        })?,
    };
    let statement = payload
        .get("sql")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("The topicRulePayload needs its sql."))?;
    let actions = match payload.get("actions") {
        Some(Value::Array(actions)) => actions.as_slice(),
        None => &[],
        Some(_) => return Err(invalid("The topicRulePayload's actions must be a list.")),
    };
    if actions.len() > MAX_ACTIONS {
        return Err(invalid(format!(
            "A rule can have at most {MAX_ACTIONS} actions; this one has {}.",
            actions.len()
        )));
    }

    let SqlInfo {
        topic_pattern,
        functions,
    } = sql
        .check(statement, version)
        .map_err(|e| RulesError::SqlParse(e.message))?;
    refuse_unserved(&functions, "the rule's SQL")?;

    let mut confirmation_urls = Vec::new();
    let error_action = payload.get("errorAction");
    let listed = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a, format!("actions[{i}]"), false));
    let error = error_action.map(|a| (a, "errorAction".to_owned(), true));
    for (action, place, is_error_action) in listed.chain(error) {
        let (kind, config) = one_action(action, &place)?;
        match kind {
            "republish" => check_republish(config)?,
            "http" => confirmation_urls.extend(check_http(config)?),
            _ => {}
        }
        for template in templates_in(config) {
            let info = sql
                .check_expression(statement, template, version)
                .map_err(|e| {
                    invalid(format!(
                        "The substitution template ${{{template}}} in {place} is invalid: {}",
                        e.message
                    ))
                })?;
            refuse_unserved(&info.functions, &place)?;
            if is_error_action
                && let Some(f) = info
                    .functions
                    .iter()
                    .find(|f| EXTERNAL_FUNCTIONS.contains(&f.as_str()))
            {
                return Err(invalid(format!(
                    "The function {f} calls another service and cannot be used in an error \
                     action's substitution templates."
                )));
            }
        }
    }
    confirmation_urls.sort();
    confirmation_urls.dedup();
    Ok(Checked {
        topic_pattern,
        confirmation_urls,
    })
}

fn refuse_unserved(functions: &[String], place: &str) -> Result<(), RulesError> {
    match functions
        .iter()
        .find(|f| UNSERVED_FUNCTIONS.contains(&f.as_str()))
    {
        Some(f) => Err(invalid(format!(
            "Ferrite does not support the SQL function {f}, used in {place}."
        ))),
        None => Ok(()),
    }
}

/// The one action type an `Action` names, and its configuration.
fn one_action<'a>(action: &'a Value, place: &str) -> Result<(&'a str, &'a Value), RulesError> {
    let members: Vec<(&String, &Value)> = action
        .as_object()
        .map(|o| o.iter().filter(|(_, v)| !v.is_null()).collect())
        .unwrap_or_default();
    let [(kind, config)] = members[..] else {
        return Err(invalid(format!(
            "{place} must name exactly one action type; it names {}.",
            members.len()
        )));
    };
    if !SUPPORTED_ACTIONS.contains(&kind.as_str()) {
        return Err(invalid(format!(
            "Ferrite does not support the {kind} action ({place}); supported actions: {}.",
            SUPPORTED_ACTIONS.join(", ")
        )));
    }
    Ok((kind, config))
}

fn field<'a>(config: &'a Value, name: &str) -> Option<&'a str> {
    config.get(name).and_then(Value::as_str)
}

/// A republish `topic`: `$` topics are written `$$` (AWS's escape), reserved job topics are
/// refused (AWS does not support republishing to them), and no wildcards.
fn check_republish(config: &Value) -> Result<(), RulesError> {
    let Some(topic) = field(config, "topic") else {
        return Err(invalid("The republish action needs a topic."));
    };
    let target = match topic.strip_prefix("$$") {
        Some(rest) => format!("${rest}"),
        None if topic.starts_with('$') && !topic.starts_with("${") => {
            return Err(invalid(format!(
                "The republish topic {topic} starts with $: to republish to a reserved topic, \
                 write $$ instead (${topic})."
            )));
        }
        None => topic.to_owned(),
    };
    if classify(&target) == ReservedKind::Jobs {
        return Err(invalid(format!(
            "Republishing to the reserved job topic {target} is not supported."
        )));
    }
    if static_text(topic).contains(['+', '#']) {
        return Err(invalid(format!(
            "The republish topic {topic} must not contain the wildcards + or #."
        )));
    }
    Ok(())
}

/// An HTTP action's URLs, as AWS requires them: a URL with substitution templates needs a
/// `confirmationUrl`, and the confirmation URL must be a prefix of the URL. Returns the
/// confirmation URL that needs a destination, unless it has templates itself (then the
/// destinations for each value must be created beforehand, as on AWS).
fn check_http(config: &Value) -> Result<Option<String>, RulesError> {
    let Some(url) = field(config, "url") else {
        return Err(invalid("The http action needs a url."));
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(invalid(format!(
            "The http action url {url} must start with https:// or http://."
        )));
    }
    let confirmation = match field(config, "confirmationUrl") {
        Some(c) => {
            if !url.starts_with(c) {
                return Err(invalid(format!(
                    "The confirmationUrl {c} must be a prefix of the http action url {url}."
                )));
            }
            c
        }
        None if has_template(url) => {
            return Err(invalid(format!(
                "The http action url {url} uses substitution templates, so a confirmationUrl \
                 is required."
            )));
        }
        None => url,
    };
    Ok((!has_template(confirmation)).then(|| confirmation.to_owned()))
}

fn has_template(text: &str) -> bool {
    !templates(text).is_empty()
}

/// The text outside substitution templates.
fn static_text(text: &str) -> String {
    let mut out = text.to_owned();
    for t in templates(text) {
        out = out.replacen(&format!("${{{t}}}"), "", 1);
    }
    out
}

/// Every substitution template's expression in the strings of an action's configuration.
fn templates_in(config: &Value) -> Vec<&str> {
    let mut found = Vec::new();
    collect_templates(config, &mut found);
    found
}

fn collect_templates<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => found.extend(templates(s)),
        Value::Array(items) => items.iter().for_each(|v| collect_templates(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_templates(v, found)),
        _ => {}
    }
}

/// The expressions of the `${...}` templates in `text`. Braces nest (object literals) and
/// quoted text may hold any brace; `$$` is an escaped `$`. An unterminated template is not one.
fn templates(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'$', b'$') => i += 2,
            (b'$', b'{') => {
                let start = i + 2;
                match template_end(bytes, start) {
                    Some(end) => {
                        found.push(&text[start..end]);
                        i = end + 1;
                    }
                    None => break,
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// The index of the `}` closing a template whose expression starts at `start`.
fn template_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"' | b'`') => quote = Some(b),
            (None, b'{') => depth += 1,
            (None, b'}') if depth == 0 => return Some(i),
            (None, b'}') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sql::CompilingCheck;

    fn check(payload: Value) -> Result<Checked, RulesError> {
        check_payload(&payload, &CompilingCheck)
    }

    fn rule(actions: Value) -> Value {
        json!({"sql": "SELECT * FROM 'a/b'", "actions": actions})
    }

    fn refused(payload: Value) -> String {
        match check(payload) {
            Err(RulesError::InvalidRequest(m)) => m,
            other => panic!("{:?}", other.map(|c| c.topic_pattern)),
        }
    }

    fn republish(topic: &str) -> Value {
        rule(json!([{"republish": {"roleArn": "arn:aws:iam::1:role/r", "topic": topic}}]))
    }

    fn http(url: &str, confirmation: Option<&str>) -> Value {
        let mut config = json!({"url": url});
        if let Some(c) = confirmation {
            config["confirmationUrl"] = json!(c);
        }
        rule(json!([{ "http": config }]))
    }

    #[test]
    fn versions_and_the_from_topic() {
        let c = check(rule(json!([]))).unwrap();
        assert_eq!(c.topic_pattern.as_deref(), Some("a/b"));
        let mut p = rule(json!([]));
        for version in ["2015-10-08", "2016-03-23", "beta"] {
            p["awsIotSqlVersion"] = json!(version);
            assert!(check(p.clone()).is_ok(), "{version}");
        }
        p["awsIotSqlVersion"] = json!("2017-01-01");
        assert!(refused(p).contains("2017-01-01"));
        let mut bad_sql = rule(json!([]));
        bad_sql["sql"] = json!("SELECT * FROM a/b");
        assert!(matches!(check(bad_sql), Err(RulesError::SqlParse(_))));
    }

    #[test]
    fn at_most_ten_actions_each_of_one_supported_type() {
        let action = json!({"lambda": {"functionArn": "arn:aws:lambda:eu-west-1:1:function:f"}});
        assert!(check(rule(json!(vec![action.clone(); 10]))).is_ok());
        assert!(refused(rule(json!(vec![action.clone(); 11]))).contains("at most 10"));
        let two =
            json!([{"lambda": {"functionArn": "f"}, "sqs": {"queueUrl": "q", "roleArn": "r"}}]);
        assert!(refused(rule(two)).contains("exactly one"));
        assert!(refused(rule(json!([{}]))).contains("exactly one"));
        let message = refused(rule(json!([{"timestream": {"roleArn": "r"}}])));
        assert!(
            message.contains("does not support the timestream action"),
            "{message}"
        );
        let mut p = rule(json!([]));
        p["errorAction"] = json!({"salesforce": {"token": "t", "url": "u"}});
        assert!(refused(p).contains("salesforce action (errorAction)"));
        for kind in SUPPORTED_ACTIONS {
            let mut config = json!({"roleArn": "r"});
            match kind {
                "republish" => config["topic"] = json!("out"),
                "http" => config["url"] = json!("https://example.com/in"),
                _ => {}
            }
            assert!(check(rule(json!([{ kind: config }]))).is_ok(), "{kind}");
        }
    }

    #[test]
    fn republish_topics_follow_aws_reserved_topic_rules() {
        assert!(check(republish("out/${topic(2)}")).is_ok());
        assert!(check(republish("${topic()}/copy")).is_ok());
        assert!(check(republish("$$aws/things/lamp/shadow/update")).is_ok());
        assert!(refused(republish("$aws/things/lamp/shadow/update")).contains("$$"));
        assert!(refused(republish("$$aws/things/lamp/jobs/get")).contains("job topic"));
        assert!(refused(republish("$$aws/things/${topic(2)}/jobs/x/update")).contains("job"));
        assert!(refused(republish("out/+")).contains("wildcards"));
        assert!(check(republish("out/${get(*, '+')}")).is_ok());
    }

    #[test]
    fn http_urls_need_a_destination_by_confirmation_url() {
        let c = check(http("https://example.com/hook/a", None)).unwrap();
        assert_eq!(c.confirmation_urls, ["https://example.com/hook/a"]);
        let c = check(http(
            "https://example.com/hook/${topic()}",
            Some("https://example.com/hook"),
        ))
        .unwrap();
        assert_eq!(c.confirmation_urls, ["https://example.com/hook"]);
        assert!(refused(http("https://example.com/${topic()}", None)).contains("confirmationUrl"));
        assert!(
            refused(http("https://example.com/a", Some("https://other.com"))).contains("prefix")
        );
        assert!(refused(http("ftp://example.com/a", None)).contains("https://"));
        let templated = check(http(
            "https://${topic(1)}.example.com/x",
            Some("https://${topic(1)}.example.com"),
        ))
        .unwrap();
        assert!(templated.confirmation_urls.is_empty());
    }

    #[test]
    fn functions_ferrite_cannot_serve_are_refused() {
        let mut p = rule(json!([]));
        p["sql"] = json!("SELECT machinelearning_predict('m', 'r', *) FROM 'a'");
        assert!(refused(p).contains("machinelearning_predict"));
        let in_template = rule(json!([{"s3": {"roleArn": "r", "bucketName": "b",
            "key": "${machinelearning_predict('m', 'r', *)}"}}]));
        assert!(refused(in_template).contains("actions[0]"));
        let mut p = rule(json!([]));
        p["errorAction"] =
            json!({"s3": {"roleArn": "r", "bucketName": "b", "key": "${get_secret('s')}"}});
        assert!(refused(p).contains("get_secret"));
    }

    #[test]
    fn templates_nest_and_escape() {
        assert_eq!(templates("a/${topic(2)}/${x}"), ["topic(2)", "x"]);
        assert_eq!(templates("${get({'a': 1}, 'a')}"), ["get({'a': 1}, 'a')"]);
        assert_eq!(templates("${concat('}', b)}"), ["concat('}', b)"]);
        assert!(templates("$${x}").is_empty());
        assert!(templates("${unterminated").is_empty());
        assert_eq!(static_text("out/${topic(2)}/x"), "out//x");
    }
}
