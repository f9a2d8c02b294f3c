//! Splitting a topic into its levels, as `str::split('/')` does, by a plain byte scan. Every
//! publish walks the subscription and tap tries level by level, and the standard splitter's
//! searcher (built for any `char`, with a vectorised `memchr` per level) costs more than the
//! few bytes a level has: a profile of the rules path put it at a tenth of the broker's time.

/// The levels of a topic name or filter, including empty ones (`"a//b"` has three, `""` one).
#[derive(Clone, Debug)]
pub struct Levels<'a> {
    /// What is left to split; `None` once the last level was returned.
    rest: Option<&'a str>,
}

impl<'a> Levels<'a> {
    /// The levels of `topic`.
    pub fn new(topic: &'a str) -> Levels<'a> {
        Levels { rest: Some(topic) }
    }
}

impl<'a> Iterator for Levels<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b'/') {
            // `/` is ASCII, so both sides of it are on character boundaries.
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The `n`th level (from 0) of `topic`, as `topic.split('/').nth(n)`.
pub fn level(topic: &str, n: usize) -> Option<&str> {
    Levels::new(topic).nth(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_what_split_gives() {
        for topic in [
            "",
            "/",
            "//",
            "a",
            "a/",
            "/a",
            "a/b/c",
            "a//b",
            "$aws/things/t/shadow",
            "caf\u{e9}/\u{1f600}/x",
            "+/#",
            "é/",
        ] {
            let ours: Vec<&str> = Levels::new(topic).collect();
            let std: Vec<&str> = topic.split('/').collect();
            assert_eq!(ours, std, "{topic:?}");
            for n in 0..5 {
                assert_eq!(level(topic, n), topic.split('/').nth(n), "{topic:?} {n}");
            }
        }
    }
}
