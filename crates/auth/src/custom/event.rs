//! The event an authorizer function receives: the JSON AWS IoT sends the authorizer's Lambda.
//! Blocks that do not apply to the connection are left out, as AWS leaves them out.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::input::CustomAuthInput;

/// The event for `input`; `token` is what the authorizer's `tokenKeyName` selected.
pub fn build(
    input: &CustomAuthInput,
    token: Option<&str>,
    signature_verified: bool,
    connection_id: &str,
) -> Value {
    let mut protocols = Vec::new();
    let mut data = Map::new();
    if input.tls {
        protocols.push("tls");
        let mut tls = Map::new();
        if let Some(sni) = &input.server_name {
            tls.insert("serverName".into(), json!(sni));
        }
        data.insert("tls".into(), Value::Object(tls));
    }
    if input.http_headers.is_some() || input.query_string.is_some() {
        protocols.push("http");
        let mut http = Map::new();
        if let Some(headers) = &input.http_headers {
            let mut map = Map::new();
            for (k, v) in headers {
                // A repeated header reaches the function once, its values comma-joined (the
                // HTTP meaning of repeating it).
                match map.get_mut(k) {
                    Some(Value::String(existing)) => {
                        existing.push(',');
                        existing.push_str(v);
                    }
                    _ => {
                        map.insert(k.clone(), json!(v));
                    }
                }
            }
            http.insert("headers".into(), Value::Object(map));
        }
        if let Some(q) = &input.query_string {
            let q = if q.starts_with('?') {
                q.clone()
            } else {
                format!("?{q}")
            };
            http.insert("queryString".into(), json!(q));
        }
        data.insert("http".into(), Value::Object(http));
    }
    if let Some(m) = &input.mqtt {
        protocols.push("mqtt");
        let mut mqtt = Map::new();
        if let Some(u) = &m.username {
            mqtt.insert("username".into(), json!(u));
        }
        if let Some(p) = &m.password {
            mqtt.insert("password".into(), json!(STANDARD.encode(p)));
        }
        if let Some(c) = &m.client_id {
            mqtt.insert("clientId".into(), json!(c));
        }
        data.insert("mqtt".into(), Value::Object(mqtt));
    }
    let mut event = Map::new();
    if let Some(t) = token {
        event.insert("token".into(), json!(t));
    }
    event.insert("signatureVerified".into(), json!(signature_verified));
    event.insert("protocols".into(), json!(protocols));
    event.insert("protocolData".into(), Value::Object(data));
    event.insert("connectionMetadata".into(), json!({ "id": connection_id }));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::input::MqttCredentials;

    #[test]
    fn mqtt_over_tls_event_has_tls_and_mqtt_blocks_only() {
        let input = CustomAuthInput {
            tls: true,
            server_name: Some("iot.example.com".into()),
            mqtt: Some(MqttCredentials {
                username: Some("alice?x-amz-customauthorizer-name=A".into()),
                password: Some(b"secret".to_vec()),
                client_id: Some("dev-1".into()),
            }),
            ..CustomAuthInput::default()
        };
        let event = build(&input, Some("tok"), true, "conn-1");
        assert_eq!(
            event,
            json!({
                "token": "tok",
                "signatureVerified": true,
                "protocols": ["tls", "mqtt"],
                "protocolData": {
                    "tls": {"serverName": "iot.example.com"},
                    "mqtt": {
                        "username": "alice?x-amz-customauthorizer-name=A",
                        "password": "c2VjcmV0",
                        "clientId": "dev-1",
                    },
                },
                "connectionMetadata": {"id": "conn-1"},
            })
        );
    }

    #[test]
    fn http_event_has_headers_and_a_question_marked_query() {
        let input = CustomAuthInput {
            http_headers: Some(vec![
                ("x-token".into(), "t".into()),
                ("accept".into(), "a".into()),
                ("accept".into(), "b".into()),
            ]),
            query_string: Some("a=b".into()),
            ..CustomAuthInput::default()
        };
        let event = build(&input, None, false, "c");
        assert_eq!(event.get("token"), None);
        assert_eq!(event["signatureVerified"], json!(false));
        assert_eq!(event["protocols"], json!(["http"]));
        assert_eq!(
            event["protocolData"],
            json!({"http": {"headers": {"x-token": "t", "accept": "a,b"}, "queryString": "?a=b"}})
        );
    }
}
