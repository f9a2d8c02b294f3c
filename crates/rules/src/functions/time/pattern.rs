//! The pattern syntax Joda-Time's `DateTimeFormat` and Java's `DateTimeFormatter` share:
//! runs of one ASCII letter are fields, `'…'` quotes literal text (`''` is a quote), anything
//! else is literal. `DateTimeFormatter` adds `[…]` optional sections.

/// One pattern element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A field: its letter and how many times it is repeated.
    Field(char, usize),
    Literal(String),
    /// `[` (DateTimeFormatter only).
    OptionalStart,
    /// `]` (DateTimeFormatter only).
    OptionalEnd,
}

/// Splits a pattern; `None` when it is malformed (an unterminated quote, unbalanced or, for
/// Joda, any optional-section brackets are literal text; `{`, `}` and `#` are reserved by
/// DateTimeFormatter).
pub fn tokenize(pattern: &str, optional_sections: bool) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars().peekable();
    let mut depth = 0usize;
    let flush = |literal: &mut String, tokens: &mut Vec<Token>| {
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(literal)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            'a'..='z' | 'A'..='Z' => {
                flush(&mut literal, &mut tokens);
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                tokens.push(Token::Field(c, count));
            }
            '\'' => {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        '\'' => break,
                        other => literal.push(other),
                    }
                }
            }
            '[' if optional_sections => {
                flush(&mut literal, &mut tokens);
                depth += 1;
                tokens.push(Token::OptionalStart);
            }
            ']' if optional_sections => {
                flush(&mut literal, &mut tokens);
                depth = depth.checked_sub(1)?;
                tokens.push(Token::OptionalEnd);
            }
            '{' | '}' | '#' if optional_sections => return None,
            other => literal.push(other),
        }
    }
    flush(&mut literal, &mut tokens);
    (depth == 0).then_some(tokens)
}

pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    #[test]
    fn fields_quotes_and_sections() {
        assert_eq!(
            tokenize("yyyy.MM.dd G 'at' HH:mm:ss z", false).unwrap(),
            vec![
                Field('y', 4),
                Literal(".".into()),
                Field('M', 2),
                Literal(".".into()),
                Field('d', 2),
                Literal(" ".into()),
                Field('G', 1),
                Literal(" at ".into()),
                Field('H', 2),
                Literal(":".into()),
                Field('m', 2),
                Literal(":".into()),
                Field('s', 2),
                Literal(" ".into()),
                Field('z', 1),
            ]
        );
        assert_eq!(
            tokenize("h 'o''clock' ''", false).unwrap(),
            vec![Field('h', 1), Literal(" o'clock '".into())]
        );
        assert_eq!(
            tokenize("HH[:mm]", true).unwrap(),
            vec![
                Field('H', 2),
                OptionalStart,
                Literal(":".into()),
                Field('m', 2),
                OptionalEnd
            ]
        );
        assert_eq!(
            tokenize("[x]", false).unwrap(),
            vec![Literal("[".into()), Field('x', 1), Literal("]".into())]
        );
        assert_eq!(tokenize("'open", false), None);
        assert_eq!(tokenize("HH]", true), None);
        assert_eq!(tokenize("{", true), None);
    }
}
