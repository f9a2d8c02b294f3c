//! Pagination tokens: opaque to clients, the last key of the previous page inside.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::RegistryError;

const TAG: &str = "ferrite1:";

pub fn encode(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TAG}{after}"))
}

/// The key a token stands for; a token Ferrite did not issue is AWS's InvalidRequestException.
pub fn decode(token: Option<&str>) -> Result<Option<String>, RegistryError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(TAG).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| RegistryError::InvalidRequest("The pagination token is invalid.".into()))
}

/// `maxResults` with AWS's default page size when absent.
pub fn page_size(max_results: Option<i64>, default: usize) -> usize {
    match max_results {
        Some(n) if n > 0 => n as usize,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_tokens() {
        assert_eq!(
            decode(Some(&encode("thing-9"))).unwrap().as_deref(),
            Some("thing-9")
        );
        assert_eq!(decode(None).unwrap(), None);
        assert_eq!(decode(Some("")).unwrap(), None);
        assert!(decode(Some("not-a-token")).is_err());
        assert!(decode(Some(&URL_SAFE_NO_PAD.encode("other:x"))).is_err());
    }
}
