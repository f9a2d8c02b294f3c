//! Validation errors for topic names and filters.

/// Why a topic name or topic filter was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The topic or filter is the empty string.
    #[error("topic is empty")]
    Empty,
    /// The counted part of the topic exceeds the byte limit.
    #[error("topic is {len} bytes long, the maximum is {max}")]
    TooLong {
        /// Counted length in bytes.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The counted part of the topic has too many `/`-separated levels.
    #[error("topic has {levels} levels, the maximum is {max}")]
    TooManyLevels {
        /// Counted number of levels.
        levels: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A topic name (as opposed to a filter) contains `+` or `#`.
    #[error("wildcard characters are not allowed in topic names")]
    WildcardInTopicName,
    /// A wildcard does not occupy a whole level, or `#` is not the last level.
    #[error("wildcards must occupy a whole level and '#' must be the last level")]
    InvalidWildcard,
    /// The topic contains U+0000, which MQTT forbids in UTF-8 strings.
    #[error("topic contains a null character")]
    NullCharacter,
    /// A `$share/...` filter lacks a valid share name or inner filter.
    #[error("invalid shared subscription filter")]
    InvalidSharedSubscription,
}
