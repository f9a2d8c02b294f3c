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
            Node::Const(_) | Node::RawPayload | Node::Var(_) => Fields::default(),
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

fn union_all<'a>(nodes: impl Iterator<Item = &'a Node>) -> Fields {
    nodes.fold(Fields::default(), |acc, n| acc.union(n.fields()))
}

impl Projection {
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
