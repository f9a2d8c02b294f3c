//! Runs the `rules_sql` fuzz target's body over a fixed pseudo-random corpus grown from AWS's
//! documented SQL, so the stable toolchain and CI exercise the same invariants as
//! `cargo +nightly fuzz run rules_sql`.

mod common;

use common::{EXPRESSIONS, STATEMENTS};
use ferrite_fuzz_corpus::{Rng, TextMutations, mutate_text};
use ferrite_rules_sql::fuzzing::check_parse_roundtrip;

/// Fragments that move a parser between its states: quotes, brackets, keywords, operators.
const FRAGMENTS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "\\",
    ",",
    ".",
    ":",
    "@",
    "@v",
    "*",
    "-",
    "- -",
    "+",
    "/",
    "%",
    "=",
    "<>",
    "!=",
    "<",
    ">=",
    " ",
    "\n",
    "SELECT ",
    "VALUE ",
    "value",
    "SET ",
    "@a = 1 ",
    "FROM ",
    "WHERE ",
    " AS ",
    "AND ",
    " OR ",
    "NOT ",
    " IN ",
    "CASE ",
    "WHEN ",
    "THEN ",
    "ELSE ",
    "END",
    "cast(",
    " AS Int)",
    "NULL",
    "true",
    "1",
    "-1",
    "1.5",
    "2E-3",
    "99999999999999999999",
    "'a/b'",
    "'\\''",
    "\"x\"",
    "(SELECT VALUE a FROM b)",
    "{'k': 1}",
    "[1, 2]",
    "a.b",
    "a[0]",
    "f(*)",
    "encode(*, 'base64')",
    "é",
    "\u{0}",
    "''",
    "\\u00e9",
];

#[test]
fn fuzz_body_over_deterministic_corpus() {
    let seeds: Vec<&str> = STATEMENTS
        .iter()
        .chain(EXPRESSIONS)
        .map(|&(sql, _)| sql)
        .collect();
    for seed in &seeds {
        assert!(check_parse_roundtrip(seed.as_bytes()) >= 2, "{seed}");
    }
    let mutations = TextMutations {
        fragments: FRAGMENTS,
        seeds: &seeds,
        max_delete: 12,
        max_splice: usize::MAX,
    };
    let mut rng = Rng::new();
    let mut productive = 0;
    let iterations = 100_000;
    for _ in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].to_owned();
        mutate_text(&mut rng, &mut input, &mutations);
        if check_parse_roundtrip(input.as_bytes()) > 0 {
            productive += 1;
        }
    }
    // Raw bytes, mostly not UTF-8 or not SQL: must be refused without a panic.
    for _ in 0..2_000 {
        check_parse_roundtrip(&rng.noise(40));
    }
    eprintln!("{productive} of {iterations} mutated inputs parsed in some version");
    // Guards against mutations so heavy that nothing reaches the deeper grammar.
    assert!(
        productive > iterations / 10,
        "only {productive} inputs parsed"
    );
}
