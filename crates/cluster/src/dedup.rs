//! The receiving node's duplicate filter: a node whose overlapping subscriptions (`a/+` and
//! `a/#`) both match a topic gets one copy per NATS subscription, and must route it once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::envelope::Sequence;

/// Sequence numbers remembered behind the highest seen, per sending node.
const WINDOW: u64 = 4096;
const WORDS: usize = (WINDOW / 64) as usize;

struct Window {
    incarnation: u64,
    max: u64,
    seen: [u64; WORDS],
}

impl Window {
    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    /// Whether `seq` is new, marking it seen.
    fn admit(&mut self, seq: u64) -> bool {
        if seq > self.max {
            let gap = seq - self.max;
            if gap >= WINDOW {
                self.seen = [0; WORDS];
            } else {
                for s in self.max + 1..seq {
                    let (w, b) = Window::bit(s);
                    self.seen[w] &= !b;
                }
            }
            self.max = seq;
            let (w, b) = Window::bit(seq);
            self.seen[w] |= b;
            return true;
        }
        if self.max - seq >= WINDOW {
            // Too old to tell: delivering twice is allowed (at least once), losing is not.
            return true;
        }
        let (w, b) = Window::bit(seq);
        let new = self.seen[w] & b == 0;
        self.seen[w] |= b;
        new
    }
}

/// One window per sending node; a node's new incarnation replaces its old window.
#[derive(Default)]
pub(crate) struct Dedup {
    windows: HashMap<Arc<str>, Window>,
}

impl Dedup {
    /// Whether the message `seq` from `node` is seen for the first time.
    pub(crate) fn admit(&mut self, node: &Arc<str>, seq: Sequence) -> bool {
        match self.windows.get_mut(node) {
            Some(w) if w.incarnation == seq.incarnation => w.admit(seq.seq),
            _ => {
                let mut w = Window {
                    incarnation: seq.incarnation,
                    max: 0,
                    seen: [0; WORDS],
                };
                w.admit(seq.seq);
                self.windows.insert(node.clone(), w);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(incarnation: u64, seq: u64) -> Sequence {
        Sequence { incarnation, seq }
    }

    #[test]
    fn each_sequence_number_is_admitted_once_in_any_order() {
        let mut d = Dedup::default();
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        assert!(d.admit(&a, s(1, 1)));
        assert!(!d.admit(&a, s(1, 1)));
        assert!(d.admit(&a, s(1, 3)));
        assert!(d.admit(&a, s(1, 2)), "late but new");
        assert!(!d.admit(&a, s(1, 2)));
        assert!(!d.admit(&a, s(1, 3)));
        assert!(d.admit(&b, s(1, 1)), "another node's numbers are its own");
        assert!(d.admit(&a, s(2, 1)), "a restarted node starts afresh");
        assert!(!d.admit(&a, s(2, 1)));
    }

    #[test]
    fn the_window_slides_and_forgets_nothing_inside_it() {
        let mut d = Dedup::default();
        let a: Arc<str> = "a".into();
        for seq in 1..=3 * WINDOW {
            assert!(d.admit(&a, s(0, seq)));
            if seq > 10 {
                assert!(!d.admit(&a, s(0, seq - 10)));
            }
        }
        // A jump past the whole window starts it over.
        assert!(d.admit(&a, s(0, 10 * WINDOW)));
        assert!(d.admit(&a, s(0, 10 * WINDOW - 1)));
        assert!(!d.admit(&a, s(0, 10 * WINDOW - 1)));
    }
}
