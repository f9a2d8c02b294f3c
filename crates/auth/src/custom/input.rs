//! What a client presents to a custom authorizer, and where each value is found.
//!
//! A client names the authorizer (`x-amz-customauthorizer-name`), signs its token
//! (`x-amz-customauthorizer-signature`) and carries the token under the authorizer's
//! `tokenKeyName`, in HTTP headers, in the request's query string, or in the query string the
//! AWS SDKs let devices append to the MQTT user name
//! (`{user}?x-amz-customauthorizer-name=..&x-amz-customauthorizer-signature=..&{tokenKeyName}=..`).
//! The SDKs also append their metrics parameters (`SDK=..&Version=..`) there; like every
//! parameter not asked for, they are ignored.

/// Header / parameter naming the authorizer.
pub const NAME_KEY: &str = "x-amz-customauthorizer-name";
/// Header / parameter carrying the token's signature (base64).
pub const SIGNATURE_KEY: &str = "x-amz-customauthorizer-signature";

/// The MQTT CONNECT credentials, as the client sent them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MqttCredentials {
    /// The user name, including any `?query` the client appended.
    pub username: Option<String>,
    /// The password bytes (the event carries them base64-encoded).
    pub password: Option<Vec<u8>>,
    /// The MQTT client id.
    pub client_id: Option<String>,
}

impl std::fmt::Debug for MqttCredentials {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttCredentials")
            .field("username", &self.username)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Everything a connection (or a TestInvokeAuthorizer call) gives a custom authorizer.
///
/// The explicit `authorizer_name`, `token` and `signature` win over values found in headers,
/// the query string or the MQTT user name, in that order.
#[derive(Debug, Clone, Default)]
pub struct CustomAuthInput {
    /// The authorizer to use (TestInvokeAuthorizer names it in its path).
    pub authorizer_name: Option<String>,
    /// The token (TestInvokeAuthorizer's `token`).
    pub token: Option<String>,
    /// Base64, as the client sent it.
    pub signature: Option<String>,
    /// The MQTT CONNECT's credentials, for MQTT and MQTT over WebSocket.
    pub mqtt: Option<MqttCredentials>,
    /// HTTP request headers (an HTTPS publish, or the WebSocket upgrade of MQTT over WSS).
    pub http_headers: Option<Vec<(String, String)>>,
    /// The HTTP request's query string, with or without its leading `?`.
    pub query_string: Option<String>,
    /// True when the connection is TLS; `server_name` is its SNI host name, if sent.
    pub tls: bool,
    /// The TLS SNI host name.
    pub server_name: Option<String>,
    /// True for a plain HTTPS request (not MQTT, not a WebSocket): its result is cached only
    /// when the authorizer has `enableCachingForHttp`.
    pub http_request: bool,
    /// The connection's id in the event's `connectionMetadata`; a fresh UUID when absent.
    pub connection_id: Option<String>,
}

impl CustomAuthInput {
    /// The authorizer the client names, if any.
    pub fn authorizer_name(&self) -> Option<String> {
        self.authorizer_name.clone().or_else(|| self.find(NAME_KEY))
    }

    /// The token under `token_key_name`.
    pub fn token(&self, token_key_name: Option<&str>) -> Option<String> {
        self.token
            .clone()
            .or_else(|| token_key_name.and_then(|k| self.find(k)))
    }

    /// The token signature (base64).
    pub fn signature(&self) -> Option<String> {
        self.signature.clone().or_else(|| self.find(SIGNATURE_KEY))
    }

    /// `key` from the headers (case-insensitively, as HTTP header names are), then the query
    /// string, then the MQTT user name's query string.
    fn find(&self, key: &str) -> Option<String> {
        if let Some(headers) = &self.http_headers
            && let Some((_, v)) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            return Some(v.clone());
        }
        if let Some(q) = &self.query_string
            && let Some(v) = query_param(q.strip_prefix('?').unwrap_or(q), key)
        {
            return Some(v);
        }
        let username = self.mqtt.as_ref()?.username.as_deref()?;
        let (_, query) = username.split_once('?')?;
        query_param(query, key)
    }
}

/// The first value of `key` in `query` (`a=1&b=2`), percent-decoded. `+` stays `+`: the
/// values looked up here are base64 signatures and opaque tokens, and clients that do not
/// encode a signature's `+` must still verify.
pub fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(username: &str) -> CustomAuthInput {
        CustomAuthInput {
            mqtt: Some(MqttCredentials {
                username: Some(username.into()),
                password: None,
                client_id: Some("c1".into()),
            }),
            ..CustomAuthInput::default()
        }
    }

    #[test]
    fn the_mqtt_user_name_query_carries_name_signature_and_token() {
        let input = mqtt(
            "alice?x-amz-customauthorizer-name=MyAuth&x-amz-customauthorizer-signature=ab%2Bc%2F%3D%3D\
             &tok=a%20b&SDK=PythonV2&Version=1.20.0",
        );
        assert_eq!(input.authorizer_name().as_deref(), Some("MyAuth"));
        assert_eq!(input.signature().as_deref(), Some("ab+c/=="));
        assert_eq!(input.token(Some("tok")).as_deref(), Some("a b"));
        assert_eq!(input.token(None), None);
        assert_eq!(input.token(Some("SDKx")), None);
    }

    #[test]
    fn the_sdk_metrics_alone_name_nothing() {
        let input = mqtt("?SDK=PythonV2&Version=1.20.0");
        assert_eq!(input.authorizer_name(), None);
        assert_eq!(input.signature(), None);
        assert_eq!(mqtt("plain-user").authorizer_name(), None);
    }

    #[test]
    fn unencoded_base64_survives_the_query() {
        let input = mqtt("u?x-amz-customauthorizer-signature=ab+c/d==&t=x");
        assert_eq!(input.signature().as_deref(), Some("ab+c/d=="));
    }

    #[test]
    fn headers_win_over_query_which_wins_over_the_user_name() {
        let mut input = mqtt("u?x-amz-customauthorizer-name=FromUser&tok=user");
        input.query_string = Some("?x-amz-customauthorizer-name=FromQuery&tok=query".into());
        assert_eq!(input.authorizer_name().as_deref(), Some("FromQuery"));
        input.http_headers = Some(vec![
            ("X-Amz-CustomAuthorizer-Name".into(), "FromHeader".into()),
            ("Tok".into(), "header".into()),
        ]);
        assert_eq!(input.authorizer_name().as_deref(), Some("FromHeader"));
        assert_eq!(input.token(Some("tok")).as_deref(), Some("header"));
        input.authorizer_name = Some("Explicit".into());
        input.token = Some("explicit".into());
        assert_eq!(input.authorizer_name().as_deref(), Some("Explicit"));
        assert_eq!(input.token(Some("tok")).as_deref(), Some("explicit"));
    }

    #[test]
    fn the_password_never_prints() {
        let creds = MqttCredentials {
            username: Some("u".into()),
            password: Some(b"hunter2".to_vec()),
            client_id: None,
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
