//! `Display` for the AST: SQL that parses back to the same tree (spans aside).
//!
//! Output is one line with single spaces and only the parentheses precedence needs; strings
//! are single-quoted with `\` escapes. Two spots need care beyond precedence: a select list
//! whose first item starts with the word `value` (it would read as `SELECT VALUE`), and a minus
//! before an expression that starts with a digit (`-5` would read as the literal -5); both get
//! parentheses.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;
use crate::lexer::is_ident_continue;
use crate::parser::{PREC_NEG, PREC_NOT, PREC_PRIMARY, binary_precedence};

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.sets.is_empty() {
            f.write_str("SET ")?;
            for (i, set) in self.sets.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "@{} = {}", set.name.name, set.value)?;
            }
            f.write_str(" ")?;
        }
        write!(f, "SELECT {}", self.select)?;
        if let Some(from) = &self.from {
            f.write_str(" FROM ")?;
            write_string(f, &from.topic_filter)?;
        }
        if let Some(where_) = &self.where_ {
            write!(f, " WHERE {where_}")?;
        }
        Ok(())
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Select::Value(expr) => write!(f, "VALUE {expr}"),
            Select::Items(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    let text = item.expr.to_string();
                    if i == 0 && starts_with_word(&text, "value") {
                        write!(f, "({text})")?;
                    } else {
                        f.write_str(&text)?;
                    }
                    if let Some(alias) = &item.alias {
                        write!(f, " AS {alias}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for Alias {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            f.write_str(&segment.name)?;
        }
        Ok(())
    }
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(text) => f.write_str(text),
            Literal::String(s) => write_string(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("NULL"),
        }
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::In => "IN",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        })
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "NOT",
        })
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(literal) => literal.fmt(f),
            ExprKind::Field(name) => name.fmt(f),
            ExprKind::Var(name) => write!(f, "@{name}"),
            ExprKind::Star => f.write_char('*'),
            ExprKind::Path { base, segments } => {
                operand(f, base, PREC_PRIMARY)?;
                for segment in segments {
                    match segment {
                        Segment::Field(name) => write!(f, ".{name}")?,
                        Segment::Index(index) => write!(f, "[{index}]")?,
                    }
                }
                Ok(())
            }
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                comma_separated(f, args)?;
                f.write_char(')')
            }
            ExprKind::Cast { expr, ty } => write!(f, "cast({expr} AS {})", ty.name),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => {
                f.write_str("NOT ")?;
                operand(f, expr, PREC_NOT)
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => {
                let text = expr.to_string();
                let digit_first = text.starts_with(|c: char| c.is_ascii_digit());
                if precedence(expr) < PREC_NEG || digit_first {
                    write!(f, "-({text})")
                } else {
                    write!(f, "-{text}")
                }
            }
            ExprKind::Binary { op, left, right } => {
                let prec = binary_precedence(*op);
                operand(f, left, prec)?;
                write!(f, " {op} ")?;
                operand(f, right, prec + 1)
            }
            ExprKind::Case {
                operand,
                whens,
                else_,
            } => {
                f.write_str("CASE ")?;
                if let Some(operand) = operand {
                    write!(f, "{operand} ")?;
                }
                for when in whens {
                    write!(f, "WHEN {} THEN {} ", when.when, when.then)?;
                }
                if let Some(else_) = else_ {
                    write!(f, "ELSE {else_} ")?;
                }
                f.write_str("END")
            }
            ExprKind::Object(fields) => {
                f.write_char('{')?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_string(f, &field.key)?;
                    write!(f, ": {}", field.value)?;
                }
                f.write_char('}')
            }
            ExprKind::Array(items) => {
                f.write_char('[')?;
                comma_separated(f, items)?;
                f.write_char(']')
            }
            ExprKind::Subquery(query) => {
                write!(f, "(SELECT {} FROM {}", query.select, query.from)?;
                if let Some(where_) = &query.where_ {
                    write!(f, " WHERE {where_}")?;
                }
                f.write_char(')')
            }
        }
    }
}

/// How tightly an expression binds as printed (higher binds tighter).
fn precedence(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Binary { op, .. } => binary_precedence(*op),
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => PREC_NOT,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => PREC_NEG,
        _ => PREC_PRIMARY,
    }
}

/// `expr`, parenthesised if it binds more loosely than `min`.
fn operand(f: &mut Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        expr.fmt(f)
    }
}

fn comma_separated(f: &mut Formatter<'_>, exprs: &[Expr]) -> fmt::Result {
    for (i, expr) in exprs.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        expr.fmt(f)?;
    }
    Ok(())
}

/// Whether `text` starts with `word` (case-insensitively) as a whole word.
fn starts_with_word(text: &str, word: &str) -> bool {
    text.get(..word.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(word))
        && !text
            .as_bytes()
            .get(word.len())
            .is_some_and(|&b| is_ident_continue(b))
}

/// A single-quoted string literal the lexer decodes back to `s`.
fn write_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}
