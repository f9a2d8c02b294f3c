//! Sending HTTP destinations' confirmation requests, as AWS does: a POST to the confirmation
//! URL with `?confirmationToken={token}` added, headers `x-amz-rules-engine-message-type:
//! DestinationConfirmation` and `x-amz-rules-engine-destination-arn`, and the JSON body
//! `{"arn", "confirmationToken", "enableUrl", "messageType": "DestinationConfirmation"}`.
//!
//! Requests are queued by the API and sent here, several at a time, each bounded by a
//! timeout. One that cannot be delivered (no connection, TLS failure, timeout) puts its
//! destination in ERROR with the reason; any HTTP answer counts as delivered, since the
//! endpoint has the token either way.

use std::time::Duration;

use ferrite_auth::custom::client;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::TopicRules;

/// How long one confirmation request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Confirmation requests in flight at once, so a few dead endpoints do not hold up the rest.
const IN_FLIGHT: usize = 16;

const MESSAGE_TYPE: &str = "DestinationConfirmation";

/// One confirmation request to send.
#[derive(Debug, Clone)]
pub(crate) struct Confirmation {
    /// The destination's id.
    pub destination: String,
    pub arn: String,
    /// The confirmation URL.
    pub url: String,
    pub token: String,
    /// Where an unsigned GET confirms and enables the destination.
    pub enable_url: String,
}

impl Confirmation {
    /// The URL the request goes to: the confirmation URL with the token as a query parameter
    /// (after a `/` when the URL names no path, as AWS's `{confirmationUrl}/?confirmationToken=`).
    fn request_url(&self) -> String {
        let url = &self.url;
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        if url.contains('?') {
            format!("{url}&confirmationToken={}", self.token)
        } else if !after_scheme.contains('/') {
            format!("{url}/?confirmationToken={}", self.token)
        } else {
            format!("{url}?confirmationToken={}", self.token)
        }
    }

    fn body(&self) -> Vec<u8> {
        json!({
            "arn": self.arn,
            "confirmationToken": self.token,
            "enableUrl": self.enable_url,
            "messageType": MESSAGE_TYPE,
        })
        .to_string()
        .into_bytes()
    }
}

pub(crate) async fn run(
    rules: TopicRules,
    mut queue: mpsc::Receiver<Confirmation>,
    cancel: CancellationToken,
) {
    let mut sending = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
            next = queue.recv(), if sending.len() < IN_FLIGHT => match next {
                Some(c) => {
                    let rules = rules.clone();
                    sending.spawn(async move { send(&rules, c).await });
                }
                None => break,
            },
        }
    }
    sending.abort_all();
}

async fn send(rules: &TopicRules, c: Confirmation) {
    let url = c.request_url();
    let headers = [
        ("x-amz-rules-engine-message-type", MESSAGE_TYPE),
        ("x-amz-rules-engine-destination-arn", c.arn.as_str()),
        ("user-agent", "ferrite-rules-engine"),
    ];
    let failure = match tokio::time::timeout(TIMEOUT, client::post_json(&url, &headers, c.body()))
        .await
    {
        Ok(Ok(response)) => {
            tracing::info!(arn = %c.arn, status = response.status, "topic rule destination confirmation sent");
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("{url} did not answer within {} seconds", TIMEOUT.as_secs()),
    };
    tracing::info!(arn = %c.arn, reason = %failure, "topic rule destination confirmation failed");
    let reason = format!("The confirmation request could not be delivered: {failure}");
    if let Err(e) = rules
        .confirmation_failed(&c.destination, &c.token, reason)
        .await
    {
        tracing::warn!(arn = %c.arn, error = %e, "cannot record a failed confirmation");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(url: &str) -> String {
        Confirmation {
            destination: "d".into(),
            arn: "a".into(),
            url: url.into(),
            token: "T".into(),
            enable_url: "e".into(),
        }
        .request_url()
    }

    #[test]
    fn the_token_is_a_query_parameter() {
        assert_eq!(
            to("https://example.com"),
            "https://example.com/?confirmationToken=T"
        );
        assert_eq!(
            to("https://example.com/"),
            "https://example.com/?confirmationToken=T"
        );
        assert_eq!(
            to("http://h:8080/hook"),
            "http://h:8080/hook?confirmationToken=T"
        );
        assert_eq!(
            to("https://h/hook?a=1"),
            "https://h/hook?a=1&confirmationToken=T"
        );
    }
}
