//! String functions. Non-string arguments go through the standard string conversion (numbers
//! as text, arrays and objects as JSON); `Null` and `Undefined` have none, so they make the
//! result `Undefined`.
//!
//! Positions and lengths count Unicode scalar values. AWS (Java) counts UTF-16 units; the two
//! agree outside the astral planes (emoji), where counting units could split a character.
//!
//! Regular expressions are Rust `regex` syntax, which matches Java's for the common subset;
//! Java-only constructs (backreferences, lookaround) are invalid here and give `Undefined`, as
//! an invalid pattern does on AWS. Compiled patterns are cached per thread.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use regex::{Captures, Regex};

use super::{FnContext, FnError, arg};
use crate::convert::{Num, to_int_down, to_number, to_string};
use crate::decimal::Rounding;
use crate::value::Value;

type Out = Result<Value, FnError>;

fn text(v: &Value) -> Option<Cow<'_, str>> {
    to_string(v)
}

/// Int-converted position or count (toward zero), saturating: indices are clamped anyway, so
/// `substring(false, -2.411E247)` is `"false"`.
fn position(v: &Value) -> Option<i64> {
    match to_number(v)? {
        Num::Int(i) => Some(i),
        Num::Dec(d) => Some(
            d.to_i128(Rounding::Down)
                .map_or(if d.is_negative() { i64::MIN } else { i64::MAX }, |i| {
                    i.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
                }),
        ),
    }
}

fn string_result(s: Option<String>) -> Value {
    s.map_or(Value::Undefined, Value::from)
}

/// `chr(n)`: the ASCII character for `n` (rounded toward zero); other values `Undefined`.
pub fn chr(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(to_int_down(arg(args, 0))
        .and_then(|n| u8::try_from(n).ok())
        .filter(u8::is_ascii)
        .map_or(Value::Undefined, |b| Value::from((b as char).to_string())))
}

/// `concat(...)`: none → `Undefined`; one → itself unchanged (AWS's `concat(1)` = `"1"` row is
/// wrong); with any array argument → one array of all arguments (arrays spliced); otherwise the
/// string forms joined. `Null`/`Undefined` in a string concatenation → `Undefined`.
pub fn concat(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(match args {
        [] => Value::Undefined,
        [one] => one.clone(),
        _ if args.iter().any(|a| matches!(a, Value::Array(_))) => {
            let mut items = Vec::new();
            for a in args {
                match a {
                    Value::Array(inner) => items.extend(inner.iter().cloned()),
                    other => items.push(other.clone()),
                }
            }
            Value::array(items)
        }
        _ => {
            let mut out = String::new();
            for a in args {
                match text(a) {
                    Some(s) => out.push_str(&s),
                    None => return Ok(Value::Undefined),
                }
            }
            Value::from(out)
        }
    })
}

fn two_strings(args: &[Value], op: fn(&str, &str) -> Value) -> Out {
    Ok(match (text(arg(args, 0)), text(arg(args, 1))) {
        (Some(a), Some(b)) => op(&a, &b),
        _ => Value::Undefined,
    })
}

pub fn endswith(args: &[Value], _ctx: &dyn FnContext) -> Out {
    two_strings(args, |a, b| Value::Bool(a.ends_with(b)))
}

pub fn startswith(args: &[Value], _ctx: &dyn FnContext) -> Out {
    two_strings(args, |a, b| Value::Bool(a.starts_with(b)))
}

/// `indexof(s, sub)`: 0-based position of the first occurrence, `-1` when there is none.
pub fn indexof(args: &[Value], _ctx: &dyn FnContext) -> Out {
    two_strings(args, |a, b| {
        Value::Int(
            a.find(b)
                .map_or(-1, |byte| a[..byte].chars().count() as i64),
        )
    })
}

pub fn length(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(text(arg(args, 0)).map_or(Value::Undefined, |s| Value::Int(s.chars().count() as i64)))
}

pub fn numbytes(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(text(arg(args, 0)).map_or(Value::Undefined, |s| Value::Int(s.len() as i64)))
}

pub fn lower(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(string_result(text(arg(args, 0)).map(|s| s.to_lowercase())))
}

pub fn upper(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(string_result(text(arg(args, 0)).map(|s| s.to_uppercase())))
}

fn pad(args: &[Value], left: bool) -> Out {
    let (Some(s), Some(n)) = (text(arg(args, 0)), position(arg(args, 1))) else {
        return Ok(Value::Undefined);
    };
    let spaces = " ".repeat(n.clamp(0, 1000) as usize);
    Ok(Value::from(if left {
        spaces + &s
    } else {
        s.into_owned() + &spaces
    }))
}

/// `lpad(s, n)`: `n` spaces (clamped to 0–1000) before `s`.
pub fn lpad(args: &[Value], _ctx: &dyn FnContext) -> Out {
    pad(args, true)
}

/// `rpad(s, n)`: `n` spaces (clamped to 0–1000) after `s`.
pub fn rpad(args: &[Value], _ctx: &dyn FnContext) -> Out {
    pad(args, false)
}

/// Whitespace as Java's `String.trim` sees it: every character up to U+0020 (spaces, tabs,
/// line breaks, other controls).
fn is_trimmed(c: char) -> bool {
    c <= ' '
}

/// `ltrim(s)`: `ltrim(" h i ")` is `"h i "` (AWS's example drops the inner space by mistake).
pub fn ltrim(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(string_result(
        text(arg(args, 0)).map(|s| s.trim_start_matches(is_trimmed).to_owned()),
    ))
}

pub fn rtrim(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(string_result(
        text(arg(args, 0)).map(|s| s.trim_end_matches(is_trimmed).to_owned()),
    ))
}

pub fn trim(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(string_result(
        text(arg(args, 0)).map(|s| s.trim_matches(is_trimmed).to_owned()),
    ))
}

/// `replace(s, find, with)`: every occurrence, literally.
pub fn replace(args: &[Value], _ctx: &dyn FnContext) -> Out {
    Ok(
        match (text(arg(args, 0)), text(arg(args, 1)), text(arg(args, 2))) {
            (Some(s), Some(find), Some(with)) => Value::from(s.replace(find.as_ref(), &with)),
            _ => Value::Undefined,
        },
    )
}

/// `substring(s, start[, end])`: 0-based, `end` exclusive, both clamped to the string; an
/// `end` at or before `start` gives `""`.
pub fn substring(args: &[Value], _ctx: &dyn FnContext) -> Out {
    let Some(s) = text(arg(args, 0)) else {
        return Ok(Value::Undefined);
    };
    let len = s.chars().count() as i64;
    let Some(start) = position(arg(args, 1)) else {
        return Ok(Value::Undefined);
    };
    let end = if args.len() > 2 {
        match position(arg(args, 2)) {
            Some(e) => e,
            None => return Ok(Value::Undefined),
        }
    } else {
        len
    };
    let (start, end) = (start.clamp(0, len), end.clamp(0, len));
    if start >= end {
        return Ok(Value::from(""));
    }
    Ok(Value::from(
        s.chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect::<String>(),
    ))
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// Runs `op` with the compiled pattern; `None` when it is not a valid regular expression.
/// The pattern is borrowed from the cache, never cloned: a cloned `Regex` starts with an empty
/// matching cache of its own, which costs more than the match.
fn with_pattern<T>(pattern: &str, op: impl FnOnce(&Regex) -> T) -> Option<T> {
    const CACHE_LIMIT: usize = 256;
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(pattern.to_owned(), Regex::new(pattern).ok());
        }
        cache.get(pattern).and_then(Option::as_ref).map(op)
    })
}

fn with_regex(args: &[Value], op: impl FnOnce(&str, &Regex) -> Value) -> Out {
    let (Some(s), Some(p)) = (text(arg(args, 0)), text(arg(args, 1))) else {
        return Ok(Value::Undefined);
    };
    Ok(with_pattern(&p, |re| op(&s, re)).unwrap_or(Value::Undefined))
}

/// `regexp_matches(s, re)`: whether `s` contains a match.
pub fn regexp_matches(args: &[Value], _ctx: &dyn FnContext) -> Out {
    with_regex(args, |s, re| Value::Bool(re.is_match(s)))
}

/// `regexp_substr(s, re)`: the first match; `Undefined` when there is none.
pub fn regexp_substr(args: &[Value], _ctx: &dyn FnContext) -> Out {
    with_regex(args, |s, re| {
        re.find(s)
            .map_or(Value::Undefined, |m| Value::from(m.as_str()))
    })
}

/// `regexp_replace(s, re, with)`: every match replaced; `with` is a Java replacement string
/// (`$1`, `${name}`, `\` escaping the next character). An invalid one gives `Undefined`.
pub fn regexp_replace(args: &[Value], _ctx: &dyn FnContext) -> Out {
    let Some(with) = text(arg(args, 2)) else {
        return Ok(Value::Undefined);
    };
    with_regex(args, |s, re| {
        let Some(parts) = parse_replacement(&with, re) else {
            return Value::Undefined;
        };
        // Java's `Matcher.find` loop, not `captures_iter`: after a non-empty match the next
        // search starts at its end and may find an empty match there (`"aaa"` with `a*` is
        // replaced twice, giving `"xx"`); only after an empty match does it move on a
        // character. `captures_iter` skips an empty match that touches the previous one.
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        let mut from = 0;
        while from <= s.len() {
            let Some(caps) = re.captures_at(s, from) else {
                break;
            };
            let m = caps.get(0).expect("group 0 is the match");
            out.push_str(&s[last..m.start()]);
            expand(&parts, &caps, &mut out);
            last = m.end();
            from = if m.is_empty() {
                m.end() + s[m.end()..].chars().next().map_or(1, char::len_utf8)
            } else {
                m.end()
            };
        }
        out.push_str(&s[last..]);
        Value::from(out)
    })
}

enum Part {
    Literal(String),
    Group(usize),
    Named(String),
}

/// Java's `Matcher.appendReplacement` syntax: `$` then a group number (as many digits as still
/// name an existing group) or `${name}`; `\` takes the next character literally.
fn parse_replacement(with: &str, re: &Regex) -> Option<Vec<Part>> {
    let groups = re.captures_len() - 1;
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = with.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next()?),
            '$' => {
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                if chars.peek() == Some(&'{') {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next()? {
                            '}' => break,
                            c => name.push(c),
                        }
                    }
                    re.capture_names().flatten().find(|n| *n == name)?;
                    parts.push(Part::Named(name));
                } else {
                    let mut group = chars.next()?.to_digit(10)? as usize;
                    if group > groups {
                        return None;
                    }
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let longer = group * 10 + d as usize;
                        if longer > groups {
                            break;
                        }
                        group = longer;
                        chars.next();
                    }
                    parts.push(Part::Group(group));
                }
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Some(parts)
}

fn expand(parts: &[Part], caps: &Captures<'_>, out: &mut String) {
    for part in parts {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            Part::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
        }
    }
}
