//! Registry changes reach the live connections they affect, and only those.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use ferrite_broker::TransportIdentity;
use ferrite_types::InProcessFeed;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;

use super::fixture::{Fixture, allow, connect_with, req};

/// Publishing to the room named by the connection's thing's `room` attribute.
const ROOM_POLICY: &str =
    "arn:aws:iot:eu-west-1:123456789012:topic/room/${iot:Connection.Thing.Attributes[room]}";

/// Re-resolving one certificate connection reads the certificate, the thing attachment,
/// the thing, its groups, the policies attached to the certificate and each group and each
/// policy's default version: a handful of reads, whatever else is connected.
const READS_PER_CONNECTION: usize = 12;

#[tokio::test]
async fn a_thing_update_reaches_only_the_connection_acting_as_that_thing() {
    let f = Fixture::new();
    f.create_policy("room", &allow(&["iot:Publish"], ROOM_POLICY))
        .await;
    let (a, b) = (f.device("lamp-a").await, f.device("lamp-b").await);
    for (device, thing) in [(&a, "lamp-a"), (&b, "lamp-b")] {
        f.attach_policy("room", &device.arn(&f.scope)).await;
        f.thing_of(thing, json!({"room": "kitchen"}), device).await;
    }
    let conn_a = f.connect(&a, "lamp-a").await.unwrap();
    let conn_b = f.connect(&b, "lamp-b").await.unwrap();
    assert!(conn_a.perms.publish("room/kitchen", false));

    let mut changes = f.changes();
    f.registry
        .update_thing(req(
            json!({"thingName": "lamp-a", "attributePayload": {"attributes": {"room": "hall"}}}),
        ))
        .await
        .unwrap();
    let reads = f.apply(&mut changes).await;
    assert!(conn_a.perms.publish("room/hall", false));
    assert!(!conn_a.perms.publish("room/kitchen", false));
    assert!(conn_b.perms.publish("room/kitchen", false));
    assert!(
        (1..=READS_PER_CONNECTION).contains(&reads),
        "one connection resolved again: {reads} reads"
    );
}

#[tokio::test]
async fn policies_attached_to_an_ancestor_group_reach_its_members_connections() {
    let f = Fixture::new();
    f.create_policy("connect", &allow(&["iot:Connect"], "*"))
        .await;
    f.create_policy(
        "fleet",
        &allow(
            &["iot:Publish"],
            "arn:aws:iot:eu-west-1:123456789012:topic/fleet",
        ),
    )
    .await;
    let dev = f.device("dev-1").await;
    let other = f.device("dev-2").await;
    for d in [&dev, &other] {
        f.attach_policy("connect", &d.arn(&f.scope)).await;
    }
    f.thing_of("dev-1", json!({}), &dev).await;
    for (group, parent) in [("root", None), ("child", Some("root"))] {
        let mut r = json!({"thingGroupName": group});
        if let Some(p) = parent {
            r["parentGroupName"] = json!(p);
        }
        f.registry
            .create_thing_group(&f.scope, req(r))
            .await
            .unwrap();
    }
    f.registry
        .add_thing_to_thing_group(
            &f.scope,
            req(json!({"thingGroupName": "child", "thingName": "dev-1"})),
        )
        .await
        .unwrap();
    let conn = f.connect(&dev, "dev-1").await.unwrap();
    let unrelated = f.connect(&other, "dev-2").await.unwrap();
    assert!(!conn.perms.publish("fleet", false));

    let mut changes = f.changes();
    let root = f.scope.arn("thinggroup/root");
    f.attach_policy("fleet", &root).await;
    let reads = f.apply(&mut changes).await;
    assert!(conn.perms.publish("fleet", false));
    assert!(!unrelated.perms.publish("fleet", false));
    assert!(reads <= READS_PER_CONNECTION, "{reads} reads");

    // A new default version of a policy reaches every connection it is in force for.
    f.registry
        .create_policy_version(
            &f.scope,
            req(json!({"policyName": "fleet", "setAsDefault": true,
                       "policyDocument": allow(&["iot:Publish"], "arn:aws:iot:eu-west-1:123456789012:topic/fleet2")})),
        )
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(!conn.perms.publish("fleet", false));
    assert!(conn.perms.publish("fleet2", false));

    // Leaving the group takes the group's policies away.
    f.registry
        .remove_thing_from_thing_group(
            &f.scope,
            req(json!({"thingGroupName": "child", "thingName": "dev-1"})),
        )
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(!conn.perms.publish("fleet2", false));
    assert!(!conn.revoker.is_closed() && !unrelated.revoker.is_closed());
}

#[tokio::test]
async fn attaching_the_thing_named_like_the_client_id_gives_its_variables() {
    let f = Fixture::new();
    f.create_policy("room", &allow(&["iot:Publish"], ROOM_POLICY))
        .await;
    let (dev, stranger) = (f.device("lamp").await, f.device("stranger").await);
    for d in [&dev, &stranger] {
        f.attach_policy("room", &d.arn(&f.scope)).await;
    }
    f.registry
        .create_thing(
            &f.scope,
            req(json!({"thingName": "lamp", "attributePayload": {"attributes": {"room": "hall"}}})),
        )
        .await
        .unwrap();
    let conn = f.connect(&dev, "lamp").await.unwrap();
    // Another certificate connecting with the same client id is not affected by the
    // attachment of this one.
    let other = f.connect(&stranger, "lamp").await.unwrap();
    assert!(!conn.perms.publish("room/hall", false));

    let mut changes = f.changes();
    f.registry
        .attach_thing_principal(
            &f.scope,
            req(json!({"thingName": "lamp", "principal": dev.arn(&f.scope)})),
        )
        .await
        .unwrap();
    let reads = f.apply(&mut changes).await;
    assert!(conn.perms.publish("room/hall", false));
    assert!(!other.perms.publish("room/hall", false));
    assert!(reads <= READS_PER_CONNECTION, "{reads} reads");

    f.registry
        .detach_thing_principal(req(
            json!({"thingName": "lamp", "principal": dev.arn(&f.scope)}),
        ))
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(!conn.perms.publish("room/hall", false));
}

#[tokio::test]
async fn revoked_certificates_and_deactivated_cas_close_their_connections() {
    let f = Fixture::new();
    f.create_policy("connect", &allow(&["iot:Connect"], "*"))
        .await;
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Plant CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let out = f
        .registry
        .register_ca_certificate(
            &f.scope,
            req(json!({"caCertificate": ca.pem(), "certificateMode": "SNI_ONLY", "setAsActive": true})),
        )
        .await
        .unwrap();
    let ca_id = out["certificateId"].as_str().unwrap().to_owned();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, "under-ca");
    let leaf = leaf.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap();
    f.registry
        .register_certificate(
            &f.scope,
            req(json!({"certificatePem": leaf.pem(), "setAsActive": true})),
        )
        .await
        .unwrap();
    let under_ca = super::fixture::Device {
        der: leaf.der().to_vec(),
        id: ferrite_types::certificate_id(leaf.der()),
    };
    let (a, b) = (f.device("a").await, f.device("b").await);
    for d in [&under_ca, &a, &b] {
        f.attach_policy("connect", &d.arn(&f.scope)).await;
    }
    let conn_ca = f.connect(&under_ca, "under-ca").await.unwrap();
    let conn_a = f.connect(&a, "a").await.unwrap();
    let conn_b = f.connect(&b, "b").await.unwrap();

    let mut changes = f.changes();
    f.registry
        .update_certificate(req(json!({"certificateId": a.id, "newStatus": "REVOKED"})))
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(conn_a.revoker.is_closed());
    assert!(!conn_b.revoker.is_closed() && !conn_ca.revoker.is_closed());

    f.registry
        .update_ca_certificate(req(
            json!({"certificateId": ca_id, "newStatus": "INACTIVE"}),
        ))
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(conn_ca.revoker.is_closed());
    assert!(!conn_b.revoker.is_closed());
    assert!(f.connect(&under_ca, "under-ca").await.is_err());
}

#[tokio::test]
async fn a_refresher_that_missed_changes_resolves_every_connection() {
    // Room for one change: the second makes the subscriber miss the first.
    let f = Fixture::with_feed(Arc::new(InProcessFeed::new(1)));
    f.create_policy("connect", &allow(&["iot:Connect"], "*"))
        .await;
    let (a, b) = (f.device("a").await, f.device("b").await);
    for d in [&a, &b] {
        f.attach_policy("connect", &d.arn(&f.scope)).await;
    }
    let conn_a = f.connect(&a, "a").await.unwrap();
    let conn_b = f.connect(&b, "b").await.unwrap();
    let mut changes = f.changes();
    for d in [&a, &b] {
        f.registry
            .update_certificate(req(json!({"certificateId": d.id, "newStatus": "INACTIVE"})))
            .await
            .unwrap();
    }
    f.apply(&mut changes).await;
    assert!(conn_a.revoker.is_closed(), "the missed change applied too");
    assert!(conn_b.revoker.is_closed());
}

#[tokio::test]
async fn the_refresher_closes_a_revoked_connection_as_changes_arrive() {
    let f = Fixture::new();
    f.create_policy("connect", &allow(&["iot:Connect"], "*"))
        .await;
    let dev = f.device("dev").await;
    f.attach_policy("connect", &dev.arn(&f.scope)).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let refresher = tokio::spawn(f.auth.clone().run(f.changes(), cancel.clone()));
    let conn = f.connect(&dev, "dev").await.unwrap();
    f.registry
        .detach_policy(req(
            json!({"policyName": "connect", "target": dev.arn(&f.scope)}),
        ))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), conn.revoker.closed())
        .await
        .expect("revoked once the policy allowing iot:Connect is detached");
    cancel.cancel();
    refresher.await.unwrap();
}

/// A custom authorizer endpoint that authenticates everyone as `dev1`.
async fn authorizer_endpoint() -> String {
    let body = json!({
        "isAuthenticated": true,
        "principalId": "dev1",
        "policyDocuments": [allow(&["iot:Publish"], "*")],
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 3600,
    })
    .to_string();
    let app = Router::new().route("/", post(move || std::future::ready(body.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn custom_authorized_connections_follow_their_authorizer() {
    let f = Fixture::new();
    let url = authorizer_endpoint().await;
    for name in ["A", "B"] {
        f.registry
            .create_authorizer(
                &f.scope,
                req(json!({"authorizerName": name, "authorizerFunctionArn": url,
                           "signingDisabled": true})),
            )
            .await
            .unwrap();
    }
    let tls = TransportIdentity {
        tls: true,
        ..TransportIdentity::default()
    };
    let with = |name: &str| format!("u?x-amz-customauthorizer-name={name}");
    let conn_a = connect_with(&f.auth, "c1", Some(&with("A")), Some(&tls))
        .await
        .unwrap();
    let conn_b = connect_with(&f.auth, "c2", Some(&with("B")), Some(&tls))
        .await
        .unwrap();
    assert_eq!(conn_a.perms.principal().as_deref(), Some("dev1"));

    let mut changes = f.changes();
    f.registry
        .update_authorizer(
            &f.scope,
            req(json!({"authorizerName": "A", "status": "INACTIVE"})),
        )
        .await
        .unwrap();
    f.apply(&mut changes).await;
    assert!(conn_a.revoker.is_closed());
    assert!(!conn_b.revoker.is_closed());
}

#[tokio::test]
async fn the_principal_is_the_certificate_id_or_none_for_anonymous_clients() {
    let f = Fixture::new();
    f.create_policy("connect", &allow(&["iot:Connect"], "*"))
        .await;
    let dev = f.device("dev").await;
    f.attach_policy("connect", &dev.arn(&f.scope)).await;
    let conn = f.connect(&dev, "dev").await.unwrap();
    assert_eq!(conn.perms.principal().as_deref(), Some(dev.id.as_str()));
    let http = f
        .auth
        .certificate_permissions(&dev.der, "10.0.0.2:1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(http.principal().as_deref(), Some(dev.id.as_str()));

    let anonymous = crate::IotAuthorizer::new(
        f.registry.clone(),
        crate::IdentityConfig {
            region: f.scope.region.clone(),
            account_id: f.scope.account.clone(),
            anonymous_policy: Some(
                ferrite_policy::Policy::parse(&allow(&["iot:Publish"], "*")).unwrap(),
            ),
            websocket_max_lifetime: None,
        },
        Default::default(),
    );
    let revoker = ferrite_broker::Revoker::detached();
    let ctx = ferrite_broker::ConnectContext {
        protocol: ferrite_mqtt_codec::ProtocolVersion::V311,
        client_id: "anon",
        username: None,
        password: None,
        local_addr: "127.0.0.1:1883".parse().unwrap(),
        peer_addr: "127.0.0.1:40000".parse().unwrap(),
        transport: None,
        clean_start: true,
        session_expiry_secs: 0,
        will_topic: None,
        will_retain: false,
        revoker,
    };
    let perms = ferrite_broker::Authorizer::connect(&anonymous, ctx)
        .await
        .unwrap();
    assert_eq!(perms.principal(), None);
}
