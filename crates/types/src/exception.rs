//! The one seam between a crate's typed errors and what an AWS client sees. Every error that
//! can reach a client (registry, shadows, SigV4, the device authorizer, the API edge's own,
//! and the services to come) implements [`AwsException`]; the API edge turns any of them into
//! AWS's JSON error body in one place.
//!
//! The HTTP status is not the error's to choose: AWS's service model gives each exception a
//! status per service (`ThrottlingException` is 400 in `iot` but 429 in `iot-data`), so the
//! edge looks it up there. [`AwsException::undeclared_status`] is used only for exceptions the
//! model of the service does not declare: the front door's (SigV4, routing, body limit), which
//! answer before any service is known, and Ferrite's own (`NotImplementedException`).

use serde_json::{Map, Value};

pub trait AwsException: std::error::Error {
    /// The exception's shape name as AWS's model spells it, e.g. `ResourceNotFoundException`;
    /// sent as `x-amzn-ErrorType`.
    fn exception_name(&self) -> &'static str;

    /// The message a client sees (AWS's wording where it is known). `Display` stays the
    /// crate's own lowercase text for logs.
    fn exception_message(&self) -> String {
        self.to_string()
    }

    /// Members of the error body beyond `message`, e.g. `resourceId` and `resourceArn` of a
    /// ResourceAlreadyExistsException.
    fn exception_fields(&self) -> Map<String, Value> {
        Map::new()
    }

    /// The HTTP status when the service's model does not declare this exception (or no
    /// service is known yet).
    fn undeclared_status(&self) -> u16;
}
