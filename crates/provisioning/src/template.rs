//! A parsed template: its sections read into typed declarations, and the checks that need no
//! parameter values (references, cycles, resource counts, the certificate form per kind).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::builtins::{NO_VALUE, is_builtin};
use crate::expr::{Cond, Expr, Place, Reference, child, parse_cond, parse_expr};
use crate::plan::{Override, ThingOverrides};
use crate::{MAX_NESTING, MAX_TEMPLATE_BODY_CHARS, TemplateError};

/// At most this many policies per template: AWS attaches at most 10 policies to a certificate.
pub(crate) const MAX_POLICIES: usize = 10;

/// The two kinds of provisioning template AWS has (`templateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// `FLEET_PROVISIONING`: run for RegisterThing over MQTT, with a claim-created certificate.
    FleetProvisioning,
    /// `JITP`: run when a device certificate signed by a registered CA first connects.
    Jitp,
}

impl TemplateKind {
    /// Parses AWS's spelling (`FLEET_PROVISIONING`, `JITP`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FLEET_PROVISIONING" => Some(Self::FleetProvisioning),
            "JITP" => Some(Self::Jitp),
            _ => None,
        }
    }

    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FleetProvisioning => "FLEET_PROVISIONING",
            Self::Jitp => "JITP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    String,
    Number,
    CommaDelimitedList,
}

impl ParamKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Number => "Number",
            Self::CommaDelimitedList => "CommaDelimitedList",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParameterDecl {
    pub(crate) name: String,
    pub(crate) kind: ParamKind,
    pub(crate) default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CertificateSourceExpr {
    Id(Expr),
    SigningRequest(Expr),
    Pem(Expr, Option<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResourceBody {
    Thing {
        thing_name: Expr,
        attribute_payload: Option<Expr>,
        thing_type_name: Option<Expr>,
        thing_groups: Option<Expr>,
        billing_group: Option<Expr>,
        overrides: ThingOverrides,
    },
    Certificate {
        source: CertificateSourceExpr,
        status: Option<Expr>,
        status_override: Override,
    },
    Policy {
        name: Option<Expr>,
        document: Option<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resource {
    pub(crate) logical_name: String,
    pub(crate) condition: Option<String>,
    pub(crate) body: ResourceBody,
}

impl Resource {
    /// The attributes `Fn::GetAtt` may read; `Ref` reads the first.
    pub(crate) fn attributes(&self) -> &'static [&'static str] {
        match self.body {
            ResourceBody::Thing { .. } => &["ThingName"],
            ResourceBody::Certificate { .. } => &["CertificateId"],
            ResourceBody::Policy { .. } => &["PolicyName"],
        }
    }
}

/// A provisioning template, parsed and checked; evaluate it with [`Template::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub(crate) parameters: Vec<ParameterDecl>,
    pub(crate) mappings: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>,
    pub(crate) conditions: BTreeMap<String, Cond>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) device_configuration: Vec<(String, Expr)>,
}

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Version",
    "Description",
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "DeviceConfiguration",
];

fn object<'a>(
    value: &'a Value,
    at: &str,
    what: &str,
) -> Result<&'a Map<String, Value>, TemplateError> {
    value
        .as_object()
        .ok_or_else(|| TemplateError::invalid(at, format!("{what} must be an object")))
}

fn json_depth(value: &Value) -> usize {
    // Iterative, so the check itself cannot overflow the stack on hostile input.
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

impl Template {
    /// Parses and checks a template body.
    ///
    /// # Errors
    /// [`TemplateError`] with the first problem found.
    pub fn parse(body: &str) -> Result<Template, TemplateError> {
        let chars = body.chars().count();
        if chars > MAX_TEMPLATE_BODY_CHARS {
            return Err(TemplateError::BodyTooLong {
                chars,
                limit: MAX_TEMPLATE_BODY_CHARS,
            });
        }
        let value: Value =
            serde_json::from_str(body).map_err(|e| TemplateError::NotJson(e.to_string()))?;
        if json_depth(&value) > MAX_NESTING {
            return Err(TemplateError::TooDeep {
                at: "template".to_owned(),
                limit: MAX_NESTING,
            });
        }
        let Value::Object(root) = &value else {
            return Err(TemplateError::NotJson(
                "the body is not an object".to_owned(),
            ));
        };
        if let Some(key) = root.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(TemplateError::invalid(
                key,
                format!("unknown template section {key}"),
            ));
        }
        let template = Template {
            parameters: match root.get("Parameters") {
                Some(v) => parse_parameters(v)?,
                None => Vec::new(),
            },
            mappings: match root.get("Mappings") {
                Some(v) => parse_mappings(v)?,
                None => BTreeMap::new(),
            },
            conditions: match root.get("Conditions") {
                Some(v) => object(v, "Conditions", "Conditions")?
                    .iter()
                    .map(|(name, c)| {
                        Ok((name.clone(), parse_cond(c, &child("Conditions", name), 1)?))
                    })
                    .collect::<Result<_, TemplateError>>()?,
                None => BTreeMap::new(),
            },
            resources: match root.get("Resources") {
                Some(v) => parse_resources(v)?,
                None => Vec::new(),
            },
            device_configuration: match root.get("DeviceConfiguration") {
                Some(v) => object(v, "DeviceConfiguration", "DeviceConfiguration")?
                    .iter()
                    .map(|(k, v)| {
                        let at = child("DeviceConfiguration", k);
                        Ok((k.clone(), parse_expr(v, Place::Body, &at, 2)?))
                    })
                    .collect::<Result<_, TemplateError>>()?,
                None => Vec::new(),
            },
        };
        template.check_references()?;
        template.check_condition_cycles()?;
        template.check_resource_cycles()?;
        Ok(template)
    }

    /// Checks what a template of `kind` must satisfy beyond the language: fleet provisioning
    /// and JITP templates name the certificate by `CertificateId` (the certificate exists
    /// already: claim-created, or presented by the device).
    ///
    /// # Errors
    /// [`TemplateError::Invalid`].
    pub fn check_kind(&self, kind: TemplateKind) -> Result<(), TemplateError> {
        for resource in &self.resources {
            if let ResourceBody::Certificate { source, .. } = &resource.body
                && !matches!(source, CertificateSourceExpr::Id(_))
            {
                return Err(TemplateError::invalid(
                    &format!("Resources.{}.Properties", resource.logical_name),
                    format!(
                        "a {} template must name its certificate with CertificateId",
                        kind.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The declared parameter names, in template order.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.parameters.iter().map(|p| p.name.as_str())
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<&ParameterDecl> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub(crate) fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_name == name)
    }

    fn check_reference(
        &self,
        at: &str,
        reference: Reference<'_>,
        in_condition: bool,
    ) -> Result<(), TemplateError> {
        match reference {
            Reference::Name(name) => {
                let known = name == NO_VALUE
                    || self.parameter(name).is_some()
                    || is_builtin(name)
                    || (!in_condition && self.resource(name).is_some());
                if !known {
                    let expected = if in_condition {
                        "conditions may refer only to parameters and built-in parameters"
                    } else {
                        "not a declared parameter, a built-in parameter or a resource"
                    };
                    return Err(TemplateError::invalid(
                        at,
                        format!("unresolved reference {name}: {expected}"),
                    ));
                }
            }
            Reference::Attribute(resource, attribute) => {
                let Some(r) = self.resource(resource).filter(|_| !in_condition) else {
                    return Err(TemplateError::invalid(
                        at,
                        format!(
                            "unresolved reference {resource}.{attribute}: {resource} is not a resource"
                        ),
                    ));
                };
                if !r.attributes().contains(&attribute) {
                    return Err(TemplateError::invalid(
                        at,
                        format!(
                            "resource {resource} has no attribute {attribute} (supported: {})",
                            r.attributes().join(", ")
                        ),
                    ));
                }
            }
            Reference::Condition(name) => {
                if !self.conditions.contains_key(name) {
                    return Err(TemplateError::invalid(
                        at,
                        format!("unknown condition {name}"),
                    ));
                }
            }
            Reference::Mapping(name) => {
                if !self.mappings.contains_key(name) {
                    return Err(TemplateError::invalid(
                        at,
                        format!("unknown mapping {name}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_references(&self) -> Result<(), TemplateError> {
        let mut first: Result<(), TemplateError> = Ok(());
        for (name, cond) in &self.conditions {
            let at = child("Conditions", name);
            cond.references(&mut |r| {
                if first.is_ok() {
                    first = self.check_reference(&at, r, true);
                }
            });
        }
        first.clone()?;
        for resource in &self.resources {
            let at = child("Resources", &resource.logical_name);
            if let Some(condition) = &resource.condition {
                self.check_reference(&at, Reference::Condition(condition), false)?;
            }
            for expr in resource.exprs() {
                expr.references(&mut |r| {
                    if first.is_ok() {
                        first = self.check_reference(&at, r, false);
                    }
                });
            }
            first.clone()?;
        }
        for (key, expr) in &self.device_configuration {
            let at = child("DeviceConfiguration", key);
            expr.references(&mut |r| {
                if first.is_ok() {
                    first = self.check_reference(&at, r, false);
                }
            });
        }
        first
    }

    fn check_condition_cycles(&self) -> Result<(), TemplateError> {
        let graph: BTreeMap<&str, Vec<&str>> = self
            .conditions
            .iter()
            .map(|(name, cond)| {
                let mut edges = Vec::new();
                cond.references(&mut |r| {
                    if let Reference::Condition(c) = r {
                        edges.push(c.to_owned());
                    }
                });
                // Borrowed from the template, which outlives the graph.
                let edges: Vec<&str> = edges
                    .iter()
                    .filter_map(|c| self.conditions.get_key_value(c).map(|(k, _)| k.as_str()))
                    .collect();
                (name.as_str(), edges)
            })
            .collect();
        find_cycle(&graph).map_or(Ok(()), |name| {
            Err(TemplateError::invalid(
                &child("Conditions", name),
                format!("condition {name} refers to itself through its references"),
            ))
        })
    }

    fn check_resource_cycles(&self) -> Result<(), TemplateError> {
        let graph: BTreeMap<&str, Vec<&str>> = self
            .resources
            .iter()
            .map(|resource| {
                let mut edges = Vec::new();
                for expr in resource.exprs() {
                    expr.references(&mut |r| match r {
                        Reference::Name(n) | Reference::Attribute(n, _) => edges.push(n.to_owned()),
                        _ => {}
                    });
                }
                let edges = edges
                    .iter()
                    .filter_map(|n| self.resource(n).map(|r| r.logical_name.as_str()))
                    .collect();
                (resource.logical_name.as_str(), edges)
            })
            .collect();
        find_cycle(&graph).map_or(Ok(()), |name| {
            Err(TemplateError::invalid(
                &child("Resources", name),
                format!("resource {name} refers to itself through its references"),
            ))
        })
    }
}

/// A node on a cycle, if the graph has one (iterative DFS with colours).
fn find_cycle<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<&'a str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&str, Colour> = BTreeMap::new();
    for &start in graph.keys() {
        if colour.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        colour.insert(start, Colour::Grey);
        while let Some((node, next)) = stack.pop() {
            let edges = graph.get(node).map_or(&[][..], Vec::as_slice);
            if let Some(&target) = edges.get(next) {
                stack.push((node, next + 1));
                match colour.get(target) {
                    Some(Colour::Grey) => return Some(target),
                    Some(Colour::Black) => {}
                    None => {
                        colour.insert(target, Colour::Grey);
                        stack.push((target, 0));
                    }
                }
            } else {
                colour.insert(node, Colour::Black);
            }
        }
    }
    None
}

impl Resource {
    pub(crate) fn exprs(&self) -> Vec<&Expr> {
        match &self.body {
            ResourceBody::Thing {
                thing_name,
                attribute_payload,
                thing_type_name,
                thing_groups,
                billing_group,
                ..
            } => std::iter::once(thing_name)
                .chain(attribute_payload)
                .chain(thing_type_name)
                .chain(thing_groups)
                .chain(billing_group)
                .collect(),
            ResourceBody::Certificate { source, status, .. } => {
                let mut all = match source {
                    CertificateSourceExpr::Id(e) | CertificateSourceExpr::SigningRequest(e) => {
                        vec![e]
                    }
                    CertificateSourceExpr::Pem(e, ca) => std::iter::once(e).chain(ca).collect(),
                };
                all.extend(status);
                all
            }
            ResourceBody::Policy { name, document } => name.iter().chain(document).collect(),
        }
    }
}

fn parse_parameters(value: &Value) -> Result<Vec<ParameterDecl>, TemplateError> {
    let mut parameters = Vec::new();
    for (name, decl) in object(value, "Parameters", "Parameters")? {
        let at = child("Parameters", name);
        if name.is_empty() {
            return Err(TemplateError::invalid(
                &at,
                "a parameter name must not be empty",
            ));
        }
        let decl = object(decl, &at, "a parameter declaration")?;
        if let Some(key) = decl
            .keys()
            .find(|k| !["Type", "Default", "Description"].contains(&k.as_str()))
        {
            return Err(TemplateError::invalid(
                &at,
                format!("unsupported parameter property {key}"),
            ));
        }
        let kind = match decl.get("Type").and_then(Value::as_str) {
            Some("String") => ParamKind::String,
            Some("Number") => ParamKind::Number,
            Some("CommaDelimitedList") => ParamKind::CommaDelimitedList,
            Some(other) => {
                return Err(TemplateError::invalid(
                    &at,
                    format!(
                        "unsupported parameter type {other} (String, Number or CommaDelimitedList)"
                    ),
                ));
            }
            None => {
                return Err(TemplateError::invalid(
                    &at,
                    "a parameter must declare its Type as a string",
                ));
            }
        };
        let default = match decl.get("Default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if kind == ParamKind::Number => Some(n.to_string()),
            Some(_) => {
                return Err(TemplateError::invalid(
                    &at,
                    "a parameter's Default must be a string",
                ));
            }
        };
        if let Some(default) = &default
            && kind == ParamKind::Number
            && !is_number(default)
        {
            return Err(TemplateError::invalid(
                &at,
                format!("the Default of Number parameter {name} is not a number"),
            ));
        }
        parameters.push(ParameterDecl {
            name: name.clone(),
            kind,
            default,
        });
    }
    Ok(parameters)
}

pub(crate) fn is_number(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.parse::<f64>().is_ok_and(f64::is_finite)
}

#[allow(clippy::type_complexity)]
fn parse_mappings(
    value: &Value,
) -> Result<BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>, TemplateError> {
    let mut mappings = BTreeMap::new();
    for (map_name, map) in object(value, "Mappings", "Mappings")? {
        let at = child("Mappings", map_name);
        let mut tops = BTreeMap::new();
        for (top, seconds) in object(map, &at, "a mapping")? {
            let at = child(&at, top);
            let mut entries = BTreeMap::new();
            for (second, v) in object(seconds, &at, "a mapping's top-level key")? {
                let at = child(&at, second);
                let ok = match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
                    Value::Array(items) => items.iter().all(Value::is_string),
                    _ => false,
                };
                if !ok {
                    return Err(TemplateError::invalid(
                        &at,
                        "a mapping value must be a string or a list of strings (intrinsic functions are not allowed in Mappings)",
                    ));
                }
                entries.insert(second.clone(), v.clone());
            }
            tops.insert(top.clone(), entries);
        }
        mappings.insert(map_name.clone(), tops);
    }
    Ok(mappings)
}

fn parse_resources(value: &Value) -> Result<Vec<Resource>, TemplateError> {
    let mut resources = Vec::new();
    let (mut things, mut certificates, mut policies) = (0, 0, 0);
    for (name, resource) in object(value, "Resources", "Resources")? {
        let at = child("Resources", name);
        let resource = object(resource, &at, "a resource")?;
        if let Some(key) = resource.keys().find(|k| {
            !["Type", "Properties", "OverrideSettings", "Condition"].contains(&k.as_str())
        }) {
            return Err(TemplateError::invalid(
                &at,
                format!("unsupported resource key {key}"),
            ));
        }
        let empty = Map::new();
        let properties = match resource.get("Properties") {
            Some(p) => object(p, &child(&at, "Properties"), "Properties")?,
            None => &empty,
        };
        let overrides = match resource.get("OverrideSettings") {
            Some(o) => object(o, &child(&at, "OverrideSettings"), "OverrideSettings")?,
            None => &empty,
        };
        let condition = match resource.get("Condition") {
            None => None,
            Some(Value::String(c)) => Some(c.clone()),
            Some(_) => {
                return Err(TemplateError::invalid(
                    &at,
                    "a resource's Condition must be a condition name",
                ));
            }
        };
        let body = match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::IoT::Thing") => {
                things += 1;
                parse_thing(properties, overrides, &at)?
            }
            Some("AWS::IoT::Certificate") => {
                certificates += 1;
                parse_certificate(properties, overrides, &at)?
            }
            Some("AWS::IoT::Policy") => {
                policies += 1;
                parse_policy(properties, overrides, &at)?
            }
            Some(other) => {
                return Err(TemplateError::invalid(
                    &at,
                    format!(
                        "unsupported resource type {other} (AWS::IoT::Thing, AWS::IoT::Certificate or AWS::IoT::Policy)"
                    ),
                ));
            }
            None => return Err(TemplateError::invalid(&at, "a resource must have a Type")),
        };
        if things > 1 || certificates > 1 {
            return Err(TemplateError::invalid(
                &at,
                "a template may declare at most one AWS::IoT::Thing and one AWS::IoT::Certificate",
            ));
        }
        if policies > MAX_POLICIES {
            return Err(TemplateError::invalid(
                &at,
                format!("a template may declare at most {MAX_POLICIES} AWS::IoT::Policy resources"),
            ));
        }
        resources.push(Resource {
            logical_name: name.clone(),
            condition,
            body,
        });
    }
    Ok(resources)
}

fn properties_of(
    properties: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
) -> Result<BTreeMap<String, Expr>, TemplateError> {
    let at = child(at, "Properties");
    let mut out = BTreeMap::new();
    for (key, value) in properties {
        if !allowed.contains(&key.as_str()) {
            return Err(TemplateError::invalid(
                &at,
                format!(
                    "unsupported property {key} (supported: {})",
                    allowed.join(", ")
                ),
            ));
        }
        out.insert(
            key.clone(),
            parse_expr(value, Place::Body, &child(&at, key), 4)?,
        );
    }
    Ok(out)
}

fn parse_override(value: &Value, at: &str, merge_allowed: bool) -> Result<Override, TemplateError> {
    match value.as_str() {
        Some("DO_NOTHING") => Ok(Override::DoNothing),
        Some("REPLACE") => Ok(Override::Replace),
        Some("FAIL") => Ok(Override::Fail),
        Some("MERGE") if merge_allowed => Ok(Override::Merge),
        Some("MERGE") => Err(TemplateError::invalid(
            at,
            "MERGE is only allowed for AttributePayload and ThingGroups",
        )),
        _ => Err(TemplateError::invalid(
            at,
            "an override setting must be DO_NOTHING, REPLACE, FAIL or MERGE",
        )),
    }
}

fn parse_thing(
    properties: &Map<String, Value>,
    overrides: &Map<String, Value>,
    at: &str,
) -> Result<ResourceBody, TemplateError> {
    let mut props = properties_of(
        properties,
        &[
            "ThingName",
            "AttributePayload",
            "ThingTypeName",
            "ThingGroups",
            "BillingGroup",
        ],
        at,
    )?;
    let thing_name = props.remove("ThingName").ok_or_else(|| {
        TemplateError::invalid(
            &child(at, "Properties"),
            "AWS::IoT::Thing requires ThingName",
        )
    })?;
    let mut settings = ThingOverrides::default();
    let oat = child(at, "OverrideSettings");
    for (key, value) in overrides {
        let at = child(&oat, key);
        match key.as_str() {
            "AttributePayload" | "ATTRIBUTE_PAYLOAD" => {
                settings.attribute_payload = parse_override(value, &at, true)?;
            }
            "ThingGroups" | "THING_GROUPS" => {
                settings.thing_groups = parse_override(value, &at, true)?
            }
            "ThingTypeName" | "THING_TYPE_NAME" => {
                settings.thing_type_name = parse_override(value, &at, false)?;
            }
            "BillingGroup" | "BILLING_GROUP" => {
                settings.billing_group = parse_override(value, &at, false)?
            }
            other => {
                return Err(TemplateError::invalid(
                    &oat,
                    format!("unsupported override setting {other} for AWS::IoT::Thing"),
                ));
            }
        }
    }
    Ok(ResourceBody::Thing {
        thing_name,
        attribute_payload: props.remove("AttributePayload"),
        thing_type_name: props.remove("ThingTypeName"),
        thing_groups: props.remove("ThingGroups"),
        billing_group: props.remove("BillingGroup"),
        overrides: settings,
    })
}

fn parse_certificate(
    properties: &Map<String, Value>,
    overrides: &Map<String, Value>,
    at: &str,
) -> Result<ResourceBody, TemplateError> {
    let mut props = properties_of(
        properties,
        &[
            "CertificateId",
            "CertificateSigningRequest",
            "CertificatePem",
            "CACertificatePem",
            "Status",
        ],
        at,
    )?;
    let pat = child(at, "Properties");
    let id = props.remove("CertificateId");
    let csr = props.remove("CertificateSigningRequest");
    let pem = props.remove("CertificatePem");
    let ca = props.remove("CACertificatePem");
    let source = match (id, csr, pem) {
        (Some(id), None, None) if ca.is_none() => CertificateSourceExpr::Id(id),
        (None, Some(csr), None) if ca.is_none() => CertificateSourceExpr::SigningRequest(csr),
        (None, None, Some(pem)) => CertificateSourceExpr::Pem(pem, ca),
        (None, None, None) => {
            return Err(TemplateError::invalid(
                &pat,
                "AWS::IoT::Certificate requires one of CertificateId, CertificateSigningRequest or CertificatePem",
            ));
        }
        _ => {
            return Err(TemplateError::invalid(
                &pat,
                "AWS::IoT::Certificate takes exactly one of CertificateId, CertificateSigningRequest or CertificatePem (CACertificatePem only with CertificatePem)",
            ));
        }
    };
    let mut status_override = Override::DoNothing;
    let oat = child(at, "OverrideSettings");
    for (key, value) in overrides {
        match key.as_str() {
            "Status" | "STATUS" => {
                status_override = parse_override(value, &child(&oat, key), false)?
            }
            other => {
                return Err(TemplateError::invalid(
                    &oat,
                    format!("unsupported override setting {other} for AWS::IoT::Certificate"),
                ));
            }
        }
    }
    Ok(ResourceBody::Certificate {
        source,
        status: props.remove("Status"),
        status_override,
    })
}

fn parse_policy(
    properties: &Map<String, Value>,
    overrides: &Map<String, Value>,
    at: &str,
) -> Result<ResourceBody, TemplateError> {
    if !overrides.is_empty() {
        return Err(TemplateError::invalid(
            &child(at, "OverrideSettings"),
            "AWS::IoT::Policy takes no OverrideSettings",
        ));
    }
    let mut props = properties_of(properties, &["PolicyName", "PolicyDocument"], at)?;
    let name = props.remove("PolicyName");
    let document = props.remove("PolicyDocument");
    if name.is_none() && document.is_none() {
        return Err(TemplateError::invalid(
            &child(at, "Properties"),
            "AWS::IoT::Policy requires PolicyName or PolicyDocument",
        ));
    }
    Ok(ResourceBody::Policy { name, document })
}

/// Names every parameter (declared or built-in) the template references, for callers that
/// want to tell a device which parameters it must send.
impl Template {
    /// The declared parameters without a default that no built-in supplies.
    pub fn required_parameters(&self) -> BTreeSet<&str> {
        self.parameters
            .iter()
            .filter(|p| p.default.is_none() && !is_builtin(&p.name))
            .map(|p| p.name.as_str())
            .collect()
    }
}
