//! `statusDetails`: the flat string map a device (or CancelJobExecution) attaches to an
//! execution, with the model's key and value patterns and AWS's limit on its size.

use std::collections::BTreeMap;

use crate::JobError;

/// Status details, in key order (AWS returns them as a JSON object).
pub type StatusDetails = BTreeMap<String, String>;

/// AWS: "You can specify at most 10 name/value pairs".
pub const MAX_STATUS_DETAILS: usize = 10;
/// The model's `DetailsKey` length.
const MAX_KEY_CHARS: usize = 128;

/// Checks `details` against the model's `DetailsMap` (keys `[a-zA-Z0-9:_-]+` of 1–128
/// characters, values of at least one character and no control characters) and the size
/// limit. The HTTP edge's model validation already checks the patterns; MQTT requests come
/// here unchecked.
pub fn check_status_details(details: &StatusDetails) -> Result<(), JobError> {
    if details.len() > MAX_STATUS_DETAILS {
        return Err(JobError::invalid(format!(
            "statusDetails can have at most {MAX_STATUS_DETAILS} name/value pairs; {} were given.",
            details.len()
        )));
    }
    for (key, value) in details {
        let key_ok = !key.is_empty()
            && key.chars().count() <= MAX_KEY_CHARS
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
        if !key_ok {
            return Err(JobError::invalid(format!(
                "statusDetails key '{key}' must be 1 to {MAX_KEY_CHARS} characters of \
                 [a-zA-Z0-9:_-]."
            )));
        }
        if value.is_empty() || value.chars().any(is_other_char) {
            return Err(JobError::invalid(format!(
                "statusDetails value of '{key}' must be a non-empty string without control \
                 characters."
            )));
        }
    }
    Ok(())
}

/// `\p{C}`, as far as the standard library tells it: control characters and the format
/// characters that commonly slip into text (zero-width and direction marks, BOM).
fn is_other_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(pairs: &[(&str, &str)]) -> StatusDetails {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ten_pairs_pass_and_eleven_do_not() {
        let ten: StatusDetails = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(check_status_details(&ten).is_ok());
        let mut eleven = ten;
        eleven.insert("k10".into(), "v".into());
        let err = check_status_details(&eleven).unwrap_err();
        assert_eq!(err.mqtt_code(), "InvalidRequest");
        assert!(err.to_string().contains("at most 10"), "{err}");
    }

    #[test]
    fn keys_follow_the_model_pattern() {
        assert!(check_status_details(&details(&[("step:1_a-b", "x")])).is_ok());
        for bad in ["", "has space", "dot.key", "slash/key", &"k".repeat(129)] {
            assert!(
                check_status_details(&details(&[(bad, "x")])).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_status_details(&details(&[(&"k".repeat(128), "x")])).is_ok());
    }

    #[test]
    fn values_are_non_empty_printable_text() {
        assert!(check_status_details(&details(&[("k", "50% done, ünïcode ✓")])).is_ok());
        for bad in ["", "line\nbreak", "tab\t", "nul\0", "zw\u{200B}"] {
            assert!(
                check_status_details(&details(&[("k", bad)])).is_err(),
                "{bad:?}"
            );
        }
    }
}
