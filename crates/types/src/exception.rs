//! The one seam between a crate's typed errors and what an AWS client sees. Every error that
//! can reach a client (registry, shadows, SigV4, and the services to come) implements
//! [`AwsException`]; the API edge turns it into AWS's JSON error body, taking the HTTP status
//! from the service model for that exception.

use serde_json::{Map, Value};

pub trait AwsException: std::error::Error {
    /// The exception's shape name as AWS's model spells it, e.g. `ResourceNotFoundException`.
    fn exception_name(&self) -> &'static str;

    /// The message a client sees (AWS's wording where it is known).
    fn exception_message(&self) -> String {
        self.to_string()
    }

    /// Members of the error body beyond `message`, e.g. `resourceId` and `resourceArn` of a
    /// ResourceAlreadyExistsException.
    fn exception_fields(&self) -> Map<String, Value> {
        Map::new()
    }
}
