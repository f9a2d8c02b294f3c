//! Names and reserved topics.

use ferrite_shadow::{
    NameError, Operation, ResponseTopic, ShadowId, ShadowName, ThingName, TopicError, TopicKind,
    parse_topic,
};

#[test]
fn names_follow_the_model() {
    assert!(ThingName::new("my-Thing_1:a").is_ok());
    assert!(ThingName::new("a".repeat(128)).is_ok());
    assert!(matches!(
        ThingName::new("a".repeat(129)),
        Err(NameError::Length { len: 129, .. })
    ));
    assert!(matches!(
        ThingName::new(""),
        Err(NameError::Length { len: 0, .. })
    ));
    assert!(matches!(
        ThingName::new("a/b"),
        Err(NameError::Character { .. })
    ));
    assert!(matches!(
        ThingName::new("$a"),
        Err(NameError::Character { .. })
    ));
    assert!(ShadowName::new("a".repeat(64)).is_ok());
    assert!(ShadowName::new("a".repeat(65)).is_err());
    assert!(ShadowName::new("a+b").is_err());
    let reserved = ShadowName::new("$package").expect("model allows $");
    assert!(reserved.is_reserved());
    assert!(!ShadowName::new("config").expect("name").is_reserved());
}

#[test]
fn parses_request_and_response_topics() {
    let t = parse_topic("$aws/things/lamp/shadow/update").expect("classic update");
    assert_eq!(t.id, ShadowId::parse("lamp", None).expect("id"));
    assert_eq!(t.kind, TopicKind::Request(Operation::Update));
    let t = parse_topic("$aws/things/lamp/shadow/name/cfg/get/accepted").expect("named");
    assert_eq!(t.id, ShadowId::parse("lamp", Some("cfg")).expect("id"));
    assert_eq!(t.kind, TopicKind::Response(ResponseTopic::GetAccepted));
    // A classic shadow whose thing is called "name" is still classic.
    let t = parse_topic("$aws/things/name/shadow/delete").expect("thing called name");
    assert_eq!(t.id.shadow(), None);
    for response in ResponseTopic::ALL {
        let id = ShadowId::parse("t", Some("s")).expect("id");
        let topic = id.response_topic(response);
        assert_eq!(
            parse_topic(&topic).expect("round trip").kind,
            TopicKind::Response(response)
        );
        assert_eq!(
            response.operation().as_str(),
            response.suffix().split('/').next().unwrap_or("")
        );
    }
}

#[test]
fn rejects_other_topics() {
    assert_eq!(parse_topic("a/b"), Err(TopicError::NotShadowTopic));
    assert_eq!(
        parse_topic("$aws/things/t/jobs/get"),
        Err(TopicError::NotShadowTopic)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadowx/get"),
        Err(TopicError::NotShadowTopic)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadow"),
        Err(TopicError::UnknownSuffix)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadow/list"),
        Err(TopicError::UnknownSuffix)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadow/get/delta"),
        Err(TopicError::UnknownSuffix)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadow/update/accepted/x"),
        Err(TopicError::UnknownSuffix)
    );
    assert_eq!(
        parse_topic("$aws/things/t/shadow/name/s"),
        Err(TopicError::UnknownSuffix)
    );
    assert!(matches!(
        parse_topic("$aws/things/t+/shadow/get"),
        Err(TopicError::InvalidName(_))
    ));
    assert!(matches!(
        parse_topic("$aws/things/t/shadow/name/#/get"),
        Err(TopicError::InvalidName(_))
    ));
}

#[test]
fn builds_topics() {
    let classic = ShadowId::parse("t", None).expect("id");
    assert_eq!(classic.topic_prefix(), "$aws/things/t/shadow");
    assert_eq!(
        classic.request_topic(Operation::Get),
        "$aws/things/t/shadow/get"
    );
    assert_eq!(
        classic.response_topic(ResponseTopic::UpdateDelta),
        "$aws/things/t/shadow/update/delta"
    );
    let named = ShadowId::parse("t", Some("s")).expect("id");
    assert_eq!(
        named.response_topic(Operation::Delete.rejected()),
        "$aws/things/t/shadow/name/s/delete/rejected"
    );
    assert_eq!(named.not_found_name(), "s");
    assert_eq!(classic.not_found_name(), "t");
}
