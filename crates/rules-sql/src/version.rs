//! The SQL versions a rule can ask for (`awsIotSqlVersion`).

use std::fmt;

/// AWS IoT SQL versions. They differ in a few places: functions only in 2016-03-23 and later,
/// whole-valued decimals read as Int, nested object queries, arrays as top-level output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SqlVersion {
    /// `2015-10-08`: what a rule gets when it names no version.
    #[default]
    V2015_10_08,
    /// `2016-03-23`: the version AWS recommends.
    V2016_03_23,
    /// `beta`: the newest features; treated as 2016-03-23 plus what only beta has.
    Beta,
}

impl SqlVersion {
    /// The name `awsIotSqlVersion` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// The version named by `awsIotSqlVersion`; `None` for anything AWS does not accept.
    pub fn parse(text: &str) -> Option<SqlVersion> {
        match text {
            "2015-10-08" => Some(SqlVersion::V2015_10_08),
            "2016-03-23" => Some(SqlVersion::V2016_03_23),
            "beta" => Some(SqlVersion::Beta),
            _ => None,
        }
    }

    /// Whether this version has what 2016-03-23 introduced.
    pub fn at_least_2016(self) -> bool {
        self >= SqlVersion::V2016_03_23
    }
}

impl fmt::Display for SqlVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_their_names() {
        for v in [
            SqlVersion::V2015_10_08,
            SqlVersion::V2016_03_23,
            SqlVersion::Beta,
        ] {
            assert_eq!(SqlVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(SqlVersion::parse("2017-01-01"), None);
        assert_eq!(SqlVersion::default(), SqlVersion::V2015_10_08);
        assert!(SqlVersion::Beta.at_least_2016() && !SqlVersion::V2015_10_08.at_least_2016());
    }
}
