//! AWS-shaped errors. Whatever fails — SigV4, routing, model validation, the registry, the
//! shadow service, the device authorizer, a publish, or this crate's own checks
//! ([`RequestError`]) — is an [`AwsException`], and [`error_response`] is the one place any
//! of them becomes AWS's error: `x-amzn-ErrorType`, the status the service's model gives that
//! exception, and a JSON body with `message` and the exception's extra members.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_api_model::{EncodeError, Operation, RouteError, Service, ValidationError};
use ferrite_types::AwsException;
use serde_json::{Value, json};

/// Any failure on its way to the client. Handlers use `?` on any [`AwsException`]; the
/// request path knows the service, which decides the status, and answers with
/// [`ApiError::response`].
pub struct ApiError(Box<dyn AwsException + Send + Sync>);

impl<E: AwsException + Send + Sync + 'static> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(Box::new(e))
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.exception_name(), self.0)
    }
}

impl ApiError {
    pub fn exception(&self) -> &(dyn AwsException + Send + Sync) {
        &*self.0
    }

    /// The response for a call to `service`; `None` before the service is known.
    pub fn response(&self, service: Option<Service>) -> Response {
        error_response(service, self.exception())
    }
}

/// The one mapping from an exception to AWS's error response.
pub fn error_response(service: Option<Service>, e: &dyn AwsException) -> Response {
    let name = e.exception_name();
    let status = service
        .and_then(|s| ferrite_api_model::error_status(s, name))
        .unwrap_or_else(|| e.undeclared_status());
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(exception = name, error = %e, "internal failure");
    }
    let mut body = e.exception_fields();
    body.insert("message".into(), json!(e.exception_message()));
    (
        status,
        [
            ("x-amzn-errortype", name),
            ("content-type", "application/json"),
        ],
        Value::Object(body).to_string(),
    )
        .into_response()
}

/// Failures of the request itself, found by this crate.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The input does not fit what the handler reads, or a member's content (base64, a page
    /// token) is invalid; the text is the client's message.
    #[error("{0}")]
    Invalid(String),
    #[error("{operation} is not implemented")]
    NotImplemented {
        operation: &'static str,
        service: Service,
    },
    /// A device's policies refuse the call; the text is the client's message.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The text is the client's message.
    #[error("{0}")]
    Unauthorized(String),
    #[error("no retained message on {topic}")]
    NoRetainedMessage { topic: String },
    #[error("cannot encode the output: {0}")]
    Encode(#[from] EncodeError),
}

impl RequestError {
    pub fn not_implemented(op: Operation) -> RequestError {
        RequestError::NotImplemented {
            operation: op.name(),
            service: op.service(),
        }
    }
}

impl AwsException for RequestError {
    fn exception_name(&self) -> &'static str {
        match self {
            RequestError::BodyTooLarge { .. } => "RequestEntityTooLargeException",
            RequestError::Route(RouteError::MethodNotAllowed { .. }) => "MethodNotAllowedException",
            RequestError::Route(RouteError::NotFound { .. }) => "UnknownOperationException",
            RequestError::Route(RouteError::InvalidPercentEncoding)
            | RequestError::Validation(_)
            | RequestError::Invalid(_) => "InvalidRequestException",
            RequestError::NotImplemented { .. } => "NotImplementedException",
            RequestError::Forbidden(_) => "ForbiddenException",
            RequestError::Unauthorized(_) => "UnauthorizedException",
            RequestError::NoRetainedMessage { .. } => "ResourceNotFoundException",
            RequestError::Encode(_) => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            RequestError::BodyTooLarge { limit } => {
                format!("The request body exceeds {limit} bytes.")
            }
            RequestError::Route(RouteError::MethodNotAllowed { method, path, .. }) => {
                format!("The method {method} is not allowed on {path}.")
            }
            RequestError::Route(RouteError::NotFound { method, path }) => {
                format!("No AWS IoT operation is served at {method} {path}.")
            }
            // The model's constraint messages are AWS's own wording already.
            RequestError::Validation(ValidationError::MalformedJson { .. }) => {
                "The request body is not valid JSON.".to_owned()
            }
            RequestError::NotImplemented { operation, service } => format!(
                "Ferrite does not implement the {} operation {operation} yet.",
                service.signing_name()
            ),
            RequestError::NoRetainedMessage { topic } => {
                format!("No retained message exists for topic {topic}.")
            }
            RequestError::Encode(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            RequestError::BodyTooLarge { .. } => 413,
            RequestError::Route(RouteError::MethodNotAllowed { .. }) => 405,
            RequestError::Route(RouteError::NotFound { .. }) => 404,
            RequestError::Route(RouteError::InvalidPercentEncoding)
            | RequestError::Validation(_)
            | RequestError::Invalid(_) => 400,
            RequestError::NotImplemented { .. } => 501,
            RequestError::Forbidden(_) => 403,
            RequestError::Unauthorized(_) => 401,
            RequestError::NoRetainedMessage { .. } => 404,
            RequestError::Encode(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrite_auth::sigv4::SigV4Error;
    use ferrite_registry::RegistryError;
    use ferrite_shadow::ShadowError;
    use ferrite_shadow_service::RestError;

    use super::*;

    async fn parts(response: Response) -> (u16, String, Value) {
        let status = response.status().as_u16();
        let name = response.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, name, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn the_status_is_the_models_for_the_exception_in_that_service() {
        // The same exception name has different statuses in different services.
        let (status, name, body) =
            parts(error_response(Some(Service::Iot), &RegistryError::Busy)).await;
        assert_eq!((status, name.as_str()), (400, "ThrottlingException"));
        assert_eq!(body, json!({"message": "Rate exceeded"}));
        let throttled = RestError::from(ShadowError::Throttled);
        let (status, name, _) = parts(error_response(Some(Service::IotData), &throttled)).await;
        assert_eq!((status, name.as_str()), (429, "ThrottlingException"));
        // Before any service is known, and for exceptions no model declares, the error's own.
        let (status, name, body) =
            parts(error_response(None, &SigV4Error::MissingAuthentication)).await;
        assert_eq!(
            (status, name.as_str()),
            (403, "MissingAuthenticationTokenException")
        );
        assert_eq!(body, json!({"message": "Missing Authentication Token"}));
        let not_implemented = RequestError::not_implemented(Operation::GetPendingJobExecutions);
        let (status, name, body) =
            parts(error_response(Some(Service::IotJobsData), &not_implemented)).await;
        assert_eq!((status, name.as_str()), (501, "NotImplementedException"));
        assert_eq!(
            body["message"],
            "Ferrite does not implement the iot-jobs-data operation GetPendingJobExecutions yet."
        );
    }

    #[tokio::test]
    async fn extra_members_join_the_message_and_internal_details_stay_inside() {
        let exists = RegistryError::AlreadyExists {
            message: "Thing lamp already exists".into(),
            resource_id: "id-1".into(),
            resource_arn: "arn:aws:iot:eu-west-1:123456789012:thing/lamp".into(),
        };
        let (status, _, body) = parts(error_response(Some(Service::Iot), &exists)).await;
        assert_eq!(status, 409);
        assert_eq!(
            body,
            json!({
                "message": "Thing lamp already exists",
                "resourceId": "id-1",
                "resourceArn": "arn:aws:iot:eu-west-1:123456789012:thing/lamp",
            })
        );
        let storage = RegistryError::Storage(ferrite_storage::StorageError::Backend(
            "disk on fire".into(),
        ));
        let (status, name, body) = parts(error_response(Some(Service::Iot), &storage)).await;
        assert_eq!((status, name.as_str()), (500, "InternalFailureException"));
        assert_eq!(body, json!({"message": "An internal error occurred."}));
    }

    /// The shadow service answers REST with the codes it publishes on `/rejected`; looking
    /// the status up in the iot-data model must not change any of them.
    #[test]
    fn shadow_codes_agree_with_the_iot_data_model() {
        let errors = [
            ShadowError::InvalidJson,
            ShadowError::MissingState,
            ShadowError::InvalidVersion,
            ShadowError::Unauthorized,
            ShadowError::Forbidden,
            ShadowError::NotFound("x".into()),
            ShadowError::VersionConflict,
            ShadowError::PayloadTooLarge,
            ShadowError::UnsupportedEncoding,
            ShadowError::Throttled,
            ShadowError::Internal,
        ];
        for e in errors {
            let rest = RestError::from(e.clone());
            assert_eq!(
                ferrite_api_model::error_status(Service::IotData, rest.exception_name()),
                Some(e.code()),
                "{e:?}"
            );
        }
    }
}
