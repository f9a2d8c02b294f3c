//! The provisioning template API over an in-memory store: lifecycle, versions and their
//! limits, validation through the template language, announcements.

use std::sync::Arc;

use ferrite_registry::Scope;
use ferrite_storage_memory::MemoryStore;
use ferrite_types::{ChangeFeed, InProcessFeed, Received, RegistryChange};
use serde_json::{Value, json};

use ferrite_types::AwsException;

use super::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/provisioning";

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account: "123456789012".into(),
    }
}

fn body(thing_prefix: &str) -> String {
    json!({
        "Parameters": {"SerialNumber": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["", [thing_prefix, {"Ref": "SerialNumber"}]]}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}
        }
    })
    .to_string()
}

fn api() -> (ProvisioningTemplates, Arc<InProcessFeed>) {
    let feed = Arc::new(InProcessFeed::default());
    let api = ProvisioningTemplates::new(Arc::new(MemoryStore::new()))
        .with_change_feed(feed.clone() as Arc<dyn ChangeFeed>);
    (api, feed)
}

fn create(name: &str, body: String) -> CreateProvisioningTemplate {
    serde_json::from_value(json!({
        "templateName": name,
        "templateBody": body,
        "provisioningRoleArn": ROLE,
    }))
    .unwrap()
}

fn name(n: &str) -> TemplateName {
    TemplateName {
        template_name: n.into(),
    }
}

fn version(n: &str, id: i64) -> TemplateVersionRef {
    TemplateVersionRef {
        template_name: n.into(),
        version_id: id,
    }
}

async fn add_version(
    api: &ProvisioningTemplates,
    n: &str,
    default: bool,
) -> Result<Value, ProvisioningError> {
    api.create_provisioning_template_version(
        &scope(),
        CreateProvisioningTemplateVersion {
            template_name: n.into(),
            template_body: body("v_"),
            set_as_default: Some(default),
        },
    )
    .await
}

#[tokio::test]
async fn create_describe_update_list_delete() {
    let (api, feed) = api();
    let mut changes = feed.subscribe();
    let out = api
        .create_provisioning_template(&scope(), create("fleet", body("dev_")))
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/fleet",
               "templateName": "fleet", "defaultVersionId": 1})
    );
    match changes.recv().await {
        Some(Received::Change(change)) => assert_eq!(
            *change,
            RegistryChange::ProvisioningTemplateChanged {
                template: "fleet".into()
            }
        ),
        other => panic!("expected the template's announcement, got {other:?}"),
    }
    let again = api
        .create_provisioning_template(&scope(), create("fleet", body("dev_")))
        .await
        .unwrap_err();
    assert_eq!(again.exception_name(), "ResourceAlreadyExistsException");

    let described = api
        .describe_provisioning_template(&scope(), name("fleet"))
        .await
        .unwrap();
    assert_eq!(described["enabled"], json!(false));
    assert_eq!(described["type"], json!("FLEET_PROVISIONING"));
    assert_eq!(described["templateBody"], json!(body("dev_")));
    assert_eq!(described["provisioningRoleArn"], json!(ROLE));
    assert!(described.get("preProvisioningHook").is_none());

    api.update_provisioning_template(
        serde_json::from_value(json!({
            "templateName": "fleet", "enabled": true, "description": "d",
            "preProvisioningHook": {"targetArn": "arn:aws:lambda:us-east-1:123456789012:function:hook"}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let described = api
        .describe_provisioning_template(&scope(), name("fleet"))
        .await
        .unwrap();
    assert_eq!(described["enabled"], json!(true));
    assert_eq!(described["description"], json!("d"));
    assert_eq!(
        described["preProvisioningHook"],
        json!({"targetArn": "arn:aws:lambda:us-east-1:123456789012:function:hook", "payloadVersion": "2020-04-01"})
    );
    api.update_provisioning_template(
        serde_json::from_value(json!({"templateName": "fleet", "removePreProvisioningHook": true}))
            .unwrap(),
    )
    .await
    .unwrap();
    let described = api
        .describe_provisioning_template(&scope(), name("fleet"))
        .await
        .unwrap();
    assert!(described.get("preProvisioningHook").is_none());

    let listed = api
        .list_provisioning_templates(&scope(), ListProvisioningTemplates::default())
        .await
        .unwrap();
    assert_eq!(listed["templates"].as_array().unwrap().len(), 1);
    assert_eq!(listed["templates"][0]["templateName"], json!("fleet"));

    api.delete_provisioning_template(name("fleet"))
        .await
        .unwrap();
    let gone = api
        .describe_provisioning_template(&scope(), name("fleet"))
        .await
        .unwrap_err();
    assert_eq!(gone.exception_name(), "ResourceNotFoundException");
    let gone = api
        .delete_provisioning_template(name("fleet"))
        .await
        .unwrap_err();
    assert_eq!(gone.exception_name(), "ResourceNotFoundException");
}

#[tokio::test]
async fn bodies_are_checked_for_the_template_type() {
    let (api, _) = api();
    let bad = api
        .create_provisioning_template(&scope(), create("t", "{\"Resources\": 1}".into()))
        .await
        .unwrap_err();
    assert_eq!(bad.exception_name(), "InvalidRequestException");
    let csr = json!({"Parameters": {"CSR": {"Type": "String"}}, "Resources": {"certificate": {
        "Type": "AWS::IoT::Certificate", "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}}}}})
    .to_string();
    let bad = api
        .create_provisioning_template(&scope(), create("t", csr))
        .await
        .unwrap_err();
    assert!(bad.exception_message().contains("CertificateId"), "{bad}");
    let mut jitp = create("j", body("dev_"));
    jitp.template_type = Some("JITP".into());
    jitp.pre_provisioning_hook = Some(ProvisioningHook {
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:hook".into(),
        payload_version: None,
    });
    let bad = api
        .create_provisioning_template(&scope(), jitp)
        .await
        .unwrap_err();
    assert_eq!(bad.exception_name(), "InvalidRequestException");
}

#[tokio::test]
async fn versions_default_limit_and_deletion() {
    let (api, _) = api();
    api.create_provisioning_template(&scope(), create("fleet", body("dev_")))
        .await
        .unwrap();
    let v2 = add_version(&api, "fleet", false).await.unwrap();
    assert_eq!(v2["versionId"], json!(2));
    assert_eq!(v2["isDefaultVersion"], json!(false));
    let v3 = add_version(&api, "fleet", true).await.unwrap();
    assert_eq!(v3["isDefaultVersion"], json!(true));
    let described = api
        .describe_provisioning_template(&scope(), name("fleet"))
        .await
        .unwrap();
    assert_eq!(described["defaultVersionId"], json!(3));
    assert_eq!(described["templateBody"], json!(body("v_")));

    add_version(&api, "fleet", false).await.unwrap();
    add_version(&api, "fleet", false).await.unwrap();
    let limit = add_version(&api, "fleet", false).await.unwrap_err();
    assert_eq!(limit.exception_name(), "VersionsLimitExceededException");

    let default = api
        .delete_provisioning_template_version(version("fleet", 3))
        .await
        .unwrap_err();
    assert_eq!(default.exception_name(), "DeleteConflictException");
    api.delete_provisioning_template_version(version("fleet", 1))
        .await
        .unwrap();
    let missing = api
        .describe_provisioning_template_version(version("fleet", 1))
        .await
        .unwrap_err();
    assert_eq!(missing.exception_name(), "ResourceNotFoundException");
    // Ids are never reused.
    assert_eq!(
        add_version(&api, "fleet", false).await.unwrap()["versionId"],
        json!(6)
    );

    let page = api
        .list_provisioning_template_versions(ListProvisioningTemplateVersions {
            template_name: "fleet".into(),
            max_results: Some(3),
            next_token: None,
        })
        .await
        .unwrap();
    let ids: Vec<_> = page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["versionId"].clone())
        .collect();
    assert_eq!(ids, [json!(2), json!(3), json!(4)]);
    assert_eq!(page["versions"][1]["isDefaultVersion"], json!(true));
    let rest = api
        .list_provisioning_template_versions(ListProvisioningTemplateVersions {
            template_name: "fleet".into(),
            max_results: Some(3),
            next_token: page["nextToken"].as_str().map(str::to_owned),
        })
        .await
        .unwrap();
    let ids: Vec<_> = rest["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["versionId"].clone())
        .collect();
    assert_eq!(ids, [json!(5), json!(6)]);
    assert!(rest.get("nextToken").is_none());

    let described = api
        .describe_provisioning_template_version(version("fleet", 2))
        .await
        .unwrap();
    assert_eq!(described["templateBody"], json!(body("v_")));
    assert_eq!(described["isDefaultVersion"], json!(false));

    let unknown = api
        .update_provisioning_template(
            serde_json::from_value(json!({"templateName": "fleet", "defaultVersionId": 1}))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.exception_name(), "ResourceNotFoundException");
    api.update_provisioning_template(
        serde_json::from_value(json!({"templateName": "fleet", "defaultVersionId": 2})).unwrap(),
    )
    .await
    .unwrap();
    let t = api.template("fleet").await.unwrap().unwrap();
    assert_eq!(t.default_version_id, 2);
    assert_eq!(t.default_body(), body("v_"));
}
