//! Custom authorizers: CreateAuthorizer, DescribeAuthorizer, ListAuthorizers,
//! UpdateAuthorizer, DeleteAuthorizer, SetDefaultAuthorizer, ClearDefaultAuthorizer,
//! DescribeDefaultAuthorizer and TestInvokeAuthorizer; and [`Registry::authorize_custom`],
//! which resolves the authorizer a connecting client names (or the default one) and runs it
//! through `ferrite_auth::custom`.
//!
//! Rules pinned where AWS documents little:
//! - with signing enabled (the default), `tokenKeyName` and at least one key in
//!   `tokenSigningPublicKeys` are required, and every key must be a PEM RSA public key of at
//!   least 2048 bits (InvalidRequestException); `signingDisabled` cannot change after creation
//!   (UpdateAuthorizer has no such member);
//! - an ACTIVE authorizer cannot be deleted ("A custom authorizer must be in the INACTIVE state
//!   before you can delete it"), nor can the default one: DeleteConflictException;
//! - SetDefaultAuthorizer of the current default is a no-op; naming another while a default is
//!   set is ResourceAlreadyExistsException (clear it first); Clear/DescribeDefaultAuthorizer
//!   without a default are ResourceNotFoundException;
//! - TestInvokeAuthorizer always calls the function (no cache), whatever the authorizer's
//!   status (it is a debugging aid; connections use ACTIVE authorizers only). A missing or
//!   failing signature is InvalidRequestException and the function is not called; a function
//!   that cannot be reached, is not mapped to a URL or times out is
//!   ServiceUnavailableException; one that fails (non-2xx) or answers something invalid is
//!   InvalidResponseException; an answer of `isAuthenticated: false` is returned as it is.
//!
//! The default authorizer is a settings record naming it; deletes check it and sets check the
//! authorizer's record at the versions read, so neither can race the other into a dangling
//! default.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrite_auth::custom::{
    Authorizer, CustomAuthError, CustomAuthInput, CustomAuthOutcome, MqttCredentials, SigningKey,
};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kinds::{AUTHORIZER, SETTINGS};
use crate::tags::{Tag, check_create_tags, drop_tags, initial_tags};
use crate::token::MarkerPage;
use crate::{Output, Registry, RegistryError, Scope, decode, encode, epoch_secs, now_ms};

/// The settings record naming the default authorizer.
const DEFAULT_KEY: &str = "default-authorizer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthorizerStatus {
    Active,
    Inactive,
}

impl AuthorizerStatus {
    fn as_str(self) -> &'static str {
        match self {
            AuthorizerStatus::Active => "ACTIVE",
            AuthorizerStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuthorizerDoc {
    pub name: String,
    /// Not on the wire; what the authorizer's tags are keyed by (see `kinds::TAGS`).
    pub id: String,
    pub function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key_name: Option<String>,
    #[serde(default)]
    pub token_signing_public_keys: BTreeMap<String, String>,
    pub status: AuthorizerStatus,
    pub signing_disabled: bool,
    pub enable_caching_for_http: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultDoc {
    authorizer_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthorizer {
    pub authorizer_name: String,
    pub authorizer_function_arn: String,
    pub token_key_name: Option<String>,
    pub token_signing_public_keys: Option<BTreeMap<String, String>>,
    pub status: Option<AuthorizerStatus>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub signing_disabled: bool,
    #[serde(default)]
    pub enable_caching_for_http: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerName {
    pub authorizer_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAuthorizer {
    pub authorizer_name: String,
    pub authorizer_function_arn: Option<String>,
    pub token_key_name: Option<String>,
    pub token_signing_public_keys: Option<BTreeMap<String, String>>,
    pub status: Option<AuthorizerStatus>,
    pub enable_caching_for_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAuthorizers {
    #[serde(flatten)]
    pub page: MarkerPage,
    pub status: Option<AuthorizerStatus>,
}

/// ClearDefaultAuthorizer and DescribeDefaultAuthorizer take no input.
#[derive(Debug, Default, Deserialize)]
pub struct NoInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestInvokeAuthorizer {
    pub authorizer_name: String,
    pub token: Option<String>,
    pub token_signature: Option<String>,
    pub http_context: Option<HttpContext>,
    pub mqtt_context: Option<MqttContext>,
    pub tls_context: Option<TlsContext>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    pub headers: Option<BTreeMap<String, String>>,
    pub query_string: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MqttContext {
    pub username: Option<String>,
    /// Base64, as the model's blobs arrive.
    pub password: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsContext {
    pub server_name: Option<String>,
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Authorizer {name} cannot be found."))
}

fn authorizer_arn(scope: &Scope, name: &str) -> String {
    scope.arn(&format!("authorizer/{name}"))
}

fn name_and_arn(scope: &Scope, name: &str) -> Output {
    json!({"authorizerName": name, "authorizerArn": authorizer_arn(scope, name)})
}

/// A signing configuration the runtime can use: with signing enabled, a token key name and
/// at least one key; every key given, enabled or not, a PEM RSA public key of ≥ 2048 bits.
fn check_signing(doc: &AuthorizerDoc) -> Result<(), RegistryError> {
    let keys = doc
        .token_signing_public_keys
        .iter()
        .map(|(name, pem)| {
            SigningKey::from_pem(pem).map_err(|e| {
                RegistryError::InvalidRequest(format!(
                    "The token signing public key {name} is invalid: {e}."
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !doc.signing_disabled {
        if doc.token_key_name.is_none() {
            return Err(RegistryError::InvalidRequest(
                "tokenKeyName is required when signing is enabled.".into(),
            ));
        }
        if keys.is_empty() {
            return Err(RegistryError::InvalidRequest(
                "tokenSigningPublicKeys is required when signing is enabled.".into(),
            ));
        }
    }
    Ok(())
}

impl AuthorizerDoc {
    fn describe(&self, scope: &Scope) -> Output {
        let mut out = json!({
            "authorizerName": self.name,
            "authorizerArn": authorizer_arn(scope, &self.name),
            "authorizerFunctionArn": self.function_arn,
            "tokenSigningPublicKeys": self.token_signing_public_keys,
            "status": self.status.as_str(),
            "creationDate": epoch_secs(self.created_ms),
            "lastModifiedDate": epoch_secs(self.modified_ms),
            "signingDisabled": self.signing_disabled,
            "enableCachingForHttp": self.enable_caching_for_http,
        });
        if let Some(k) = &self.token_key_name {
            out["tokenKeyName"] = json!(k);
        }
        out
    }

    /// The authorizer as the runtime runs it. Keys were checked when written; one that no
    /// longer parses (it cannot, short of a corrupted record) is simply not used.
    fn runtime(&self, version: u64) -> Authorizer {
        Authorizer {
            name: self.name.clone(),
            version,
            function_arn: self.function_arn.clone(),
            token_key_name: self.token_key_name.clone(),
            signing_disabled: self.signing_disabled,
            signing_keys: self
                .token_signing_public_keys
                .values()
                .filter_map(|pem| SigningKey::from_pem(pem).ok())
                .collect(),
            enable_caching_for_http: self.enable_caching_for_http,
        }
    }
}

impl Registry {
    async fn authorizer(&self, name: &str) -> Result<(AuthorizerDoc, u64), RegistryError> {
        self.get::<AuthorizerDoc>(AUTHORIZER, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    async fn default_authorizer(&self) -> Result<Option<(String, u64)>, RegistryError> {
        Ok(self
            .get::<DefaultDoc>(SETTINGS, DEFAULT_KEY)
            .await?
            .map(|(d, v)| (d.authorizer_name, v)))
    }

    pub async fn create_authorizer(
        &self,
        scope: &Scope,
        req: CreateAuthorizer,
    ) -> Result<Output, RegistryError> {
        let now = now_ms();
        let doc = AuthorizerDoc {
            name: req.authorizer_name.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            function_arn: req.authorizer_function_arn.clone(),
            token_key_name: req.token_key_name.clone(),
            token_signing_public_keys: req.token_signing_public_keys.clone().unwrap_or_default(),
            status: req.status.unwrap_or(AuthorizerStatus::Active),
            signing_disabled: req.signing_disabled,
            enable_caching_for_http: req.enable_caching_for_http,
            created_ms: now,
            modified_ms: now,
        };
        check_signing(&doc)?;
        check_create_tags(&req.tags)?;
        let name = &doc.name;
        let created = || {
            vec![RegistryChange::AuthorizerCreated {
                authorizer: name.clone(),
            }]
        };
        self.retry_announcing(created, || async {
            if self.get::<AuthorizerDoc>(AUTHORIZER, name).await?.is_some() {
                return Err(RegistryError::AlreadyExists {
                    message: format!("Authorizer {name} already exists."),
                    resource_id: name.clone(),
                    resource_arn: authorizer_arn(scope, name),
                });
            }
            let mut writes = vec![Write::put(AUTHORIZER, name, Expect::Absent, encode(&doc))];
            writes.extend(initial_tags(&doc.id, &req.tags)?);
            Ok((writes, name_and_arn(scope, name)))
        })
        .await
    }

    pub async fn describe_authorizer(
        &self,
        scope: &Scope,
        req: AuthorizerName,
    ) -> Result<Output, RegistryError> {
        let (doc, _) = self.authorizer(&req.authorizer_name).await?;
        Ok(json!({ "authorizerDescription": doc.describe(scope) }))
    }

    /// ListAuthorizers, by name; `ascendingOrder` false reverses the order.
    pub async fn list_authorizers(
        &self,
        scope: &Scope,
        req: ListAuthorizers,
    ) -> Result<Output, RegistryError> {
        self.keys_listing(AUTHORIZER, "", &req.page, "authorizers", |name, r| {
            let doc: AuthorizerDoc = decode(r)?;
            Ok(req
                .status
                .is_none_or(|s| s == doc.status)
                .then(|| name_and_arn(scope, name)))
        })
        .await
    }

    pub async fn update_authorizer(
        &self,
        scope: &Scope,
        req: UpdateAuthorizer,
    ) -> Result<Output, RegistryError> {
        let name = &req.authorizer_name;
        let updated = || {
            vec![RegistryChange::AuthorizerUpdated {
                authorizer: name.clone(),
            }]
        };
        self.retry_announcing(updated, || async {
            let (mut doc, version) = self.authorizer(name).await?;
            if let Some(arn) = &req.authorizer_function_arn {
                doc.function_arn = arn.clone();
            }
            if let Some(k) = &req.token_key_name {
                doc.token_key_name = Some(k.clone());
            }
            if let Some(keys) = &req.token_signing_public_keys {
                doc.token_signing_public_keys = keys.clone();
            }
            if let Some(s) = req.status {
                doc.status = s;
            }
            if let Some(c) = req.enable_caching_for_http {
                doc.enable_caching_for_http = c;
            }
            doc.modified_ms = now_ms();
            check_signing(&doc)?;
            Ok((
                vec![Write::put(
                    AUTHORIZER,
                    name,
                    Expect::Version(version),
                    encode(&doc),
                )],
                name_and_arn(scope, name),
            ))
        })
        .await
    }

    pub async fn delete_authorizer(&self, req: AuthorizerName) -> Result<Output, RegistryError> {
        let name = &req.authorizer_name;
        let deleted = || {
            vec![RegistryChange::AuthorizerDeleted {
                authorizer: name.clone(),
            }]
        };
        self.retry_announcing(deleted, || async {
            let (doc, version) = self.authorizer(name).await?;
            if doc.status == AuthorizerStatus::Active {
                return Err(RegistryError::DeleteConflict(format!(
                    "Authorizer {name} is ACTIVE; update its status to INACTIVE before deleting it."
                )));
            }
            let default = self.default_authorizer().await?;
            let default_expect = match &default {
                Some((d, _)) if d == name => {
                    return Err(RegistryError::DeleteConflict(format!(
                        "Authorizer {name} is the default authorizer; clear the default \
                         authorizer before deleting it."
                    )));
                }
                Some((_, v)) => Expect::Version(*v),
                None => Expect::Absent,
            };
            Ok((
                vec![
                    Write::delete(AUTHORIZER, name, Expect::Version(version)),
                    Write::check(SETTINGS, DEFAULT_KEY, default_expect),
                    drop_tags(&doc.id),
                ],
                json!({}),
            ))
        })
        .await
    }

    pub async fn set_default_authorizer(
        &self,
        scope: &Scope,
        req: AuthorizerName,
    ) -> Result<Output, RegistryError> {
        let name = &req.authorizer_name;
        let set = || {
            vec![RegistryChange::DefaultAuthorizerSet {
                authorizer: name.clone(),
            }]
        };
        self.retry_announcing(set, || async {
            let (_, version) = self.authorizer(name).await?;
            let out = name_and_arn(scope, name);
            match self.default_authorizer().await? {
                Some((current, _)) if current == *name => Ok((Vec::new(), out)),
                Some((current, _)) => Err(RegistryError::AlreadyExists {
                    message: format!(
                        "The default authorizer is already set to {current}; clear it first."
                    ),
                    resource_arn: authorizer_arn(scope, &current),
                    resource_id: current,
                }),
                None => Ok((
                    vec![
                        Write::check(AUTHORIZER, name, Expect::Version(version)),
                        Write::put(
                            SETTINGS,
                            DEFAULT_KEY,
                            Expect::Absent,
                            encode(&DefaultDoc {
                                authorizer_name: name.clone(),
                            }),
                        ),
                    ],
                    out,
                )),
            }
        })
        .await
    }

    pub async fn clear_default_authorizer(&self, _req: NoInput) -> Result<Output, RegistryError> {
        let cleared = || vec![RegistryChange::DefaultAuthorizerCleared];
        self.retry_announcing(cleared, || async {
            let Some((_, version)) = self.default_authorizer().await? else {
                return Err(no_default());
            };
            Ok((
                vec![Write::delete(
                    SETTINGS,
                    DEFAULT_KEY,
                    Expect::Version(version),
                )],
                json!({}),
            ))
        })
        .await
    }

    pub async fn describe_default_authorizer(
        &self,
        scope: &Scope,
        _req: NoInput,
    ) -> Result<Output, RegistryError> {
        let (name, _) = self.default_authorizer().await?.ok_or_else(no_default)?;
        let (doc, _) = self.authorizer(&name).await?;
        Ok(json!({ "authorizerDescription": doc.describe(scope) }))
    }

    pub async fn test_invoke_authorizer(
        &self,
        req: TestInvokeAuthorizer,
    ) -> Result<Output, RegistryError> {
        let (doc, version) = self.authorizer(&req.authorizer_name).await?;
        let mqtt = match req.mqtt_context {
            None => None,
            Some(m) => Some(MqttCredentials {
                username: m.username,
                password: m
                    .password
                    .map(|p| STANDARD.decode(p))
                    .transpose()
                    .map_err(|_| {
                        RegistryError::InvalidRequest("mqttContext.password is not base64.".into())
                    })?,
                client_id: m.client_id,
            }),
        };
        let (http_headers, query_string) = match req.http_context {
            None => (None, None),
            Some(h) => (
                Some(h.headers.unwrap_or_default().into_iter().collect()),
                h.query_string,
            ),
        };
        let input = CustomAuthInput {
            authorizer_name: Some(doc.name.clone()),
            token: req.token,
            signature: req.token_signature,
            mqtt,
            http_headers,
            query_string,
            tls: req.tls_context.is_some(),
            server_name: req.tls_context.and_then(|t| t.server_name),
            http_request: false,
            connection_id: None,
        };
        let answer = self
            .authorizers
            .test_invoke(&doc.runtime(version), &input)
            .await
            .map_err(|e| match e {
                CustomAuthError::MissingToken(_)
                | CustomAuthError::MissingSignature
                | CustomAuthError::BadSignature => RegistryError::InvalidRequest(e.to_string()),
                e => refusal(e),
            })?;
        let mut out = json!({
            "isAuthenticated": answer.is_authenticated,
            "policyDocuments": answer
                .policies
                .iter()
                .map(|p| Value::String(p.document().to_owned()))
                .collect::<Vec<_>>(),
        });
        if let Some(p) = answer.principal_id {
            out["principalId"] = json!(p);
        }
        if let Some(d) = answer.disconnect_after {
            out["disconnectAfterInSeconds"] = json!(d.as_secs());
        }
        if let Some(r) = answer.refresh_after {
            out["refreshAfterInSeconds"] = json!(r.as_secs());
        }
        Ok(out)
    }

    /// Authenticates a connecting client with a custom authorizer: the one it names, else the
    /// account's default; it must exist and be ACTIVE. `Ok` only when the authorizer function
    /// authenticated the client. Errors mean "refuse the connection": `Unauthorized` for
    /// anything about the client (no or unknown authorizer, bad signature, refused by the
    /// function), `ServiceUnavailable` when the function could not be asked, `InvalidResponse`
    /// when it failed or answered nonsense, `Storage` when the registry could not be read.
    pub async fn authorize_custom(
        &self,
        input: &CustomAuthInput,
    ) -> Result<CustomAuthOutcome, RegistryError> {
        let name = match input.authorizer_name() {
            Some(n) => n,
            None => match self.default_authorizer().await? {
                Some((n, _)) => n,
                None => return Err(refusal(CustomAuthError::NoAuthorizer)),
            },
        };
        let Some((doc, version)) = self.get::<AuthorizerDoc>(AUTHORIZER, &name).await? else {
            return Err(refusal(CustomAuthError::UnknownAuthorizer(name)));
        };
        if doc.status != AuthorizerStatus::Active {
            return Err(refusal(CustomAuthError::Inactive(name)));
        }
        self.authorizers
            .authorize(&doc.runtime(version), input)
            .await
            .map_err(refusal)
    }
}

fn no_default() -> RegistryError {
    RegistryError::NotFound("No default authorizer is set.".into())
}

/// A runtime failure as the registry reports it (see [`Registry::authorize_custom`]).
fn refusal(e: CustomAuthError) -> RegistryError {
    match e {
        CustomAuthError::UnknownFunction(_)
        | CustomAuthError::Unreachable(_)
        | CustomAuthError::Timeout(_) => RegistryError::ServiceUnavailable(e.to_string()),
        CustomAuthError::FunctionFailed(_) | CustomAuthError::InvalidResponse(_) => {
            RegistryError::InvalidResponse(e.to_string())
        }
        CustomAuthError::NoAuthorizer
        | CustomAuthError::UnknownAuthorizer(_)
        | CustomAuthError::Inactive(_)
        | CustomAuthError::MissingToken(_)
        | CustomAuthError::MissingSignature
        | CustomAuthError::BadSignature
        | CustomAuthError::NotAuthenticated => RegistryError::Unauthorized(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
