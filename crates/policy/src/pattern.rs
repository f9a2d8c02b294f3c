//! Compiled policy strings: IAM wildcards (`*`, `?`), policy variables (`${key}`,
//! `${key, 'default'}`) and the escapes `${*}`, `${?}`, `${$}`.
//!
//! A pattern is split at parse time into the runs between its `*`s; each run is a fixed number
//! of characters (literals, `?`, variable values), so matching anchors the first run at the
//! start, the last run at the end, and places the runs in between leftmost-first, which is
//! enough for `*`-only globs. Matching never parses and never allocates.
//!
//! Variables live in a table shared by all patterns of one statement element (its Resource
//! list, one condition), so each is resolved once per evaluation; patterns hold indices into
//! it. Resolved values are always compared literally, so a value containing `*`, `?`, `+` or
//! `#` can never widen what a pattern matches, and a pattern that needs an unresolved
//! variable matches nothing.

/// What a string in a policy may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Resource, Action, `...Like` conditions).
    pub wildcards: bool,
    /// `${...}` is a policy variable (policy language version 2012-10-17).
    pub variables: bool,
}

/// A policy variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// The key as written, e.g. `iot:Connection.Thing.Attributes[color]`.
    pub key: Box<str>,
    /// The IAM `${key, 'default'}` fallback used when the context has no value.
    pub default: Option<Box<str>>,
}

#[derive(Debug, Clone)]
enum Piece {
    /// Literal text (already unescaped); `chars` is cached for suffix anchoring.
    Lit { text: Box<str>, chars: usize },
    /// `?`: exactly one character.
    AnyChar,
    /// Index into the variable table; matched literally against the resolved value.
    Var(usize),
}

/// A compiled policy string.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The runs between `*`s: `runs[0] * runs[1] * … * runs[n-1]`. One run means no `*`.
    runs: Box<[Box<[Piece]>]>,
}

/// Resolved values of a variable table, by index; `None` where the context had no value.
pub(crate) type Values = [Option<String>];

impl Pattern {
    /// Compiles `text`, adding the variables it uses to `table`. Never fails: anything that is
    /// not a wildcard, a complete `${...}` or an escape is literal text (a lone `$`, as in
    /// `$aws/things/...`, is the common case).
    pub(crate) fn compile(text: &str, syntax: Syntax, table: &mut Vec<Variable>) -> Pattern {
        let mut builder = Builder {
            runs: Vec::new(),
            run: Vec::new(),
            literal: String::new(),
            variables: table,
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c == '$'
                && syntax.variables
                && rest[1..].starts_with('{')
                && let Some(close) = rest.find('}')
            {
                let inner = &rest[2..close];
                match inner {
                    "*" | "?" | "$" => builder.literal(inner),
                    _ => match parse_variable(inner) {
                        Some(var) => builder.variable(var),
                        None => builder.literal(&rest[..=close]),
                    },
                }
                rest = &rest[close + 1..];
                continue;
            }
            match c {
                '*' if syntax.wildcards => builder.star(),
                '?' if syntax.wildcards => builder.any_char(),
                _ => {
                    let mut buf = [0u8; 4];
                    builder.literal(c.encode_utf8(&mut buf));
                }
            }
            rest = &rest[c.len_utf8()..];
        }
        builder.finish()
    }

    /// True if the pattern is exactly `*` (matches every string).
    pub(crate) fn is_match_all(&self) -> bool {
        self.runs.len() == 2 && self.runs.iter().all(|run| run.is_empty())
    }

    /// Matches `input` against the pattern. `values` is the resolved variable table the
    /// pattern was compiled against. `fold_case` compares ASCII letters case-insensitively
    /// (action names).
    pub(crate) fn matches(&self, input: &str, values: &Values, fold_case: bool) -> bool {
        let m = Matcher { values, fold_case };
        let (first, rest) = match self.runs.split_first() {
            Some(split) => split,
            None => return input.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return m.run_at(first, input, 0) == Some(input.len());
        };
        let Some(mut pos) = m.run_at(first, input, 0) else {
            return false;
        };
        // The last run has a fixed number of characters, so it can only sit at the very end.
        let Some(suffix_start) = m.run_chars(last).and_then(|n| nth_char_from_end(input, n)) else {
            return false;
        };
        if suffix_start < pos || m.run_at(last, input, suffix_start) != Some(input.len()) {
            return false;
        }
        let haystack = &input[..suffix_start];
        for run in middle {
            match m.find(run, haystack, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }

    /// The pattern's text with variables replaced by `values` (for patterns compiled without
    /// wildcards: condition values that are compared whole or parsed as numbers, dates, IPs);
    /// `None` if a variable is unresolved.
    pub(crate) fn expand(&self, values: &Values) -> Option<String> {
        let mut out = String::new();
        for (i, run) in self.runs.iter().enumerate() {
            if i > 0 {
                out.push('*');
            }
            for piece in run.iter() {
                match piece {
                    Piece::Lit { text, .. } => out.push_str(text),
                    Piece::AnyChar => out.push('?'),
                    Piece::Var(v) => out.push_str(values.get(*v)?.as_deref()?),
                }
            }
        }
        Some(out)
    }

    /// The literal text if the pattern has no wildcard and no variable.
    pub(crate) fn as_literal(&self) -> Option<&str> {
        match &*self.runs {
            [run] => match &**run {
                [] => Some(""),
                [Piece::Lit { text, .. }] => Some(text),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `key` or `key, 'default'`; `None` for text that is not a variable (empty key).
fn parse_variable(inner: &str) -> Option<Variable> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
            if !quoted {
                return None;
            }
            (key.trim(), Some(default[1..default.len() - 1].into()))
        }
        None => (inner, None),
    };
    if key.is_empty() {
        return None;
    }
    Some(Variable {
        key: key.into(),
        default,
    })
}

struct Builder<'t> {
    runs: Vec<Box<[Piece]>>,
    run: Vec<Piece>,
    literal: String,
    variables: &'t mut Vec<Variable>,
}

impl Builder<'_> {
    fn literal(&mut self, text: &str) {
        self.literal.push_str(text);
    }

    fn flush(&mut self) {
        if !self.literal.is_empty() {
            let text = std::mem::take(&mut self.literal);
            let chars = text.chars().count();
            self.run.push(Piece::Lit {
                text: text.into(),
                chars,
            });
        }
    }

    fn any_char(&mut self) {
        self.flush();
        self.run.push(Piece::AnyChar);
    }

    fn variable(&mut self, var: Variable) {
        self.flush();
        let index = match self.variables.iter().position(|v| *v == var) {
            Some(index) => index,
            None => {
                self.variables.push(var);
                self.variables.len() - 1
            }
        };
        self.run.push(Piece::Var(index));
    }

    fn star(&mut self) {
        self.flush();
        // `**` is the same as `*`; collapsing keeps middle runs non-empty.
        if self.run.is_empty() && !self.runs.is_empty() {
            return;
        }
        self.runs.push(std::mem::take(&mut self.run).into());
    }

    fn finish(mut self) -> Pattern {
        self.flush();
        self.runs.push(self.run.into());
        Pattern {
            runs: self.runs.into(),
        }
    }
}

struct Matcher<'v> {
    values: &'v Values,
    fold_case: bool,
}

impl Matcher<'_> {
    fn value(&self, index: usize) -> Option<&str> {
        self.values.get(index)?.as_deref()
    }

    /// Matches `run` at byte offset `pos` of `input`; returns where it ends.
    fn run_at(&self, run: &[Piece], input: &str, mut pos: usize) -> Option<usize> {
        for piece in run {
            pos = match piece {
                Piece::Lit { text, .. } => self.literal_at(text, input, pos)?,
                Piece::Var(v) => self.literal_at(self.value(*v)?, input, pos)?,
                Piece::AnyChar => pos + input[pos..].chars().next()?.len_utf8(),
            };
        }
        Some(pos)
    }

    fn literal_at(&self, literal: &str, input: &str, pos: usize) -> Option<usize> {
        let end = pos.checked_add(literal.len())?;
        let candidate = input.as_bytes().get(pos..end)?;
        // Byte comparison keeps `end` on a char boundary: equal bytes (ASCII case aside) are
        // the same UTF-8 sequence as the literal.
        let equal = if self.fold_case {
            candidate.eq_ignore_ascii_case(literal.as_bytes())
        } else {
            candidate == literal.as_bytes()
        };
        equal.then_some(end)
    }

    fn run_chars(&self, run: &[Piece]) -> Option<usize> {
        run.iter()
            .map(|piece| match piece {
                Piece::Lit { chars, .. } => Some(*chars),
                Piece::AnyChar => Some(1),
                Piece::Var(v) => Some(self.value(*v)?.chars().count()),
            })
            .sum()
    }

    /// The end of the leftmost occurrence of `run` in `haystack` starting at or after `from`.
    fn find(&self, run: &[Piece], haystack: &str, from: usize) -> Option<usize> {
        let mut start = from;
        loop {
            if let Some(end) = self.run_at(run, haystack, start) {
                return Some(end);
            }
            start += haystack[start..].chars().next()?.len_utf8();
        }
    }
}

/// The byte offset where the last `n` characters of `s` begin, if `s` has that many.
fn nth_char_from_end(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(s.len());
    }
    s.char_indices().rev().nth(n - 1).map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn compile(pattern: &str) -> (Pattern, Vec<Variable>) {
        let mut table = Vec::new();
        (Pattern::compile(pattern, GLOB, &mut table), table)
    }

    fn glob(pattern: &str, input: &str) -> bool {
        compile(pattern).0.matches(input, &[], false)
    }

    fn value(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn star_crosses_slashes_and_question_mark_is_one_character() {
        assert!(glob("topic/*", "topic/a/b/c"));
        assert!(glob("topic/*", "topic/"));
        assert!(!glob("topic/*", "topic"));
        assert!(glob("a?c", "abc"));
        assert!(glob("a?c", "aéc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*/shadow/*", "$aws/things/t1/shadow/update"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
        assert!(glob("**", ""));
        assert!(glob("a**b", "ab"));
    }

    #[test]
    fn mqtt_wildcards_are_literal() {
        assert!(glob("topicfilter/a/+/b", "topicfilter/a/+/b"));
        assert!(!glob("topicfilter/a/+/b", "topicfilter/a/x/b"));
        assert!(glob("topicfilter/a/#", "topicfilter/a/#"));
        assert!(!glob("topicfilter/a/#", "topicfilter/a/b"));
    }

    #[test]
    fn escapes_produce_literal_characters() {
        assert!(glob("a${*}b", "a*b"));
        assert!(!glob("a${*}b", "aXb"));
        assert!(glob("a${?}b", "a?b"));
        assert!(!glob("a${?}b", "aXb"));
        assert!(glob("${$}aws/x", "$aws/x"));
        assert!(glob("$aws/things/*", "$aws/things/t"));
    }

    #[test]
    fn variables_are_listed_once_and_matched_literally() {
        let (p, table) = compile("topic/${iot:ClientId}/${iot:ClientId}/*");
        assert_eq!(table.len(), 1);
        assert!(p.matches("topic/c1/c1/x", &[value("c1")], false));
        assert!(!p.matches("topic/c1/c2/x", &[value("c1")], false));
        assert!(p.matches("topic/*/*/x", &[value("*")], false));
        assert!(!p.matches("topic/a/a/x", &[value("*")], false));
    }

    #[test]
    fn unresolved_variables_match_nothing() {
        let (p, _) = compile("*${iot:ClientId}*");
        assert!(!p.matches("anything", &[None], false));
        assert!(!p.matches("${iot:ClientId}", &[None], false));
        assert_eq!(p.expand(&[None]), None);
    }

    #[test]
    fn patterns_share_one_table() {
        let mut table = Vec::new();
        let a = Pattern::compile("a/${x}", GLOB, &mut table);
        let b = Pattern::compile("b/${y}/${x}", GLOB, &mut table);
        assert_eq!(table.len(), 2);
        let values = [value("1"), value("2")];
        assert!(a.matches("a/1", &values, false));
        assert!(b.matches("b/2/1", &values, false));
    }

    #[test]
    fn variable_syntax_edge_cases_are_literal() {
        let (p, table) = compile("a/${}/${unterminated");
        assert!(table.is_empty());
        assert_eq!(p.as_literal(), Some("a/${}/${unterminated"));
        let (_, table) = compile("${aws:username, 'anon'}");
        assert_eq!(&*table[0].key, "aws:username");
        assert_eq!(table[0].default.as_deref(), Some("anon"));
        let mut table = Vec::new();
        let no_vars = Syntax {
            wildcards: true,
            variables: false,
        };
        let literal = Pattern::compile("topic/${iot:ClientId}", no_vars, &mut table);
        assert_eq!(literal.as_literal(), Some("topic/${iot:ClientId}"));
    }

    #[test]
    fn case_folding_is_ascii_only() {
        let (p, _) = compile("iot:Update*");
        assert!(p.matches("IOT:updatethingshadow", &[], true));
        assert!(!p.matches("IOT:updatethingshadow", &[], false));
    }
}
