//! `lambda`: the SELECT output POSTed as the event to the HTTP endpoint that plays the Lambda
//! function `functionArn` names (a template), found through `[aws.functions]` as custom
//! authorizers find theirs (`ferrite_auth::custom::function_url`: the ARN, else the function
//! name inside it; an `http(s)://` URL is its own endpoint).
//!
//! AWS invokes the function asynchronously (invocation type `Event`): the rules engine only
//! hands the event over, and the function's answer is never read. The endpoint here is called
//! with the header `x-amz-invocation-type: Event`; any 2xx answer is success and its body is
//! ignored. A function without an endpoint, or an endpoint that fails, fails the action (the
//! error action hears of it), as an invocation AWS could not make does.
//!
//! With `[targets.lambda].forward_endpoint` the function is invoked through Lambda's `Invoke`
//! API at that endpoint instead (`POST /2015-03-31/functions/{functionArn}/invocations`,
//! `X-Amz-Invocation-Type: Event`), signed with `[targets.forward]`'s keys.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferrite_rules::{CompiledSql, Template};
use serde_json::Value;

use super::forward::{Call, Forward};
use super::http_post::{self, content_type};
use super::{Action, ActionError, BoxFuture, Deps, Job};

/// How long one attempt may take: the endpoint answers once it has the event.
const TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Lambda {
    function: Template,
    function_text: String,
    functions: Arc<BTreeMap<String, String>>,
    forward: Option<Forward>,
}

/// Lambda's Invoke call for `function` (a name or ARN, qualified or not).
pub(crate) fn invoke_call<'a>(
    function: &str,
    invocation_type: &'static str,
    event: bytes::Bytes,
) -> Call<'a> {
    Call {
        service: "lambda",
        method: http::Method::POST,
        path: format!(
            "/2015-03-31/functions/{}/invocations",
            super::forward::path_segment(function)
        ),
        headers: vec![
            ("content-type", content_type(&event).to_owned()),
            ("x-amz-invocation-type", invocation_type.to_owned()),
        ],
        body: event,
    }
}

impl Lambda {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<Lambda, String> {
        let mut lambda = Lambda::new(config, sql, Arc::new(deps.config.functions.clone()))?;
        let targets = &deps.config.targets;
        lambda.forward = Forward::for_section(&targets.lambda.forward_endpoint, &targets.forward);
        Ok(lambda)
    }

    fn new(
        config: &Value,
        sql: &CompiledSql,
        functions: Arc<BTreeMap<String, String>>,
    ) -> Result<Lambda, String> {
        let function_text = config["functionArn"]
            .as_str()
            .ok_or("lambda needs a functionArn")?
            .to_owned();
        Ok(Lambda {
            function: sql.template(&function_text).map_err(|e| e.to_string())?,
            function_text,
            functions,
            forward: None,
        })
    }
}

impl Action for Lambda {
    fn name(&self) -> &'static str {
        "LambdaAction"
    }

    fn resource(&self) -> String {
        self.function_text.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let function = self
                .function
                .render(job.selected(), job.raw(), job.ctx())
                .map_err(|e| ActionError::permanent(e.to_string()))?;
            if let Some(forward) = &self.forward {
                let call = invoke_call(&function, "Event", job.payload.clone());
                return forward.call(call).await.map(drop);
            }
            let url = ferrite_auth::custom::function_url(&self.functions, &function).ok_or_else(
                || {
                    ActionError::permanent(format!(
                        "no endpoint is known for the Lambda function {function}: map its ARN or \
                         name to the URL of the HTTP endpoint that plays it in [aws.functions]"
                    ))
                },
            )?;
            let headers = [
                ("content-type", content_type(&job.payload)),
                ("x-amz-invocation-type", "Event"),
            ];
            http_post::post(&url, &headers, job.payload.clone(), TIMEOUT).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use serde_json::json;
    use tokio::sync::mpsc;

    use super::*;
    use crate::engine::actions::test_job::job;

    /// An endpoint that answers `status` to every POST and reports (path, headers, body).
    async fn endpoint(
        status: StatusCode,
    ) -> (String, mpsc::UnboundedReceiver<(Uri, HeaderMap, Bytes)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((uri, headers, body));
                (status, "{\"ignored\": true}")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, rx)
    }

    fn functions(entries: &[(&str, &str)]) -> Arc<BTreeMap<String, String>> {
        Arc::new(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn the_event_goes_to_the_mapped_endpoint_and_its_answer_is_ignored() {
        let (base, mut received) = endpoint(StatusCode::OK).await;
        let (sql, job) = job(
            "SELECT temp, topic(2) AS id FROM 'sensors/+/data'",
            "sensors/s1/data",
            br#"{"temp": 21}"#,
        );
        // By whole ARN, by function name (any qualifier), and by template.
        let arns = [
            "arn:aws:lambda:eu-west-1:123456789012:function:exact",
            "arn:aws:lambda:eu-west-1:123456789012:function:byname:live",
            "arn:aws:lambda:eu-west-1:123456789012:function:${topic(2)}",
        ];
        let table = functions(&[
            (arns[0], &format!("{base}/exact")),
            ("byname", &format!("{base}/byname")),
            ("s1", &format!("{base}/templated")),
        ]);
        for (arn, path) in arns.iter().zip(["/exact", "/byname", "/templated"]) {
            let action = Lambda::new(&json!({"functionArn": arn}), &sql, table.clone()).unwrap();
            assert_eq!(action.resource(), *arn);
            action.execute(&job).await.unwrap();
            let (uri, headers, body) = received.recv().await.unwrap();
            assert_eq!(uri.path(), path);
            assert_eq!(headers["x-amz-invocation-type"], "Event");
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap(),
                json!({"temp": 21, "id": "s1"})
            );
        }
    }

    #[tokio::test]
    async fn an_unmapped_function_names_the_missing_entry() {
        let (sql, job) = job("SELECT * FROM 'a'", "a", b"{}");
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:nowhere";
        let action = Lambda::new(&json!({"functionArn": arn}), &sql, functions(&[])).unwrap();
        let e = action.execute(&job).await.unwrap_err();
        assert!(!e.retry);
        assert!(e.message.contains(arn), "{}", e.message);
        assert!(e.message.contains("[aws.functions]"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_failing_endpoint_fails_the_action() {
        let (sql, job) = job("SELECT * FROM 'a'", "a", b"{}");
        let (down, _rx) = endpoint(StatusCode::SERVICE_UNAVAILABLE).await;
        let action = Lambda::new(
            &json!({"functionArn": format!("{down}/f")}),
            &sql,
            functions(&[]),
        )
        .unwrap();
        let e = action.execute(&job).await.unwrap_err();
        assert!(e.retry, "{}", e.message);
        assert!(e.message.contains("503"), "{}", e.message);
        let (refusing, _rx) = endpoint(StatusCode::BAD_REQUEST).await;
        let action = Lambda::new(
            &json!({"functionArn": format!("{refusing}/f")}),
            &sql,
            functions(&[]),
        )
        .unwrap();
        assert!(!action.execute(&job).await.unwrap_err().retry);
    }

    #[tokio::test]
    async fn forwarded_invocations_call_lambdas_invoke_api_signed() {
        use crate::engine::actions::test_endpoint::{endpoint, keys, next};

        let (url, mut rx, answer) = endpoint().await;
        *answer.lock() = (202, "application/json", String::new());
        let (sql, job) = job("SELECT temp FROM 'a'", "a", br#"{"temp": 3}"#);
        let arn = "arn:aws:lambda:eu-central-1:123456789012:function:ingest:live";
        let mut action = Lambda::new(&json!({"functionArn": arn}), &sql, functions(&[])).unwrap();
        action.forward = Forward::for_section(&url, &keys());
        action.execute(&job).await.unwrap();
        let hit = next(&mut rx).await;
        assert_eq!(hit.verified.unwrap().service, "lambda");
        assert_eq!(
            hit.uri.path(),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-central-1%3A123456789012%3A\
             function%3Aingest%3Alive/invocations"
        );
        assert_eq!(hit.headers["x-amz-invocation-type"], "Event");
        assert_eq!(
            serde_json::from_slice::<Value>(&hit.body).unwrap(),
            json!({"temp": 3})
        );
        // A function the endpoint does not have: permanent, with Lambda's error.
        *answer.lock() = (
            404,
            "application/json",
            r#"{"Type": "User", "message": "Function not found"}"#.into(),
        );
        let e = action.execute(&job).await.unwrap_err();
        assert!(!e.retry, "{}", e.message);
    }
}
