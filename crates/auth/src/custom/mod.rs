//! Custom authorizers at run time: from what a client presents to a decision with policies.
//!
//! AWS runs an authorizer's Lambda function; Ferrite calls an HTTP endpoint instead, POSTing
//! exactly the event AWS sends the Lambda and reading exactly the Lambda's response. An
//! authorizer's `authorizerFunctionArn` is that endpoint's URL when it is one (`http://`,
//! `https://`); otherwise the `[aws.functions]` table of the config maps the Lambda ARN, or the
//! function name inside it, to a URL ([`Invoker::new`]).
//!
//! The flow ([`Invoker::authorize`]): find the token under the authorizer's `tokenKeyName` and
//! the signature ([`input`]); unless signing is disabled, verify the signature with the
//! authorizer's keys ([`keys`]), and refuse without calling the function when it does not
//! verify; look the credentials up in the cache ([`cache`]); else build the event ([`event`]),
//! POST it with a deadline of 5 seconds (AWS's Lambda timeout; [`client`]), check the answer
//! ([`response`]) and cache it for its `refreshAfterInSeconds`.
//!
//! Resolving which authorizer applies (the named one, or the account's default) and whether it
//! is active is the registry's part, which owns the authorizer records.

pub mod cache;
pub mod client;
pub mod event;
pub mod input;
pub mod keys;
pub mod response;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite_policy::Policy;

pub use input::{CustomAuthInput, MqttCredentials};
pub use keys::{KeyError, SigningKey};
pub use response::AuthorizerResponse;

/// AWS's timeout for an authorizer's Lambda function.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(5);

/// An authorizer resource as the runtime needs it.
#[derive(Debug, Clone)]
pub struct Authorizer {
    /// `authorizerName`.
    pub name: String,
    /// The resource's record version: cached answers of an older configuration never apply.
    pub version: u64,
    /// `authorizerFunctionArn`: a URL, or a Lambda ARN or name `[aws.functions]` maps.
    pub function_arn: String,
    /// `tokenKeyName`.
    pub token_key_name: Option<String>,
    /// `signingDisabled`.
    pub signing_disabled: bool,
    /// `tokenSigningPublicKeys`, parsed.
    pub signing_keys: Vec<SigningKey>,
    /// `enableCachingForHttp`.
    pub enable_caching_for_http: bool,
}

/// A client the authorizer authenticated, with what its answer grants.
#[derive(Debug, Clone)]
pub struct CustomAuthOutcome {
    /// The authorizer that decided.
    pub authorizer_name: String,
    /// The principal the function named (`[a-zA-Z0-9]{1,128}`).
    pub principal_id: String,
    /// The policies the connection is authorized by ([`Policy::document`] gives their text).
    pub policies: Vec<Policy>,
    /// Close the connection after this long (AWS: `CUSTOMAUTH_TTL_EXPIRATION`).
    pub disconnect_after: Duration,
    /// Call the function again for fresh policies after this long.
    pub refresh_after: Duration,
}

/// Why a client was not authenticated. Every variant refuses the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomAuthError {
    /// No authorizer named and no default set.
    #[error("the request names no authorizer and the account has no default authorizer")]
    NoAuthorizer,
    /// The named authorizer does not exist.
    #[error("authorizer {0} does not exist")]
    UnknownAuthorizer(String),
    /// The authorizer's status is INACTIVE.
    #[error("authorizer {0} is not active")]
    Inactive(String),
    /// Signing is enabled and no token was found.
    #[error("the request carries no token under the authorizer's token key name {0:?}")]
    MissingToken(Option<String>),
    /// Signing is enabled and no signature was sent.
    #[error("the request carries no token signature")]
    MissingSignature,
    /// The signature does not verify; the function was not called.
    #[error("the token signature does not verify with any of the authorizer's keys")]
    BadSignature,
    /// `authorizerFunctionArn` is no URL and `[aws.functions]` does not map it.
    #[error("no URL is known for authorizer function {0}; map it in [aws.functions]")]
    UnknownFunction(String),
    /// Connecting or talking to the function failed.
    #[error("the authorizer function could not be called: {0}")]
    Unreachable(String),
    /// The function did not answer in time.
    #[error("the authorizer function did not answer within {0:?}")]
    Timeout(Duration),
    /// The function answered a non-2xx status (a Lambda's function error).
    #[error("the authorizer function failed with HTTP status {0}")]
    FunctionFailed(u16),
    /// The function's answer breaks the response contract.
    #[error("the authorizer function's response is invalid: {0}")]
    InvalidResponse(String),
    /// The function answered `isAuthenticated: false`.
    #[error("the authorizer did not authenticate the client")]
    NotAuthenticated,
}

impl CustomAuthError {
    /// True when the function could not be asked at all (the server's fault, not the
    /// client's): MQTT 5 answers "server unavailable" rather than "not authorized".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            CustomAuthError::UnknownFunction(_)
                | CustomAuthError::Unreachable(_)
                | CustomAuthError::Timeout(_)
        )
    }
}

/// Calls authorizer functions and caches their answers. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Invoker {
    inner: Arc<Inner>,
}

struct Inner {
    functions: BTreeMap<String, String>,
    timeout: Duration,
    cache: cache::Cache,
}

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoker")
            .field("functions", &self.inner.functions)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Invoker {
    /// An invoker with the `[aws.functions]` table (Lambda ARN or function name → URL).
    pub fn new(functions: BTreeMap<String, String>) -> Invoker {
        Invoker::with_limits(functions, FUNCTION_TIMEOUT, cache::DEFAULT_CAPACITY)
    }

    /// An invoker with its own deadline per call and cache size (tests use short deadlines).
    pub fn with_limits(
        functions: BTreeMap<String, String>,
        timeout: Duration,
        cache_capacity: usize,
    ) -> Invoker {
        Invoker {
            inner: Arc::new(Inner {
                functions,
                timeout,
                cache: cache::Cache::new(cache_capacity),
            }),
        }
    }

    /// The URL an `authorizerFunctionArn` calls.
    pub fn function_url(&self, function_arn: &str) -> Result<String, CustomAuthError> {
        function_url(&self.inner.functions, function_arn)
            .ok_or_else(|| CustomAuthError::UnknownFunction(function_arn.to_owned()))
    }

    /// Authenticates a connecting client: verifies its token's signature, then answers from the
    /// cache or the function. Only an authenticated answer is `Ok`.
    pub async fn authorize(
        &self,
        authorizer: &Authorizer,
        input: &CustomAuthInput,
    ) -> Result<CustomAuthOutcome, CustomAuthError> {
        let (token, verified) = credentials(authorizer, input)?;
        let cache_key = cacheable(authorizer, input, token.as_deref()).then(|| {
            let mqtt = input.mqtt.as_ref();
            cache::key(&[
                Some(authorizer.name.as_bytes()),
                Some(&authorizer.version.to_be_bytes()),
                token.as_deref().map(str::as_bytes),
                mqtt.and_then(|m| m.username.as_deref()).map(str::as_bytes),
                mqtt.and_then(|m| m.password.as_deref()),
                mqtt.and_then(|m| m.client_id.as_deref()).map(str::as_bytes),
            ])
        });
        if let Some(key) = &cache_key
            && let Some(hit) = self.inner.cache.get(key, Instant::now())
        {
            return Ok(hit);
        }
        let answer = self
            .call(authorizer, input, token.as_deref(), verified)
            .await?;
        let (true, Some(principal_id), Some(disconnect_after), Some(refresh_after)) = (
            answer.is_authenticated,
            answer.principal_id,
            answer.disconnect_after,
            answer.refresh_after,
        ) else {
            // `response::parse` requires the rest whenever the client is authenticated.
            return Err(CustomAuthError::NotAuthenticated);
        };
        let outcome = CustomAuthOutcome {
            authorizer_name: authorizer.name.clone(),
            principal_id,
            policies: answer.policies,
            disconnect_after,
            refresh_after,
        };
        if let Some(key) = cache_key {
            let now = Instant::now();
            self.inner
                .cache
                .insert(key, outcome.clone(), now + refresh_after, now);
        }
        Ok(outcome)
    }

    /// TestInvokeAuthorizer: the same checks and call, without the cache, returning the
    /// function's answer whether or not it authenticates the client.
    pub async fn test_invoke(
        &self,
        authorizer: &Authorizer,
        input: &CustomAuthInput,
    ) -> Result<AuthorizerResponse, CustomAuthError> {
        let (token, verified) = credentials(authorizer, input)?;
        self.call(authorizer, input, token.as_deref(), verified)
            .await
    }

    /// Answers currently cached.
    pub fn cached(&self) -> usize {
        self.inner.cache.len()
    }

    async fn call(
        &self,
        authorizer: &Authorizer,
        input: &CustomAuthInput,
        token: Option<&str>,
        signature_verified: bool,
    ) -> Result<AuthorizerResponse, CustomAuthError> {
        let url = self.function_url(&authorizer.function_arn)?;
        let connection_id = input
            .connection_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let event = event::build(input, token, signature_verified, &connection_id);
        let body = serde_json::to_vec(&event).expect("a JSON value serialises");
        let timeout = self.inner.timeout;
        let reply = tokio::time::timeout(timeout, client::post_authorizer(&url, body))
            .await
            .map_err(|_| CustomAuthError::Timeout(timeout))?
            .map_err(|e| CustomAuthError::Unreachable(e.to_string()))?;
        if !(200..300).contains(&reply.status) {
            return Err(CustomAuthError::FunctionFailed(reply.status));
        }
        response::parse(&reply.body).map_err(|e| CustomAuthError::InvalidResponse(e.0))
    }
}

/// The token and whether its signature was verified. With signing enabled a token and a
/// signature that verifies are required, and the function is never called without them.
fn credentials(
    authorizer: &Authorizer,
    input: &CustomAuthInput,
) -> Result<(Option<String>, bool), CustomAuthError> {
    let token = input.token(authorizer.token_key_name.as_deref());
    if authorizer.signing_disabled {
        return Ok((token, false));
    }
    let token =
        token.ok_or_else(|| CustomAuthError::MissingToken(authorizer.token_key_name.clone()))?;
    let signature = input.signature().ok_or(CustomAuthError::MissingSignature)?;
    if !keys::verify_token(&authorizer.signing_keys, &token, &signature) {
        return Err(CustomAuthError::BadSignature);
    }
    Ok((Some(token), true))
}

/// Whether an answer for this request may be cached. Plain HTTP requests are cached only when
/// the authorizer enables it (AWS's `enableCachingForHttp`). A request with neither a token nor
/// MQTT credentials is never cached: nothing would tell one client's answer from another's.
fn cacheable(authorizer: &Authorizer, input: &CustomAuthInput, token: Option<&str>) -> bool {
    if input.http_request && !authorizer.enable_caching_for_http {
        return false;
    }
    token.is_some() || input.mqtt.is_some()
}

/// The URL that plays the Lambda function `function_arn` names, through the `[aws.functions]`
/// table `functions`: the ARN itself when it is an `http://` or `https://` URL, else the
/// table's entry for the whole ARN, else for the function name inside it (without a version
/// or alias qualifier). Custom authorizers and the rules engine's Lambda actions share it.
pub fn function_url(functions: &BTreeMap<String, String>, function_arn: &str) -> Option<String> {
    if function_arn.starts_with("http://") || function_arn.starts_with("https://") {
        return Some(function_arn.to_owned());
    }
    functions
        .get(function_arn)
        .or_else(|| lambda_function_name(function_arn).and_then(|n| functions.get(n)))
        .cloned()
}

/// `name` of `arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]`.
fn lambda_function_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, _region, _account) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "lambda" {
        return None;
    }
    let name = parts.next()?.strip_prefix("function:")?;
    Some(name.split(':').next().unwrap_or(name))
}

#[cfg(test)]
mod tests;
