//! Jobs for the actions' unit tests: a rule's SQL evaluated over one message, as the engine
//! would hand it to an action.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_rules::{CompiledSql, Evaluation, SqlVersion};

use super::Job;

/// The message's time in every test job.
pub(crate) const NOW_MS: i64 = 1_700_000_000_123;

/// `sql` compiled (SQL version 2016-03-23) and evaluated over `payload` published to
/// `topic`; the SELECT must pass.
pub(crate) fn job(sql: &str, topic: &str, payload: &[u8]) -> (CompiledSql, Job) {
    let compiled = ferrite_rules::compile(sql, SqlVersion::V2016_03_23).expect("sql compiles");
    let raw = Bytes::copy_from_slice(payload);
    let ctx = crate::engine::context::test_context_with(topic, raw.clone(), NOW_MS, None);
    let selected = match compiled.evaluate(&raw, &ctx).expect("evaluates") {
        Evaluation::Selected(s) => s,
        Evaluation::Filtered => panic!("the test message must pass WHERE"),
    };
    let payload = selected.payload();
    let job = Job::new(Arc::from("r"), ctx, selected, payload, None);
    (compiled, job)
}
