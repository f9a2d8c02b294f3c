//! Shapes and members as the generated tables describe them.
//!
//! The constructors are `const fn` so the generated tables stay plain static data: no code runs
//! to build the model, and the compiler sees one large constant rather than one type per shape.

/// Index of a shape in its service's shape table (the table is sorted by shape name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShapeId(pub(crate) u16);

impl ShapeId {
    /// Position in [`Service::shapes`](crate::Service::shapes).
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Index of a regular expression in its service's pattern table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatternId(pub(crate) u16);

impl PatternId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Where a structure member travels in an HTTP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// A member of the JSON body (or the whole body when it is the payload member).
    Body,
    /// A `{label}` of the request URI.
    Uri,
    Querystring,
    Header,
    /// A map of all headers starting with the member's `location_name` prefix.
    Headers,
    /// The HTTP status code of a response.
    StatusCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampFormat {
    Iso8601,
    Rfc822,
    UnixTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    pub name: &'static str,
    pub target: ShapeId,
    pub location: Location,
    /// Wire name: the URI label, query key, header name or header prefix.
    pub location_name: Option<&'static str>,
    pub required: bool,
    /// The member is the structure's `payload`: it is the whole HTTP body.
    pub payload: bool,
    /// The `jsonvalue` trait: a header carrying base64-encoded JSON.
    pub json_value: bool,
    pub idempotency_token: bool,
    pub timestamp_format: Option<TimestampFormat>,
}

impl Member {
    pub(crate) const fn new(name: &'static str, target: ShapeId) -> Self {
        Member {
            name,
            target,
            location: Location::Body,
            location_name: None,
            required: false,
            payload: false,
            json_value: false,
            idempotency_token: false,
            timestamp_format: None,
        }
    }

    pub(crate) const fn bind(mut self, location: Location, name: Option<&'static str>) -> Self {
        self.location = location;
        self.location_name = name;
        self
    }

    pub(crate) const fn mark_required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) const fn mark_payload(mut self) -> Self {
        self.payload = true;
        self
    }

    pub(crate) const fn mark_json_value(mut self) -> Self {
        self.json_value = true;
        self
    }

    pub(crate) const fn mark_idempotency_token(mut self) -> Self {
        self.idempotency_token = true;
        self
    }

    #[allow(
        dead_code,
        reason = "the current models declare no member timestamp formats"
    )]
    pub(crate) const fn with_timestamp_format(mut self, format: TimestampFormat) -> Self {
        self.timestamp_format = Some(format);
        self
    }

    /// The name the member has on the wire: its `location_name`, or else its member name.
    pub fn wire_name(&self) -> &'static str {
        self.location_name.unwrap_or(self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Structure {
    pub members: &'static [Member],
    /// HTTP status of an error shape (`error.httpStatusCode`); `None` for other structures.
    pub error_status: Option<u16>,
}

impl Structure {
    pub fn member(&self, name: &str) -> Option<&'static Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn payload_member(&self) -> Option<&'static Member> {
        self.members.iter().find(|m| m.payload)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StringShape {
    /// Length bounds in characters.
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<PatternId>,
    /// Empty when the string is not an enum.
    pub enum_values: &'static [&'static str],
}

/// Bounds of an integer value, or of the element count of a list or map, or of a blob's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatBounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShapeKind {
    Structure(Structure),
    List {
        member: ShapeId,
        bounds: Bounds,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        bounds: Bounds,
    },
    String(StringShape),
    Integer(Bounds),
    Long(Bounds),
    Float(FloatBounds),
    Double(FloatBounds),
    Boolean,
    Blob(Bounds),
    Timestamp(Option<TimestampFormat>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub name: &'static str,
    pub kind: ShapeKind,
}

impl Shape {
    pub(crate) const fn structure(name: &'static str, members: &'static [Member]) -> Self {
        let kind = ShapeKind::Structure(Structure {
            members,
            error_status: None,
        });
        Shape { name, kind }
    }

    pub(crate) const fn error(name: &'static str, status: u16, members: &'static [Member]) -> Self {
        let kind = ShapeKind::Structure(Structure {
            members,
            error_status: Some(status),
        });
        Shape { name, kind }
    }

    pub(crate) const fn list(
        name: &'static str,
        member: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Self {
        let bounds = Bounds { min, max };
        Shape {
            name,
            kind: ShapeKind::List { member, bounds },
        }
    }

    pub(crate) const fn map(
        name: &'static str,
        key: ShapeId,
        value: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Self {
        let bounds = Bounds { min, max };
        Shape {
            name,
            kind: ShapeKind::Map { key, value, bounds },
        }
    }

    pub(crate) const fn string(
        name: &'static str,
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<PatternId>,
        enum_values: &'static [&'static str],
    ) -> Self {
        let kind = ShapeKind::String(StringShape {
            min,
            max,
            pattern,
            enum_values,
        });
        Shape { name, kind }
    }

    pub(crate) const fn integer(name: &'static str, min: Option<i64>, max: Option<i64>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Integer(Bounds { min, max }),
        }
    }

    pub(crate) const fn long(name: &'static str, min: Option<i64>, max: Option<i64>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Long(Bounds { min, max }),
        }
    }

    #[allow(dead_code, reason = "the current models have no float shapes")]
    pub(crate) const fn float(name: &'static str, min: Option<f64>, max: Option<f64>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Float(FloatBounds { min, max }),
        }
    }

    pub(crate) const fn double(name: &'static str, min: Option<f64>, max: Option<f64>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Double(FloatBounds { min, max }),
        }
    }

    pub(crate) const fn boolean(name: &'static str) -> Self {
        Shape {
            name,
            kind: ShapeKind::Boolean,
        }
    }

    pub(crate) const fn blob(name: &'static str, min: Option<i64>, max: Option<i64>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Blob(Bounds { min, max }),
        }
    }

    pub(crate) const fn timestamp(name: &'static str, format: Option<TimestampFormat>) -> Self {
        Shape {
            name,
            kind: ShapeKind::Timestamp(format),
        }
    }

    /// The botocore type name (`structure`, `string`, `long`, ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ShapeKind::Structure(_) => "structure",
            ShapeKind::List { .. } => "list",
            ShapeKind::Map { .. } => "map",
            ShapeKind::String(_) => "string",
            ShapeKind::Integer(_) => "integer",
            ShapeKind::Long(_) => "long",
            ShapeKind::Float(_) => "float",
            ShapeKind::Double(_) => "double",
            ShapeKind::Boolean => "boolean",
            ShapeKind::Blob(_) => "blob",
            ShapeKind::Timestamp(_) => "timestamp",
        }
    }

    pub fn as_structure(&self) -> Option<&Structure> {
        match &self.kind {
            ShapeKind::Structure(s) => Some(s),
            _ => None,
        }
    }
}
