//! AWS-shaped errors: the one place where failures of every layer (SigV4, routing, model
//! validation, the registry) become an exception name, an HTTP status and a message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrite_api_model::{RouteError, Service, ValidationError};
use ferrite_auth::sigv4::SigV4Error;
use ferrite_registry::RegistryError;
use serde_json::{Map, Value, json};

/// An error as the client receives it.
#[derive(Debug)]
pub struct ApiError {
    /// The AWS exception name (`x-amzn-ErrorType`).
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// Extra body fields some exceptions carry (`resourceId`, `resourceArn`).
    pub fields: Map<String, Value>,
}

impl ApiError {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
            fields: Map::new(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidRequestException", StatusCode::BAD_REQUEST, message)
    }

    /// The status AWS's model gives this exception in `service`, or `fallback`.
    fn in_service(
        service: Service,
        code: &'static str,
        fallback: StatusCode,
        message: String,
    ) -> ApiError {
        let status = ferrite_api_model::error_status(service, code)
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(fallback);
        ApiError::new(code, status, message)
    }

    pub fn from_registry(service: Service, e: RegistryError) -> ApiError {
        match e {
            RegistryError::NotFound(m) => ApiError::in_service(
                service,
                "ResourceNotFoundException",
                StatusCode::NOT_FOUND,
                m,
            ),
            RegistryError::AlreadyExists {
                message,
                resource_id,
                resource_arn,
            } => {
                let mut err = ApiError::in_service(
                    service,
                    "ResourceAlreadyExistsException",
                    StatusCode::CONFLICT,
                    message,
                );
                err.fields.insert("resourceId".into(), json!(resource_id));
                err.fields.insert("resourceArn".into(), json!(resource_arn));
                err
            }
            RegistryError::VersionConflict(m) => {
                ApiError::in_service(service, "VersionConflictException", StatusCode::CONFLICT, m)
            }
            RegistryError::InvalidRequest(m) => ApiError::in_service(
                service,
                "InvalidRequestException",
                StatusCode::BAD_REQUEST,
                m,
            ),
            RegistryError::LimitExceeded(m) => {
                ApiError::in_service(service, "LimitExceededException", StatusCode::GONE, m)
            }
            RegistryError::CertificateState(m) => ApiError::in_service(
                service,
                "CertificateStateException",
                StatusCode::NOT_ACCEPTABLE,
                m,
            ),
            RegistryError::CertificateValidation(m) => ApiError::in_service(
                service,
                "CertificateValidationException",
                StatusCode::BAD_REQUEST,
                m,
            ),
            RegistryError::CertificateConflict(m) => ApiError::in_service(
                service,
                "CertificateConflictException",
                StatusCode::CONFLICT,
                m,
            ),
            RegistryError::RegistrationCodeValidation(m) => ApiError::in_service(
                service,
                "RegistrationCodeValidationException",
                StatusCode::BAD_REQUEST,
                m,
            ),
            RegistryError::DeleteConflict(m) => {
                ApiError::in_service(service, "DeleteConflictException", StatusCode::CONFLICT, m)
            }
            RegistryError::MalformedPolicy(m) => ApiError::in_service(
                service,
                "MalformedPolicyException",
                StatusCode::BAD_REQUEST,
                m,
            ),
            RegistryError::VersionsLimitExceeded(m) => ApiError::in_service(
                service,
                "VersionsLimitExceededException",
                StatusCode::CONFLICT,
                m,
            ),
            RegistryError::InvalidResponse(m) => ApiError::in_service(
                service,
                "InvalidResponseException",
                StatusCode::BAD_REQUEST,
                m,
            ),
            RegistryError::Unauthorized(m) => ApiError::in_service(
                service,
                "UnauthorizedException",
                StatusCode::UNAUTHORIZED,
                m,
            ),
            RegistryError::ServiceUnavailable(m) => ApiError::in_service(
                service,
                "ServiceUnavailableException",
                StatusCode::SERVICE_UNAVAILABLE,
                m,
            ),
            RegistryError::Busy => ApiError::in_service(
                service,
                "ThrottlingException",
                StatusCode::TOO_MANY_REQUESTS,
                "Rate exceeded".into(),
            ),
            RegistryError::Storage(e) => {
                tracing::error!(error = %e, "registry storage failed");
                ApiError::in_service(
                    service,
                    "InternalFailureException",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An internal error occurred.".into(),
                )
            }
        }
    }

    pub fn from_sigv4(e: &SigV4Error) -> ApiError {
        let aws = e.aws_error();
        ApiError::new(aws.code, aws.status, aws.message)
    }

    pub fn from_route(e: &RouteError) -> ApiError {
        match e {
            RouteError::MethodNotAllowed { method, path, .. } => ApiError::new(
                "MethodNotAllowedException",
                StatusCode::METHOD_NOT_ALLOWED,
                format!("The method {method} is not allowed on {path}."),
            ),
            RouteError::NotFound { method, path } => ApiError::new(
                "UnknownOperationException",
                StatusCode::NOT_FOUND,
                format!("No AWS IoT operation is served at {method} {path}."),
            ),
            RouteError::InvalidPercentEncoding => ApiError::invalid_request(e.to_string()),
        }
    }

    pub fn from_validation(service: Service, e: &ValidationError) -> ApiError {
        let message = match e {
            // The model's constraint messages are AWS's own wording already.
            ValidationError::Constraints(c) => c.to_string(),
            ValidationError::MalformedJson { .. } => {
                "The request body is not valid JSON.".to_owned()
            }
            other => other.to_string(),
        };
        ApiError::in_service(
            service,
            "InvalidRequestException",
            StatusCode::BAD_REQUEST,
            message,
        )
    }

    pub fn not_implemented(op: &str, service: Service) -> ApiError {
        ApiError::new(
            "NotImplementedException",
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "Ferrite does not implement the {} operation {op} yet.",
                service.signing_name()
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("message".into(), json!(self.message));
        let body = Value::Object(body).to_string();
        (
            self.status,
            [
                ("x-amzn-errortype", self.code),
                ("content-type", "application/json"),
            ],
            body,
        )
            .into_response()
    }
}
