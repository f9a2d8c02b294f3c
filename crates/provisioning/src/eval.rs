//! Evaluation: parameters resolved, conditions decided (memoised), intrinsic functions
//! applied, resources turned into a [`Plan`] with their names checked.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Number, Value};

use crate::builtins::{Builtins, NO_VALUE, is_builtin};
use crate::expr::{Cond, Expr, SubPart, child};
use crate::names::{check_attribute, check_certificate_id, check_policy_name, check_resource_name};
use crate::plan::{
    CertificatePlan, CertificateSource, CertificateStatus, Plan, PolicyPlan, PolicySource,
    ThingPlan,
};
use crate::template::{
    CertificateSourceExpr, ParamKind, Resource, ResourceBody, Template, is_number,
};
use crate::{MAX_LIST_ITEMS, MAX_VALUE_CHARS, TemplateError};

/// A value during evaluation. `NoValue` is `Ref: AWS::NoValue`: it disappears from lists and
/// objects and leaves an optional property unset.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    List(Vec<Val>),
    Object(Vec<(String, Val)>),
    NoValue,
}

impl Val {
    fn describe(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Num(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Null => "null",
            Val::List(_) => "a list",
            Val::Object(_) => "an object",
            Val::NoValue => "AWS::NoValue",
        }
    }

    /// The text of a scalar; `None` for lists, objects, null and NoValue.
    fn scalar_text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Num(n) => Some(n.to_string()),
            Val::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn into_json(self) -> Value {
        match self {
            Val::Str(s) => Value::String(s),
            Val::Num(n) => Value::Number(n),
            Val::Bool(b) => Value::Bool(b),
            Val::Null | Val::NoValue => Value::Null,
            Val::List(items) => Value::Array(items.into_iter().map(Val::into_json).collect()),
            Val::Object(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_json()))
                    .collect(),
            ),
        }
    }

    fn from_mapping(value: &Value) -> Val {
        match value {
            Value::String(s) => Val::Str(s.clone()),
            Value::Number(n) => Val::Num(n.clone()),
            Value::Bool(b) => Val::Bool(*b),
            Value::Array(items) => Val::List(items.iter().map(Val::from_mapping).collect()),
            // Mappings hold only the shapes above (checked at parse).
            _ => Val::Null,
        }
    }
}

fn string(value: Val, at: &str, what: &str) -> Result<String, TemplateError> {
    value.scalar_text().ok_or_else(|| {
        TemplateError::eval(
            at,
            format!("{what} must be a string, not {}", value.describe()),
        )
    })
}

fn capped(s: String, at: &str) -> Result<Val, TemplateError> {
    if s.len() > MAX_VALUE_CHARS {
        return Err(TemplateError::eval(
            at,
            format!("the value is longer than {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(Val::Str(s))
}

fn capped_list(items: Vec<Val>, at: &str) -> Result<Val, TemplateError> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(TemplateError::eval(
            at,
            format!("the list has more than {MAX_LIST_ITEMS} items"),
        ));
    }
    Ok(Val::List(items))
}

/// A parameter's value, or why a built-in has none (reported only when it is referenced).
#[derive(Debug, Clone)]
enum ParamValue {
    Given(Val),
    Unavailable,
}

struct Evaluator<'t> {
    template: &'t Template,
    builtins: &'t Builtins,
    params: BTreeMap<&'t str, ParamValue>,
    conditions: HashMap<&'t str, bool>,
    names: HashMap<&'t str, String>,
}

impl Template {
    /// Evaluates the template for one provisioning request.
    ///
    /// `parameters` are the device's (RegisterThing's `parameters`, after a pre-provisioning
    /// hook's overrides); a given parameter that names a built-in is ignored, so a device can
    /// never choose the certificate id. `builtins` are the request's own values.
    ///
    /// # Errors
    /// [`TemplateError`]: a missing or ill-typed parameter, a referenced built-in the request
    /// lacks, or a function or resource that fails with these values.
    pub fn evaluate(
        &self,
        parameters: &BTreeMap<String, String>,
        builtins: &Builtins,
    ) -> Result<Plan, TemplateError> {
        let mut params = BTreeMap::new();
        for decl in &self.parameters {
            let value = if is_builtin(&decl.name) {
                match builtins.get(&decl.name) {
                    Some(v) => ParamValue::Given(Val::Str(v.to_owned())),
                    None => match &decl.default {
                        Some(d) => ParamValue::Given(Val::Str(d.clone())),
                        None => ParamValue::Unavailable,
                    },
                }
            } else {
                let raw = parameters
                    .get(&decl.name)
                    .or(decl.default.as_ref())
                    .ok_or_else(|| TemplateError::MissingParameter(decl.name.clone()))?;
                ParamValue::Given(typed(&decl.name, decl.kind, raw)?)
            };
            params.insert(decl.name.as_str(), value);
        }
        let mut evaluator = Evaluator {
            template: self,
            builtins,
            params,
            conditions: HashMap::new(),
            names: HashMap::new(),
        };
        evaluator.plan()
    }
}

fn typed(name: &str, kind: ParamKind, raw: &str) -> Result<Val, TemplateError> {
    match kind {
        ParamKind::String => Ok(Val::Str(raw.to_owned())),
        ParamKind::Number if is_number(raw) => Ok(Val::Str(raw.to_owned())),
        ParamKind::Number => Err(TemplateError::ParameterType {
            name: name.to_owned(),
            kind: kind.name(),
            value: raw.to_owned(),
        }),
        ParamKind::CommaDelimitedList => Ok(Val::List(
            raw.split(',')
                .map(|s| Val::Str(s.trim().to_owned()))
                .collect(),
        )),
    }
}

impl<'t> Evaluator<'t> {
    fn plan(&mut self) -> Result<Plan, TemplateError> {
        let template = self.template;
        let mut plan = Plan {
            thing: None,
            certificate: None,
            policies: Vec::new(),
            device_configuration: BTreeMap::new(),
            parameters: BTreeMap::new(),
        };
        for resource in &template.resources {
            if !self.resource_enabled(resource)? {
                continue;
            }
            let at = child("Resources", &resource.logical_name);
            match &resource.body {
                ResourceBody::Thing { .. } => plan.thing = Some(self.thing(resource, &at)?),
                ResourceBody::Certificate { .. } => {
                    plan.certificate = Some(self.certificate(resource, &at)?);
                }
                ResourceBody::Policy { .. } => plan.policies.push(self.policy(resource, &at)?),
            }
        }
        for (key, expr) in &template.device_configuration {
            let at = child("DeviceConfiguration", key);
            match self.eval(expr, &at)? {
                Val::NoValue => {}
                value => {
                    let text = string(value, &at, "a DeviceConfiguration value")?;
                    plan.device_configuration.insert(key.clone(), text);
                }
            }
        }
        for (name, value) in &self.params {
            if let ParamValue::Given(value) = value {
                let text = match value {
                    Val::List(items) => items
                        .iter()
                        .filter_map(Val::scalar_text)
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.scalar_text().unwrap_or_default(),
                };
                plan.parameters.insert((*name).to_owned(), text);
            }
        }
        Ok(plan)
    }

    fn resource_enabled(&mut self, resource: &'t Resource) -> Result<bool, TemplateError> {
        match &resource.condition {
            Some(condition) => self.condition(condition),
            None => Ok(true),
        }
    }

    fn condition(&mut self, name: &str) -> Result<bool, TemplateError> {
        if let Some(&value) = self.conditions.get(name) {
            return Ok(value);
        }
        // Names were checked at parse and the graph is acyclic, so this terminates.
        let (key, cond) = self
            .template
            .conditions
            .get_key_value(name)
            .ok_or_else(|| {
                TemplateError::eval("Conditions", format!("unknown condition {name}"))
            })?;
        let value = self.decide(cond, &child("Conditions", key))?;
        self.conditions.insert(key.as_str(), value);
        Ok(value)
    }

    fn decide(&mut self, cond: &'t Cond, at: &str) -> Result<bool, TemplateError> {
        Ok(match cond {
            Cond::Equals(a, b) => {
                let a = self.eval(a, at)?;
                let b = self.eval(b, at)?;
                match (a.scalar_text(), b.scalar_text()) {
                    // Scalars compare as text, as CloudFormation does ("3" equals 3).
                    (Some(a), Some(b)) => a == b,
                    _ => a == b,
                }
            }
            Cond::Not(c) => !self.decide(c, at)?,
            Cond::And(cs) => {
                let mut all = true;
                for c in cs {
                    all &= self.decide(c, at)?;
                }
                all
            }
            Cond::Or(cs) => {
                let mut any = false;
                for c in cs {
                    any |= self.decide(c, at)?;
                }
                any
            }
            Cond::Named(name) => self.condition(name)?,
        })
    }

    fn eval(&mut self, expr: &'t Expr, at: &str) -> Result<Val, TemplateError> {
        match expr {
            Expr::Str(s) => Ok(Val::Str(s.clone())),
            Expr::Num(n) => Ok(Val::Num(n.clone())),
            Expr::Bool(b) => Ok(Val::Bool(*b)),
            Expr::Null => Ok(Val::Null),
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.eval(item, at)? {
                        Val::NoValue => {}
                        v => out.push(v),
                    }
                }
                Ok(Val::List(out))
            }
            Expr::Object(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    match self.eval(value, &child(at, key))? {
                        Val::NoValue => {}
                        v => out.push((key.clone(), v)),
                    }
                }
                Ok(Val::Object(out))
            }
            Expr::Ref(name) => self.reference(name, at),
            Expr::Join { delimiter, items } => {
                let items = match self.eval(items, at)? {
                    Val::List(items) => items,
                    other => {
                        return Err(TemplateError::eval(
                            at,
                            format!("Fn::Join needs a list of values, not {}", other.describe()),
                        ));
                    }
                };
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    texts.push(string(item, at, "each value Fn::Join joins")?);
                }
                capped(texts.join(delimiter), at)
            }
            Expr::Select { index, list } => {
                let index = self.eval(index, at)?;
                let position = index
                    .scalar_text()
                    .and_then(|t| t.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        TemplateError::eval(
                            at,
                            "the index of Fn::Select must be a non-negative integer",
                        )
                    })?;
                let items = match self.eval(list, at)? {
                    Val::List(items) => items,
                    other => {
                        return Err(TemplateError::eval(
                            at,
                            format!("Fn::Select needs a list, not {}", other.describe()),
                        ));
                    }
                };
                let len = items.len();
                items.into_iter().nth(position).ok_or_else(|| {
                    TemplateError::eval(
                        at,
                        format!("Fn::Select index {position} is out of range for a list of {len}"),
                    )
                })
            }
            Expr::FindInMap { map, top, second } => {
                let map = string(self.eval(map, at)?, at, "the map name of Fn::FindInMap")?;
                let top = string(
                    self.eval(top, at)?,
                    at,
                    "the top-level key of Fn::FindInMap",
                )?;
                let second = string(
                    self.eval(second, at)?,
                    at,
                    "the second-level key of Fn::FindInMap",
                )?;
                let value = self
                    .template
                    .mappings
                    .get(&map)
                    .ok_or_else(|| TemplateError::eval(at, format!("unknown mapping {map}")))?
                    .get(&top)
                    .ok_or_else(|| {
                        TemplateError::eval(at, format!("mapping {map} has no key {top}"))
                    })?
                    .get(&second)
                    .ok_or_else(|| {
                        TemplateError::eval(at, format!("mapping {map} has no key {top}.{second}"))
                    })?;
                Ok(Val::from_mapping(value))
            }
            Expr::Split { delimiter, source } => {
                let source = string(self.eval(source, at)?, at, "the string Fn::Split splits")?;
                let parts: Vec<Val> = source
                    .split(delimiter.as_str())
                    .take(MAX_LIST_ITEMS + 1)
                    .map(|s| Val::Str(s.to_owned()))
                    .collect();
                capped_list(parts, at)
            }
            Expr::Sub { parts, vars } => {
                let mut local = HashMap::with_capacity(vars.len());
                for (name, expr) in vars {
                    let value = self.eval(expr, &child(at, name))?;
                    local.insert(name.as_str(), string(value, at, "an Fn::Sub variable")?);
                }
                let mut out = String::new();
                for part in parts {
                    match part {
                        SubPart::Text(t) => out.push_str(t),
                        SubPart::Var(name) => {
                            let text = match local.get(name.as_str()) {
                                Some(v) => v.clone(),
                                None => {
                                    let value = match name.split_once('.') {
                                        Some((res, attr)) => self.attribute(res, attr, at)?,
                                        None => self.reference(name, at)?,
                                    };
                                    string(value, at, &format!("${{{name}}} in Fn::Sub"))?
                                }
                            };
                            out.push_str(&text);
                            if out.len() > MAX_VALUE_CHARS {
                                return capped(out, at);
                            }
                        }
                    }
                }
                capped(out, at)
            }
            Expr::GetAtt {
                resource,
                attribute,
            } => self.attribute(resource, attribute, at),
            Expr::If {
                condition,
                then,
                otherwise,
            } => {
                if self.condition(condition)? {
                    self.eval(then, at)
                } else {
                    self.eval(otherwise, at)
                }
            }
        }
    }

    fn reference(&mut self, name: &str, at: &str) -> Result<Val, TemplateError> {
        if name == NO_VALUE {
            return Ok(Val::NoValue);
        }
        if let Some(value) = self.params.get(name) {
            return match value {
                ParamValue::Given(v) => Ok(v.clone()),
                ParamValue::Unavailable => Err(TemplateError::MissingBuiltin(name.to_owned())),
            };
        }
        if is_builtin(name) {
            return self
                .builtins
                .get(name)
                .map(|v| Val::Str(v.to_owned()))
                .ok_or_else(|| TemplateError::MissingBuiltin(name.to_owned()));
        }
        match self.template.resource(name) {
            Some(resource) => {
                let attribute = resource.attributes()[0];
                self.attribute(name, attribute, at)
            }
            None => Err(TemplateError::eval(
                at,
                format!("unresolved reference {name}"),
            )),
        }
    }

    /// A resource's name attribute (`ThingName`, `CertificateId`, `PolicyName`), memoised.
    fn attribute(&mut self, name: &str, attribute: &str, at: &str) -> Result<Val, TemplateError> {
        let template = self.template;
        let resource = template
            .resource(name)
            .filter(|r| r.attributes().contains(&attribute))
            .ok_or_else(|| {
                TemplateError::eval(at, format!("unresolved reference {name}.{attribute}"))
            })?;
        if let Some(value) = self.names.get(name) {
            return Ok(Val::Str(value.clone()));
        }
        if !self.resource_enabled(resource)? {
            return Err(TemplateError::eval(
                at,
                format!("resource {name} is referenced but its condition is false"),
            ));
        }
        let rat = child("Resources", name);
        let value = match &resource.body {
            ResourceBody::Thing { thing_name, .. } => {
                let at = child(&rat, "Properties.ThingName");
                string(self.eval(thing_name, &at)?, &at, "ThingName")?
            }
            ResourceBody::Certificate { source, .. } => match source {
                CertificateSourceExpr::Id(id) => {
                    let at = child(&rat, "Properties.CertificateId");
                    string(self.eval(id, &at)?, &at, "CertificateId")?
                }
                _ => {
                    return Err(TemplateError::eval(
                        at,
                        format!(
                            "the CertificateId of {name} is not known before the certificate is created"
                        ),
                    ));
                }
            },
            ResourceBody::Policy { .. } => self.policy(resource, &rat)?.policy_name,
        };
        self.names
            .insert(resource.logical_name.as_str(), value.clone());
        Ok(Val::Str(value))
    }

    fn optional_string(
        &mut self,
        expr: Option<&'t Expr>,
        at: &str,
        what: &str,
    ) -> Result<Option<String>, TemplateError> {
        let Some(expr) = expr else { return Ok(None) };
        match self.eval(expr, at)? {
            Val::NoValue => Ok(None),
            value => string(value, at, what).map(Some),
        }
    }

    fn thing(&mut self, resource: &'t Resource, at: &str) -> Result<ThingPlan, TemplateError> {
        let ResourceBody::Thing {
            thing_name,
            attribute_payload,
            thing_type_name,
            thing_groups,
            billing_group,
            overrides,
        } = &resource.body
        else {
            unreachable!("called for thing resources only")
        };
        let pat = child(at, "Properties");
        let name_at = child(&pat, "ThingName");
        let thing_name = string(self.eval(thing_name, &name_at)?, &name_at, "ThingName")?;
        check_resource_name(&name_at, "thing name", &thing_name)?;

        let mut attributes = BTreeMap::new();
        if let Some(payload) = attribute_payload {
            let aat = child(&pat, "AttributePayload");
            let entries = match self.eval(payload, &aat)? {
                Val::NoValue => Vec::new(),
                Val::Object(entries) => match entries.as_slice() {
                    // CloudFormation's spelling nests them under "Attributes".
                    [(key, Val::Object(inner))] if key == "Attributes" => inner.clone(),
                    _ => entries,
                },
                other => {
                    return Err(TemplateError::eval(
                        &aat,
                        format!(
                            "AttributePayload must be an object, not {}",
                            other.describe()
                        ),
                    ));
                }
            };
            for (key, value) in entries {
                let vat = child(&aat, &key);
                let value = string(value, &vat, "an attribute value")?;
                check_attribute(&vat, &key, &value)?;
                attributes.insert(key, value);
            }
        }

        let type_at = child(&pat, "ThingTypeName");
        let thing_type_name =
            self.optional_string(thing_type_name.as_ref(), &type_at, "ThingTypeName")?;
        if let Some(t) = &thing_type_name {
            check_resource_name(&type_at, "thing type name", t)?;
        }

        let mut groups = Vec::new();
        if let Some(expr) = thing_groups {
            let gat = child(&pat, "ThingGroups");
            let items = match self.eval(expr, &gat)? {
                Val::NoValue => Vec::new(),
                Val::List(items) => items,
                other => {
                    return Err(TemplateError::eval(
                        &gat,
                        format!(
                            "ThingGroups must be a list of group names, not {}",
                            other.describe()
                        ),
                    ));
                }
            };
            for item in items {
                let group = string(item, &gat, "a thing group name")?;
                check_resource_name(&gat, "thing group name", &group)?;
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
        }

        let bat = child(&pat, "BillingGroup");
        let billing_group = self.optional_string(billing_group.as_ref(), &bat, "BillingGroup")?;
        if let Some(b) = &billing_group {
            check_resource_name(&bat, "billing group name", b)?;
        }

        Ok(ThingPlan {
            logical_name: resource.logical_name.clone(),
            thing_name,
            attributes,
            thing_type_name,
            thing_groups: groups,
            billing_group,
            overrides: *overrides,
        })
    }

    fn certificate(
        &mut self,
        resource: &'t Resource,
        at: &str,
    ) -> Result<CertificatePlan, TemplateError> {
        let ResourceBody::Certificate {
            source,
            status,
            status_override,
        } = &resource.body
        else {
            unreachable!("called for certificate resources only")
        };
        let pat = child(at, "Properties");
        let source = match source {
            CertificateSourceExpr::Id(expr) => {
                let iat = child(&pat, "CertificateId");
                let id = string(self.eval(expr, &iat)?, &iat, "CertificateId")?;
                check_certificate_id(&iat, &id)?;
                CertificateSource::Id(id)
            }
            CertificateSourceExpr::SigningRequest(expr) => {
                let cat = child(&pat, "CertificateSigningRequest");
                CertificateSource::SigningRequest(string(
                    self.eval(expr, &cat)?,
                    &cat,
                    "CertificateSigningRequest",
                )?)
            }
            CertificateSourceExpr::Pem(pem, ca) => {
                let cat = child(&pat, "CertificatePem");
                let certificate_pem = string(self.eval(pem, &cat)?, &cat, "CertificatePem")?;
                let ca_at = child(&pat, "CACertificatePem");
                let ca_certificate_pem =
                    self.optional_string(ca.as_ref(), &ca_at, "CACertificatePem")?;
                CertificateSource::Pem {
                    certificate_pem,
                    ca_certificate_pem,
                }
            }
        };
        let sat = child(&pat, "Status");
        let status = match self.optional_string(status.as_ref(), &sat, "Status")? {
            None => CertificateStatus::Active,
            // AWS's own examples write "Active".
            Some(s) if s.eq_ignore_ascii_case("ACTIVE") => CertificateStatus::Active,
            Some(s) if s.eq_ignore_ascii_case("INACTIVE") => CertificateStatus::Inactive,
            Some(s) => {
                return Err(TemplateError::eval(
                    &sat,
                    format!("certificate Status must be ACTIVE or INACTIVE, not \"{s}\""),
                ));
            }
        };
        Ok(CertificatePlan {
            logical_name: resource.logical_name.clone(),
            source,
            status,
            status_override: *status_override,
        })
    }

    fn policy(&mut self, resource: &'t Resource, at: &str) -> Result<PolicyPlan, TemplateError> {
        let ResourceBody::Policy { name, document } = &resource.body else {
            unreachable!("called for policy resources only")
        };
        let pat = child(at, "Properties");
        let nat = child(&pat, "PolicyName");
        let name = self.optional_string(name.as_ref(), &nat, "PolicyName")?;
        let document = match document {
            None => None,
            Some(expr) => {
                let dat = child(&pat, "PolicyDocument");
                let text = match self.eval(expr, &dat)? {
                    Val::Str(s) => s,
                    value @ (Val::Object(_) | Val::List(_)) => value.into_json().to_string(),
                    other => {
                        return Err(TemplateError::eval(
                            &dat,
                            format!(
                                "PolicyDocument must be a JSON string or object, not {}",
                                other.describe()
                            ),
                        ));
                    }
                };
                ferrite_policy::Policy::parse(&text).map_err(|e| {
                    TemplateError::eval(&dat, format!("malformed policy document: {e}"))
                })?;
                Some(text)
            }
        };
        let policy_name = match (&name, &document) {
            (Some(n), _) => n.clone(),
            (None, Some(doc)) => hex_sha256(doc),
            (None, None) => unreachable!("checked at parse"),
        };
        check_policy_name(&nat, &policy_name)?;
        Ok(PolicyPlan {
            logical_name: resource.logical_name.clone(),
            policy_name,
            source: match document {
                Some(doc) => PolicySource::Document(doc),
                None => PolicySource::Existing,
            },
        })
    }
}

/// AWS names a policy created from an inline document after the document's hash.
fn hex_sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
