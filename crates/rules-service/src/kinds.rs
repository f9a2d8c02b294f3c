//! Record kinds of the topic rule API in the registry's store. URLs and tokens are keys of
//! their own kinds, never listed by prefix, so the `/` they contain needs no escaping.

/// `{ruleName}`: a topic rule (its payload as AWS's JSON, plus id, creation date and the FROM
/// topic filter).
pub const TOPIC_RULE: &str = "topic-rule";
/// `{destination id}`: a topic rule destination (the UUID its ARN ends with).
pub const DESTINATION: &str = "rule-destination";
/// `{confirmationUrl}`: the HTTP destination of a confirmation URL (one per URL).
pub const DESTINATION_URL: &str = "rule-destination-url";
/// `{confirmationToken}`: the HTTP destination a pending confirmation token confirms.
pub const DESTINATION_TOKEN: &str = "rule-destination-token";
