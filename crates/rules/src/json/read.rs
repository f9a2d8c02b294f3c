use std::sync::Arc;

use ferrite_rules_sql::SqlVersion;

use super::JsonError;
use crate::decimal::Decimal;
use crate::value::{Object, Value};

/// Nesting deeper than this is refused (as serde_json refuses it), so a hostile payload cannot
/// exhaust the stack.
const MAX_DEPTH: u32 = 127;

/// A JSON reader straight into [`Value`]: numbers keep every digit of their text (up to 34
/// significant), which a reader that goes through `f64` cannot do.
pub(super) struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    version: SqlVersion,
    depth: u32,
}

type Result<T> = std::result::Result<T, JsonError>;

impl<'a> Reader<'a> {
    pub(super) fn new(json: &'a [u8], version: SqlVersion) -> Result<Reader<'a>> {
        // A payload that cannot start a JSON value (binary data, most often) is refused
        // before its bytes are checked as UTF-8, where the parser would refuse it.
        let start = json
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if let Some(at) = start
            && !matches!(
                json[at],
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            )
        {
            return Err(JsonError::Syntax(at));
        }
        // Valid UTF-8 as a whole: every string between quotes is then valid too.
        let text = std::str::from_utf8(json).map_err(|e| JsonError::Syntax(e.valid_up_to()))?;
        Ok(Reader {
            text,
            b: json,
            i: 0,
            version,
            depth: 0,
        })
    }

    /// The whole document: one value, then only whitespace. With `wanted`, a top-level object
    /// keeps only those members; the others are checked but not built.
    pub(super) fn document(mut self, wanted: Option<&[Arc<str>]>) -> Result<Value> {
        self.ws();
        let value = match wanted {
            Some(wanted) if self.peek() == Some(b'{') => self.object(Some(wanted))?,
            _ => self.value()?,
        };
        self.ws();
        if self.i != self.b.len() {
            return Err(self.syntax());
        }
        Ok(value)
    }

    fn syntax(&self) -> JsonError {
        JsonError::Syntax(self.i)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(self.syntax())
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(None),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.syntax()),
        }
    }

    /// Skips a value, checking it as [`Reader::value`] would, without building it.
    fn skip(&mut self) -> Result<()> {
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        self.raw_string()?;
                        self.expect(b':')?;
                        self.skip()?;
                        if self.after_member(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.skip()?;
                        if self.after_member(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            Some(b'"') => self.raw_string().map(|_| ()),
            _ => self.value().map(|_| ()),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(JsonError::Depth);
        }
        Ok(())
    }

    /// After a member or element: `true` at the closing bracket, `false` after a comma.
    fn after_member(&mut self, close: u8) -> Result<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(self.syntax()),
        }
    }

    fn object(&mut self, wanted: Option<&[Arc<str>]>) -> Result<Value> {
        self.enter()?;
        self.i += 1;
        let mut object = Object::default();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                match wanted {
                    None => {
                        let key = self.string()?;
                        self.expect(b':')?;
                        let value = self.value()?;
                        object.insert(key, value);
                    }
                    Some(wanted) => {
                        let key = self.raw_string()?;
                        let name = match key {
                            RawStr::Plain(k) => wanted.iter().find(|w| ***w == *k).cloned(),
                            RawStr::Escaped(k) => wanted.iter().find(|w| ***w == *k).cloned(),
                        };
                        self.expect(b':')?;
                        match name {
                            Some(name) => {
                                let value = self.value()?;
                                object.insert(name, value);
                            }
                            None => self.skip()?,
                        }
                    }
                }
                if self.after_member(b'}')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Object(Arc::new(object)))
    }

    fn array(&mut self) -> Result<Value> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                items.push(self.value()?);
                if self.after_member(b']')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(Arc::new(items)))
    }

    fn string(&mut self) -> Result<Arc<str>> {
        Ok(match self.raw_string()? {
            RawStr::Plain(s) => Arc::from(s),
            RawStr::Escaped(s) => Arc::from(s),
        })
    }

    /// A string at the cursor: borrowed from the input when it has no escapes.
    fn raw_string(&mut self) -> Result<RawStr<'a>> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax());
        }
        self.i += 1;
        let start = self.i;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let s = &self.text[start..self.i];
                    self.i += 1;
                    return Ok(RawStr::Plain(s));
                }
                Some(b'\\') => break,
                Some(c) if c < 0x20 => return Err(self.syntax()),
                Some(_) => self.i += 1,
                None => return Err(self.syntax()),
            }
        }
        let mut out = String::from(&self.text[start..self.i]);
        loop {
            let run = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[run..self.i]);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(RawStr::Escaped(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.syntax()),
                    };
                    self.i += 1;
                    out.push(c);
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// The character of `\uXXXX` (the cursor after the `u`), a surrogate pair as one.
    fn unicode_escape(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                if !self.b[self.i..].starts_with(b"\\u") {
                    return Err(self.syntax());
                }
                self.i += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.syntax());
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.syntax()),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.syntax())
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.syntax())?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or_else(|| self.syntax())?;
            n = n * 16 + v;
        }
        self.i += 4;
        Ok(n)
    }

    /// A number's text, checked against JSON's grammar; whether it is an integer.
    fn number_text(&mut self) -> Result<(&'a str, bool)> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.syntax()),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.syntax());
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.syntax());
            }
            self.digits();
        }
        Ok((&self.text[start..self.i], integer))
    }

    /// A number not built is still checked against AWS's range, so a payload is JSON or not
    /// whichever members a rule reads. Only an exponent or a thousand digits can leave it.
    fn skip_number(&mut self) -> Result<()> {
        let start = self.i;
        let (text, _) = self.number_text()?;
        let may_leave_range = text.len() > 1000 || text.bytes().any(|c| matches!(c, b'e' | b'E'));
        if may_leave_range && Decimal::parse(text).is_none() {
            return Err(JsonError::Number(start));
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// An integer that fits `i64` is an Int; any other number a Decimal typed as `version`
    /// types numbers (`10.0` is the Int 10 under 2016-03-23). Beyond 9.999…E999 is an error.
    fn number(&mut self) -> Result<Value> {
        let start = self.i;
        let (text, integer) = self.number_text()?;
        if integer && let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        Decimal::parse(text)
            .map(|d| Value::decimal(d, self.version))
            .ok_or(JsonError::Number(start))
    }
}

enum RawStr<'a> {
    Plain(&'a str),
    Escaped(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Fields, from_json_slice, from_payload_fields, to_json_string};
    use bytes::Bytes;

    const V1: SqlVersion = SqlVersion::V2015_10_08;

    fn read(text: &str) -> Result<Value> {
        from_json_slice(text.as_bytes(), V1)
    }

    #[test]
    fn strings_unescape_as_json_says() {
        assert_eq!(
            read(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap(),
            Value::from("a\"b\\c/d\u{8}\u{c}\n\r\té😀")
        );
        assert_eq!(read(r#""plain é""#).unwrap(), Value::from("plain é"));
        for bad in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            "\"tab\there\"",
            r#""open"#,
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        assert!(from_json_slice(b"\"\xff\"", V1).is_err());
    }

    #[test]
    fn strings_are_written_back_the_same() {
        let s = "q\"b\\s\u{1}\u{1f}\n\u{7f}é";
        let text = to_json_string(&Value::from(s));
        assert_eq!(text, "\"q\\\"b\\\\s\\u0001\\u001f\\n\u{7f}é\"");
        assert_eq!(read(&text).unwrap(), Value::from(s));
    }

    #[test]
    fn only_json_is_json() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "tru",
            "nul",
            "[1] x",
            "{\"a\":1}}",
            "'a'",
            "NaN",
            "Infinity",
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            read(" [ 1 , -0 , true,null ] ")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(read("-0").unwrap(), Value::Int(0));
        assert_eq!(
            read("1E400").unwrap(),
            Value::Decimal(Decimal::parse("1E+400").unwrap())
        );
        assert_eq!(read("1e1000"), Err(JsonError::Number(0)));
        // Below the range: a Decimal zero, written so that it reads back as one (found by the
        // fuzz body: it was written `0`, an Int).
        let tiny = read("1.5e-1000").unwrap();
        assert_eq!(to_json_string(&tiny), "0.0");
        assert_eq!(read("0.0").unwrap(), tiny);
    }

    #[test]
    fn nesting_is_limited() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(read(&deep(127)).is_ok());
        assert_eq!(read(&deep(128)), Err(JsonError::Depth));
        assert_eq!(read(&deep(100_000)), Err(JsonError::Depth));
    }

    #[test]
    fn skipped_members_are_still_checked() {
        let fields = Fields::Only(vec![Arc::from("a")]);
        let read = |text: &'static str| from_payload_fields(&Bytes::from(text), V1, &fields);
        assert_eq!(
            read(r#"{"b":{"x":[1,"s\n",{}]},"a":2.50,"c":"\u00e9"}"#),
            Value::object([("a", Value::Decimal(Decimal::parse("2.5").unwrap()))])
        );
        for bad in [
            r#"{"b":[1,],"a":1}"#,
            r#"{"b":"\q","a":1}"#,
            r#"{"b":01,"a":1}"#,
            // Beyond AWS's range, as a member read whole would be (found by the fuzz body).
            r#"{"b":-1.5E1000,"a":1}"#,
        ] {
            assert!(matches!(read(bad), Value::Bytes(_)), "{bad}");
        }
        let escaped_key = read(r#"{"\u0061":1}"#);
        assert_eq!(escaped_key, Value::object([("a", Value::Int(1))]));
    }
}
