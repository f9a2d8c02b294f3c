//! The AST: what a rule's SQL says, with the span of every node.
//!
//! Shaped for the evaluator: a bare name is [`ExprKind::Field`], every `.name` / `[index]`
//! chain after a primary is one [`ExprKind::Path`], `*` is [`ExprKind::Star`] (only as a whole
//! select item or a whole call argument: `SELECT VALUE *` reads as the field `value` times
//! what follows), and a minus
//! written directly before a number is folded into a negative [`Literal`].

use crate::span::Span;

/// A whole rule statement: `[SET ...] SELECT ... [FROM 'filter'] [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `SET @name = expr, ...` in order; empty without a SET clause.
    pub sets: Vec<SetVar>,
    /// The select list.
    pub select: Select,
    /// Absent for rules used only through Basic Ingest.
    pub from: Option<FromClause>,
    /// The WHERE condition.
    pub where_: Option<Expr>,
    /// The whole statement.
    pub span: Span,
}

/// One `@name = expr` of the SET clause.
#[derive(Debug, Clone, PartialEq)]
pub struct SetVar {
    /// The name without `@` (its span leaves the `@` out too).
    pub name: Ident,
    /// The value; it may refer to variables set before it.
    pub value: Expr,
    /// From `@` to the end of the value.
    pub span: Span,
}

/// The select list.
#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// `SELECT item, ...`: the output is an object (items may include `*`).
    Items(Vec<SelectItem>),
    /// `SELECT VALUE expr`: the output is the value itself.
    Value(Expr),
}

/// `expr [AS alias]`; `expr` is [`ExprKind::Star`] for `*` (`SELECT *, x`, `SELECT * AS p`).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// What the item computes.
    pub expr: Expr,
    /// The output key, when `AS` names one.
    pub alias: Option<Alias>,
    /// From the expression to the end of the alias.
    pub span: Span,
}

/// The name after `AS`. AWS's docs show dotted aliases (`AS bar.baz`); the segments are kept
/// apart and the evaluator decides what they build. \[VERIFY\] the resulting shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    /// The names between the dots; any word, keywords included (`AS value`).
    pub segments: Vec<Ident>,
    /// The whole dotted name.
    pub span: Span,
}

/// `FROM 'topic/filter'`.
#[derive(Debug, Clone, PartialEq)]
pub struct FromClause {
    /// The filter as its string literal decodes, not validated here.
    pub topic_filter: String,
    /// The string literal, quotes included.
    pub span: Span,
}

/// A name as written: field names are case-sensitive, function names are compared
/// case-insensitively by the binder, so the original text is kept either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// An expression and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Its text in the statement (parentheses around it excluded).
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A constant.
    Literal(Literal),
    /// A bare name: a field of the message (or, inside a nested query, of the element).
    Field(Ident),
    /// `@name`, a SET variable (name without `@`).
    Var(Ident),
    /// `base.a[0].b`: at least one segment; `base` is never itself a `Path`.
    Path {
        /// What the segments apply to: a field, variable, call, literal, ...
        base: Box<Expr>,
        /// The `.name` and `[index]` steps in order.
        segments: Vec<Segment>,
    },
    /// `name(args)`; an argument may be [`ExprKind::Star`] (`encode(*, 'base64')`).
    Call {
        /// The function name as written (`Round`, `nanvl`, ...).
        name: Ident,
        /// The arguments in order.
        args: Vec<Expr>,
    },
    /// `cast(expr AS type)`.
    Cast {
        /// The value to convert.
        expr: Box<Expr>,
        /// The type to convert to.
        ty: CastType,
    },
    /// `-expr` or `NOT expr`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `left op right`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`. With an operand each `when` is a value
    /// compared with it; without one (an extension beyond AWS's docs) each `when` is a condition.
    Case {
        /// The value compared with each `when`, if any.
        operand: Option<Box<Expr>>,
        /// At least one `WHEN ... THEN ...`, in order.
        whens: Vec<When>,
        /// The result when nothing matches, if any.
        else_: Option<Box<Expr>>,
    },
    /// `{'key': expr, ...}` (2016-03-23 and later).
    Object(Vec<ObjectField>),
    /// `[expr, ...]` (2016-03-23 and later).
    Array(Vec<Expr>),
    /// `(SELECT ... FROM expr [WHERE ...])` over an array or object (2016-03-23 and later).
    Subquery(Box<Subquery>),
    /// `*`: the whole message.
    Star,
}

/// One step of a [`ExprKind::Path`].
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name`: any word may follow the dot, keywords included.
    Field(Ident),
    /// `[expr]`
    Index(Expr),
}

/// A constant written in the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer that fits `i64` (a minus written before it is part of it).
    Int(i64),
    /// Any other number, as written: with a fraction or exponent (`1.50`, `-5E-12`) or an
    /// integer beyond `i64`. AWS Decimals carry 34 digits; the value model decides.
    Decimal(String),
    /// A string literal, decoded.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// `NULL`.
    Null,
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `NOT`
    Not,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `=`
    Eq,
    /// `<>` (also written `!=`).
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `a IN b`: whether `b` (an array) holds a value equal to `a`.
    In,
    /// `+`: addition or string concatenation.
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

/// One `WHEN when THEN then` of a CASE.
#[derive(Debug, Clone, PartialEq)]
pub struct When {
    /// The value compared with the operand, or the condition of a CASE without one.
    pub when: Expr,
    /// The result when this branch is taken.
    pub then: Expr,
}

/// One `'key': value` of an object literal.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectField {
    /// The key, decoded from its string literal (either quote).
    pub key: String,
    /// The key's string literal.
    pub key_span: Span,
    /// The value.
    pub value: Expr,
}

/// A nested object query.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// The select list, evaluated against each element.
    pub select: Select,
    /// What the query ranges over (a path in AWS's examples; any expression is accepted).
    pub from: Expr,
    /// Which elements to keep.
    pub where_: Option<Expr>,
    /// From the opening to the closing parenthesis.
    pub span: Span,
}

/// The type named in `cast(x AS type)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastType {
    /// What the name stands for.
    pub kind: CastKind,
    /// The name as written (`Nvarchar`, `integer`, ...).
    pub name: Ident,
}

/// What a cast converts to. Names are case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CastKind {
    /// `String`, `Nvarchar`, `Text`, `Ntext`, `varchar`.
    String,
    /// `Int`, `Integer`.
    Int,
    /// `Double`: Decimal with double precision.
    Double,
    /// `Decimal` (2016-03-23 and later).
    Decimal,
    /// `Bool`, `Boolean` (2016-03-23 and later).
    Boolean,
}

impl CastKind {
    /// The kind a type name stands for, if it is one AWS knows (regardless of version).
    pub fn from_name(name: &str) -> Option<CastKind> {
        const NAMES: [(&str, CastKind); 11] = [
            ("string", CastKind::String),
            ("nvarchar", CastKind::String),
            ("text", CastKind::String),
            ("ntext", CastKind::String),
            ("varchar", CastKind::String),
            ("int", CastKind::Int),
            ("integer", CastKind::Int),
            ("double", CastKind::Double),
            ("decimal", CastKind::Decimal),
            ("bool", CastKind::Boolean),
            ("boolean", CastKind::Boolean),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, kind)| kind)
    }

    /// Whether SQL version 2015-10-08 knows this type (it lacks `Decimal` and `Bool`).
    pub fn in_2015_10_08(self) -> bool {
        !matches!(self, CastKind::Decimal | CastKind::Boolean)
    }
}

impl Expr {
    /// An expression of `kind` written at `span`.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}

/// How many expression nodes deep `expr` goes (a leaf is 1). Recursive: only for trees the
/// parser built, whose depth it has bounded.
pub(crate) fn depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    expr.for_each_child(|child| deepest = deepest.max(depth(child)));
    deepest + 1
}

impl Expr {
    /// Calls `f` on each direct sub-expression, in source order.
    pub fn for_each_child(&self, mut f: impl FnMut(&Expr)) {
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Field(_) | ExprKind::Var(_) | ExprKind::Star => {}
            ExprKind::Path { base, segments } => {
                f(base);
                for segment in segments {
                    if let Segment::Index(index) = segment {
                        f(index);
                    }
                }
            }
            ExprKind::Call { args, .. } => args.iter().for_each(f),
            ExprKind::Cast { expr, .. } | ExprKind::Unary { expr, .. } => f(expr),
            ExprKind::Binary { left, right, .. } => {
                f(left);
                f(right);
            }
            ExprKind::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(operand) = operand {
                    f(operand);
                }
                for when in whens {
                    f(&when.when);
                    f(&when.then);
                }
                if let Some(else_) = else_ {
                    f(else_);
                }
            }
            ExprKind::Object(fields) => fields.iter().for_each(|field| f(&field.value)),
            ExprKind::Array(items) => items.iter().for_each(f),
            ExprKind::Subquery(query) => {
                query.select.for_each_expr(&mut f);
                f(&query.from);
                if let Some(where_) = &query.where_ {
                    f(where_);
                }
            }
        }
    }

    /// Sets every span in this expression to [`Span::default()`], so trees parsed from
    /// differently written SQL compare equal when they mean the same.
    pub fn strip_spans(&mut self) {
        self.span = Span::default();
        match &mut self.kind {
            ExprKind::Literal(_) | ExprKind::Star => {}
            ExprKind::Field(ident) | ExprKind::Var(ident) => ident.span = Span::default(),
            ExprKind::Path { base, segments } => {
                base.strip_spans();
                for segment in segments {
                    match segment {
                        Segment::Field(ident) => ident.span = Span::default(),
                        Segment::Index(index) => index.strip_spans(),
                    }
                }
            }
            ExprKind::Call { name, args } => {
                name.span = Span::default();
                args.iter_mut().for_each(Expr::strip_spans);
            }
            ExprKind::Cast { expr, ty } => {
                expr.strip_spans();
                ty.name.span = Span::default();
            }
            ExprKind::Unary { expr, .. } => expr.strip_spans(),
            ExprKind::Binary { left, right, .. } => {
                left.strip_spans();
                right.strip_spans();
            }
            ExprKind::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(operand) = operand {
                    operand.strip_spans();
                }
                for when in whens {
                    when.when.strip_spans();
                    when.then.strip_spans();
                }
                if let Some(else_) = else_ {
                    else_.strip_spans();
                }
            }
            ExprKind::Object(fields) => {
                for field in fields {
                    field.key_span = Span::default();
                    field.value.strip_spans();
                }
            }
            ExprKind::Array(items) => items.iter_mut().for_each(Expr::strip_spans),
            ExprKind::Subquery(query) => {
                query.span = Span::default();
                query.select.strip_spans();
                query.from.strip_spans();
                if let Some(where_) = &mut query.where_ {
                    where_.strip_spans();
                }
            }
        }
    }
}

impl Select {
    /// Calls `f` on each top-level expression of the select list, in order.
    pub fn for_each_expr(&self, f: &mut impl FnMut(&Expr)) {
        match self {
            Select::Items(items) => items.iter().for_each(|item| f(&item.expr)),
            Select::Value(expr) => f(expr),
        }
    }

    fn strip_spans(&mut self) {
        match self {
            Select::Items(items) => {
                for item in items {
                    item.span = Span::default();
                    item.expr.strip_spans();
                    if let Some(alias) = &mut item.alias {
                        alias.span = Span::default();
                        for segment in &mut alias.segments {
                            segment.span = Span::default();
                        }
                    }
                }
            }
            Select::Value(expr) => expr.strip_spans(),
        }
    }
}

impl Statement {
    /// Sets every span in the statement to [`Span::default()`] (see [`Expr::strip_spans`]).
    pub fn strip_spans(&mut self) {
        self.span = Span::default();
        for set in &mut self.sets {
            set.span = Span::default();
            set.name.span = Span::default();
            set.value.strip_spans();
        }
        self.select.strip_spans();
        if let Some(from) = &mut self.from {
            from.span = Span::default();
        }
        if let Some(where_) = &mut self.where_ {
            where_.strip_spans();
        }
    }
}
