//! Thing and shadow names (the iot-data model's patterns and lengths) and the identity of one
//! shadow: a thing plus, for named shadows, the shadow name.

use std::fmt;

/// Longest thing name, in bytes (iot-data `ThingName`).
pub const MAX_THING_NAME_BYTES: usize = 128;
/// Longest shadow name, in bytes (iot-data `ShadowName`).
pub const MAX_SHADOW_NAME_BYTES: usize = 64;

/// Why a name is not a valid thing or shadow name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or longer than allowed.
    #[error("{kind} name must be 1 to {max} bytes long, got {len}")]
    Length {
        /// `thing` or `shadow`.
        kind: &'static str,
        /// The limit.
        max: usize,
        /// The length given.
        len: usize,
    },
    /// A character outside the model's pattern.
    #[error("{kind} name contains a character outside {pattern}")]
    Character {
        /// `thing` or `shadow`.
        kind: &'static str,
        /// The model pattern.
        pattern: &'static str,
    },
}

fn check(
    name: &str,
    kind: &'static str,
    max: usize,
    pattern: &'static str,
    allow_dollar: bool,
) -> Result<(), NameError> {
    if name.is_empty() || name.len() > max {
        return Err(NameError::Length {
            kind,
            max,
            len: name.len(),
        });
    }
    let ok = name.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-') || (allow_dollar && b == b'$')
    });
    if ok {
        Ok(())
    } else {
        Err(NameError::Character { kind, pattern })
    }
}

/// A thing name: 1–128 bytes of `[a-zA-Z0-9:_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThingName(String);

impl ThingName {
    /// Validates `name` against the model's pattern and length.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        check(
            &name,
            "thing",
            MAX_THING_NAME_BYTES,
            "[a-zA-Z0-9:_-]+",
            false,
        )?;
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named shadow's name: 1–64 bytes of `[$a-zA-Z0-9:_-]`.
///
/// Names starting with `$` pass (the model allows them, and AWS's own features such as the
/// software package catalog's `$package` use them), but they are reserved for AWS features:
/// [`ShadowName::is_reserved`] lets the caller refuse them where AWS would.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShadowName(String);

impl ShadowName {
    /// Validates `name` against the model's pattern and length.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        check(
            &name,
            "shadow",
            MAX_SHADOW_NAME_BYTES,
            "[$a-zA-Z0-9:_-]+",
            true,
        )?;
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name starts with `$`, the prefix AWS reserves for its own features.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl fmt::Display for ShadowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One shadow: a thing's classic shadow (`shadow == None`) or one of its named shadows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShadowId {
    thing: ThingName,
    shadow: Option<ShadowName>,
}

impl ShadowId {
    /// The classic shadow of `thing`.
    pub fn classic(thing: ThingName) -> Self {
        Self {
            thing,
            shadow: None,
        }
    }

    /// The shadow `shadow` of `thing`.
    pub fn named(thing: ThingName, shadow: ShadowName) -> Self {
        Self {
            thing,
            shadow: Some(shadow),
        }
    }

    /// Validates both names; `shadow == None` is the classic shadow (REST's omitted `?name=`).
    pub fn parse(thing: &str, shadow: Option<&str>) -> Result<Self, NameError> {
        Ok(Self {
            thing: ThingName::new(thing)?,
            shadow: shadow.map(ShadowName::new).transpose()?,
        })
    }

    /// The thing.
    pub fn thing(&self) -> &ThingName {
        &self.thing
    }

    /// The shadow name, `None` for the classic shadow.
    pub fn shadow(&self) -> Option<&ShadowName> {
        self.shadow.as_ref()
    }

    /// The name AWS quotes in "No shadow exists with name: '…'": the thing name for the classic
    /// shadow, the shadow name for a named one.
    pub fn not_found_name(&self) -> &str {
        match &self.shadow {
            Some(shadow) => shadow.as_str(),
            None => self.thing.as_str(),
        }
    }

    /// `$aws/things/{thing}/shadow` or `$aws/things/{thing}/shadow/name/{shadow}`.
    pub fn topic_prefix(&self) -> String {
        self.topic_with("")
    }

    /// The topic prefix followed by `/` and `suffix` (e.g. `update/accepted`).
    pub fn topic(&self, suffix: &str) -> String {
        self.topic_with(suffix)
    }

    fn topic_with(&self, suffix: &str) -> String {
        let shadow = self.shadow.as_ref().map_or(0, |s| s.0.len() + 6);
        let mut out = String::with_capacity(19 + self.thing.0.len() + shadow + suffix.len() + 1);
        out.push_str("$aws/things/");
        out.push_str(&self.thing.0);
        out.push_str("/shadow");
        if let Some(shadow) = &self.shadow {
            out.push_str("/name/");
            out.push_str(&shadow.0);
        }
        if !suffix.is_empty() {
            out.push('/');
            out.push_str(suffix);
        }
        out
    }
}
