//! Runs the `rules_sql` fuzz target's body over a fixed pseudo-random corpus grown from AWS's
//! documented SQL, so the stable toolchain and CI exercise the same invariants as
//! `cargo +nightly fuzz run rules_sql`.

mod common;

use common::{EXPRESSIONS, STATEMENTS};
use ferrite_rules_sql::fuzzing::check_parse_roundtrip;

/// xorshift64*: deterministic, so a failure reproduces from the iteration number alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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

fn mutate(rng: &mut Rng, input: &mut String, seeds: &[&str]) {
    for _ in 0..=rng.below(3) {
        let boundaries: Vec<usize> = (0..=input.len())
            .filter(|&i| input.is_char_boundary(i))
            .collect();
        let at = boundaries[rng.below(boundaries.len())];
        match rng.below(5) {
            0 | 1 => input.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]),
            2 => {
                let end = boundaries[rng.below(boundaries.len())];
                let (from, to) = (at.min(end), at.max(end));
                if to - from < 12 {
                    input.replace_range(from..to, "");
                }
            }
            3 => {
                // Splice in a piece of another seed.
                let other = seeds[rng.below(seeds.len())];
                let cut = (0..=other.len())
                    .filter(|&i| other.is_char_boundary(i))
                    .nth(rng.below(other.len() + 1))
                    .unwrap_or(0);
                input.insert_str(at, &other[cut..]);
            }
            _ => input.truncate(at),
        }
    }
}

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
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut productive = 0;
    let iterations = 100_000;
    for _ in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].to_owned();
        mutate(&mut rng, &mut input, &seeds);
        if check_parse_roundtrip(input.as_bytes()) > 0 {
            productive += 1;
        }
    }
    // Raw bytes, mostly not UTF-8 or not SQL: must be refused without a panic.
    for _ in 0..2_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check_parse_roundtrip(&bytes);
    }
    eprintln!("{productive} of {iterations} mutated inputs parsed in some version");
    // Guards against mutations so heavy that nothing reaches the deeper grammar.
    assert!(
        productive > iterations / 10,
        "only {productive} inputs parsed"
    );
}
