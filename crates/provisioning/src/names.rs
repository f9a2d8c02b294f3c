//! AWS's patterns and lengths for the names a plan carries, checked after evaluation
//! (the values usually come from parameters).

use crate::TemplateError;

/// Thing, thing type, thing group and billing group names: `[a-zA-Z0-9:_-]+`, 1–128.
pub(crate) fn check_resource_name(at: &str, what: &str, value: &str) -> Result<(), TemplateError> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TemplateError::eval(
            at,
            format!("{what} \"{value}\" must match [a-zA-Z0-9:_-]+ and have 1 to 128 characters"),
        ))
    }
}

fn attribute_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.,@/:#=[]-".contains(&b)
}

/// Attribute names `[a-zA-Z0-9_.,@/:#=\[\]-]+` ≤ 128 and values of the same characters ≤ 800.
pub(crate) fn check_attribute(at: &str, name: &str, value: &str) -> Result<(), TemplateError> {
    if name.is_empty() || name.len() > 128 || !name.bytes().all(attribute_char) {
        return Err(TemplateError::eval(
            at,
            format!(
                "attribute name \"{name}\" must match [a-zA-Z0-9_.,@/:#=\\[\\]-]+ and have at most 128 characters"
            ),
        ));
    }
    if value.len() > 800 || !value.bytes().all(attribute_char) {
        return Err(TemplateError::eval(
            at,
            format!(
                "attribute value \"{value}\" must match [a-zA-Z0-9_.,@/:#=\\[\\]-]* and have at most 800 characters"
            ),
        ));
    }
    Ok(())
}

/// Policy names: `[\w+=,.@-]+`, 1–128.
pub(crate) fn check_policy_name(at: &str, value: &str) -> Result<(), TemplateError> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(TemplateError::eval(
            at,
            format!("policy name \"{value}\" must match [\\w+=,.@-]+ and have 1 to 128 characters"),
        ))
    }
}

/// Certificate ids: 64 hexadecimal characters.
pub(crate) fn check_certificate_id(at: &str, value: &str) -> Result<(), TemplateError> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(TemplateError::eval(
            at,
            format!("certificate id \"{value}\" must be 64 hexadecimal characters"),
        ))
    }
}
