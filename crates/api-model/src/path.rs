//! Member paths in AWS's notation (`a.b`, `list.1.member.c`), built on the stack while walking
//! a value and rendered only when an error needs them.

use std::fmt;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    /// A list element, zero-based here and one-based when rendered.
    Index(&'a Path<'a>, usize),
    /// A map entry's value.
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn is_root(&self) -> bool {
        matches!(self, Path::Root)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parent, part): (&Path<'_>, &dyn fmt::Display) = match self {
            Path::Root => return Ok(()),
            Path::Member(parent, name) | Path::Key(parent, name) => (parent, name),
            Path::Index(parent, i) => return write!(f, "{parent}.{}.member", i + 1),
        };
        if parent.is_root() {
            write!(f, "{part}")
        } else {
            write!(f, "{parent}.{part}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aws_notation() {
        let payload = Path::Member(&Path::Root, "topicRulePayload");
        let actions = Path::Member(&payload, "actions");
        let first = Path::Index(&actions, 0);
        let lambda = Path::Member(&first, "lambda");
        assert_eq!(
            lambda.to_string(),
            "topicRulePayload.actions.1.member.lambda"
        );
        assert_eq!(
            Path::Key(&Path::Member(&Path::Root, "attrs"), "k").to_string(),
            "attrs.k"
        );
        assert_eq!(Path::Root.to_string(), "");
    }
}
