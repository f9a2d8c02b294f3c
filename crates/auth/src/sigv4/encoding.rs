//! Byte-level encodings SigV4 is defined in terms of: its URI encoding, percent-decoding of what
//! clients sent, and lowercase hex.

/// The characters SigV4 leaves unencoded (RFC 3986 "unreserved").
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `input` URI-encoded the SigV4 way: unreserved bytes as they are, every other byte as
/// `%XY` with uppercase hex. `/` is kept when encoding a path, encoded everywhere else.
pub(crate) fn uri_encode_into(out: &mut String, input: &[u8], keep_slash: bool) {
    for &byte in input {
        if is_unreserved(byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(UPPER_HEX[usize::from(byte >> 4)]));
            out.push(char::from(UPPER_HEX[usize::from(byte & 0x0f)]));
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn lower_hex_value(byte: u8) -> Option<u8> {
    if byte.is_ascii_uppercase() {
        None
    } else {
        hex_value(byte)
    }
}

/// Decodes a query-string key or value as a server parsing `application/x-www-form-urlencoded`
/// does: `%XY` becomes the byte, `+` a space. A `%` not followed by two hex digits stays a
/// literal `%`, so malformed input still canonicalises to something deterministic.
pub(crate) fn query_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(hex_value);
                let low = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// Lowercase hex, the form SigV4 uses for hashes and signatures.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(LOWER_HEX[usize::from(byte >> 4)]));
        out.push(char::from(LOWER_HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes exactly `N` bytes of lowercase hex, the only form SigV4 produces; `None` for any
/// other length or character, so `ABCD…` is not the same signature as `abcd…`.
pub(crate) fn hex_decode<const N: usize>(input: &str) -> Option<[u8; N]> {
    let bytes = input.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = lower_hex_value(pair[0])? << 4 | lower_hex_value(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(input: &str, keep_slash: bool) -> String {
        let mut out = String::new();
        uri_encode_into(&mut out, input.as_bytes(), keep_slash);
        out
    }

    #[test]
    fn unreserved_characters_pass_through() {
        let unreserved = "ABCXYZabcxyz0189-_.~";
        assert_eq!(encode(unreserved, false), unreserved);
    }

    #[test]
    fn reserved_and_non_ascii_bytes_are_encoded_uppercase() {
        assert_eq!(encode("a b+c=d&e", false), "a%20b%2Bc%3Dd%26e");
        assert_eq!(encode("$/:", false), "%24%2F%3A");
        assert_eq!(encode("ሴ", false), "%E1%88%B4");
    }

    #[test]
    fn slash_is_kept_only_for_paths() {
        assert_eq!(encode("/a/b%2F", true), "/a/b%252F");
        assert_eq!(encode("/a", false), "%2Fa");
    }

    #[test]
    fn query_decode_handles_escapes_plus_and_malformed_percent() {
        assert_eq!(query_decode("a%20b+c"), b"a b c");
        assert_eq!(query_decode("%2B%2b"), b"++");
        assert_eq!(query_decode("100%"), b"100%");
        assert_eq!(query_decode("%zz%4"), b"%zz%4");
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        let text = hex_lower(&bytes);
        assert_eq!(text, "007fabff");
        assert_eq!(hex_decode::<4>(&text), Some(bytes));
        assert_eq!(hex_decode::<4>("007FABFF"), None);
        assert_eq!(hex_decode::<4>("007fab"), None);
        assert_eq!(hex_decode::<4>("007fabfg"), None);
    }
}
