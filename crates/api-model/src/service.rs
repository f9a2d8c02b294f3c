//! The three AWS services Ferrite's HTTP API speaks, and access to each one's model tables.

use std::fmt;

use crate::generated::{self, Operation, iot, iot_data, iot_jobs_data};
use crate::pattern::Pattern;
use crate::shape::{PatternId, Shape, ShapeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// The control plane, `iot`.
    Iot,
    /// The data plane, `iot-data`.
    IotData,
    /// The jobs data plane, `iot-jobs-data`.
    IotJobsData,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Iot, Service::IotData, Service::IotJobsData];

    /// The SigV4 signing name clients put in their credential scope.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Iot => "iot",
            Service::IotData => "iotdata",
            Service::IotJobsData => "iot-jobs-data",
        }
    }

    /// The service whose SigV4 signing name this is.
    pub fn from_signing_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.signing_name() == name)
    }

    /// botocore's name for the service (`iot`, `iot-data`, `iot-jobs-data`).
    pub fn model_name(self) -> &'static str {
        match self {
            Service::Iot => "iot",
            Service::IotData => "iot-data",
            Service::IotJobsData => "iot-jobs-data",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Service::Iot => iot::API_VERSION,
            Service::IotData => iot_data::API_VERSION,
            Service::IotJobsData => iot_jobs_data::API_VERSION,
        }
    }

    /// All shapes of the service, sorted by name; a [`ShapeId`] indexes this slice.
    pub fn shapes(self) -> &'static [Shape] {
        match self {
            Service::Iot => &iot::SHAPES,
            Service::IotData => &iot_data::SHAPES,
            Service::IotJobsData => &iot_jobs_data::SHAPES,
        }
    }

    pub fn shape(self, id: ShapeId) -> &'static Shape {
        &self.shapes()[id.index()]
    }

    pub fn shape_by_name(self, name: &str) -> Option<(ShapeId, &'static Shape)> {
        let shapes = self.shapes();
        let index = shapes.binary_search_by(|s| s.name.cmp(name)).ok()?;
        let id = u16::try_from(index).ok()?;
        Some((ShapeId(id), &shapes[index]))
    }

    /// The service's operations, sorted by name.
    pub fn operations(self) -> &'static [Operation] {
        let (table, offset) = generated::operation_table(self);
        &Operation::ALL[offset..offset + table.len()]
    }

    /// The distinct regular expressions of the service's string shapes.
    pub fn patterns(self) -> &'static [Pattern] {
        match self {
            Service::Iot => &iot::PATTERNS,
            Service::IotData => &iot_data::PATTERNS,
            Service::IotJobsData => &iot_jobs_data::PATTERNS,
        }
    }

    pub fn pattern(self, id: PatternId) -> &'static Pattern {
        &self.patterns()[id.index()]
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.model_name())
    }
}

/// HTTP status of an error shape of the service (e.g. `ThrottlingException` is 400 in `iot` but
/// 429 in `iot-data`); `None` when the service has no such error shape.
pub fn error_status(service: Service, error_shape_name: &str) -> Option<u16> {
    let (_, shape) = service.shape_by_name(error_shape_name)?;
    shape.as_structure()?.error_status
}
