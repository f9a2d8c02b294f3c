//! What the registry event messages report of a thing, thing group or thing type as it is
//! now (the events service reads these when a change arrives; deletions carry theirs).

use ferrite_types::{ThingFacts, ThingGroupFacts, ThingTypeFacts};

use crate::kinds::{THING, THING_GROUP, THING_TYPE};
use crate::thing_groups::ThingGroupDoc;
use crate::thing_types::ThingTypeDoc;
use crate::things::ThingDoc;
use crate::{Registry, RegistryError};

impl Registry {
    pub async fn thing_facts(&self, name: &str) -> Result<Option<ThingFacts>, RegistryError> {
        Ok(self
            .get::<ThingDoc>(THING, name)
            .await?
            .map(|(t, version)| ThingFacts {
                id: t.id,
                version,
                thing_type: t.thing_type,
                attributes: t.attributes,
            }))
    }

    pub async fn thing_group_facts(
        &self,
        name: &str,
    ) -> Result<Option<ThingGroupFacts>, RegistryError> {
        Ok(self
            .get::<ThingGroupDoc>(THING_GROUP, name)
            .await?
            .map(|(g, version)| ThingGroupFacts {
                id: g.id,
                version,
                ancestors: g.ancestors,
                description: g.description,
                attributes: g.attributes,
            }))
    }

    pub async fn thing_type_facts(
        &self,
        name: &str,
    ) -> Result<Option<ThingTypeFacts>, RegistryError> {
        Ok(self
            .get::<ThingTypeDoc>(THING_TYPE, name)
            .await?
            .map(|(t, _)| t.facts()))
    }
}
