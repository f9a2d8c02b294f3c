//! The binder: turns a parsed statement into a [`Plan`](crate::plan) — functions resolved for
//! the rule's SQL version, `cast` types checked, SET variables numbered, names shared, and calls
//! with constant arguments folded — or refuses it with an error placed in the SQL text.

use std::collections::HashMap;
use std::sync::Arc;

use ferrite_rules_sql::{
    self as sql, BinaryOp as SqlOp, Expr, ExprKind, Literal, ParseError, Segment, SqlVersion,
    UnaryOp,
};

use crate::convert::CastType;
use crate::decimal::Decimal;
use crate::eval::{Env, eval};
use crate::functions::{MessageContext, ResolveError, lookup, resolve};
use crate::plan::{BinaryOp, Item, Node, Projection, Step, SubPlan};
use crate::value::Value;

/// What the binder keeps while walking a statement.
pub(crate) struct Binder {
    pub version: SqlVersion,
    /// SET variable name → slot, in definition order.
    pub vars: HashMap<String, usize>,
    /// Lowercase names of the functions called, each once.
    pub functions: Vec<&'static str>,
    src: Arc<str>,
}

impl Binder {
    pub fn new(src: &str, version: SqlVersion) -> Binder {
        Binder {
            version,
            vars: HashMap::new(),
            functions: Vec::new(),
            src: Arc::from(src),
        }
    }

    fn error(&self, span: sql::Span, message: impl Into<String>) -> ParseError {
        ParseError::at(&self.src, span, message.into())
    }

    pub fn projection(&mut self, select: &sql::Select) -> Result<Projection, ParseError> {
        match select {
            sql::Select::Value(e) => Ok(Projection::Value(self.expr(e)?)),
            sql::Select::Items(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let alias: Option<Vec<Arc<str>>> = item.alias.as_ref().map(|a| {
                        a.segments
                            .iter()
                            .map(|s| Arc::from(s.name.as_str()))
                            .collect()
                    });
                    out.push(match (&item.expr.kind, alias) {
                        (ExprKind::Star, None) => Item::Star,
                        (ExprKind::Star, Some(alias)) => Item::StarAs(alias),
                        (_, alias) => {
                            let key = alias.unwrap_or_else(|| vec![default_key(&item.expr)]);
                            Item::Expr(self.expr(&item.expr)?, key)
                        }
                    });
                }
                Ok(Projection::Items(out))
            }
        }
    }

    pub fn expr(&mut self, e: &Expr) -> Result<Node, ParseError> {
        Ok(match &e.kind {
            ExprKind::Literal(l) => Node::Const(self.literal(l)),
            ExprKind::Field(id) => Node::Field(Arc::from(id.name.as_str())),
            ExprKind::Var(id) => match self.vars.get(&id.name) {
                Some(slot) => Node::Var(*slot),
                None => {
                    return Err(self.error(id.span, format!("undefined variable @{}", id.name)));
                }
            },
            ExprKind::Star => Node::Row,
            ExprKind::Path { base, segments } => {
                let base = self.expr(base)?;
                let mut steps = Vec::with_capacity(segments.len());
                for s in segments {
                    steps.push(match s {
                        Segment::Field(id) => Step::Field(Arc::from(id.name.as_str())),
                        Segment::Index(i) => Step::Index(self.expr(i)?),
                    });
                }
                Node::Path(Box::new(base), steps)
            }
            ExprKind::Call { name, args } => return self.call(e, name, args),
            ExprKind::Cast { expr, ty } => {
                let Some(cast) = CastType::parse(&ty.name.name, self.version) else {
                    return Err(self.error(
                        ty.name.span,
                        format!(
                            "cast to {} is not available in SQL version {}",
                            ty.name.name, self.version
                        ),
                    ));
                };
                let inner = self.expr(expr)?;
                fold(Node::Cast(Box::new(inner), cast), self.version)
            }
            ExprKind::Unary { op, expr } => {
                let inner = Box::new(self.expr(expr)?);
                let node = match op {
                    UnaryOp::Neg => Node::Neg(inner),
                    UnaryOp::Not => Node::Not(inner),
                };
                fold(node, self.version)
            }
            ExprKind::Binary { op, left, right } => {
                let node = Node::Binary(
                    binary(*op),
                    Box::new(self.expr(left)?),
                    Box::new(self.expr(right)?),
                );
                fold(node, self.version)
            }
            ExprKind::Case {
                operand,
                whens,
                else_,
            } => {
                let mut arms = Vec::with_capacity(whens.len());
                for w in whens {
                    arms.push((self.expr(&w.when)?, self.expr(&w.then)?));
                }
                let else_ = match else_ {
                    Some(e) => Some(Box::new(self.expr(e)?)),
                    None => None,
                };
                match operand {
                    Some(op) => Node::CaseValue {
                        operand: Box::new(self.expr(op)?),
                        whens: arms,
                        else_,
                    },
                    None => Node::CaseCond { whens: arms, else_ },
                }
            }
            ExprKind::Object(fields) => {
                let mut members = Vec::with_capacity(fields.len());
                for f in fields {
                    members.push((Arc::from(f.key.as_str()), self.expr(&f.value)?));
                }
                Node::Object(members)
            }
            ExprKind::Array(items) => Node::Array(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Subquery(q) => Node::Subquery(Box::new(SubPlan {
                projection: self.projection(&q.select)?,
                from: self.expr(&q.from)?,
                filter: match &q.where_ {
                    Some(w) => Some(self.expr(w)?),
                    None => None,
                },
            })),
        })
    }

    fn call(&mut self, e: &Expr, name: &sql::Ident, args: &[Expr]) -> Result<Node, ParseError> {
        let def = match resolve(&name.name, args.len(), self.version) {
            Ok(def) => def,
            // AWS: a call with the wrong number of arguments evaluates to Undefined. It still
            // counts as a call (an external one stays refused in error-action templates).
            Err(ResolveError::Arity { name: n, .. }) => {
                if !self.functions.contains(&n) {
                    self.functions.push(n);
                }
                return Ok(Node::Const(Value::Undefined));
            }
            Err(ResolveError::Unknown(n)) => {
                return Err(self.error(name.span, format!("Unknown function: {n}")));
            }
            Err(ResolveError::Version { name: n, since }) => {
                return Err(self.error(
                    name.span,
                    format!(
                        "function {n} is not available in SQL version {}; it needs {since} or later",
                        self.version
                    ),
                ));
            }
            // Valid SQL that Ferrite cannot serve: the API refuses the rule with its own
            // message (the name is in `functions`); evaluating it fails.
            Err(ResolveError::Unsupported(_)) => match lookup(&name.name) {
                Some(def) => def,
                None => return Err(self.error(name.span, "unknown function")),
            },
        };
        if !self.functions.contains(&def.name) {
            self.functions.push(def.name);
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            bound.push(match a.kind {
                // `encode(*, 'base64')` (and `decode(*, 'proto', ...)`): the message bytes as
                // published, whatever the payload is.
                ExprKind::Star if matches!(def.name, "encode" | "decode") => Node::RawPayload,
                // Elsewhere `*` is the message as the query sees it: the parsed JSON
                // (`aws_lambda(arn, *)` passes the payload's JSON, `get(*, 'my-key')` reads a
                // member no dotted name can spell), or the bytes of a non-JSON payload.
                ExprKind::Star => Node::Row,
                _ => self.expr(a)?,
            });
        }
        let _ = e;
        Ok(fold(Node::Call(def, bound), self.version))
    }

    fn literal(&self, l: &Literal) -> Value {
        match l {
            Literal::Int(i) => Value::Int(*i),
            Literal::Decimal(text) => {
                Decimal::parse(text).map_or(Value::Undefined, |d| Value::decimal(d, self.version))
            }
            Literal::String(s) => Value::string(s.as_str()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => Value::Null,
        }
    }
}

/// The output key of an unaliased select item: a field's (or a path's last field's) name, a
/// variable's name, a function's name; `_N`-free expressions otherwise take their SQL text.
/// \[VERIFY\] AWS documents only aliased and plain-field items.
fn default_key(e: &Expr) -> Arc<str> {
    match &e.kind {
        ExprKind::Field(id) | ExprKind::Var(id) => Arc::from(id.name.as_str()),
        ExprKind::Path { base, segments } => match segments.last() {
            Some(Segment::Field(id)) => Arc::from(id.name.as_str()),
            _ => default_key(base),
        },
        ExprKind::Call { name, .. } => Arc::from(name.name.as_str()),
        _ => Arc::from(e.to_string().as_str()),
    }
}

fn binary(op: SqlOp) -> BinaryOp {
    match op {
        SqlOp::Or => BinaryOp::Or,
        SqlOp::And => BinaryOp::And,
        SqlOp::Eq => BinaryOp::Eq,
        SqlOp::NotEq => BinaryOp::NotEq,
        SqlOp::Lt => BinaryOp::Lt,
        SqlOp::LtEq => BinaryOp::LtEq,
        SqlOp::Gt => BinaryOp::Gt,
        SqlOp::GtEq => BinaryOp::GtEq,
        SqlOp::In => BinaryOp::In,
        SqlOp::Add => BinaryOp::Add,
        SqlOp::Sub => BinaryOp::Sub,
        SqlOp::Mul => BinaryOp::Mul,
        SqlOp::Div => BinaryOp::Div,
        SqlOp::Mod => BinaryOp::Mod,
    }
}

/// Evaluates `node` now when everything under it is constant and nothing in it depends on the
/// message, the clock or chance.
fn fold(node: Node, version: SqlVersion) -> Node {
    // `topic(n)` cannot be computed now, but its argument can be read once: evaluating it
    // is then one question to the context, not a call with an argument list.
    if let Node::Call(def, args) = &node
        && def.name == "topic"
        && let [Node::Const(n)] = args.as_slice()
    {
        return crate::functions::topic_index(n)
            .map_or(Node::Const(Value::Undefined), Node::TopicLevel);
    }
    let constant = match &node {
        Node::Call(def, args) => {
            def.depends_only_on_args() && args.iter().all(|a| matches!(a, Node::Const(_)))
        }
        Node::Cast(inner, _) | Node::Not(inner) | Node::Neg(inner) => {
            matches!(**inner, Node::Const(_))
        }
        Node::Binary(_, l, r) => matches!(**l, Node::Const(_)) && matches!(**r, Node::Const(_)),
        _ => false,
    };
    if !constant {
        return node;
    }
    let ctx = MessageContext {
        sql_version: version,
        ..MessageContext::default()
    };
    let env = Env {
        row: &Value::Undefined,
        raw: &bytes::Bytes::new(),
        vars: &[],
        ctx: &ctx,
        version,
    };
    match eval(&node, &env) {
        Ok(v) => Node::Const(v),
        // A failure is a run-time matter (the error action), not a reason to refuse the rule.
        Err(_) => node,
    }
}
