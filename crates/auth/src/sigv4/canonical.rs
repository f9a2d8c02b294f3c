//! The canonical request and the string to sign, built from the request as received.

use http::HeaderMap;

use super::encoding::{hex_lower, query_decode, uri_encode_into};

/// The canonical URIs a client may have signed for this path, the path as sent first.
///
/// Each is the received (already percent-encoded) path URI-encoded once more with `/` kept: AWS
/// defines this double encoding for every service but S3, which is why botocore's `%2F` inside
/// a label is signed as `%252F`. AWS also asks signers to normalise the path first, and they do
/// so differently; the path as sent is what botocore signs for every ordinary path and is the
/// only interpretation unless the path has `.`, `..` or empty segments:
///
/// * botocore drops empty, `.` and `..` segments and keeps a trailing `/` only if the path
///   had one (`/a/b/..` becomes `/a`);
/// * the Rust SDK (and RFC 3986 §5.2.4) also keeps a trailing `/` after a final `.` or `..`
///   segment (`/a/b/..` becomes `/a/`).
pub(crate) fn canonical_uris(raw_path: &str) -> Vec<String> {
    if raw_path.is_empty() {
        return vec!["/".to_owned()];
    }
    let mut paths = vec![raw_path.to_owned()];
    if raw_path.starts_with('/') && needs_normalizing(raw_path) {
        for keep_directory in [false, true] {
            let normalized = normalize(raw_path, keep_directory);
            if !paths.contains(&normalized) {
                paths.push(normalized);
            }
        }
    }
    paths
        .iter()
        .map(|path| {
            let mut out = String::with_capacity(path.len() + 8);
            uri_encode_into(&mut out, path.as_bytes(), true);
            out
        })
        .collect()
}

fn needs_normalizing(path: &str) -> bool {
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    // A single trailing empty segment is just a trailing slash.
    segments.iter().enumerate().any(|(index, segment)| {
        matches!(*segment, "." | "..") || (segment.is_empty() && index < last)
    })
}

/// Removes empty, `.` and `..` segments; `keep_directory` keeps the trailing `/` a final `.` or
/// `..` implies.
fn normalize(path: &str, keep_directory: bool) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut last = "";
    for segment in path[1..].split('/') {
        last = segment;
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&kept.join("/"));
    let trailing = last.is_empty() || (keep_directory && matches!(last, "." | ".."));
    if trailing && !kept.is_empty() {
        out.push('/');
    }
    out
}

/// One query parameter: its canonical (re-encoded) key and value, and the decoded name used to
/// recognise the `X-Amz-*` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
    encoded_name: String,
    encoded_value: String,
}

/// The received query string, parsed once and sorted in canonical order.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParams {
    params: Vec<QueryParam>,
}

impl QueryParams {
    /// Splits on `&`, then on the first `=` (a bare key has an empty value), decodes, re-encodes
    /// with the SigV4 encoding and sorts by encoded key, then encoded value.
    pub(crate) fn parse(raw_query: &str) -> Self {
        let mut params: Vec<QueryParam> = raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = query_decode(raw_name);
                let value = query_decode(raw_value);
                let mut encoded_name = String::with_capacity(raw_name.len());
                uri_encode_into(&mut encoded_name, &name, false);
                let mut encoded_value = String::with_capacity(raw_value.len());
                uri_encode_into(&mut encoded_value, &value, false);
                QueryParam {
                    name,
                    value,
                    encoded_name,
                    encoded_value,
                }
            })
            .collect();
        params.sort_by(|a, b| {
            (a.encoded_name.as_str(), a.encoded_value.as_str())
                .cmp(&(b.encoded_name.as_str(), b.encoded_value.as_str()))
        });
        Self { params }
    }

    /// The decoded value of the first parameter named exactly `name`, if it is UTF-8.
    pub(crate) fn get(&self, name: &str) -> Option<Result<&str, ()>> {
        self.params
            .iter()
            .find(|param| param.name == name.as_bytes())
            .map(|param| std::str::from_utf8(&param.value).map_err(|_| ()))
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.params
            .iter()
            .any(|param| param.name == name.as_bytes())
    }

    /// The canonical query string, leaving out every parameter whose decoded name is in `skip`.
    pub(crate) fn canonical(&self, skip: &[&str]) -> String {
        let mut out = String::new();
        for param in self
            .params
            .iter()
            .filter(|param| !skip.iter().any(|name| param.name == name.as_bytes()))
        {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&param.encoded_name);
            out.push('=');
            out.push_str(&param.encoded_value);
        }
        out
    }
}

/// Appends a header value trimmed and with inner runs of spaces collapsed to one, as AWS's
/// canonical form asks. Signers disagree about inner tabs: the Rust SDK keeps them, botocore
/// collapses them with the spaces; `tabs_as_spaces` picks the latter.
fn push_trimmed_value(out: &mut Vec<u8>, value: &[u8], tabs_as_spaces: bool) {
    let value = value.trim_ascii();
    let mut words = value
        .split(|&byte| byte == b' ' || (tabs_as_spaces && byte == b'\t'))
        .filter(|word| !word.is_empty());
    if let Some(first) = words.next() {
        out.extend_from_slice(first);
        for word in words {
            out.push(b' ');
            out.extend_from_slice(word);
        }
    }
}

/// The canonical headers blocks a client may have signed: one `name:value\n` line per name in
/// `signed_headers` (`;`-separated), in that order, repeated values joined with `,`. A signed
/// header the request lacks contributes an empty value, which then fails the signature rather
/// than being skipped. There is a second block only when a signed value has an inner tab (see
/// [`push_trimmed_value`]).
///
/// Bytes rather than a string because header values may carry non-UTF-8 octets, which are
/// signed as they are.
pub(crate) fn canonical_headers(headers: &HeaderMap, signed_headers: &str) -> Vec<Vec<u8>> {
    let build = |tabs_as_spaces: bool| {
        let mut out = Vec::with_capacity(256);
        for name in signed_headers.split(';') {
            let lowercase = name.to_ascii_lowercase();
            out.extend_from_slice(lowercase.as_bytes());
            out.push(b':');
            for (index, value) in headers.get_all(lowercase.as_str()).iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_trimmed_value(&mut out, value.as_bytes(), tabs_as_spaces);
            }
            out.push(b'\n');
        }
        out
    };
    let has_inner_tab = signed_headers.split(';').any(|name| {
        headers
            .get_all(name.to_ascii_lowercase().as_str())
            .iter()
            .any(|value| value.as_bytes().trim_ascii().contains(&b'\t'))
    });
    let mut blocks = vec![build(false)];
    if has_inner_tab {
        blocks.push(build(true));
    }
    blocks
}

/// The parts of a canonical request that are fixed for one received request.
pub(crate) struct CanonicalParts<'a> {
    pub(crate) method: &'a str,
    pub(crate) headers: &'a [u8],
    pub(crate) signed_headers: &'a str,
}

impl CanonicalParts<'_> {
    /// The SHA-256, in hex, of the canonical request built from these parts and one choice of
    /// URI, query and payload hash.
    pub(crate) fn hashed(&self, uri: &str, query: &str, payload_hash: &str) -> String {
        let request = self.request(uri, query, payload_hash);
        hex_lower(ring::digest::digest(&ring::digest::SHA256, &request).as_ref())
    }

    fn request(&self, uri: &str, query: &str, payload_hash: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.method.len()
                + uri.len()
                + query.len()
                + self.headers.len()
                + self.signed_headers.len()
                + payload_hash.len()
                + 5,
        );
        for line in [self.method, uri, query] {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(self.headers);
        out.push(b'\n');
        out.extend_from_slice(self.signed_headers.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(payload_hash.as_bytes());
        out
    }
}

/// The string to sign: algorithm, request timestamp, scope, hashed canonical request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, hashed_request: &str) -> String {
    format!(
        "{}\n{amz_date}\n{scope}\n{hashed_request}",
        super::ALGORITHM
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_encoded_twice_and_empty_path_is_root() {
        assert_eq!(canonical_uris(""), ["/"]);
        assert_eq!(canonical_uris("/"), ["/"]);
        assert_eq!(canonical_uris("/a/b/"), ["/a/b/"]);
        assert_eq!(
            canonical_uris("/topics/a%2Fb%24c"),
            ["/topics/a%252Fb%2524c"]
        );
        assert_eq!(canonical_uris("/a b/ü"), ["/a%20b/%C3%BC"]);
        assert_eq!(canonical_uris("/things/x:y@z"), ["/things/x%3Ay%40z"]);
        // Encoded dots and slashes are data, not structure.
        assert_eq!(canonical_uris("/a%2F..%2Fb/x"), ["/a%252F..%252Fb/x"]);
    }

    #[test]
    fn dot_and_empty_segments_add_the_normalised_interpretations() {
        for (raw, expected) in [
            ("/a/./b", &["/a/./b", "/a/b"][..]),
            ("/a/b/../c", &["/a/b/../c", "/a/c"]),
            ("/a/b/..", &["/a/b/..", "/a", "/a/"]),
            ("/a/.", &["/a/.", "/a", "/a/"]),
            ("/..", &["/..", "/"]),
            ("/./", &["/./", "/"]),
            ("//example//", &["//example//", "/example/"]),
            ("/a/..b/.c", &["/a/..b/.c"]),
        ] {
            assert_eq!(canonical_uris(raw), expected, "{raw}");
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted_by_key_then_value() {
        let params = QueryParams::parse("b=2&a=z&a=y&c&A=1&e=%7e+x&d=%2f");
        assert_eq!(params.canonical(&[]), "A=1&a=y&a=z&b=2&c=&d=%2F&e=~%20x");
        assert_eq!(params.canonical(&["a", "c"]), "A=1&b=2&d=%2F&e=~%20x");
        assert_eq!(params.get("d"), Some(Ok("/")));
        assert_eq!(params.get("missing"), None);
        assert!(params.contains("c"));
    }

    #[test]
    fn sorting_uses_the_encoded_form() {
        // Decoded, '~' (0x7E) sorts before 'é' (0xC3 0xA9); encoded, "%C3%A9" sorts first
        // because '%' is 0x25.
        let params = QueryParams::parse("~=1&%C3%A9=2");
        assert_eq!(params.canonical(&[]), "%C3%A9=2&~=1");
    }

    #[test]
    fn empty_pairs_are_ignored() {
        assert_eq!(QueryParams::parse("").canonical(&[]), "");
        assert_eq!(QueryParams::parse("a=1&&b=2&").canonical(&[]), "a=1&b=2");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.com".parse().unwrap());
        headers.append("my-header1", "  value1   with  spaces  ".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        headers.append("x-multi", " a ".parse().unwrap());
        let blocks = canonical_headers(&headers, "host;my-header1;x-absent;x-multi");
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            String::from_utf8(blocks[0].clone()).unwrap(),
            "host:example.com\nmy-header1:value1 with spaces\nx-absent:\nx-multi:b,a\n"
        );
    }

    #[test]
    fn inner_tabs_give_a_second_interpretation() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.com".parse().unwrap());
        headers.insert("x-tab", "\ta \t  b\t".parse().unwrap());
        let blocks: Vec<String> = canonical_headers(&headers, "host;x-tab")
            .into_iter()
            .map(|block| String::from_utf8(block).unwrap())
            .collect();
        assert_eq!(
            blocks,
            [
                "host:example.com\nx-tab:a \t b\n",
                "host:example.com\nx-tab:a b\n"
            ]
        );
    }

    #[test]
    fn canonical_request_has_the_six_lines() {
        let parts = CanonicalParts {
            method: "GET",
            headers: b"host:example.com\n",
            signed_headers: "host",
        };
        assert_eq!(
            String::from_utf8(parts.request("/", "a=1", "abc")).unwrap(),
            "GET\n/\na=1\nhost:example.com\n\nhost\nabc"
        );
    }
}
