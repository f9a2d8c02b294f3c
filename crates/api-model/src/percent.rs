//! Percent-decoding of path segments and query strings.
//!
//! `+` is kept as a literal plus: AWS SDKs encode spaces as `%20`, and `+` is an MQTT wildcard
//! that appears in topic filters passed as query values.

use std::borrow::Cow;

use crate::error::InvalidPercentEncoding;

pub(crate) fn decode(raw: &str) -> Result<Cow<'_, str>, InvalidPercentEncoding> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex(*b));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(InvalidPercentEncoding);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| InvalidPercentEncoding)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query string (without the `?`) into decoded pairs, in order; a key without `=`
/// has an empty value.
pub(crate) fn parse_query(raw: &str) -> Result<Vec<(String, String)>, InvalidPercentEncoding> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?.into_owned(), decode(value)?.into_owned()))
        })
        .collect()
}

/// Whether the raw query has `key` (and, when given, with that value), without allocating
/// unless a component is encoded.
pub(crate) fn query_has(raw: &str, key: &str, value: Option<&str>) -> bool {
    raw.split('&').any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        decode(k).is_ok_and(|k| k == key)
            && value.is_none_or(|want| decode(v).is_ok_and(|v| v == want))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_plus() {
        assert_eq!(decode("a%2Fb%24c+d").unwrap(), "a/b$c+d");
        assert_eq!(decode("%e2%82%ac").unwrap(), "€");
        assert!(matches!(decode("plain"), Ok(Cow::Borrowed("plain"))));
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(decode("%2"), Err(InvalidPercentEncoding));
        assert_eq!(decode("%zz"), Err(InvalidPercentEncoding));
        assert_eq!(decode("%ff"), Err(InvalidPercentEncoding), "not utf-8");
    }

    #[test]
    fn parses_query_pairs() {
        let pairs = parse_query("a=1&b&c=x%20y&&a=2").unwrap();
        let expected = [("a", "1"), ("b", ""), ("c", "x y"), ("a", "2")];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn finds_query_keys() {
        assert!(query_has("x=1&deprecate", "deprecate", None));
        assert!(query_has("mode=on", "mode", Some("on")));
        assert!(!query_has("mode=off", "mode", Some("on")));
        assert!(!query_has("", "mode", None));
    }
}
