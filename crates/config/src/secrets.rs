//! `[secrets]`: the values the `get_secret` rule function reads, in place of AWS Secrets
//! Manager. Each entry is keyed by the secret's name (a rule may also name it by its Secrets
//! Manager ARN) and holds either a `SecretString` or a `SecretBinary`, as a secret does. Values kept in files
//! are read at each lookup, so a rotated file needs no restart, and the config file itself can
//! stay free of secrets (mounted secret files are how containers get them).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Secret name → its value.
pub type SecretsConfig = BTreeMap<String, SecretConfig>;

#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretConfig {
    /// The `SecretString`, inline.
    pub string: Option<String>,
    /// A file holding the `SecretString` (UTF-8).
    pub string_file: Option<PathBuf>,
    /// A file holding the `SecretBinary`'s bytes.
    pub binary_file: Option<PathBuf>,
}

impl SecretConfig {
    /// Why the entry cannot serve a lookup, if it cannot.
    pub fn problem(&self) -> Option<&'static str> {
        // A Secrets Manager secret holds a SecretString or a SecretBinary, not both.
        let sources = [
            self.string.is_some(),
            self.string_file.is_some(),
            self.binary_file.is_some(),
        ];
        match sources.iter().filter(|s| **s).count() {
            1 => None,
            0 => Some("needs one of string, string_file or binary_file"),
            _ => Some("string, string_file and binary_file are exclusive"),
        }
    }
}

/// Values never reach a log: only which sources are set.
impl fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretConfig")
            .field("string", &self.string.as_ref().map(|_| "<redacted>"))
            .field("string_file", &self.string_file)
            .field("binary_file", &self.binary_file)
            .finish()
    }
}

/// The entry `secret_id` names: its name, or a Secrets Manager ARN
/// (`arn:aws:secretsmanager:{region}:{account}:secret:{name}`, whose name AWS may end with a
/// `-` and six random characters).
pub fn find_secret<'a>(
    secrets: &'a SecretsConfig,
    secret_id: &str,
) -> Option<(&'a str, &'a SecretConfig)> {
    let exact = |id: &str| secrets.get_key_value(id).map(|(k, v)| (k.as_str(), v));
    if let Some(found) = exact(secret_id) {
        return Some(found);
    }
    let (_, name) = secret_id
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":secretsmanager:"))?
        .1
        .split_once(":secret:")?;
    exact(name).or_else(|| {
        let (base, suffix) = name.rsplit_once('-')?;
        (suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| exact(base))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SecretsConfig {
        let mut s = SecretsConfig::new();
        s.insert(
            "db/creds".into(),
            SecretConfig {
                string: Some("{\"user\":\"u\"}".into()),
                ..SecretConfig::default()
            },
        );
        s
    }

    #[test]
    fn secrets_are_found_by_name_and_by_arn_with_or_without_the_random_suffix() {
        let s = secrets();
        for id in [
            "db/creds",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/creds",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/creds-AbC123",
        ] {
            assert_eq!(find_secret(&s, id).map(|f| f.0), Some("db/creds"), "{id}");
        }
        for id in [
            "db",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/creds-AbC12",
            "arn:aws:s3:::secret:db/creds",
        ] {
            assert!(find_secret(&s, id).is_none(), "{id}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_value() {
        let text = format!("{:?}", secrets());
        assert!(!text.contains("\"u\""), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn an_entry_needs_exactly_one_source() {
        assert!(SecretConfig::default().problem().is_some());
        let both = SecretConfig {
            string: Some("a".into()),
            string_file: Some("/f".into()),
            binary_file: None,
        };
        assert!(both.problem().is_some());
        let binary = SecretConfig {
            binary_file: Some("/b".into()),
            ..SecretConfig::default()
        };
        assert!(binary.problem().is_none());
    }
}
