//! The compiled form of a statement: expressions bound to their functions, variables to slots,
//! names to shared strings and constants folded, so evaluating a message walks a small tree
//! and never looks anything up by name but payload fields.

use std::sync::Arc;

use crate::convert::CastType;
use crate::functions::FunctionRef;
use crate::value::Value;

/// One compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Const(Value),
    /// The whole row: the message payload, or inside a nested query the current element.
    Row,
    /// The raw message bytes (`*` as the argument of `encode` / `decode`).
    RawPayload,
    /// A top-level field of the row.
    Field(Arc<str>),
    /// A SET variable, by slot.
    Var(usize),
    Path(Box<Node>, Vec<Step>),
    Call(FunctionRef, Vec<Node>),
    /// `topic(n)` with a constant `n`: level `n - 1` of the topic, asked of the context
    /// directly (it runs per message in most rules; see `compile::fold`).
    TopicLevel(usize),
    Cast(Box<Node>, CastType),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// `CASE v WHEN t THEN r ...`: equality with the operand.
    CaseValue {
        operand: Box<Node>,
        whens: Vec<(Node, Node)>,
        else_: Option<Box<Node>>,
    },
    /// `CASE WHEN cond THEN r ...`.
    CaseCond {
        whens: Vec<(Node, Node)>,
        else_: Option<Box<Node>>,
    },
    Object(Vec<(Arc<str>, Node)>),
    Array(Vec<Node>),
    Subquery(Box<SubPlan>),
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Field(Arc<str>),
    Index(Node),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// What a SELECT produces.
#[derive(Debug, Clone)]
pub(crate) enum Projection {
    /// An object built from the items in order.
    Items(Vec<Item>),
    /// `SELECT VALUE expr`.
    Value(Node),
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// `*`: every member of the row (or, alone over a non-object row, the row itself).
    Star,
    /// `* AS name`: the whole row under one key.
    StarAs(Vec<Arc<str>>),
    /// `expr [AS a.b]`: the key path (the alias, or a name derived from the expression).
    Expr(Node, Vec<Arc<str>>),
}

/// A nested `(SELECT ... FROM expr [WHERE ...])`: the projection applied to each element of
/// the array `from` evaluates to, keeping the elements the condition accepts (or to the one
/// object `from` evaluates to).
#[derive(Debug, Clone)]
pub(crate) struct SubPlan {
    pub projection: Projection,
    pub from: Node,
    pub filter: Option<Node>,
}

use crate::json::Fields;

impl Node {
    /// The payload fields this expression reads when evaluated against the message (not a
    /// nested query's elements).
    pub fn fields(&self) -> Fields {
        match self {
            Node::Field(name) => Fields::one(name),
            Node::Row => Fields::All,
            Node::Const(_) | Node::RawPayload | Node::Var(_) | Node::TopicLevel(_) => {
                Fields::default()
            }
            Node::Path(base, steps) => steps.iter().fold(base.fields(), |acc, s| match s {
                Step::Field(_) => acc,
                Step::Index(i) => acc.union(i.fields()),
            }),
            Node::Call(_, args) | Node::Array(args) => union_all(args.iter()),
            Node::Cast(inner, _) | Node::Not(inner) | Node::Neg(inner) => inner.fields(),
            Node::Binary(_, l, r) => l.fields().union(r.fields()),
            Node::CaseValue {
                operand,
                whens,
                else_,
            } => whens
                .iter()
                .fold(operand.fields(), |acc, (w, t)| {
                    acc.union(w.fields()).union(t.fields())
                })
                .union(else_.as_ref().map_or_else(Fields::default, |e| e.fields())),
            Node::CaseCond { whens, else_ } => whens
                .iter()
                .fold(Fields::default(), |acc, (w, t)| {
                    acc.union(w.fields()).union(t.fields())
                })
                .union(else_.as_ref().map_or_else(Fields::default, |e| e.fields())),
            Node::Object(members) => union_all(members.iter().map(|(_, n)| n)),
            // Inside, names refer to the elements of `from`, not to the message.
            Node::Subquery(q) => q.from.fields(),
        }
    }
}

impl Node {
    /// Calls `f` on this node and every node under it, in evaluation order (a nested query's
    /// too).
    pub fn visit(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match self {
            Node::Const(_)
            | Node::Row
            | Node::RawPayload
            | Node::Field(_)
            | Node::Var(_)
            | Node::TopicLevel(_) => {}
            Node::Path(base, steps) => {
                base.visit(f);
                for step in steps {
                    if let Step::Index(i) = step {
                        i.visit(f);
                    }
                }
            }
            Node::Call(_, args) | Node::Array(args) => args.iter().for_each(|a| a.visit(f)),
            Node::Cast(inner, _) | Node::Not(inner) | Node::Neg(inner) => inner.visit(f),
            Node::Binary(_, l, r) => {
                l.visit(f);
                r.visit(f);
            }
            Node::CaseValue {
                operand,
                whens,
                else_,
            } => {
                operand.visit(f);
                visit_cases(whens, else_, f);
            }
            Node::CaseCond { whens, else_ } => visit_cases(whens, else_, f),
            Node::Object(members) => members.iter().for_each(|(_, n)| n.visit(f)),
            Node::Subquery(q) => {
                q.from.visit(f);
                if let Some(filter) = &q.filter {
                    filter.visit(f);
                }
                q.projection.visit(f);
            }
        }
    }
}

fn visit_cases(whens: &[(Node, Node)], else_: &Option<Box<Node>>, f: &mut dyn FnMut(&Node)) {
    for (w, t) in whens {
        w.visit(f);
        t.visit(f);
    }
    if let Some(e) = else_ {
        e.visit(f);
    }
}

fn union_all<'a>(nodes: impl Iterator<Item = &'a Node>) -> Fields {
    nodes.fold(Fields::default(), |acc, n| acc.union(n.fields()))
}

impl Projection {
    /// [`Node::visit`] over every item's expression.
    pub fn visit(&self, f: &mut dyn FnMut(&Node)) {
        match self {
            Projection::Value(n) => n.visit(f),
            Projection::Items(items) => {
                for item in items {
                    if let Item::Expr(n, _) = item {
                        n.visit(f);
                    }
                }
            }
        }
    }

    pub fn fields(&self) -> Fields {
        match self {
            Projection::Value(n) => n.fields(),
            Projection::Items(items) => items.iter().fold(Fields::default(), |acc, i| {
                acc.union(match i {
                    Item::Star | Item::StarAs(_) => Fields::All,
                    Item::Expr(n, _) => n.fields(),
                })
            }),
        }
    }
}
