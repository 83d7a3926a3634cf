//! The serde form of a [`HealthSnapshot`] (feature `serde`): deserializing
//! goes through [`SnapshotFields`] so that a snapshot read from outside
//! holds only names [`HealthSnapshot::set_service`] would accept.

use std::collections::BTreeMap;

use crate::{HealthError, HealthSnapshot, ServiceState};

/// A snapshot's fields as they arrive, names not yet checked.
#[derive(serde::Deserialize)]
pub(crate) struct SnapshotFields {
    #[serde(default)]
    config_loaded: bool,
    #[serde(default)]
    services: BTreeMap<String, ServiceState>,
}

impl TryFrom<SnapshotFields> for HealthSnapshot {
    type Error = HealthError;

    fn try_from(fields: SnapshotFields) -> Result<Self, HealthError> {
        let mut snapshot = HealthSnapshot::default();
        snapshot.set_config_loaded(fields.config_loaded);
        for (name, state) in &fields.services {
            snapshot.set_service(name, *state)?;
        }
        Ok(snapshot)
    }
}
