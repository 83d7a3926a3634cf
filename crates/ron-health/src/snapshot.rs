//! The value behind a [`HealthState`](crate::HealthState): every gate at one instant.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{HealthError, NameProblem};

/// Name of the gate that passes once configuration has been loaded.
pub const CONFIG_LOADED: &str = "config_loaded";

/// Name of the gate that fails while no service is registered.
///
/// It appears in [`HealthSnapshot::missing`] only when the set of services is
/// empty, so that "nothing is missing" and "ready" always mean the same thing.
pub const SERVICES: &str = "services";

/// Longest accepted service name, in bytes.
pub const MAX_SERVICE_NAME_LEN: usize = 128;

/// The state of one service's readiness gate.
///
/// Only [`ServiceState::Healthy`] passes the gate.
///
/// With the `serde` feature it (de)serializes as its [`as_str`](Self::as_str)
/// word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum ServiceState {
    /// Registered, not yet reported healthy (the state a supervisor sets on start).
    Starting,
    /// Running and serving.
    Healthy,
    /// Running but reporting itself unable to serve.
    Unhealthy,
    /// Stopped for good (for example a supervisor gave up restarting it).
    Failed,
}

impl ServiceState {
    /// Whether this state passes the service's gate.
    pub fn is_healthy(self) -> bool {
        self == ServiceState::Healthy
    }

    /// The lower-case word used in `/readyz?verbose` and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "starting",
            ServiceState::Healthy => "healthy",
            ServiceState::Unhealthy => "unhealthy",
            ServiceState::Failed => "failed",
        }
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One readiness gate as reported by [`HealthSnapshot::gates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate<'a> {
    /// The gate's name: [`CONFIG_LOADED`], [`SERVICES`] or a service name.
    pub name: &'a str,
    /// A lower-case word for the gate's state (`loaded`, `healthy`, ...).
    pub state: &'static str,
    /// Whether the gate passes.
    pub passing: bool,
}

impl fmt::Display for Gate<'_> {
    /// Formats as `name: state`, the line format of `/readyz?verbose`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.state)
    }
}

/// Every readiness gate at one instant.
///
/// Ready means: configuration loaded, at least one service registered, and
/// every registered service [`Healthy`](ServiceState::Healthy). Amnesia mode is
/// not a gate; it is exported as a metric instead.
///
/// Obtain one from [`HealthState::snapshot`](crate::HealthState::snapshot) to
/// read, or change one inside [`HealthState::set`](crate::HealthState::set).
///
/// With the `serde` feature it (de)serializes as
/// `{"config_loaded": true, "services": {"api": "healthy"}}`; deserializing
/// checks every service name as [`set_service`](Self::set_service) does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "crate::wire::SnapshotFields")
)]
pub struct HealthSnapshot {
    config_loaded: bool,
    /// Keyed by validated name; a `BTreeMap` so every listing is sorted.
    services: BTreeMap<String, ServiceState>,
}

impl HealthSnapshot {
    /// Whether the `config_loaded` gate passes.
    pub fn config_loaded(&self) -> bool {
        self.config_loaded
    }

    /// Opens or closes the `config_loaded` gate.
    pub fn set_config_loaded(&mut self, loaded: bool) {
        self.config_loaded = loaded;
    }

    /// Sets a service's state, registering the service if it is new.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidServiceName`] when `service` is empty, longer than
    /// [`MAX_SERVICE_NAME_LEN`], contains anything but ASCII letters, digits and
    /// `_-.:/`, or is a kernel gate name ([`CONFIG_LOADED`], [`SERVICES`]). The
    /// snapshot is unchanged then. The restriction keeps gate names safe to
    /// print in comma-separated `/readyz` bodies and as metric label values.
    pub fn set_service(&mut self, service: &str, state: ServiceState) -> Result<(), HealthError> {
        validate_service_name(service)?;
        match self.services.get_mut(service) {
            Some(current) => *current = state,
            None => {
                self.services.insert(service.to_owned(), state);
            }
        }
        Ok(())
    }

    /// Removes a service's gate, returning its last state if it was registered.
    pub fn remove_service(&mut self, service: &str) -> Option<ServiceState> {
        self.services.remove(service)
    }

    /// The state of one service, if registered.
    pub fn service(&self, service: &str) -> Option<ServiceState> {
        self.services.get(service).copied()
    }

    /// Every registered service and its state, sorted by name.
    pub fn services(&self) -> impl ExactSizeIterator<Item = (&str, ServiceState)> + '_ {
        self.services
            .iter()
            .map(|(name, state)| (name.as_str(), *state))
    }

    /// Whether every gate passes.
    pub fn is_ready(&self) -> bool {
        self.config_loaded
            && !self.services.is_empty()
            && self.services.values().all(|state| state.is_healthy())
    }

    /// Every gate, sorted by name: `config_loaded`, `services` (only while no
    /// service is registered) and one per service.
    pub fn gates(&self) -> impl Iterator<Item = Gate<'_>> + '_ {
        let config = Gate {
            name: CONFIG_LOADED,
            state: if self.config_loaded {
                "loaded"
            } else {
                "not_loaded"
            },
            passing: self.config_loaded,
        };
        let none_registered = self.services.is_empty().then_some(Gate {
            name: SERVICES,
            state: "none_registered",
            passing: false,
        });
        let services = self.services.iter().map(|(name, state)| Gate {
            name,
            state: state.as_str(),
            passing: state.is_healthy(),
        });
        let mut kernel_gates = [Some(config), none_registered];
        // The two kernel gates are few; sort them into the (already sorted)
        // service gates so the whole listing is in one order.
        kernel_gates.sort_by(|a, b| a.map(|g| g.name).cmp(&b.map(|g| g.name)));
        merge_sorted(kernel_gates.into_iter().flatten(), services)
    }

    /// The names of the failing gates, sorted and without duplicates; empty
    /// exactly when [`is_ready`](Self::is_ready).
    pub fn missing(&self) -> Vec<String> {
        self.gates()
            .filter(|gate| !gate.passing)
            .map(|gate| gate.name.to_owned())
            .collect()
    }
}

/// Merges two iterators of gates that are each sorted by name.
fn merge_sorted<'a>(
    a: impl Iterator<Item = Gate<'a>>,
    b: impl Iterator<Item = Gate<'a>>,
) -> impl Iterator<Item = Gate<'a>> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x.name <= y.name => a.next(),
        (Some(_), Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

fn validate_service_name(name: &str) -> Result<(), HealthError> {
    let problem = if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name.len() > MAX_SERVICE_NAME_LEN {
        Some(NameProblem::TooLong)
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b))
    {
        Some(NameProblem::BadCharacter)
    } else if name == CONFIG_LOADED || name == SERVICES {
        Some(NameProblem::Reserved)
    } else {
        None
    };
    match problem {
        Some(reason) => Err(HealthError::InvalidServiceName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(snapshot: &HealthSnapshot) -> Vec<&str> {
        snapshot.gates().map(|g| g.name).collect()
    }

    #[test]
    fn empty_snapshot_misses_config_and_services() {
        let s = HealthSnapshot::default();
        assert!(!s.is_ready());
        assert_eq!(s.missing(), ["config_loaded", "services"]);
    }

    #[test]
    fn ready_needs_config_and_one_healthy_service() {
        let mut s = HealthSnapshot::default();
        s.set_config_loaded(true);
        assert_eq!(s.missing(), ["services"]);
        s.set_service("db", ServiceState::Starting).unwrap();
        assert_eq!(s.missing(), ["db"]);
        s.set_service("db", ServiceState::Healthy).unwrap();
        assert!(s.is_ready());
        assert!(s.missing().is_empty());
        s.set_config_loaded(false);
        assert_eq!(s.missing(), ["config_loaded"]);
    }

    #[test]
    fn every_non_healthy_state_fails_the_gate() {
        for state in [
            ServiceState::Starting,
            ServiceState::Unhealthy,
            ServiceState::Failed,
        ] {
            let mut s = HealthSnapshot::default();
            s.set_config_loaded(true);
            s.set_service("a", ServiceState::Healthy).unwrap();
            s.set_service("b", state).unwrap();
            assert_eq!(s.missing(), ["b"], "{state}");
        }
    }

    #[test]
    fn gates_are_sorted_across_kernel_and_service_gates() {
        let mut s = HealthSnapshot::default();
        for name in ["zeta", "api", "cache", "svc"] {
            s.set_service(name, ServiceState::Starting).unwrap();
        }
        assert_eq!(names(&s), ["api", "cache", "config_loaded", "svc", "zeta"]);
        let empty = HealthSnapshot::default();
        assert_eq!(names(&empty), ["config_loaded", "services"]);
    }

    #[test]
    fn removing_last_service_brings_back_services_gate() {
        let mut s = HealthSnapshot::default();
        s.set_config_loaded(true);
        s.set_service("a", ServiceState::Healthy).unwrap();
        assert_eq!(s.remove_service("a"), Some(ServiceState::Healthy));
        assert_eq!(s.remove_service("a"), None);
        assert_eq!(s.missing(), ["services"]);
    }

    #[test]
    fn bad_names_are_rejected_and_change_nothing() {
        let cases = [
            ("", NameProblem::Empty),
            ("has space", NameProblem::BadCharacter),
            ("a,b", NameProblem::BadCharacter),
            ("line\nbreak", NameProblem::BadCharacter),
            ("ünï", NameProblem::BadCharacter),
            ("config_loaded", NameProblem::Reserved),
            ("services", NameProblem::Reserved),
        ];
        let long = "x".repeat(MAX_SERVICE_NAME_LEN + 1);
        let mut s = HealthSnapshot::default();
        for (name, reason) in cases
            .into_iter()
            .chain([(long.as_str(), NameProblem::TooLong)])
        {
            let err = s.set_service(name, ServiceState::Healthy).unwrap_err();
            assert_eq!(
                err,
                HealthError::InvalidServiceName {
                    name: name.to_owned(),
                    reason
                }
            );
        }
        assert_eq!(s, HealthSnapshot::default());
        s.set_service("ok_name-1.v2:east/a", ServiceState::Healthy)
            .unwrap();
        s.set_service(&"y".repeat(MAX_SERVICE_NAME_LEN), ServiceState::Healthy)
            .unwrap();
    }

    #[test]
    fn gate_display_is_the_verbose_line() {
        let mut s = HealthSnapshot::default();
        s.set_service("db", ServiceState::Unhealthy).unwrap();
        let lines: Vec<String> = s.gates().map(|g| g.to_string()).collect();
        assert_eq!(lines, ["config_loaded: not_loaded", "db: unhealthy"]);
    }

    #[test]
    fn error_message_names_the_problem() {
        let err = HealthSnapshot::default()
            .set_service("a b", ServiceState::Healthy)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid service name \"a b\": only ASCII letters, digits and `_-.:/` are allowed"
        );
    }
}
