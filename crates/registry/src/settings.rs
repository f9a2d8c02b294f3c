//! Account settings: DescribeEndpoint, Get/UpdateIndexingConfiguration and
//! Describe/UpdateEventConfigurations (stored as given; what they switch on arrives with the
//! services that use them).

use ferrite_storage::{Expect, Write};
use serde::Deserialize;
use serde_json::json;

use crate::kinds::SETTINGS;
use crate::{Output, Registry, RegistryError};

/// The host names DescribeEndpoint hands out.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Devices' MQTT / HTTPS endpoint (`iot:Data`, `iot:Data-ATS`).
    pub data: String,
    pub credential_provider: String,
    pub jobs: String,
}

impl EndpointConfig {
    /// Every endpoint on `localhost`: a server on a developer's machine, and tests.
    pub fn localhost() -> EndpointConfig {
        EndpointConfig {
            data: "localhost".into(),
            credential_provider: "localhost".into(),
            jobs: "localhost".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEndpoint {
    pub endpoint_type: Option<String>,
}

const INDEXING: &str = "indexing";
const EVENTS: &str = "events";

/// The event types UpdateEventConfigurations knows (botocore's EventType enum).
const EVENT_TYPES: &[&str] = &[
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
];

impl Registry {
    pub fn describe_endpoint(&self, req: DescribeEndpoint) -> Result<Output, RegistryError> {
        let address = match req.endpoint_type.as_deref() {
            None | Some("iot:Data") | Some("iot:Data-ATS") => &self.endpoints.data,
            Some("iot:CredentialProvider") => &self.endpoints.credential_provider,
            Some("iot:Jobs") => &self.endpoints.jobs,
            Some(other) => {
                return Err(RegistryError::InvalidRequest(format!(
                    "Endpoint type {other} is not valid."
                )));
            }
        };
        Ok(json!({ "endpointAddress": address }))
    }

    async fn setting(&self, key: &str) -> Result<Option<(Output, u64)>, RegistryError> {
        self.get::<Output>(SETTINGS, key).await
    }

    pub async fn get_indexing_configuration(&self) -> Result<Output, RegistryError> {
        let stored = self.setting(INDEXING).await?.map(|(v, _)| v);
        Ok(stored.unwrap_or_else(|| {
            json!({
                "thingIndexingConfiguration": {"thingIndexingMode": "OFF", "thingConnectivityIndexingMode": "OFF"},
                "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"},
            })
        }))
    }

    /// Stores the given parts over the current configuration (AWS replaces each part given).
    pub async fn update_indexing_configuration(
        &self,
        input: Output,
    ) -> Result<Output, RegistryError> {
        self.retry(|| async {
            let current = self.setting(INDEXING).await?;
            let (mut doc, expect) = match current {
                Some((v, version)) => (v, Expect::Version(version)),
                None => (self.get_indexing_configuration().await?, Expect::Absent),
            };
            for part in [
                "thingIndexingConfiguration",
                "thingGroupIndexingConfiguration",
            ] {
                if let Some(v) = input.get(part) {
                    doc[part] = v.clone();
                }
            }
            Ok((
                vec![Write::put(SETTINGS, INDEXING, expect, doc.to_string())],
                json!({}),
            ))
        })
        .await
    }

    pub async fn describe_event_configurations(&self) -> Result<Output, RegistryError> {
        let (doc, _) = self.setting(EVENTS).await?.unwrap_or_else(|| {
            let all: serde_json::Map<_, _> = EVENT_TYPES
                .iter()
                .map(|t| (t.to_string(), json!({"Enabled": false})))
                .collect();
            (json!({ "eventConfigurations": all }), 0)
        });
        Ok(doc)
    }

    pub async fn update_event_configurations(
        &self,
        input: Output,
    ) -> Result<Output, RegistryError> {
        // The events service of every node re-reads the configuration on this.
        let updated = || vec![ferrite_types::RegistryChange::EventConfigurationsUpdated];
        self.retry_announcing(updated, || async {
            let current = self.setting(EVENTS).await?;
            let expect = match &current {
                Some((_, version)) => Expect::Version(*version),
                None => Expect::Absent,
            };
            let mut doc = self.describe_event_configurations().await?;
            if let Some(given) = input.get("eventConfigurations").and_then(|v| v.as_object()) {
                for (k, v) in given {
                    doc["eventConfigurations"][k] = v.clone();
                }
            }
            Ok((
                vec![Write::put(SETTINGS, EVENTS, expect, doc.to_string())],
                json!({}),
            ))
        })
        .await
    }
}
