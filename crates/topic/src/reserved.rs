//! Classification of AWS IoT reserved (`$`) topics and what devices may do with them.
//!
//! Sources: the reserved-topic tables for Device Shadow, Jobs, fleet provisioning, event
//! messages and Basic Ingest. Anything else starting with `$` (including `$SYS/...` and AWS
//! services Ferrite does not implement) is closed to clients.

use crate::shared::parse_shared;

/// Which reserved namespace a topic belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservedKind {
    /// Does not start with `$`.
    NotReserved,
    /// `$aws/things/{thing}/shadow/...` (classic and named shadows).
    Shadow,
    /// `$aws/things/{thing}/jobs/...`.
    Jobs,
    /// `$aws/certificates/create[-from-csr]/...` and `$aws/provisioning-templates/{t}/...`.
    Provisioning,
    /// `$aws/events/...`.
    Events,
    /// `$aws/rules/{ruleName}[/...]`, delivered straight to one rule.
    BasicIngest,
    /// Any other `$` topic.
    Other,
}

/// Classifies a topic name by its reserved namespace.
///
/// Works on filters too, treating wildcard levels as ordinary text (so `$aws/things/+/shadow/#`
/// is [`ReservedKind::Shadow`]).
pub fn classify(topic: &str) -> ReservedKind {
    if !topic.starts_with('$') {
        return ReservedKind::NotReserved;
    }
    let mut levels = topic.split('/');
    if levels.next() != Some("$aws") {
        return ReservedKind::Other;
    }
    match (levels.next(), levels.next(), levels.next(), levels.next()) {
        (Some("things"), Some(thing), Some("shadow"), Some(_)) if !thing.is_empty() => {
            ReservedKind::Shadow
        }
        (Some("things"), Some(thing), Some("jobs"), Some(_)) if !thing.is_empty() => {
            ReservedKind::Jobs
        }
        (Some("certificates"), Some("create" | "create-from-csr"), Some(_), _) => {
            ReservedKind::Provisioning
        }
        (Some("provisioning-templates"), Some(template), Some(_), _) if !template.is_empty() => {
            ReservedKind::Provisioning
        }
        (Some("events"), Some(_), _, _) => ReservedKind::Events,
        (Some("rules"), Some(rule), _, _) if !rule.is_empty() => ReservedKind::BasicIngest,
        _ => ReservedKind::Other,
    }
}

/// For a Basic Ingest topic, the rule name and the topic the rule sees (prefix removed).
///
/// `$aws/rules/R/a/b` gives `("R", "a/b")`, `$aws/rules/R` gives `("R", "")`.
pub fn basic_ingest_rule(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("$aws/rules/")?;
    let (rule, sub) = rest.split_once('/').unwrap_or((rest, ""));
    (!rule.is_empty()).then_some((rule, sub))
}

/// Whether a device may PUBLISH to `topic` (authorisation by policy still applies).
///
/// True for ordinary topics, shadow `get`/`update`/`delete` requests (classic and named), Jobs
/// requests, fleet provisioning requests and Basic Ingest. Every topic under
/// `$aws/things/{thing}/jobs/` other than responses and notifications counts as a Jobs request:
/// AWS answers unknown ones with an `InvalidTopic` rejection instead of treating the publish as a
/// protocol violation.
pub fn client_may_publish(topic: &str) -> bool {
    if !topic.starts_with('$') {
        return true;
    }
    if topic.contains(['+', '#']) {
        return false;
    }
    if classify(topic) == ReservedKind::Jobs {
        return is_jobs_request(topic);
    }
    PUBLISH.iter().any(|pattern| overlaps(topic, pattern))
}

/// Whether a device may SUBSCRIBE to `filter` (authorisation by policy still applies).
///
/// True for ordinary filters (including those starting with a wildcard, which never match `$`
/// topics), anything under a shadow prefix, Jobs responses and notifications, fleet provisioning
/// responses and `$aws/events/...`. A `$` filter with wildcards is allowed when it can match at
/// least one such topic, which admits SDK patterns like `.../jobs/get/+` or `$aws/events/#`.
/// Basic Ingest topics never reach subscribers, so `$aws/rules/...` is refused. Shared filters
/// are judged by their inner filter.
pub fn client_may_subscribe(filter: &str) -> bool {
    let filter = parse_shared(filter).map_or(filter, |s| s.filter);
    if !filter.starts_with('$') {
        return true;
    }
    SUBSCRIBE.iter().any(|pattern| overlaps(filter, pattern))
}

/// `topic` is known to be under `$aws/things/{thing}/jobs/`.
fn is_jobs_request(topic: &str) -> bool {
    let rest = topic.splitn(5, '/').nth(4).unwrap_or("");
    let last = rest.rsplit('/').next().unwrap_or("");
    !matches!(rest, "notify" | "notify-next") && !matches!(last, "accepted" | "rejected")
}

/// One level of a reserved-topic pattern.
enum Tok {
    Lit(&'static str),
    OneOf(&'static [&'static str]),
    /// A client-chosen name (thing, shadow, job id, template, rule): any non-empty level.
    Var,
    /// Zero or more further levels, whatever they contain.
    Rest0,
    /// One or more further levels, whatever they contain.
    Rest1,
}

impl Tok {
    fn accepts(&self, level: &str) -> bool {
        match self {
            Tok::Lit(lit) => level == *lit,
            Tok::OneOf(options) => options.contains(&level),
            Tok::Var => !level.is_empty(),
            Tok::Rest0 | Tok::Rest1 => true,
        }
    }
}

use Tok::{Lit, OneOf, Rest0, Rest1, Var};

const AWS: Tok = Lit("$aws");
const THINGS: Tok = Lit("things");
const FMT: Tok = OneOf(&["json", "cbor"]);
const RESULT: Tok = OneOf(&["accepted", "rejected"]);
const SHADOW_OPS: Tok = OneOf(&["get", "update", "delete"]);
const CERT_OPS: Tok = OneOf(&["create", "create-from-csr"]);

const PUBLISH: &[&[Tok]] = &[
    &[AWS, THINGS, Var, Lit("shadow"), SHADOW_OPS],
    &[
        AWS,
        THINGS,
        Var,
        Lit("shadow"),
        Lit("name"),
        Var,
        SHADOW_OPS,
    ],
    &[AWS, Lit("certificates"), CERT_OPS, FMT],
    &[
        AWS,
        Lit("provisioning-templates"),
        Var,
        Lit("provision"),
        FMT,
    ],
    &[AWS, Lit("rules"), Var, Rest0],
];

const SUBSCRIBE: &[&[Tok]] = &[
    // AWS may add topics under a shadow prefix and documents `P/#` as legal.
    &[AWS, THINGS, Var, Lit("shadow"), Rest1],
    &[
        AWS,
        THINGS,
        Var,
        Lit("jobs"),
        OneOf(&["get", "start-next"]),
        RESULT,
    ],
    &[
        AWS,
        THINGS,
        Var,
        Lit("jobs"),
        Var,
        OneOf(&["get", "update"]),
        RESULT,
    ],
    &[
        AWS,
        THINGS,
        Var,
        Lit("jobs"),
        OneOf(&["notify", "notify-next"]),
    ],
    &[AWS, Lit("certificates"), CERT_OPS, FMT, RESULT],
    &[
        AWS,
        Lit("provisioning-templates"),
        Var,
        Lit("provision"),
        FMT,
        RESULT,
    ],
    &[AWS, Lit("events"), Rest1],
];

/// Whether some topic matches both `filter` and `pattern`; for a wildcard-free `filter` this is
/// plain pattern matching.
fn overlaps(filter: &str, pattern: &[Tok]) -> bool {
    let mut levels = filter.split('/');
    let mut toks = pattern.iter();
    loop {
        match (levels.next(), toks.next()) {
            (Some("#"), _) | (None, None | Some(Rest0)) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(level), Some(tok @ (Rest0 | Rest1))) => {
                return level == "+" || tok.accepts(level);
            }
            (Some(level), Some(tok)) => {
                if level != "+" && !tok.accepts(level) {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReservedKind::*;

    /// (topic, kind, client may publish, client may subscribe)
    const TOPICS: &[(&str, ReservedKind, bool, bool)] = &[
        ("a/b", NotReserved, true, true),
        ("aws/things/t/shadow/update", NotReserved, true, true),
        // Classic shadow.
        ("$aws/things/t/shadow/get", Shadow, true, true),
        ("$aws/things/t/shadow/update", Shadow, true, true),
        ("$aws/things/t/shadow/delete", Shadow, true, true),
        ("$aws/things/t/shadow/get/accepted", Shadow, false, true),
        ("$aws/things/t/shadow/get/rejected", Shadow, false, true),
        ("$aws/things/t/shadow/update/accepted", Shadow, false, true),
        ("$aws/things/t/shadow/update/rejected", Shadow, false, true),
        ("$aws/things/t/shadow/update/delta", Shadow, false, true),
        ("$aws/things/t/shadow/update/documents", Shadow, false, true),
        ("$aws/things/t/shadow/delete/accepted", Shadow, false, true),
        ("$aws/things/t/shadow/delete/rejected", Shadow, false, true),
        ("$aws/things/t/shadow/frobnicate", Shadow, false, true),
        ("$aws/things/t/shadow", Other, false, false),
        ("$aws/things//shadow/get", Other, false, false),
        // Named shadow.
        ("$aws/things/t/shadow/name/s/get", Shadow, true, true),
        ("$aws/things/t/shadow/name/s/update", Shadow, true, true),
        ("$aws/things/t/shadow/name/s/delete", Shadow, true, true),
        (
            "$aws/things/t/shadow/name/s/update/delta",
            Shadow,
            false,
            true,
        ),
        (
            "$aws/things/t/shadow/name/s/get/accepted",
            Shadow,
            false,
            true,
        ),
        ("$aws/things/t/shadow/name//get", Shadow, false, true),
        ("$aws/things/t/shadow/name/get", Shadow, false, true),
        // A thing called "name" still has a classic shadow.
        ("$aws/things/name/shadow/get", Shadow, true, true),
        // Jobs.
        ("$aws/things/t/jobs/get", Jobs, true, false),
        ("$aws/things/t/jobs/start-next", Jobs, true, false),
        ("$aws/things/t/jobs/j1/get", Jobs, true, false),
        ("$aws/things/t/jobs/$next/get", Jobs, true, false),
        ("$aws/things/t/jobs/j1/update", Jobs, true, false),
        ("$aws/things/t/jobs/unknown/api/x", Jobs, true, false),
        ("$aws/things/t/jobs/get/accepted", Jobs, false, true),
        ("$aws/things/t/jobs/get/rejected", Jobs, false, true),
        ("$aws/things/t/jobs/start-next/accepted", Jobs, false, true),
        ("$aws/things/t/jobs/j1/get/accepted", Jobs, false, true),
        ("$aws/things/t/jobs/j1/update/rejected", Jobs, false, true),
        ("$aws/things/t/jobs/$next/get/accepted", Jobs, false, true),
        ("$aws/things/t/jobs/notify", Jobs, false, true),
        ("$aws/things/t/jobs/notify-next", Jobs, false, true),
        ("$aws/things/t/jobs", Other, false, false),
        // Provisioning.
        ("$aws/certificates/create/json", Provisioning, true, false),
        ("$aws/certificates/create/cbor", Provisioning, true, false),
        ("$aws/certificates/create/xml", Provisioning, false, false),
        (
            "$aws/certificates/create-from-csr/json",
            Provisioning,
            true,
            false,
        ),
        (
            "$aws/certificates/create-from-csr/cbor",
            Provisioning,
            true,
            false,
        ),
        (
            "$aws/certificates/create/json/accepted",
            Provisioning,
            false,
            true,
        ),
        (
            "$aws/certificates/create/cbor/rejected",
            Provisioning,
            false,
            true,
        ),
        (
            "$aws/certificates/create-from-csr/json/accepted",
            Provisioning,
            false,
            true,
        ),
        (
            "$aws/provisioning-templates/tpl/provision/json",
            Provisioning,
            true,
            false,
        ),
        (
            "$aws/provisioning-templates/tpl/provision/cbor",
            Provisioning,
            true,
            false,
        ),
        (
            "$aws/provisioning-templates/tpl/provision/json/accepted",
            Provisioning,
            false,
            true,
        ),
        (
            "$aws/provisioning-templates/tpl/provision/cbor/rejected",
            Provisioning,
            false,
            true,
        ),
        (
            "$aws/provisioning-templates/tpl/other/json",
            Provisioning,
            false,
            false,
        ),
        ("$aws/certificates/list", Other, false, false),
        // Events.
        ("$aws/events/presence/connected/c1", Events, false, true),
        (
            "$aws/events/subscriptions/subscribed/c1",
            Events,
            false,
            true,
        ),
        ("$aws/events/thing/t/created", Events, false, true),
        ("$aws/events/jobExecution/j/succeeded", Events, false, true),
        ("$aws/events", Other, false, false),
        // Basic Ingest.
        ("$aws/rules/MyRule", BasicIngest, true, false),
        ("$aws/rules/MyRule/a/b", BasicIngest, true, false),
        ("$aws/rules/MyRule/", BasicIngest, true, false),
        ("$aws/rules/", Other, false, false),
        ("$aws/rules", Other, false, false),
        // Everything else reserved.
        ("$SYS/broker/uptime", Other, false, false),
        ("$aws", Other, false, false),
        ("$", Other, false, false),
        ("$aws/things/t/tunnels/notify", Other, false, false),
        ("$aws/things/t/defender/metrics/json", Other, false, false),
        ("$share", Other, false, false),
    ];

    #[test]
    fn topic_table() {
        for &(topic, kind, publish, subscribe) in TOPICS {
            assert_eq!(classify(topic), kind, "classify {topic}");
            assert_eq!(client_may_publish(topic), publish, "publish {topic}");
            assert_eq!(client_may_subscribe(topic), subscribe, "subscribe {topic}");
        }
    }

    /// (filter, client may subscribe)
    const FILTERS: &[(&str, bool)] = &[
        ("#", true),
        ("+", true),
        ("+/shadow/#", true),
        ("a/+/#", true),
        ("$aws/things/t/shadow/#", true),
        ("$aws/things/+/shadow/update/documents", true),
        ("$aws/things/t/shadow/name/+/get/+", true),
        ("$aws/things/t/shadow/get/+", true),
        ("$aws/things/t/jobs/get/+", true),
        ("$aws/things/t/jobs/start-next/+", true),
        ("$aws/things/t/jobs/+/get/+", true),
        ("$aws/things/t/jobs/j1/update/+", true),
        ("$aws/things/t/jobs/#", true),
        ("$aws/things/+/jobs/notify-next", true),
        ("$aws/things/t/jobs/+", true),
        ("$aws/things/t/jobs/j1/+", false),
        ("$aws/things/t/jobs/j1/get", false),
        ("$aws/certificates/create/+/accepted", true),
        ("$aws/certificates/create/json/+", true),
        ("$aws/provisioning-templates/+/provision/#", true),
        ("$aws/certificates/create/json", false),
        ("$aws/events/#", true),
        ("$aws/events/presence/+/+", true),
        ("$aws/+/presence/connected/+", true),
        ("$aws/rules/MyRule", false),
        ("$aws/rules/MyRule/#", false),
        ("$aws/rules/#", false),
        ("$aws/things/t/tunnels/notify", false),
        ("$SYS/#", false),
        ("$SYS/+", false),
        ("$share/g/a/b", true),
        ("$share/g/$aws/events/#", true),
        ("$share/g/$aws/rules/R/#", false),
        ("$share/g/$SYS/#", false),
    ];

    #[test]
    fn filter_table() {
        for &(filter, subscribe) in FILTERS {
            assert_eq!(
                client_may_subscribe(filter),
                subscribe,
                "subscribe {filter}"
            );
        }
    }

    #[test]
    fn wildcards_never_publishable_on_reserved_topics() {
        assert!(!client_may_publish("$aws/things/+/shadow/update"));
        assert!(!client_may_publish("$aws/rules/R/#"));
        assert!(
            client_may_publish("a/+"),
            "validation, not this check, rejects wildcards"
        );
    }

    #[test]
    fn basic_ingest_rule_split() {
        assert_eq!(basic_ingest_rule("$aws/rules/R/a/b"), Some(("R", "a/b")));
        assert_eq!(basic_ingest_rule("$aws/rules/R"), Some(("R", "")));
        assert_eq!(basic_ingest_rule("$aws/rules/R/"), Some(("R", "")));
        assert_eq!(basic_ingest_rule("$aws/rules/"), None);
        assert_eq!(basic_ingest_rule("$aws/rules//x"), None);
        assert_eq!(basic_ingest_rule("a/b"), None);
    }
}
