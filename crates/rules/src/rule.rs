//! A statement compiled once and evaluated for every matching message, and the substitution
//! templates (`${expr}`) of its actions.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ferrite_rules_sql::{ParseError, SqlVersion};

use crate::compile::Binder;
use crate::eval::{Env, eval, operand, project};
use crate::functions::{FnContext, FnError, lookup};
use crate::json;
use crate::plan::{Node, Projection};
use crate::value::Value;

/// A rule's SQL, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledSql {
    version: SqlVersion,
    sets: Vec<Node>,
    /// SET variable names → slots, for the templates of the rule's actions.
    vars: HashMap<String, usize>,
    projection: Projection,
    filter: Option<Node>,
    topic_filter: Option<String>,
    functions: Vec<&'static str>,
}

/// What a message makes of a rule.
#[derive(Debug, Clone)]
pub enum Evaluation {
    /// WHERE was not true: no action runs.
    Filtered,
    /// The SELECT's output, and the message as parsed and the SET variables, for the
    /// templates of the actions.
    Selected(Selected),
}

#[derive(Debug, Clone)]
pub struct Selected {
    pub output: Value,
    pub input: Value,
    pub vars: Vec<Value>,
}

impl Selected {
    /// The payload actions send: the output as JSON (or raw bytes for a binary passthrough).
    pub fn payload(&self) -> Bytes {
        json::to_payload(&self.output)
    }
}

/// Parses and binds `sql` for `version`. Errors carry their place in the text (AWS's
/// SqlParseException).
pub fn compile(sql: &str, version: SqlVersion) -> Result<CompiledSql, ParseError> {
    let statement = ferrite_rules_sql::parse(sql, version)?;
    let mut binder = Binder::new(sql, version);
    let mut sets = Vec::with_capacity(statement.sets.len());
    for set in &statement.sets {
        // A variable sees the ones defined before it, not itself.
        let node = binder.expr(&set.value)?;
        let slot = sets.len();
        sets.push(node);
        binder.vars.insert(set.name.name.clone(), slot);
    }
    let projection = binder.projection(&statement.select)?;
    let filter = match &statement.where_ {
        Some(w) => Some(binder.expr(w)?),
        None => None,
    };
    Ok(CompiledSql {
        version,
        sets,
        vars: binder.vars,
        projection,
        filter,
        topic_filter: statement.from.map(|f| f.topic_filter),
        functions: binder.functions,
    })
}

impl CompiledSql {
    pub fn version(&self) -> SqlVersion {
        self.version
    }

    /// The FROM topic filter; `None` for a rule used only through Basic Ingest.
    pub fn topic_filter(&self) -> Option<&str> {
        self.topic_filter.as_deref()
    }

    /// The functions the statement calls, as AWS names them, each once.
    pub fn functions(&self) -> &[&'static str] {
        &self.functions
    }

    /// Whether it calls another service (`get_thing_shadow`, `aws_lambda`, …): such a rule
    /// is evaluated where blocking is allowed.
    pub fn calls_services(&self) -> bool {
        self.functions
            .iter()
            .any(|f| lookup(f).is_some_and(|d| d.external))
    }

    /// The payload fields the statement reads; [`json::from_payload_fields`] can skip the rest
    /// (union it with the [`Template::fields`] of the rule's actions first).
    pub fn fields(&self) -> json::Fields {
        self.sets
            .iter()
            .fold(self.projection.fields(), |acc, n| acc.union(n.fields()))
            .union(
                self.filter
                    .as_ref()
                    .map_or_else(json::Fields::default, Node::fields),
            )
    }

    /// The topic level (from 0) the statement's first constant `topic(n)` reads, in
    /// evaluation order (SET, WHERE, SELECT): what a message's context may make once, up
    /// front, for the statement and its actions' templates to share.
    pub fn topic_level(&self) -> Option<usize> {
        let mut first = None;
        let mut find = |n: &Node| {
            if let (None, Node::TopicLevel(i)) = (first, n) {
                first = Some(*i);
            }
        };
        for node in self.sets.iter().chain(&self.filter) {
            node.visit(&mut find);
        }
        self.projection.visit(&mut find);
        first
    }

    /// Evaluates the statement for one message: SET, then WHERE, then SELECT. The whole
    /// payload is parsed, so templates can read any field of [`Selected::input`].
    pub fn evaluate(&self, payload: &Bytes, ctx: &dyn FnContext) -> Result<Evaluation, FnError> {
        let input = json::from_payload(payload, self.version);
        self.evaluate_parsed(input, payload, ctx)
    }

    /// [`CompiledSql::evaluate`] for a payload already parsed with [`json::from_payload`].
    pub fn evaluate_parsed(
        &self,
        input: Value,
        payload: &Bytes,
        ctx: &dyn FnContext,
    ) -> Result<Evaluation, FnError> {
        let mut vars = Vec::with_capacity(self.sets.len());
        for node in &self.sets {
            let v = eval(node, &self.env(&input, payload, &vars, ctx))?;
            vars.push(v);
        }
        let env = self.env(&input, payload, &vars, ctx);
        if let Some(filter) = &self.filter
            && !crate::ops::is_true(&eval(filter, &env)?)
        {
            return Ok(Evaluation::Filtered);
        }
        let output = project(&self.projection, &env)?;
        Ok(Evaluation::Selected(Selected {
            output,
            input,
            vars,
        }))
    }

    fn env<'a>(
        &self,
        row: &'a Value,
        raw: &'a Bytes,
        vars: &'a [Value],
        ctx: &'a dyn FnContext,
    ) -> Env<'a> {
        Env {
            row,
            raw,
            vars,
            ctx,
            version: self.version,
        }
    }

    /// Compiles a substitution-template string of one of this rule's actions: `${expr}`
    /// parts are SQL expressions over the incoming message (not the SELECT output) and the
    /// rule's SET variables; `$$` writes one `$`.
    pub fn template(&self, text: &str) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut functions = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(more) = after.strip_prefix('$') {
                literal.push('$');
                rest = more;
            } else if let Some(body) = after.strip_prefix('{') {
                let end = template_end(body).ok_or_else(|| {
                    ParseError::at(
                        text,
                        ferrite_rules_sql::Span::new(text.len() - rest.len() + at, text.len()),
                        "unterminated substitution template: expected '}'",
                    )
                })?;
                let expr_text = &body[..end];
                let expr = ferrite_rules_sql::parse_expression(expr_text, self.version)?;
                let mut binder = Binder::new(expr_text, self.version);
                binder.vars = self.vars.clone();
                let node = binder.expr(&expr)?;
                for f in binder.functions {
                    if !functions.contains(&f) {
                        functions.push(f);
                    }
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(Arc::from(std::mem::take(&mut literal).as_str())));
                }
                parts.push(Part::Expr(node));
                rest = &body[end + 1..];
            } else {
                literal.push('$');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(Arc::from(literal.as_str())));
        }
        Ok(Template {
            version: self.version,
            parts,
            functions,
        })
    }
}

/// The index of the `}` closing a template body, skipping braces inside quotes and nested
/// object literals.
fn template_end(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{') => depth += 1,
            (None, '}') if depth == 0 => return Some(i),
            (None, '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[derive(Debug, Clone)]
enum Part {
    Text(Arc<str>),
    Expr(Node),
}

/// An action field with `${...}` substitutions, compiled against its rule.
#[derive(Debug, Clone)]
pub struct Template {
    version: SqlVersion,
    parts: Vec<Part>,
    functions: Vec<&'static str>,
}

impl Template {
    /// The functions its expressions call.
    pub fn functions(&self) -> &[&'static str] {
        &self.functions
    }

    /// The payload fields its expressions read.
    pub fn fields(&self) -> json::Fields {
        self.parts
            .iter()
            .fold(json::Fields::default(), |acc, p| match p {
                Part::Text(_) => acc,
                Part::Expr(n) => acc.union(n.fields()),
            })
    }

    /// Whether it substitutes anything.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The text for one message: strings as they are, other values as JSON, Undefined as
    /// nothing.
    pub fn render(
        &self,
        selected: &Selected,
        payload: &Bytes,
        ctx: &dyn FnContext,
    ) -> Result<String, FnError> {
        let mut out = String::new();
        self.render_into(&mut out, selected, payload, ctx)?;
        Ok(out)
    }

    /// [`Template::render`] appended to `out`, so a caller that renders per message can reuse
    /// one buffer.
    pub fn render_into(
        &self,
        out: &mut String,
        selected: &Selected,
        payload: &Bytes,
        ctx: &dyn FnContext,
    ) -> Result<(), FnError> {
        let env = Env {
            row: &selected.input,
            raw: payload,
            vars: &selected.vars,
            ctx,
            version: self.version,
        };
        // Room for the text and a short substitution per expression, so a topic renders
        // with one allocation at most.
        let room: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Expr(_) => 16,
            })
            .sum();
        out.reserve(room);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(node) => match &*operand(node, &env)? {
                    Value::Undefined => {}
                    Value::String(s) => out.push_str(s),
                    other => out.push_str(&json::to_json_string(other)),
                },
            }
        }
        Ok(())
    }
}
