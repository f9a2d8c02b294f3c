//! What a message pays to find its rules: the rules engine indexes rules by FROM filter in a
//! `SubscriptionTrie`, so 1,000 rules on distinct filters must cost no more per message than
//! 10 (the goal). `cargo bench -p ferrite-topic --bench rules_lookup`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrite_topic::{MatchOptions, SubscriptionTrie};

/// Rule filters like a fleet's: `sensors/{site}/+/data` and `alerts/{site}/#`.
fn trie(rules: usize) -> SubscriptionTrie<u64, u64> {
    let mut t = SubscriptionTrie::new(MatchOptions::MQTT);
    for i in 0..rules as u64 {
        let filter = if i % 2 == 0 {
            format!("sensors/site{i}/+/data")
        } else {
            format!("alerts/site{i}/#")
        };
        t.insert(&filter, i, i);
    }
    t
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules_lookup");
    for rules in [10usize, 1000] {
        let t = trie(rules);
        // A topic one rule matches, and one no rule matches.
        for (name, topic) in [("hit", "sensors/site4/dev9/data"), ("miss", "other/x/y")] {
            g.bench_function(format!("{rules}_rules_{name}"), |b| {
                b.iter(|| {
                    let mut n = 0u32;
                    t.for_each_match(black_box(topic), |_| n += 1);
                    n
                })
            });
        }
    }
    g.finish();
}

criterion_group!(lookup, benches);
criterion_main!(lookup);
