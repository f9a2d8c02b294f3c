//! Template values as an expression tree: literals, lists, objects and the intrinsic
//! functions, parsed from JSON once with their arguments checked; and conditions.

use serde_json::{Number, Value};

use crate::{MAX_NESTING, TemplateError};

/// A template value before evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    List(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    /// A parameter, a built-in, `AWS::NoValue` or a resource's logical name.
    Ref(String),
    Join {
        delimiter: String,
        items: Box<Expr>,
    },
    Select {
        index: Box<Expr>,
        list: Box<Expr>,
    },
    FindInMap {
        map: Box<Expr>,
        top: Box<Expr>,
        second: Box<Expr>,
    },
    Split {
        delimiter: String,
        source: Box<Expr>,
    },
    Sub {
        parts: Vec<SubPart>,
        vars: Vec<(String, Expr)>,
    },
    GetAtt {
        resource: String,
        attribute: String,
    },
    If {
        condition: String,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
}

/// A piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SubPart {
    Text(String),
    /// `${Name}` or `${Resource.Attribute}`.
    Var(String),
}

/// A condition: what `Conditions` entries, `Fn::And`/`Fn::Or`/`Fn::Not` arguments hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Equals(Expr, Expr),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// `{"Condition": "Name"}`.
    Named(String),
}

/// Where an expression appears, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Resources and DeviceConfiguration: every function.
    Body,
    /// Inside a condition: no `Fn::If`, no resource references.
    Condition,
}

/// The intrinsic function names Ferrite knows, so a misspelt one is an error rather than a
/// literal object.
const FUNCTIONS: &[&str] = &[
    "Ref",
    "Fn::Join",
    "Fn::Select",
    "Fn::FindInMap",
    "Fn::Split",
    "Fn::Sub",
    "Fn::GetAtt",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
];

pub(crate) fn child(at: &str, key: &str) -> String {
    format!("{at}.{key}")
}

fn index(at: &str, i: usize) -> String {
    format!("{at}[{i}]")
}

fn check_depth(at: &str, depth: usize) -> Result<(), TemplateError> {
    if depth > MAX_NESTING {
        return Err(TemplateError::TooDeep {
            at: at.to_owned(),
            limit: MAX_NESTING,
        });
    }
    Ok(())
}

/// Parses a value where intrinsic functions may appear.
pub(crate) fn parse_expr(
    value: &Value,
    place: Place,
    at: &str,
    depth: usize,
) -> Result<Expr, TemplateError> {
    check_depth(at, depth)?;
    Ok(match value {
        Value::String(s) => Expr::Str(s.clone()),
        Value::Number(n) => Expr::Num(n.clone()),
        Value::Bool(b) => Expr::Bool(*b),
        Value::Null => Expr::Null,
        Value::Array(items) => Expr::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_expr(item, place, &index(at, i), depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            if map.len() == 1 {
                let (key, arg) = map.iter().next().expect("one entry");
                if key == "Ref" || key.starts_with("Fn::") {
                    return parse_function(key, arg, place, &child(at, key), depth + 1);
                }
            }
            if let Some(key) = map.keys().find(|k| FUNCTIONS.contains(&k.as_str())) {
                return Err(TemplateError::invalid(
                    at,
                    format!("{key} must be the only key of its object"),
                ));
            }
            Expr::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), parse_expr(v, place, &child(at, k), depth + 1)?)))
                    .collect::<Result<_, TemplateError>>()?,
            )
        }
    })
}

fn args<'a>(arg: &'a Value, at: &str, name: &str, n: usize) -> Result<&'a [Value], TemplateError> {
    match arg {
        Value::Array(items) if items.len() == n => Ok(items),
        _ => Err(TemplateError::invalid(
            at,
            format!("{name} takes a list of {n} arguments"),
        )),
    }
}

fn literal_string<'a>(value: &'a Value, at: &str, what: &str) -> Result<&'a str, TemplateError> {
    value
        .as_str()
        .ok_or_else(|| TemplateError::invalid(at, format!("{what} must be a string")))
}

fn parse_function(
    name: &str,
    arg: &Value,
    place: Place,
    at: &str,
    depth: usize,
) -> Result<Expr, TemplateError> {
    check_depth(at, depth)?;
    let sub = |value: &Value, i: usize| parse_expr(value, place, &index(at, i), depth + 1);
    match name {
        "Ref" => Ok(Expr::Ref(
            literal_string(arg, at, "the argument of Ref")?.to_owned(),
        )),
        "Fn::Join" => {
            let a = args(arg, at, name, 2)?;
            Ok(Expr::Join {
                delimiter: literal_string(&a[0], at, "the delimiter of Fn::Join")?.to_owned(),
                items: Box::new(sub(&a[1], 1)?),
            })
        }
        "Fn::Select" => {
            let a = args(arg, at, name, 2)?;
            Ok(Expr::Select {
                index: Box::new(sub(&a[0], 0)?),
                list: Box::new(sub(&a[1], 1)?),
            })
        }
        "Fn::FindInMap" => {
            let a = args(arg, at, name, 3)?;
            Ok(Expr::FindInMap {
                map: Box::new(sub(&a[0], 0)?),
                top: Box::new(sub(&a[1], 1)?),
                second: Box::new(sub(&a[2], 2)?),
            })
        }
        "Fn::Split" => {
            let a = args(arg, at, name, 2)?;
            let delimiter = literal_string(&a[0], at, "the delimiter of Fn::Split")?;
            if delimiter.is_empty() {
                return Err(TemplateError::invalid(
                    at,
                    "the delimiter of Fn::Split must not be empty",
                ));
            }
            Ok(Expr::Split {
                delimiter: delimiter.to_owned(),
                source: Box::new(sub(&a[1], 1)?),
            })
        }
        "Fn::Sub" => parse_sub(arg, place, at, depth),
        "Fn::GetAtt" => {
            if place == Place::Condition {
                return Err(TemplateError::invalid(
                    at,
                    "Fn::GetAtt is not allowed in Conditions",
                ));
            }
            let (resource, attribute) = match arg {
                Value::String(s) => s.split_once('.').ok_or_else(|| {
                    TemplateError::invalid(at, "Fn::GetAtt takes \"Resource.Attribute\"")
                })?,
                _ => {
                    let a = args(arg, at, name, 2)?;
                    (
                        literal_string(&a[0], at, "the resource of Fn::GetAtt")?,
                        literal_string(&a[1], at, "the attribute of Fn::GetAtt")?,
                    )
                }
            };
            Ok(Expr::GetAtt {
                resource: resource.to_owned(),
                attribute: attribute.to_owned(),
            })
        }
        "Fn::If" => {
            if place == Place::Condition {
                return Err(TemplateError::invalid(
                    at,
                    "Fn::If is not allowed in Conditions",
                ));
            }
            let a = args(arg, at, name, 3)?;
            Ok(Expr::If {
                condition: literal_string(&a[0], at, "the condition name of Fn::If")?.to_owned(),
                then: Box::new(sub(&a[1], 1)?),
                otherwise: Box::new(sub(&a[2], 2)?),
            })
        }
        "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => Err(TemplateError::invalid(
            at,
            format!("{name} may only appear in Conditions"),
        )),
        _ => Err(TemplateError::invalid(
            at,
            format!("unsupported intrinsic function {name}"),
        )),
    }
}

fn parse_sub(arg: &Value, place: Place, at: &str, depth: usize) -> Result<Expr, TemplateError> {
    let (text, vars) = match arg {
        Value::String(s) => (s.as_str(), Vec::new()),
        Value::Array(items) if items.len() == 2 => {
            let text = literal_string(&items[0], at, "the string of Fn::Sub")?;
            let Value::Object(map) = &items[1] else {
                return Err(TemplateError::invalid(
                    at,
                    "the variables of Fn::Sub must be an object",
                ));
            };
            let vars = map
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        parse_expr(v, place, &child(&index(at, 1), k), depth + 1)?,
                    ))
                })
                .collect::<Result<_, TemplateError>>()?;
            (text, vars)
        }
        _ => {
            return Err(TemplateError::invalid(
                at,
                "Fn::Sub takes a string or a list of a string and an object of variables",
            ));
        }
    };
    Ok(Expr::Sub {
        parts: split_sub(text, at)?,
        vars,
    })
}

/// Splits an `Fn::Sub` string into text and `${...}` variables; `${!x}` is the literal `${x}`.
fn split_sub(text: &str, at: &str) -> Result<Vec<SubPart>, TemplateError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TemplateError::invalid(
                at,
                "Fn::Sub has a ${ without its closing }",
            ));
        };
        let name = &after[..end];
        if let Some(escaped) = name.strip_prefix('!') {
            literal.push_str("${");
            literal.push_str(escaped);
            literal.push('}');
        } else {
            let name = name.trim();
            if name.is_empty() {
                return Err(TemplateError::invalid(at, "Fn::Sub has an empty ${}"));
            }
            if !literal.is_empty() {
                parts.push(SubPart::Text(std::mem::take(&mut literal)));
            }
            parts.push(SubPart::Var(name.to_owned()));
        }
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SubPart::Text(literal));
    }
    Ok(parts)
}

/// Parses a condition: a condition function or `{"Condition": "Name"}`.
pub(crate) fn parse_cond(value: &Value, at: &str, depth: usize) -> Result<Cond, TemplateError> {
    check_depth(at, depth)?;
    let Some((name, arg)) = value
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(TemplateError::invalid(
            at,
            "a condition must be an object with one of Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition",
        ));
    };
    let at = child(at, name);
    let at = at.as_str();
    let list = |arg: &Value, min: usize, max: usize| -> Result<Vec<Cond>, TemplateError> {
        match arg {
            Value::Array(items) if (min..=max).contains(&items.len()) => items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_cond(item, &index(at, i), depth + 1))
                .collect(),
            _ => Err(TemplateError::invalid(
                at,
                if min == max {
                    format!("{name} takes a list of {min} condition")
                } else {
                    format!("{name} takes a list of {min} to {max} conditions")
                },
            )),
        }
    };
    match name.as_str() {
        "Fn::Equals" => {
            let a = args(arg, at, name, 2)?;
            Ok(Cond::Equals(
                parse_expr(&a[0], Place::Condition, &index(at, 0), depth + 1)?,
                parse_expr(&a[1], Place::Condition, &index(at, 1), depth + 1)?,
            ))
        }
        "Fn::Not" => Ok(Cond::Not(Box::new(
            list(arg, 1, 1)?.pop().expect("one condition"),
        ))),
        "Fn::And" => Ok(Cond::And(list(arg, 2, 10)?)),
        "Fn::Or" => Ok(Cond::Or(list(arg, 2, 10)?)),
        "Condition" => Ok(Cond::Named(
            literal_string(arg, at, "the argument of Condition")?.to_owned(),
        )),
        other => Err(TemplateError::invalid(
            at,
            format!("{other} is not a condition function"),
        )),
    }
}

impl Expr {
    /// Calls `visit` on every reference this expression makes, with where it is.
    pub(crate) fn references(&self, visit: &mut dyn FnMut(Reference<'_>)) {
        match self {
            Expr::Str(_) | Expr::Num(_) | Expr::Bool(_) | Expr::Null => {}
            Expr::List(items) => items.iter().for_each(|e| e.references(visit)),
            Expr::Object(entries) => entries.iter().for_each(|(_, e)| e.references(visit)),
            Expr::Ref(name) => visit(Reference::Name(name)),
            Expr::Join { items, .. } => items.references(visit),
            Expr::Select { index, list } => {
                index.references(visit);
                list.references(visit);
            }
            Expr::FindInMap { map, top, second } => {
                map.references(visit);
                top.references(visit);
                second.references(visit);
                if let Expr::Str(name) = map.as_ref() {
                    visit(Reference::Mapping(name));
                }
            }
            Expr::Split { source, .. } => source.references(visit),
            Expr::Sub { parts, vars } => {
                for (_, e) in vars {
                    e.references(visit);
                }
                for part in parts {
                    if let SubPart::Var(name) = part
                        && !vars.iter().any(|(k, _)| k == name)
                    {
                        match name.split_once('.') {
                            Some((resource, attribute)) => {
                                visit(Reference::Attribute(resource, attribute))
                            }
                            None => visit(Reference::Name(name)),
                        }
                    }
                }
            }
            Expr::GetAtt {
                resource,
                attribute,
            } => visit(Reference::Attribute(resource, attribute)),
            Expr::If {
                condition,
                then,
                otherwise,
            } => {
                visit(Reference::Condition(condition));
                then.references(visit);
                otherwise.references(visit);
            }
        }
    }
}

impl Cond {
    pub(crate) fn references(&self, visit: &mut dyn FnMut(Reference<'_>)) {
        match self {
            Cond::Equals(a, b) => {
                a.references(visit);
                b.references(visit);
            }
            Cond::Not(c) => c.references(visit),
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| c.references(visit)),
            Cond::Named(name) => visit(Reference::Condition(name)),
        }
    }
}

/// What an expression or condition refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reference<'a> {
    /// `Ref` or a plain `${Name}`.
    Name(&'a str),
    /// `Fn::GetAtt` or `${Resource.Attribute}`.
    Attribute(&'a str, &'a str),
    /// `Fn::If` or `Condition`.
    Condition(&'a str),
    /// `Fn::FindInMap` with a literal map name.
    Mapping(&'a str),
}
