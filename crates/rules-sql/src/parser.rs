//! The parser: tokens to [`Statement`], by recursive descent with precedence climbing.
//!
//! Precedence, loosest first: `OR`, `AND`, `NOT`, comparisons (`= <> != < <= > >= IN`),
//! `+ -`, `* / %`, unary `-`, then `.name` / `[index]`. Binary operators associate to the left.
//! `NOT` may start any operand (`a = NOT b` is `a = (NOT b)`) and takes everything down to the
//! next `AND`/`OR`.
//!
//! Keywords are case-insensitive. Reserved words ([`RESERVED`]) cannot name a field or a
//! function but may follow `.` or `AS`. `VALUE` is a keyword only right after `SELECT` and
//! before an expression (`SELECT value FROM ...` reads the field `value`; `SELECT value - 1`
//! is `SELECT VALUE -1`); `SET` only at the start; `cast` only before `(`.
//!
//! Version differences refused here: object and array literals, nested `SELECT`s and casts to
//! `Decimal`/`Bool`/`Boolean` need 2016-03-23 or later. Bracket indexing `a[0]` is accepted in
//! every version (\[VERIFY\]: AWS documents only `get(a, 0)`).

use crate::SqlVersion;
use crate::ast::*;
use crate::error::ParseError;
use crate::lexer::{Tok, Token, tokenize};
use crate::span::Span;

/// How deeply expressions may nest (operands within operands, parentheses, arguments, nested
/// queries) before the statement is refused; keeps adversarial input off the stack's edge.
pub const MAX_DEPTH: usize = 64;

/// The longest statement accepted, in bytes. \[VERIFY\] AWS states no SQL limit of its own; this
/// is the rule payload size the spec records (§14.2).
pub const MAX_SQL_LEN: usize = 256 * 1024;

/// Words that cannot name a field or a function.
pub(crate) const RESERVED: [&str; 16] = [
    "SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "IN", "CASE", "WHEN", "THEN", "ELSE",
    "END", "TRUE", "FALSE", "NULL",
];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const COMPARE: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
pub(crate) const PREC_NEG: u8 = 7;
pub(crate) const PREC_PRIMARY: u8 = 8;

/// The precedence level of a binary operator (higher binds tighter).
pub(crate) fn binary_precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => OR,
        BinaryOp::And => AND,
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq
        | BinaryOp::In => COMPARE,
        BinaryOp::Add | BinaryOp::Sub => ADD,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => MUL,
    }
}

pub(crate) const PREC_NOT: u8 = NOT;

/// Parses a rule's `sql` as `version` reads it (see the crate docs for the grammar). The error
/// is what `CreateTopicRule` reports as `SqlParseException`.
pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, ParseError> {
    let mut parser = Parser::new(sql, version)?;
    parser.statement()
}

/// Parses one expression: the text inside a substitution template's `${...}` (without the
/// braces). Same grammar and limits as [`parse`]; `*` is not an expression on its own.
pub fn parse_expression(text: &str, version: SqlVersion) -> Result<Expr, ParseError> {
    let mut parser = Parser::new(text, version)?;
    let expr = parser.expr()?;
    parser.expect_end("end of expression")?;
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    version: SqlVersion,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, version: SqlVersion) -> Result<Parser<'a>, ParseError> {
        if src.len() > MAX_SQL_LEN {
            return Err(ParseError::at(
                src,
                Span::new(0, 0),
                format!("sql is longer than {MAX_SQL_LEN} bytes"),
            ));
        }
        Ok(Parser {
            src,
            tokens: tokenize(src)?,
            pos: 0,
            version,
            depth: 0,
        })
    }

    // ---- token access ----

    fn peek(&self) -> &Token {
        self.peek_nth(0)
    }

    fn peek_nth(&self, n: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn text(&self, span: Span) -> &'a str {
        &self.src[span.start..span.end]
    }

    fn is_word(&self, token: &Token, keyword: &str) -> bool {
        token.kind == Tok::Word && self.text(token.span).eq_ignore_ascii_case(keyword)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.is_word(self.peek(), keyword)
    }

    fn eat_keyword(&mut self, keyword: &str) -> Option<Span> {
        self.peek_keyword(keyword).then(|| self.bump().span)
    }

    fn eat(&mut self, kind: &Tok) -> Option<Span> {
        (&self.peek().kind == kind).then(|| self.bump().span)
    }

    fn expect(&mut self, kind: &Tok, what: &str) -> Result<Span, ParseError> {
        self.eat(kind).ok_or_else(|| self.unexpected(what))
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<Span, ParseError> {
        self.eat_keyword(keyword)
            .ok_or_else(|| self.unexpected(keyword))
    }

    fn expect_end(&mut self, what: &str) -> Result<(), ParseError> {
        if self.peek().kind == Tok::Eof {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// How the current token reads in a message: its text in quotes, or `end of input`.
    fn found(&self) -> String {
        let token = self.peek();
        if token.kind == Tok::Eof {
            return "end of input".to_owned();
        }
        let text = self.text(token.span);
        match text.char_indices().nth(40) {
            Some((cut, _)) => format!("'{}...'", &text[..cut]),
            None => format!("'{text}'"),
        }
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        self.error(
            self.peek().span,
            format!("expected {expected}, found {}", self.found()),
        )
    }

    fn error(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, span, message)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep(self.peek().span));
        }
        Ok(())
    }

    fn too_deep(&self, span: Span) -> ParseError {
        self.error(
            span,
            format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
        )
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn require_2016(&self, span: Span, what: &str) -> Result<(), ParseError> {
        if self.version.at_least_2016() {
            Ok(())
        } else {
            Err(self.error(
                span,
                format!(
                    "{what} require SQL version 2016-03-23 or later (this rule uses {})",
                    self.version
                ),
            ))
        }
    }

    // ---- statement ----

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let start = self.peek().span;
        let sets = if self.peek_keyword("SET") {
            self.set_clause()?
        } else {
            Vec::new()
        };
        if self.peek_keyword("SET") {
            return Err(self.error(self.peek().span, "SET may appear only once, before SELECT"));
        }
        self.expect_keyword("SELECT")?;
        let select = self.select_list()?;
        if self.peek().kind == Tok::Comma {
            return Err(self.error(self.peek().span, "SELECT VALUE takes a single expression"));
        }
        let from = match self.eat_keyword("FROM") {
            Some(_) => Some(self.topic_filter()?),
            None => None,
        };
        let where_ = match self.eat_keyword("WHERE") {
            Some(_) => Some(self.expr()?),
            None => None,
        };
        let end = self.peek().span;
        let expected = match (&from, &where_) {
            (None, None) => "FROM, WHERE or end of input",
            (Some(_), None) => "WHERE or end of input",
            _ => "end of input",
        };
        self.expect_end(expected)?;
        Ok(Statement {
            sets,
            select,
            from,
            where_,
            span: start.to(end),
        })
    }

    fn set_clause(&mut self) -> Result<Vec<SetVar>, ParseError> {
        self.bump();
        let mut sets: Vec<SetVar> = Vec::new();
        loop {
            let token = self.peek().clone();
            let Tok::Var(name) = token.kind else {
                return Err(self.unexpected("a variable (@name)"));
            };
            self.bump();
            if sets.iter().any(|s| s.name.name == name) {
                return Err(self.error(
                    token.span,
                    format!("variable @{name} is already set (variables are immutable)"),
                ));
            }
            self.expect(&Tok::Eq, "'='")?;
            let value = self.expr()?;
            sets.push(SetVar {
                name: Ident {
                    name,
                    span: Span::new(token.span.start + 1, token.span.end),
                },
                span: token.span.to(value.span),
                value,
            });
            if self.eat(&Tok::Comma).is_none() {
                return Ok(sets);
            }
        }
    }

    fn topic_filter(&mut self) -> Result<FromClause, ParseError> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Str { value, quote: '\'' } => {
                self.bump();
                Ok(FromClause {
                    topic_filter: value,
                    span: token.span,
                })
            }
            Tok::Str { .. } => Err(self.error(
                token.span,
                "the topic filter after FROM must be in single quotes",
            )),
            _ => Err(self.unexpected("a topic filter in single quotes")),
        }
    }

    /// Whether `token` can begin an expression (decides `SELECT VALUE expr` from a field named
    /// `value`).
    fn starts_expr(&self, token: &Token) -> bool {
        match &token.kind {
            Tok::Word => {
                let word = self.text(token.span);
                !is_reserved(word)
                    || ["NOT", "CASE", "TRUE", "FALSE", "NULL"]
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(word))
            }
            Tok::Int
            | Tok::Decimal
            | Tok::Str { .. }
            | Tok::Var(_)
            | Tok::LParen
            | Tok::LBracket
            | Tok::LBrace
            | Tok::Minus => true,
            _ => false,
        }
    }

    fn select_list(&mut self) -> Result<Select, ParseError> {
        if self.peek_keyword("VALUE") && self.starts_expr(self.peek_nth(1)) {
            self.bump();
            return Ok(Select::Value(self.expr()?));
        }
        let mut items = Vec::new();
        loop {
            let expr = match self.eat(&Tok::Star) {
                Some(span) => Expr::new(ExprKind::Star, span),
                None => self.expr()?,
            };
            let alias = match self.eat_keyword("AS") {
                Some(_) => Some(self.alias()?),
                None => None,
            };
            let end = alias.as_ref().map_or(expr.span, |a| a.span);
            items.push(SelectItem {
                span: expr.span.to(end),
                expr,
                alias,
            });
            if self.eat(&Tok::Comma).is_none() {
                return Ok(Select::Items(items));
            }
        }
    }

    fn alias(&mut self) -> Result<Alias, ParseError> {
        let mut segments = vec![self.any_word("an alias after AS")?];
        while self.eat(&Tok::Dot).is_some() {
            segments.push(self.any_word("a name after '.'")?);
        }
        let span = segments[0].span.to(segments[segments.len() - 1].span);
        Ok(Alias { segments, span })
    }

    /// A word used as a name where no keyword can stand (after `.` or `AS`).
    fn any_word(&mut self, what: &str) -> Result<Ident, ParseError> {
        if self.peek().kind != Tok::Word {
            return Err(self.unexpected(what));
        }
        let span = self.bump().span;
        Ok(Ident {
            name: self.text(span).to_owned(),
            span,
        })
    }

    // ---- expressions ----

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.binary(OR)
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        let token = self.peek();
        Some(match token.kind {
            Tok::Eq => BinaryOp::Eq,
            Tok::NotEq => BinaryOp::NotEq,
            Tok::Lt => BinaryOp::Lt,
            Tok::Le => BinaryOp::LtEq,
            Tok::Gt => BinaryOp::Gt,
            Tok::Ge => BinaryOp::GtEq,
            Tok::Plus => BinaryOp::Add,
            Tok::Minus => BinaryOp::Sub,
            Tok::Star => BinaryOp::Mul,
            Tok::Slash => BinaryOp::Div,
            Tok::Percent => BinaryOp::Mod,
            Tok::Word if self.is_word(token, "OR") => BinaryOp::Or,
            Tok::Word if self.is_word(token, "AND") => BinaryOp::And,
            Tok::Word if self.is_word(token, "IN") => BinaryOp::In,
            _ => return None,
        })
    }

    /// Operands joined by binary operators of precedence `min` or tighter.
    fn binary(&mut self, min: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.prefix()?;
        // A chain `a + b + c ...` deepens the tree without recursing here, so the tree's own
        // depth is checked too: whatever walks it later (drop, Display, the evaluator) recurses.
        let mut left_depth = depth(&left);
        while let Some(op) = self.binary_op() {
            let prec = binary_precedence(op);
            if prec < min {
                break;
            }
            let op_span = self.bump().span;
            let right = self.binary(prec + 1)?;
            left_depth = left_depth.max(depth(&right)) + 1;
            if self.depth + left_depth > MAX_DEPTH + 1 {
                return Err(self.too_deep(op_span));
            }
            let span = left.span.to(right.span);
            left = Expr::new(
                ExprKind::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            );
        }
        self.leave();
        Ok(left)
    }

    /// Unary operators, then a primary with its `.name` / `[index]` suffixes.
    fn prefix(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        if token.kind == Tok::Minus {
            self.bump();
            let next = self.peek().clone();
            if matches!(next.kind, Tok::Int | Tok::Decimal) {
                self.bump();
                let literal = self.number(&format!("-{}", self.text(next.span)), &next.kind);
                let expr = Expr::new(ExprKind::Literal(literal), token.span.to(next.span));
                return self.postfix(expr);
            }
            self.enter()?;
            let operand = self.prefix()?;
            self.leave();
            return Ok(unary(UnaryOp::Neg, token.span, operand));
        }
        if self.is_word(&token, "NOT") {
            self.bump();
            let operand = self.binary(NOT)?;
            return Ok(unary(UnaryOp::Not, token.span, operand));
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn number(&self, text: &str, kind: &Tok) -> Literal {
        match kind {
            Tok::Int => text
                .parse::<i64>()
                .map_or_else(|_| Literal::Decimal(text.to_owned()), Literal::Int),
            _ => Literal::Decimal(text.to_owned()),
        }
    }

    fn postfix(&mut self, base: Expr) -> Result<Expr, ParseError> {
        let (base, mut segments) = match base.kind {
            ExprKind::Path { base, segments } => (*base, segments),
            kind => (Expr::new(kind, base.span), Vec::new()),
        };
        let mut end = base.span;
        loop {
            if self.eat(&Tok::Dot).is_some() {
                let name = self.any_word("a field name after '.'")?;
                end = name.span;
                segments.push(Segment::Field(name));
            } else if self.eat(&Tok::LBracket).is_some() {
                let index = self.expr()?;
                end = self.expect(&Tok::RBracket, "']'")?;
                segments.push(Segment::Index(index));
            } else {
                break;
            }
        }
        if segments.is_empty() {
            return Ok(base);
        }
        let span = base.span.to(end);
        Ok(Expr::new(
            ExprKind::Path {
                base: Box::new(base),
                segments,
            },
            span,
        ))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        let span = token.span;
        let kind = match token.kind {
            Tok::Int | Tok::Decimal => {
                self.bump();
                ExprKind::Literal(self.number(self.text(span), &token.kind))
            }
            Tok::Str { value, .. } => {
                self.bump();
                ExprKind::Literal(Literal::String(value))
            }
            Tok::Var(name) => {
                self.bump();
                ExprKind::Var(Ident {
                    name,
                    span: Span::new(span.start + 1, span.end),
                })
            }
            Tok::LParen if self.is_word(self.peek_nth(1), "SELECT") => {
                return self.subquery();
            }
            Tok::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                return Ok(inner);
            }
            Tok::LBracket => return self.array(),
            Tok::LBrace => return self.object(),
            Tok::Word => return self.word_expr(),
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr::new(kind, span))
    }

    fn word_expr(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        let span = token.span;
        let word = self.text(span);
        let literal = if word.eq_ignore_ascii_case("TRUE") {
            Some(Literal::Bool(true))
        } else if word.eq_ignore_ascii_case("FALSE") {
            Some(Literal::Bool(false))
        } else if word.eq_ignore_ascii_case("NULL") {
            Some(Literal::Null)
        } else {
            None
        };
        if let Some(literal) = literal {
            self.bump();
            return Ok(Expr::new(ExprKind::Literal(literal), span));
        }
        if word.eq_ignore_ascii_case("CASE") {
            return self.case();
        }
        if is_reserved(word) {
            return Err(self.unexpected("an expression"));
        }
        let ident = Ident {
            name: word.to_owned(),
            span,
        };
        self.bump();
        if self.peek().kind != Tok::LParen {
            return Ok(Expr::new(ExprKind::Field(ident), span));
        }
        if word.eq_ignore_ascii_case("cast") {
            return self.cast(span);
        }
        self.bump();
        self.enter()?;
        let mut args = Vec::new();
        if self.peek().kind != Tok::RParen {
            loop {
                let star = self.peek().kind == Tok::Star
                    && matches!(self.peek_nth(1).kind, Tok::Comma | Tok::RParen);
                args.push(match star {
                    true => Expr::new(ExprKind::Star, self.bump().span),
                    false => self.expr()?,
                });
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RParen, "',' or ')'")?;
        self.leave();
        Ok(Expr::new(
            ExprKind::Call { name: ident, args },
            span.to(end),
        ))
    }

    fn cast(&mut self, start: Span) -> Result<Expr, ParseError> {
        self.bump();
        self.enter()?;
        let expr = self.expr()?;
        self.expect_keyword("AS")?;
        let name = self.any_word("a type name after AS")?;
        let Some(kind) = CastKind::from_name(&name.name) else {
            return Err(self.error(name.span, format!("unknown type '{}' in cast", name.name)));
        };
        if !kind.in_2015_10_08() {
            self.require_2016(name.span, &format!("casts to '{}'", name.name))?;
        }
        let end = self.expect(&Tok::RParen, "')'")?;
        self.leave();
        Ok(Expr::new(
            ExprKind::Cast {
                expr: Box::new(expr),
                ty: CastType { kind, name },
            },
            start.to(end),
        ))
    }

    fn case(&mut self) -> Result<Expr, ParseError> {
        let start = self.bump().span;
        self.enter()?;
        let operand = match self.peek_keyword("WHEN") {
            true => None,
            false => Some(Box::new(self.expr()?)),
        };
        let mut whens = Vec::new();
        while self.eat_keyword("WHEN").is_some() {
            let when = self.expr()?;
            self.expect_keyword("THEN")?;
            let then = self.expr()?;
            whens.push(When { when, then });
        }
        if whens.is_empty() {
            return Err(self.unexpected("WHEN (CASE needs at least one WHEN)"));
        }
        let else_ = match self.eat_keyword("ELSE") {
            Some(_) => Some(Box::new(self.expr()?)),
            None => None,
        };
        let end = self.eat_keyword("END").ok_or_else(|| {
            self.unexpected(if else_.is_some() {
                "END"
            } else {
                "WHEN, ELSE or END"
            })
        })?;
        self.leave();
        Ok(Expr::new(
            ExprKind::Case {
                operand,
                whens,
                else_,
            },
            start.to(end),
        ))
    }

    fn array(&mut self) -> Result<Expr, ParseError> {
        let start = self.bump().span;
        self.require_2016(start, "array literals")?;
        self.enter()?;
        let mut items = Vec::new();
        if self.peek().kind != Tok::RBracket {
            loop {
                items.push(self.expr()?);
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RBracket, "',' or ']'")?;
        self.leave();
        Ok(Expr::new(ExprKind::Array(items), start.to(end)))
    }

    fn object(&mut self) -> Result<Expr, ParseError> {
        let start = self.bump().span;
        self.require_2016(start, "object literals")?;
        self.enter()?;
        let mut fields = Vec::new();
        if self.peek().kind != Tok::RBrace {
            loop {
                let token = self.peek().clone();
                let Tok::Str { value: key, .. } = token.kind else {
                    return Err(self.unexpected("a quoted key"));
                };
                self.bump();
                self.expect(&Tok::Colon, "':'")?;
                let value = self.expr()?;
                fields.push(ObjectField {
                    key,
                    key_span: token.span,
                    value,
                });
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RBrace, "',' or '}'")?;
        self.leave();
        Ok(Expr::new(ExprKind::Object(fields), start.to(end)))
    }

    fn subquery(&mut self) -> Result<Expr, ParseError> {
        let start = self.bump().span;
        let select_span = self.bump().span;
        self.require_2016(select_span, "nested SELECT queries")?;
        self.enter()?;
        let select = self.select_list()?;
        if self.peek().kind == Tok::Comma {
            return Err(self.error(self.peek().span, "SELECT VALUE takes a single expression"));
        }
        self.expect_keyword("FROM")?;
        let from = self.expr()?;
        let where_ = match self.eat_keyword("WHERE") {
            Some(_) => Some(self.expr()?),
            None => None,
        };
        let expected = if where_.is_some() {
            "')'"
        } else {
            "WHERE or ')'"
        };
        let end = self.expect(&Tok::RParen, expected)?;
        self.leave();
        let span = start.to(end);
        Ok(Expr::new(
            ExprKind::Subquery(Box::new(Subquery {
                select,
                from,
                where_,
                span,
            })),
            span,
        ))
    }
}

fn unary(op: UnaryOp, op_span: Span, operand: Expr) -> Expr {
    let span = op_span.to(operand.span);
    Expr::new(
        ExprKind::Unary {
            op,
            expr: Box::new(operand),
        },
        span,
    )
}
