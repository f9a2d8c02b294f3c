//! What a device calling the data plane over HTTPS with a refused client certificate reads:
//! [`HttpAuthError`] as an AWS exception.

use std::fmt;

use ferrite_types::AwsException;

use crate::HttpAuthError;

impl fmt::Display for HttpAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuthError::Denied(why) => write!(f, "client certificate refused: {why}"),
            HttpAuthError::Unavailable => f.write_str("the registry could not be read"),
        }
    }
}

impl std::error::Error for HttpAuthError {}

impl AwsException for HttpAuthError {
    fn exception_name(&self) -> &'static str {
        match self {
            HttpAuthError::Denied(_) => "UnauthorizedException",
            HttpAuthError::Unavailable => "ServiceUnavailableException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            // Why exactly is the server's to log, not the caller's to learn.
            HttpAuthError::Denied(_) => "The client certificate is not registered and active.",
            HttpAuthError::Unavailable => "The service is temporarily unavailable.",
        }
        .to_owned()
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            HttpAuthError::Denied(_) => 401,
            HttpAuthError::Unavailable => 503,
        }
    }
}
