//! Topic rule destinations: Create/Get/Update/Delete/ListTopicRuleDestinations and
//! ConfirmTopicRuleDestination, the HTTP destinations CreateTopicRule makes for HTTP actions
//! whose confirmation URL has none yet (as AWS does), and the status the rules engine asks
//! before an HTTP action delivers.
//!
//! An HTTP destination starts IN_PROGRESS with a confirmation token, and a confirmation request
//! carrying the token goes to its confirmation URL (`confirm.rs`). The token confirms it: through
//! ConfirmTopicRuleDestination the destination becomes DISABLED (AWS: "you need to explicitly
//! enable your destination by calling UpdateTopicRuleDestination"), through the `enableUrl` of
//! the request (an unsigned GET) ENABLED. A token is valid for three days; an IN_PROGRESS
//! destination whose token expired reads as ERROR. UpdateTopicRuleDestination moves between
//! ENABLED and DISABLED, and IN_PROGRESS sends a new confirmation request. VPC destinations
//! need no confirmation and are ENABLED at once: Ferrite reaches the systems they stand for
//! directly, without network interfaces to create.

use std::ops::ControlFlow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrite_registry::{Scope, encode, epoch_secs, parse_arn, token};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::confirm::Confirmation;
use crate::kinds::{DESTINATION, DESTINATION_TOKEN, DESTINATION_URL};
use crate::{Output, RulesError, TopicRules};

/// AWS: "The token is valid for three days".
const TOKEN_VALIDITY_MS: i64 = 3 * 24 * 60 * 60 * 1000;

/// Destinations per ListTopicRuleDestinations page when `maxResults` is absent (the model's
/// maximum).
const LIST_PAGE_DEFAULT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DestinationStatus {
    Enabled,
    InProgress,
    Disabled,
    Error,
    Deleting,
}

impl DestinationStatus {
    /// AWS's name of the status (`ENABLED`, `IN_PROGRESS`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Enabled => "ENABLED",
            DestinationStatus::InProgress => "IN_PROGRESS",
            DestinationStatus::Disabled => "DISABLED",
            DestinationStatus::Error => "ERROR",
            DestinationStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Http,
    Vpc,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Vpc => "vpc",
        }
    }
}

/// A stored destination.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Destination {
    /// The UUID the ARN ends with.
    id: String,
    kind: Kind,
    status: DestinationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
    created_at_ms: i64,
    last_updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirmation_url: Option<String>,
    /// The `VpcDestinationConfiguration` as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vpc: Option<Value>,
    /// The pending or last confirmation token of an HTTP destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_expires_ms: Option<i64>,
}

impl Destination {
    fn arn(&self, scope: &Scope) -> String {
        scope.arn(&format!(
            "ruledestination/{}/{}",
            self.kind.as_str(),
            self.id
        ))
    }

    /// The status as clients see it at `now`: an unconfirmed destination whose token expired
    /// is in ERROR.
    fn status_at(&self, now: i64) -> (DestinationStatus, Option<String>) {
        if self.status == DestinationStatus::InProgress
            && self.token_expires_ms.is_some_and(|t| t <= now)
        {
            return (
                DestinationStatus::Error,
                Some("The confirmation token expired before the destination was confirmed.".into()),
            );
        }
        (self.status, self.status_reason.clone())
    }

    /// A `TopicRuleDestination` (`summary` false) or a `TopicRuleDestinationSummary`.
    fn render(&self, scope: &Scope, now: i64, summary: bool) -> Value {
        let (status, reason) = self.status_at(now);
        let mut out = json!({
            "arn": self.arn(scope),
            "status": status.as_str(),
            "createdAt": epoch_secs(self.created_at_ms),
            "lastUpdatedAt": epoch_secs(self.last_updated_at_ms),
        });
        if let Some(r) = reason {
            out["statusReason"] = json!(r);
        }
        match (self.kind, summary) {
            (Kind::Http, false) => {
                out["httpUrlProperties"] = json!({"confirmationUrl": self.confirmation_url});
            }
            (Kind::Http, true) => {
                out["httpUrlSummary"] = json!({"confirmationUrl": self.confirmation_url});
            }
            (Kind::Vpc, false) => out["vpcProperties"] = self.vpc.clone().unwrap_or_default(),
            (Kind::Vpc, true) => {
                out["vpcDestinationSummary"] = self.vpc.clone().unwrap_or_default()
            }
        }
        out
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTopicRuleDestination {
    pub destination_configuration: DestinationConfiguration,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfiguration {
    pub http_url_configuration: Option<HttpUrlConfiguration>,
    pub vpc_configuration: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpUrlConfiguration {
    pub confirmation_url: String,
}

/// The input of GetTopicRuleDestination and DeleteTopicRuleDestination.
#[derive(Debug, Deserialize)]
pub struct DestinationArn {
    pub arn: String,
}

#[derive(Debug, Deserialize)]
pub struct UpdateTopicRuleDestination {
    pub arn: String,
    pub status: DestinationStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTopicRuleDestinations {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmTopicRuleDestination {
    pub confirmation_token: String,
}

/// HTTP destinations decided in a batch: the writes that create them and the confirmation
/// requests to send once the batch is durable.
#[derive(Default)]
pub(crate) struct Planned {
    pub writes: Vec<Write>,
    confirmations: Vec<Confirmation>,
}

fn invalid(message: impl Into<String>) -> RulesError {
    RulesError::InvalidRequest(message.into())
}

fn denied(arn: &str) -> RulesError {
    RulesError::Denied(format!("Access to TopicRuleDestination '{arn}' was denied"))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The destination id an ARN of this account and region names.
fn destination_id<'a>(scope: &Scope, arn: &'a str) -> Result<&'a str, RulesError> {
    let (arn_type, rest) = parse_arn(scope, arn)?;
    match (arn_type, rest.split_once('/')) {
        ("ruledestination", Some(("http" | "vpc", id))) if !id.is_empty() && !id.contains('/') => {
            Ok(id)
        }
        _ => Err(invalid(format!(
            "{arn} is not the ARN of a topic rule destination."
        ))),
    }
}

fn check_confirmation_url(url: &str) -> Result<(), RulesError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(invalid(format!(
            "The confirmationUrl {url} must start with https:// or http://."
        )));
    }
    if url.contains("${") {
        return Err(invalid(format!(
            "The confirmationUrl {url} of a destination cannot hold substitution templates."
        )));
    }
    Ok(())
}

impl TopicRules {
    fn confirmation(&self, scope: &Scope, api_url: &str, d: &Destination) -> Option<Confirmation> {
        Some(Confirmation {
            destination: d.id.clone(),
            arn: d.arn(scope),
            url: d.confirmation_url.clone()?,
            token: d.token.clone()?,
            enable_url: format!("{api_url}/confirmdestination/{}", d.token.as_deref()?),
        })
    }

    /// A new HTTP destination for `url`: its writes, and its confirmation request.
    fn new_http_destination(
        &self,
        scope: &Scope,
        api_url: &str,
        url: &str,
        now: i64,
        planned: &mut Planned,
    ) -> Destination {
        let token = new_token();
        let d = Destination {
            id: uuid::Uuid::new_v4().to_string(),
            kind: Kind::Http,
            status: DestinationStatus::InProgress,
            status_reason: None,
            created_at_ms: now,
            last_updated_at_ms: now,
            confirmation_url: Some(url.to_owned()),
            vpc: None,
            token: Some(token.clone()),
            token_expires_ms: Some(now + TOKEN_VALIDITY_MS),
        };
        let link = encode(&json!({"id": d.id}));
        planned.writes.extend([
            Write::put(DESTINATION, &d.id, Expect::Absent, encode(&d)),
            Write::put(DESTINATION_URL, url, Expect::Absent, link.clone()),
            Write::put(DESTINATION_TOKEN, &token, Expect::Absent, link),
        ]);
        planned
            .confirmations
            .extend(self.confirmation(scope, api_url, &d));
        d
    }

    /// The destinations to create for the HTTP actions' confirmation URLs that have none.
    pub(crate) async fn plan_http_destinations(
        &self,
        scope: &Scope,
        api_url: &str,
        urls: &[String],
        now: i64,
    ) -> Result<Planned, RulesError> {
        let mut planned = Planned::default();
        for url in urls {
            if self.store().get(DESTINATION_URL, url).await?.is_none() {
                self.new_http_destination(scope, api_url, url, now, &mut planned);
            }
        }
        Ok(planned)
    }

    /// Announces destinations a durable batch created and queues their confirmation requests.
    pub(crate) fn created_destinations(&self, planned: Planned) {
        for c in planned.confirmations {
            self.announce([RegistryChange::TopicRuleDestinationChanged {
                destination: c.destination.clone(),
            }]);
            self.queue_confirmation(c);
        }
    }

    fn queue_confirmation(&self, c: Confirmation) {
        if let Err(e) = self.confirmations.try_send(c) {
            tracing::warn!(
                error = %e,
                "topic rule destination confirmation not sent; set the destination's status to \
                 IN_PROGRESS to send another"
            );
        }
    }

    async fn destination_by_arn(
        &self,
        scope: &Scope,
        arn: &str,
    ) -> Result<(Destination, u64), RulesError> {
        let id = destination_id(scope, arn)?;
        match self.get::<Destination>(DESTINATION, id).await? {
            Some((d, v)) if d.arn(scope) == arn => Ok((d, v)),
            _ => Err(denied(arn)),
        }
    }

    pub async fn create_topic_rule_destination(
        &self,
        scope: &Scope,
        api_url: &str,
        req: CreateTopicRuleDestination,
    ) -> Result<Output, RulesError> {
        let config = req.destination_configuration;
        let now = self.clock.now_ms();
        let (d, planned) = match (config.http_url_configuration, config.vpc_configuration) {
            (Some(http), None) => {
                let url = http.confirmation_url;
                check_confirmation_url(&url)?;
                let (planned_d, _) = self
                    .docs
                    .retry_wrote(|| async {
                        if let Some((link, _)) = self.get::<Value>(DESTINATION_URL, &url).await? {
                            let id = link["id"].as_str().unwrap_or_default();
                            let resource_arn =
                                match self.get::<Destination>(DESTINATION, id).await? {
                                    Some((d, _)) => d.arn(scope),
                                    None => String::new(),
                                };
                            return Err(RulesError::AlreadyExists {
                                message: format!(
                                    "A topic rule destination for {url} already exists."
                                ),
                                resource_arn,
                            });
                        }
                        let mut planned = Planned::default();
                        let d = self.new_http_destination(scope, api_url, &url, now, &mut planned);
                        Ok((planned.writes.clone(), (d, planned)))
                    })
                    .await?;
                planned_d
            }
            (None, Some(vpc)) => {
                let d = Destination {
                    id: uuid::Uuid::new_v4().to_string(),
                    kind: Kind::Vpc,
                    status: DestinationStatus::Enabled,
                    status_reason: None,
                    created_at_ms: now,
                    last_updated_at_ms: now,
                    confirmation_url: None,
                    vpc: Some(vpc),
                    token: None,
                    token_expires_ms: None,
                };
                let write = Write::put(DESTINATION, &d.id, Expect::Absent, encode(&d));
                self.docs
                    .retry_wrote(|| async { Ok::<_, RulesError>((vec![write.clone()], ())) })
                    .await?;
                self.announce([RegistryChange::TopicRuleDestinationChanged {
                    destination: d.id.clone(),
                }]);
                (d, Planned::default())
            }
            _ => {
                return Err(invalid(
                    "The destinationConfiguration must hold exactly one of httpUrlConfiguration \
                     and vpcConfiguration.",
                ));
            }
        };
        self.created_destinations(planned);
        Ok(json!({"topicRuleDestination": d.render(scope, now, false)}))
    }

    pub async fn get_topic_rule_destination(
        &self,
        scope: &Scope,
        req: DestinationArn,
    ) -> Result<Output, RulesError> {
        let (d, _) = self.destination_by_arn(scope, &req.arn).await?;
        Ok(json!({"topicRuleDestination": d.render(scope, self.clock.now_ms(), false)}))
    }

    pub async fn list_topic_rule_destinations(
        &self,
        scope: &Scope,
        req: ListTopicRuleDestinations,
    ) -> Result<Output, RulesError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let now = self.clock.now_ms();
        let (items, next) = self
            .docs
            .page(
                DESTINATION,
                "",
                req.next_token.as_deref(),
                limit,
                |_, d: Destination| Some(d.render(scope, now, true)),
            )
            .await?;
        Ok(token::listing("destinationSummaries", items, next))
    }

    pub async fn update_topic_rule_destination(
        &self,
        scope: &Scope,
        api_url: &str,
        req: UpdateTopicRuleDestination,
    ) -> Result<Output, RulesError> {
        use DestinationStatus as S;
        let now = self.clock.now_ms();
        let (confirmation, wrote) = self
            .docs
            .retry_wrote(|| async {
                let (mut d, version) = self.destination_by_arn(scope, &req.arn).await?;
                let (current, _) = d.status_at(now);
                let mut writes = Vec::new();
                let mut confirmation = None;
                match (req.status, current) {
                    (S::Enabled, S::Enabled) | (S::Disabled, S::Disabled) => {}
                    (S::Enabled, S::Disabled) | (S::Disabled, S::Enabled) => d.status = req.status,
                    (S::Enabled | S::Disabled, S::InProgress | S::Error) => {
                        return Err(invalid(format!(
                            "The topic rule destination {} is {}: it must be confirmed before it \
                             can be enabled or disabled.",
                            req.arn,
                            current.as_str()
                        )));
                    }
                    (S::InProgress, _) if d.kind == Kind::Http => {
                        let token = new_token();
                        if let Some(old) = &d.token {
                            writes.push(Write::delete(DESTINATION_TOKEN, old, Expect::Any));
                        }
                        writes.push(Write::put(
                            DESTINATION_TOKEN,
                            &token,
                            Expect::Absent,
                            encode(&json!({"id": d.id})),
                        ));
                        d.status = S::InProgress;
                        d.status_reason = None;
                        d.token = Some(token);
                        d.token_expires_ms = Some(now + TOKEN_VALIDITY_MS);
                        confirmation = self.confirmation(scope, api_url, &d);
                    }
                    (wanted, _) => {
                        return Err(invalid(format!(
                            "The status of the topic rule destination {} cannot be set to {}.",
                            req.arn,
                            wanted.as_str()
                        )));
                    }
                }
                if writes.is_empty() && d.status == current {
                    return Ok((Vec::new(), None));
                }
                d.last_updated_at_ms = now;
                writes.push(Write::put(
                    DESTINATION,
                    &d.id,
                    Expect::Version(version),
                    encode(&d),
                ));
                Ok((writes, confirmation))
            })
            .await?;
        if wrote {
            let id = destination_id(scope, &req.arn)?.to_owned();
            self.announce([RegistryChange::TopicRuleDestinationChanged { destination: id }]);
        }
        if let Some(c) = confirmation {
            self.queue_confirmation(c);
        }
        Ok(json!({}))
    }

    pub async fn delete_topic_rule_destination(
        &self,
        scope: &Scope,
        req: DestinationArn,
    ) -> Result<Output, RulesError> {
        let (id, _) = self
            .docs
            .retry_wrote(|| async {
                let (d, version) = self.destination_by_arn(scope, &req.arn).await?;
                let mut writes = vec![Write::delete(DESTINATION, &d.id, Expect::Version(version))];
                if let Some(url) = &d.confirmation_url {
                    writes.push(Write::delete(DESTINATION_URL, url, Expect::Any));
                }
                if let Some(token) = &d.token {
                    writes.push(Write::delete(DESTINATION_TOKEN, token, Expect::Any));
                }
                Ok::<_, RulesError>((writes, d.id))
            })
            .await?;
        self.announce([RegistryChange::TopicRuleDestinationDeleted { destination: id }]);
        Ok(json!({}))
    }

    /// ConfirmTopicRuleDestination (`enable` false: the destination becomes DISABLED) or a GET
    /// of the confirmation request's `enableUrl` (`enable` true: ENABLED). A destination
    /// already confirmed is left as it is.
    pub async fn confirm_topic_rule_destination(
        &self,
        req: ConfirmTopicRuleDestination,
        enable: bool,
    ) -> Result<Output, RulesError> {
        let token = req.confirmation_token.as_str();
        let unknown = || invalid("The confirmation token is not valid.");
        let now = self.clock.now_ms();
        let (id, wrote) = self
            .docs
            .retry_wrote(|| async {
                let (link, _) = self
                    .get::<Value>(DESTINATION_TOKEN, token)
                    .await?
                    .ok_or_else(unknown)?;
                let id = link["id"].as_str().unwrap_or_default();
                let (mut d, version) = self
                    .get::<Destination>(DESTINATION, id)
                    .await?
                    .ok_or_else(unknown)?;
                if d.token.as_deref() != Some(token) {
                    return Err(unknown());
                }
                // A confirmation request that failed on our side may still have arrived, so
                // ERROR confirms too; an already confirmed destination stays as it is.
                let pending = matches!(
                    d.status,
                    DestinationStatus::InProgress | DestinationStatus::Error
                );
                if !pending {
                    return Ok((Vec::new(), d.id));
                }
                if d.token_expires_ms.is_some_and(|t| t <= now) {
                    return Err(invalid(
                        "The confirmation token has expired: set the destination's status to \
                         IN_PROGRESS with UpdateTopicRuleDestination to send a new one.",
                    ));
                }
                d.status = if enable {
                    DestinationStatus::Enabled
                } else {
                    DestinationStatus::Disabled
                };
                d.status_reason = None;
                d.last_updated_at_ms = now;
                let write = Write::put(DESTINATION, &d.id, Expect::Version(version), encode(&d));
                Ok((vec![write], d.id))
            })
            .await?;
        if wrote {
            self.announce([RegistryChange::TopicRuleDestinationChanged { destination: id }]);
        }
        Ok(json!({}))
    }

    /// Records that the confirmation request for `token` could not be delivered, unless the
    /// destination moved on meanwhile.
    pub(crate) async fn confirmation_failed(
        &self,
        id: &str,
        token: &str,
        reason: String,
    ) -> Result<(), RulesError> {
        let now = self.clock.now_ms();
        let ((), wrote) = self
            .docs
            .retry_wrote(|| async {
                let Some((mut d, version)) = self.get::<Destination>(DESTINATION, id).await? else {
                    return Ok((Vec::new(), ()));
                };
                if d.status != DestinationStatus::InProgress || d.token.as_deref() != Some(token) {
                    return Ok((Vec::new(), ()));
                }
                d.status = DestinationStatus::Error;
                d.status_reason = Some(reason.clone());
                d.last_updated_at_ms = now;
                let write = Write::put(DESTINATION, id, Expect::Version(version), encode(&d));
                Ok::<_, RulesError>((vec![write], ()))
            })
            .await?;
        if wrote {
            self.announce([RegistryChange::TopicRuleDestinationChanged {
                destination: id.to_owned(),
            }]);
        }
        Ok(())
    }

    /// The status of the HTTP destination whose confirmation URL is `confirmation_url`, if
    /// there is one: an HTTP action delivers only when it is ENABLED.
    pub async fn http_destination_status(
        &self,
        confirmation_url: &str,
    ) -> Result<Option<DestinationStatus>, RulesError> {
        let Some((link, _)) = self.get::<Value>(DESTINATION_URL, confirmation_url).await? else {
            return Ok(None);
        };
        let id = link["id"].as_str().unwrap_or_default();
        let now = self.clock.now_ms();
        Ok(self
            .get::<Destination>(DESTINATION, id)
            .await?
            .map(|(d, _)| d.status_at(now).0))
    }

    /// Every HTTP destination's confirmation URL and status, for the rules engine's start.
    pub async fn http_destinations(&self) -> Result<Vec<(String, DestinationStatus)>, RulesError> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        self.docs
            .scan_until(DESTINATION, "", None, |r| {
                let d: Destination = ferrite_registry::decode(r)?;
                if let Some(url) = &d.confirmation_url {
                    out.push((url.clone(), d.status_at(now).0));
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(out)
    }
}
