//! The `pattern` constraints of string shapes, compiled on first use.
//!
//! botocore's patterns are Java regular expressions that AWS applies with `Matcher.matches()`,
//! i.e. anchored at both ends. A few Java spellings are rewritten into `regex` syntax: the POSIX
//! classes `\p{Graph}` and friends, and the ASCII-only `\w`/`\d`/`\s` (Rust's are Unicode-aware).
//! A pattern that still does not compile is skipped: validation must never reject a request
//! because of our regex engine.

use std::sync::OnceLock;

use regex::Regex;

pub struct Pattern {
    source: &'static str,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    pub(crate) const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as the model spells it (and as AWS quotes it in validation messages).
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The compiled, anchored expression; `None` when `regex` cannot express it.
    pub fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| Regex::new(&translate(self.source)).ok())
            .as_ref()
    }

    /// Whether `value` matches; values of a pattern that did not compile always match.
    pub fn matches(&self, value: &str) -> bool {
        self.regex().is_none_or(|re| re.is_match(value))
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// Rewrites a Java pattern into an anchored `regex` pattern. Rust's classes may nest, so a
/// class replacement such as `[0-9]` is valid both inside and outside brackets.
fn translate(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 8);
    out.push_str("^(?:");
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(escaped) = chars.next() else {
            out.push('\\');
            break;
        };
        match escaped {
            'w' => out.push_str("[0-9A-Za-z_]"),
            'W' => out.push_str("[^0-9A-Za-z_]"),
            'd' => out.push_str("[0-9]"),
            'D' => out.push_str("[^0-9]"),
            's' => out.push_str(r"[\t\n\x0B\f\r ]"),
            'S' => out.push_str(r"[^\t\n\x0B\f\r ]"),
            'p' | 'P' if chars.peek() == Some(&'{') => {
                let name: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                match posix_class(&name) {
                    Some(class) if escaped == 'p' => out.push_str(&format!("[[:{class}:]]")),
                    Some(class) => out.push_str(&format!("[[:^{class}:]]")),
                    None => out.push_str(&format!("\\{escaped}{{{name}}}")),
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out.push_str(")$");
    out
}

/// Java's US-ASCII POSIX property names and their `regex` ASCII class names.
fn posix_class(java_name: &str) -> Option<&'static str> {
    Some(match java_name {
        "Lower" => "lower",
        "Upper" => "upper",
        "ASCII" => "ascii",
        "Alpha" => "alpha",
        "Digit" => "digit",
        "Alnum" => "alnum",
        "Punct" => "punct",
        "Graph" => "graph",
        "Print" => "print",
        "Blank" => "blank",
        "Cntrl" => "cntrl",
        "XDigit" => "xdigit",
        "Space" => "space",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Service;

    #[test]
    fn patterns_are_anchored() {
        let p = Pattern::new("[a-zA-Z0-9:_-]+");
        assert!(p.matches("my-thing_1:x"));
        assert!(!p.matches("my thing"));
        assert!(!p.matches(""));
    }

    #[test]
    fn java_classes_are_translated() {
        let graph = Pattern::new(r"[\p{Graph}\x20]*");
        assert!(graph.matches("a b~"));
        assert!(!graph.matches("tab\there"));
        let word = Pattern::new(r"[\w+=,.@-]+");
        assert!(word.matches("policy+1@x"));
        assert!(!word.matches("pölicy"), "java's \\w is ascii-only");
        let cntrl = Pattern::new(r"[^\p{Cntrl}]*");
        assert!(!cntrl.matches("a\u{7}"));
        let unicode = Pattern::new(r"[^\p{C}]*");
        assert!(unicode.matches("héllo"));
    }

    #[test]
    fn a_dash_after_a_range_is_literal_as_in_java() {
        let p = Pattern::new("[a-zA-Z0-9-_.]+");
        assert!(p.matches("a-b_c.d"));
        assert!(!p.matches("a/b"));
    }

    #[test]
    fn alternation_keeps_its_anchor() {
        let p = Pattern::new(r"[a-zA-Z0-9_-]+|^\$next");
        assert!(p.matches("job-1"));
        assert!(p.matches("$next"));
        assert!(!p.matches("$nextx"));
    }

    /// Lists the model patterns `regex` cannot compile; validation skips them. Update the count
    /// (and look at the list) when the model changes.
    #[test]
    fn uncompilable_patterns_are_few_and_known() {
        let mut total = 0;
        let skipped: Vec<(Service, &str)> = Service::ALL
            .into_iter()
            .flat_map(|s| s.patterns().iter().map(move |p| (s, p)))
            .inspect(|_| total += 1)
            .filter(|(_, p)| p.regex().is_none())
            .map(|(s, p)| (s, p.source()))
            .collect();
        println!("{} of {total} patterns skipped: {skipped:?}", skipped.len());
        assert_eq!(skipped.len(), 0, "skipped patterns: {skipped:?}");
        assert!(total > 40);
    }
}
