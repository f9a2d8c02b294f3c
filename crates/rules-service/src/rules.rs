//! Topic rules: CreateTopicRule, GetTopicRule, ReplaceTopicRule, DeleteTopicRule,
//! EnableTopicRule, DisableTopicRule and ListTopicRules, and what the rules engine reads.

use std::ops::ControlFlow;

use ferrite_registry::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use ferrite_registry::{Scope, encode, epoch_secs, token};
use ferrite_rules_sql::SqlVersion;
use ferrite_storage::{Expect, Write};
use ferrite_topic::{MatchOptions, matches};
use ferrite_types::RegistryChange;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kinds::TOPIC_RULE;
use crate::validate::check_payload;
use crate::{Output, RulesError, TopicRules, no_rule, rule_arn};

/// Rules per ListTopicRules page when `maxResults` is absent: the account's default rule
/// quota, so that a listing without paging (as Terraform's lookup does) sees every rule.
const LIST_PAGE_DEFAULT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTopicRule {
    pub rule_name: String,
    pub topic_rule_payload: Value,
    /// The `x-amz-tagging` header: `key1=value1&key2=value2`, URL-query-encoded.
    pub tags: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplaceTopicRule {
    pub rule_name: String,
    pub topic_rule_payload: Value,
}

/// The input of GetTopicRule, DeleteTopicRule, EnableTopicRule and DisableTopicRule.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleName {
    pub rule_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTopicRules {
    pub topic: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub rule_disabled: Option<bool>,
}

/// A stored topic rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRule {
    /// The key of the rule's tags: a rule deleted and created again under its name does not
    /// inherit the old one's tags.
    id: String,
    pub name: String,
    pub created_at_ms: i64,
    /// The `FROM` topic filter; `None` for a rule without `FROM` (Basic Ingest only).
    pub topic_pattern: Option<String>,
    /// The `TopicRulePayload` as AWS's JSON (`sql`, `description`, `actions`,
    /// `ruleDisabled`, `awsIotSqlVersion`, `errorAction`), as it was given; Enable and
    /// DisableTopicRule set its `ruleDisabled`.
    pub payload: Value,
}

impl TopicRule {
    pub fn sql(&self) -> &str {
        self.payload["sql"].as_str().unwrap_or_default()
    }

    /// `awsIotSqlVersion`, or AWS's default when the rule names none.
    pub fn sql_version(&self) -> SqlVersion {
        self.payload["awsIotSqlVersion"]
            .as_str()
            .and_then(SqlVersion::parse)
            .unwrap_or_default()
    }

    pub fn disabled(&self) -> bool {
        self.payload["ruleDisabled"].as_bool().unwrap_or(false)
    }

    /// The actions, each an AWS `Action` object naming one action type.
    pub fn actions(&self) -> &[Value] {
        self.payload["actions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn error_action(&self) -> Option<&Value> {
        self.payload.get("errorAction").filter(|v| !v.is_null())
    }

    /// GetTopicRule's `rule` (a `TopicRule` shape), defaults filled in as AWS reports them.
    fn aws_rule(&self) -> Value {
        let mut rule = json!({
            "ruleName": self.name,
            "sql": self.sql(),
            "createdAt": epoch_secs(self.created_at_ms),
            "actions": self.actions(),
            "ruleDisabled": self.disabled(),
            "awsIotSqlVersion": self.sql_version().as_str(),
        });
        if let Some(d) = self.payload.get("description").filter(|v| !v.is_null()) {
            rule["description"] = d.clone();
        }
        if let Some(e) = self.error_action() {
            rule["errorAction"] = e.clone();
        }
        rule
    }

    /// Whether ListTopicRules' `topic` selects this rule: the rule's FROM filter is `topic`
    /// itself, or `topic` is a topic name the filter matches. AWS documents the parameter only
    /// as "the topic"; both readings are answered.
    fn listed_for(&self, topic: &str) -> bool {
        self.topic_pattern.as_deref().is_some_and(|pattern| {
            pattern == topic
                || (!topic.contains(['+', '#']) && matches(pattern, topic, MatchOptions::MQTT))
        })
    }
}

/// The `x-amz-tagging` header's tags.
fn parse_tagging(header: Option<&str>) -> Result<Vec<Tag>, RulesError> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                RulesError::InvalidRequest(format!("The tags {text} are not valid UTF-8."))
            })
    };
    header
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok(Tag {
                key: decode(key)?,
                value: decode(value)?,
            })
        })
        .collect()
}

impl TopicRules {
    pub async fn create_topic_rule(
        &self,
        scope: &Scope,
        api_url: &str,
        req: CreateTopicRule,
    ) -> Result<Output, RulesError> {
        let checked = check_payload(&req.topic_rule_payload, &*self.sql)?;
        let tags = parse_tagging(req.tags.as_deref())?;
        check_create_tags(&tags)?;
        let name = req.rule_name.as_str();
        let now = self.clock.now_ms();
        let rule = TopicRule {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            created_at_ms: now,
            topic_pattern: checked.topic_pattern,
            payload: req.topic_rule_payload,
        };
        let (created, _) = self
            .docs
            .retry_wrote(|| async {
                if self.store().get(TOPIC_RULE, name).await?.is_some() {
                    return Err(RulesError::AlreadyExists {
                        message: format!("A rule named {name} already exists."),
                        resource_arn: rule_arn(scope, name),
                    });
                }
                let mut writes = vec![Write::put(TOPIC_RULE, name, Expect::Absent, encode(&rule))];
                writes.extend(initial_tags(&rule.id, &tags)?);
                let created = self
                    .plan_http_destinations(scope, api_url, &checked.confirmation_urls, now)
                    .await?;
                writes.extend(created.writes.iter().cloned());
                Ok((writes, created))
            })
            .await?;
        self.announce([RegistryChange::TopicRuleCreated {
            rule: name.to_owned(),
        }]);
        self.created_destinations(created);
        Ok(json!({}))
    }

    pub async fn get_topic_rule(&self, scope: &Scope, req: RuleName) -> Result<Output, RulesError> {
        let rule = self
            .rule(&req.rule_name)
            .await?
            .ok_or_else(|| no_rule(&req.rule_name))?;
        Ok(json!({"ruleArn": rule_arn(scope, &rule.name), "rule": rule.aws_rule()}))
    }

    pub async fn replace_topic_rule(
        &self,
        scope: &Scope,
        api_url: &str,
        req: ReplaceTopicRule,
    ) -> Result<Output, RulesError> {
        let checked = check_payload(&req.topic_rule_payload, &*self.sql)?;
        let name = req.rule_name.as_str();
        let now = self.clock.now_ms();
        let (created, _) = self
            .docs
            .retry_wrote(|| async {
                let (old, version) = self
                    .get::<TopicRule>(TOPIC_RULE, name)
                    .await?
                    .ok_or_else(|| no_rule(name))?;
                let rule = TopicRule {
                    topic_pattern: checked.topic_pattern.clone(),
                    payload: req.topic_rule_payload.clone(),
                    ..old
                };
                let mut writes = vec![Write::put(
                    TOPIC_RULE,
                    name,
                    Expect::Version(version),
                    encode(&rule),
                )];
                let created = self
                    .plan_http_destinations(scope, api_url, &checked.confirmation_urls, now)
                    .await?;
                writes.extend(created.writes.iter().cloned());
                Ok::<_, RulesError>((writes, created))
            })
            .await?;
        self.announce([RegistryChange::TopicRuleReplaced {
            rule: name.to_owned(),
        }]);
        self.created_destinations(created);
        Ok(json!({}))
    }

    pub async fn delete_topic_rule(&self, req: RuleName) -> Result<Output, RulesError> {
        let name = req.rule_name.as_str();
        self.docs
            .retry_wrote(|| async {
                let (rule, version) = self
                    .get::<TopicRule>(TOPIC_RULE, name)
                    .await?
                    .ok_or_else(|| no_rule(name))?;
                let writes = vec![
                    Write::delete(TOPIC_RULE, name, Expect::Version(version)),
                    drop_tags(&rule.id),
                ];
                Ok::<_, RulesError>((writes, ()))
            })
            .await?;
        self.announce([RegistryChange::TopicRuleDeleted {
            rule: name.to_owned(),
        }]);
        Ok(json!({}))
    }

    pub async fn enable_topic_rule(&self, req: RuleName) -> Result<Output, RulesError> {
        self.set_disabled(&req.rule_name, false).await
    }

    pub async fn disable_topic_rule(&self, req: RuleName) -> Result<Output, RulesError> {
        self.set_disabled(&req.rule_name, true).await
    }

    /// Sets `ruleDisabled`; a rule already in that state is left alone and nothing is
    /// announced.
    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<Output, RulesError> {
        let ((), wrote) = self
            .docs
            .retry_wrote(|| async {
                let (mut rule, version) = self
                    .get::<TopicRule>(TOPIC_RULE, name)
                    .await?
                    .ok_or_else(|| no_rule(name))?;
                if rule.disabled() == disabled {
                    return Ok((Vec::new(), ()));
                }
                rule.payload["ruleDisabled"] = json!(disabled);
                let write = Write::put(TOPIC_RULE, name, Expect::Version(version), encode(&rule));
                Ok::<_, RulesError>((vec![write], ()))
            })
            .await?;
        if wrote {
            let rule = name.to_owned();
            self.announce([if disabled {
                RegistryChange::TopicRuleDisabled { rule }
            } else {
                RegistryChange::TopicRuleEnabled { rule }
            }]);
        }
        Ok(json!({}))
    }

    pub async fn list_topic_rules(
        &self,
        scope: &Scope,
        req: ListTopicRules,
    ) -> Result<Output, RulesError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (items, next) = self
            .docs
            .page(
                TOPIC_RULE,
                "",
                req.next_token.as_deref(),
                limit,
                |_, rule: TopicRule| {
                    if req.rule_disabled.is_some_and(|d| d != rule.disabled()) {
                        return None;
                    }
                    if req.topic.as_deref().is_some_and(|t| !rule.listed_for(t)) {
                        return None;
                    }
                    let mut item = json!({
                        "ruleArn": rule_arn(scope, &rule.name),
                        "ruleName": rule.name,
                        "createdAt": epoch_secs(rule.created_at_ms),
                        "ruleDisabled": rule.disabled(),
                    });
                    if let Some(p) = &rule.topic_pattern {
                        item["topicPattern"] = json!(p);
                    }
                    Some(item)
                },
            )
            .await?;
        Ok(token::listing("rules", items, next))
    }

    /// The rule named `name`, for the rules engine.
    pub async fn rule(&self, name: &str) -> Result<Option<TopicRule>, RulesError> {
        Ok(self.get(TOPIC_RULE, name).await?.map(|(rule, _)| rule))
    }

    /// Every rule, in name order, for the rules engine's start and its full refresh.
    pub async fn all_rules(&self) -> Result<Vec<TopicRule>, RulesError> {
        let mut rules = Vec::new();
        self.docs
            .scan_until(TOPIC_RULE, "", None, |r| {
                rules.push(ferrite_registry::decode(r)?);
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn tagging_header_is_url_query_encoded() {
        let tags = parse_tagging(Some("env=prod&team=a%26b&note=two+words&flag")).unwrap();
        let pairs: Vec<_> = tags.into_iter().map(|t| (t.key, t.value)).collect();
        assert_eq!(
            pairs,
            [
                tag("env", "prod"),
                tag("team", "a&b"),
                tag("note", "two words"),
                tag("flag", "")
            ]
        );
        assert!(parse_tagging(None).unwrap().is_empty());
        assert!(parse_tagging(Some("k=%FF")).is_err());
    }

    #[test]
    fn listing_by_topic_takes_the_filter_or_a_topic_it_matches() {
        let rule = |pattern: Option<&str>| TopicRule {
            id: "i".into(),
            name: "r".into(),
            created_at_ms: 0,
            topic_pattern: pattern.map(str::to_owned),
            payload: json!({}),
        };
        let r = rule(Some("sensors/+/data"));
        assert!(r.listed_for("sensors/+/data"));
        assert!(r.listed_for("sensors/7/data"));
        assert!(!r.listed_for("sensors/#"));
        assert!(!r.listed_for("other/7/data"));
        assert!(!rule(None).listed_for("a"));
    }
}
