//! Evaluation of a compiled plan against one message: AWS's `Undefined` rules, operators and
//! conversions come from [`crate::ops`] and [`crate::convert`]; a function's failure (an
//! external call that could not be made) fails the whole evaluation, which runs the rule's
//! error action.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;

use crate::convert::cast;
use crate::functions::{FnContext, FnError};
use crate::ops;
use crate::plan::{BinaryOp, Item, Node, Projection, Step, SubPlan};
use crate::value::{Object, Value};

/// What an expression can see.
pub(crate) struct Env<'a> {
    /// The row fields resolve against: the payload, or a nested query's current element.
    pub row: &'a Value,
    /// The message bytes as published.
    pub raw: &'a Bytes,
    /// SET variables, by slot.
    pub vars: &'a [Value],
    pub ctx: &'a dyn FnContext,
    pub version: SqlVersion,
}

impl Env<'_> {
    fn with_row<'b>(&'b self, row: &'b Value) -> Env<'b> {
        Env {
            row,
            raw: self.raw,
            vars: self.vars,
            ctx: self.ctx,
            version: self.version,
        }
    }
}

/// Arguments of a function call evaluated without a heap allocation.
const INLINE_ARGS: usize = 3;

pub(crate) fn eval(node: &Node, env: &Env<'_>) -> Result<Value, FnError> {
    Ok(match node {
        Node::Const(_) | Node::Row | Node::Var(_) | Node::TopicLevel(_) => {
            operand(node, env)?.into_owned()
        }
        Node::RawPayload => Value::bytes(env.raw.clone()),
        Node::Field(name) => env.row.field(name),
        Node::Path(base, steps) => {
            let mut v = eval(base, env)?;
            for step in steps {
                v = match step {
                    Step::Field(name) => v.field(name),
                    Step::Index(i) => index(&v, &eval(i, env)?),
                };
                if v.is_undefined() {
                    break;
                }
            }
            v
        }
        Node::Call(def, args) => {
            let arg = |i: usize, a: &Node| match eval(a, env) {
                Ok(v) => Ok(v),
                // get_or_default: a failing expression takes the default.
                Err(_) if i == 0 && def.catches_first_arg_errors => Ok(Value::Undefined),
                Err(e) => Err(e),
            };
            // Most calls take a few arguments (`topic(3)`, per message): those are evaluated
            // into an array on the stack rather than a vector on the heap.
            if args.len() <= INLINE_ARGS {
                let mut values: [Value; INLINE_ARGS] = Default::default();
                for (i, (slot, a)) in values.iter_mut().zip(args).enumerate() {
                    *slot = arg(i, a)?;
                }
                def.call(&values[..args.len()], env.ctx)?
            } else {
                let mut values = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    values.push(arg(i, a)?);
                }
                def.call(&values, env.ctx)?
            }
        }
        Node::Cast(inner, ty) => cast(&eval(inner, env)?, *ty, env.version),
        Node::Not(inner) => ops::not(&eval(inner, env)?),
        Node::Neg(inner) => ops::neg(&eval(inner, env)?, env.version),
        Node::Binary(op, l, r) => {
            // AND and OR do not short-circuit: a non-boolean on either side is Undefined.
            let (a, b) = (operand(l, env)?, operand(r, env)?);
            binary(*op, &a, &b, env.version)
        }
        Node::CaseValue {
            operand,
            whens,
            else_,
        } => {
            let v = eval(operand, env)?;
            if v.is_undefined() {
                return Ok(Value::Undefined);
            }
            for (when, then) in whens {
                if ops::equal(&v, &eval(when, env)?) {
                    return eval(then, env);
                }
            }
            match else_ {
                Some(e) => eval(e, env)?,
                None => Value::Undefined,
            }
        }
        Node::CaseCond { whens, else_ } => {
            for (when, then) in whens {
                if ops::is_true(&eval(when, env)?) {
                    return eval(then, env);
                }
            }
            match else_ {
                Some(e) => eval(e, env)?,
                None => Value::Undefined,
            }
        }
        Node::Object(members) => {
            let mut object = Object::default();
            for (key, value) in members {
                object.insert(key.clone(), eval(value, env)?);
            }
            Value::Object(Arc::new(object))
        }
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(eval(i, env)?);
            }
            Value::array(out)
        }
        Node::Subquery(q) => subquery(q, env)?,
    })
}

/// `node`'s value where it is only read: a constant, a variable, the row or a kept topic level
/// in place (most comparisons have a constant on one side), anything else evaluated. The one
/// place those four are read; [`eval`] takes its own copy.
pub(crate) fn operand<'a>(node: &'a Node, env: &Env<'a>) -> Result<Cow<'a, Value>, FnError> {
    Ok(match node {
        Node::Const(v) => Cow::Borrowed(v),
        Node::Row => Cow::Borrowed(env.row),
        Node::Var(slot) => match env.vars.get(*slot) {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Owned(Value::Undefined),
        },
        Node::TopicLevel(i) => match env.ctx.kept_topic_level(*i) {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Owned(env.ctx.topic_level(*i)),
        },
        _ => Cow::Owned(eval(node, env)?),
    })
}

/// `v[i]`: the same as `get(v, i)`. AWS documents only `get`; bracket indexing is an
/// extension, and reading it as `get` keeps one rule for indices (Int-converted, Decimals to
/// the nearest, out of range Undefined), string characters and object keys.
fn index(v: &Value, i: &Value) -> Value {
    crate::functions::get_item(v, i)
}

fn binary(op: BinaryOp, a: &Value, b: &Value, version: SqlVersion) -> Value {
    match op {
        BinaryOp::Or => ops::or(a, b),
        BinaryOp::And => ops::and(a, b),
        BinaryOp::Eq => ops::eq(a, b),
        BinaryOp::NotEq => ops::ne(a, b),
        BinaryOp::Lt => ops::lt(a, b),
        BinaryOp::LtEq => ops::le(a, b),
        BinaryOp::Gt => ops::gt(a, b),
        BinaryOp::GtEq => ops::ge(a, b),
        BinaryOp::In => ops::in_array(a, b),
        BinaryOp::Add => ops::add(a, b, version),
        BinaryOp::Sub => ops::sub(a, b, version),
        BinaryOp::Mul => ops::mul(a, b, version),
        BinaryOp::Div => ops::div(a, b, version),
        BinaryOp::Mod => ops::rem(a, b, version),
    }
}

/// A nested query: the projection of each element of the array `from` evaluates to that the
/// filter accepts. Over an object, the query reads that one object and gives its projection
/// itself, not an array (AWS's `transform` example 3: `(select a, b from data2)` is the object
/// `{a, b}`, `(select value c from data2)` is the array `data2.c`); Undefined when the filter
/// rejects it. Over anything else, Undefined.
fn subquery(q: &SubPlan, env: &Env<'_>) -> Result<Value, FnError> {
    let from = eval(&q.from, env)?;
    if from.as_object().is_some() {
        let inner = env.with_row(&from);
        if let Some(filter) = &q.filter
            && !ops::is_true(&eval(filter, &inner)?)
        {
            return Ok(Value::Undefined);
        }
        return project(&q.projection, &inner);
    }
    let Some(elements) = from.as_array() else {
        return Ok(Value::Undefined);
    };
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        let inner = env.with_row(element);
        if let Some(filter) = &q.filter
            && !ops::is_true(&eval(filter, &inner)?)
        {
            continue;
        }
        let projected = project(&q.projection, &inner)?;
        if !projected.is_undefined() {
            out.push(projected);
        }
    }
    Ok(Value::array(out))
}

/// What a SELECT list makes of the current row.
pub(crate) fn project(projection: &Projection, env: &Env<'_>) -> Result<Value, FnError> {
    let items = match projection {
        Projection::Value(node) => return eval(node, env),
        Projection::Items(items) => items,
    };
    // `SELECT *` alone passes the row through as it is: a non-JSON payload stays its bytes.
    if let [Item::Star] = items.as_slice() {
        return Ok(env.row.clone());
    }
    let mut object = Object::default();
    for item in items {
        match item {
            Item::Star => {
                if let Some(members) = env.row.as_object() {
                    for (k, v) in members {
                        object.insert(k.clone(), v.clone());
                    }
                }
            }
            Item::StarAs(key) => put(&mut object, key, env.row.clone()),
            Item::Expr(node, key) => {
                let v = eval(node, env)?;
                if !v.is_undefined() {
                    put(&mut object, key, v);
                }
            }
        }
    }
    Ok(Value::Object(Arc::new(object)))
}

/// Puts `value` under the key path `key` (`AS a.b` nests: `{"a": {"b": value}}`), merging into
/// an object already there.
fn put(object: &mut Object, key: &[Arc<str>], value: Value) {
    match key {
        [] => {}
        [last] => {
            object.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let mut inner = match object.get(first).and_then(Value::as_object) {
                Some(existing) => existing.clone(),
                None => Object::default(),
            };
            put(&mut inner, rest, value);
            object.insert(first.clone(), Value::Object(Arc::new(inner)));
        }
    }
}
