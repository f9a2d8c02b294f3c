//! Per-operation metadata: HTTP binding, shapes, errors and pagination.

use std::fmt;

use crate::generated::{self, Operation};
use crate::service::Service;
use crate::shape::{Shape, ShapeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 6] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Patch,
        HttpMethod::Head,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Head => "HEAD",
        }
    }

    /// Parses an HTTP method token; methods are case-sensitive (RFC 9110).
    pub fn parse(method: &str) -> Option<HttpMethod> {
        HttpMethod::ALL.into_iter().find(|m| m.as_str() == method)
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// botocore's `paginators-1.json` entry for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paginator {
    pub input_token: &'static [&'static str],
    pub output_token: &'static [&'static str],
    pub limit_key: Option<&'static str>,
    pub result_keys: &'static [&'static str],
    pub non_aggregate_keys: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationDef {
    /// The AWS operation name, e.g. `CreateThing`.
    pub name: &'static str,
    pub service: Service,
    pub method: HttpMethod,
    /// The `requestUri` template: path with `{label}`/`{label+}` and any fixed query part.
    pub request_uri: &'static str,
    pub success_code: u16,
    pub input: Option<ShapeId>,
    pub output: Option<ShapeId>,
    /// Names of the error shapes the operation declares.
    pub errors: &'static [&'static str],
    pub paginator: Option<Paginator>,
}

impl Operation {
    pub fn def(self) -> &'static OperationDef {
        generated::operation_def(self)
    }

    /// The AWS operation name (without any disambiguating prefix of the variant).
    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn service(self) -> Service {
        self.def().service
    }

    pub fn method(self) -> HttpMethod {
        self.def().method
    }

    pub fn request_uri(self) -> &'static str {
        self.def().request_uri
    }

    pub fn success_code(self) -> u16 {
        self.def().success_code
    }

    pub fn input_shape(self) -> Option<&'static Shape> {
        let def = self.def();
        def.input.map(|id| def.service.shape(id))
    }

    pub fn output_shape(self) -> Option<&'static Shape> {
        let def = self.def();
        def.output.map(|id| def.service.shape(id))
    }

    pub fn errors(self) -> &'static [&'static str] {
        self.def().errors
    }

    pub fn paginator(self) -> Option<&'static Paginator> {
        self.def().paginator.as_ref()
    }

    /// Looks an operation up by its AWS name within a service.
    pub fn from_name(service: Service, name: &str) -> Option<Operation> {
        let (table, offset) = generated::operation_table(service);
        let index = table.binary_search_by(|d| d.name.cmp(name)).ok()?;
        Some(Operation::ALL[offset + index])
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
