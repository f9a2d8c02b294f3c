//! Deterministic mutation corpora for the parsers' fuzz targets. Each parser we own has a
//! `cargo fuzz` target; its body also runs under `cargo test` over a corpus grown from golden
//! seeds by the mutations here, so the stable toolchain and CI check the same invariants.
//! Deterministic on purpose: a failure reproduces from the iteration number alone.

/// xorshift64*: tiny, deterministic, and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    /// The generator every corpus starts from, so runs are comparable.
    pub fn new() -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// Up to `max_len` random bytes: mostly not UTF-8, never valid input.
    pub fn noise(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len);
        (0..len).map(|_| self.byte()).collect()
    }
}

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

/// One to three byte edits: flip a bit, overwrite a byte, insert one, delete one, truncate,
/// or put a boundary value (0, 1, 0x7F, 0x80, 0xFF) in the first eight bytes, where binary
/// formats keep their lengths and flags.
pub fn mutate_bytes(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=rng.below(2) {
        let len = input.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.byte();
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.byte());
            }
            3 if len > 0 => {
                input.remove(rng.below(len));
            }
            4 => input.truncate(rng.below(len + 1)),
            _ => {
                if len > 0 {
                    let i = rng.below(len.min(8));
                    input[i] = [0x00, 0x01, 0x7F, 0x80, 0xFF][rng.below(5)];
                }
            }
        }
    }
}

/// How [`mutate_text`] may change a text input.
pub struct TextMutations<'a> {
    /// Pieces that move the parser between its states (brackets, keywords, quotes).
    pub fragments: &'a [&'a str],
    /// The seeds, for splicing a tail of one into another.
    pub seeds: &'a [&'a str],
    /// Spans shorter than this may be deleted.
    pub max_delete: usize,
    /// At most this many characters of a spliced tail.
    pub max_splice: usize,
}

/// One to three edits at character boundaries: insert a fragment, delete a short span, splice
/// in a tail of another seed, or truncate. The result stays valid UTF-8.
pub fn mutate_text(rng: &mut Rng, input: &mut String, m: &TextMutations<'_>) {
    for _ in 0..=rng.below(3) {
        let boundaries = char_boundaries(input);
        let at = boundaries[rng.below(boundaries.len())];
        match rng.below(5) {
            0 | 1 => input.insert_str(at, m.fragments[rng.below(m.fragments.len())]),
            2 => {
                let end = boundaries[rng.below(boundaries.len())];
                let (from, to) = (at.min(end), at.max(end));
                if to - from < m.max_delete {
                    input.replace_range(from..to, "");
                }
            }
            3 => {
                let other = m.seeds[rng.below(m.seeds.len())];
                let starts = char_boundaries(other);
                let cut = starts[rng.below(starts.len())];
                let piece: String = other[cut..].chars().take(m.max_splice).collect();
                input.insert_str(at, &piece);
            }
            _ => input.truncate(at),
        }
    }
}

fn char_boundaries(s: &str) -> Vec<usize> {
    (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_keep_utf8() {
        let m = TextMutations {
            fragments: &["é", "{", "\u{1F600}"],
            seeds: &["añb", "{\"k\": 1}"],
            max_delete: 4,
            max_splice: 8,
        };
        let run = || {
            let mut rng = Rng::new();
            (0..500)
                .map(|i| {
                    let mut s = m.seeds[i % 2].to_owned();
                    mutate_text(&mut rng, &mut s, &m);
                    s
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        // Mutations happen: not every output is one of the seeds.
        assert!(a.iter().filter(|s| !m.seeds.contains(&s.as_str())).count() > 250);
    }

    #[test]
    fn below_stays_in_range_and_tolerates_zero() {
        let mut rng = Rng::new();
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert_eq!(rng.below(0), 0);
    }
}
