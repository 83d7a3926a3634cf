//! [`KernelEvent`]: what the kernel says on its bus.

use std::sync::Arc;

/// An event on the kernel bus. Cheap to clone (shared strings), since the bus
/// clones it once per delivery.
///
/// Non-exhaustive: a new kind of event is not a breaking change, so a
/// `match` needs a wildcard arm.
///
/// With the `serde` feature it (de)serializes internally tagged:
/// `{"kind": "health", "service": "api", "ok": true}`, `{"kind": "shutdown"}`.
/// Deserializing an internally tagged enum buffers its fields until it has
/// found the tag, so it needs a self-describing format (serde's
/// `deserialize_any`: JSON, TOML, YAML, MessagePack, CBOR, …); formats that
/// are not self-describing, such as bincode or postcard, cannot deserialize
/// it (serializing does not need `deserialize_any`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum KernelEvent {
    /// A service reported its health.
    Health {
        /// The service's name.
        service: Arc<str>,
        /// Whether it is healthy.
        ok: bool,
    },
    /// A new configuration was applied.
    ConfigUpdated {
        /// The configuration's version after the change.
        version: u64,
    },
    /// A supervised service crashed (an error or a panic).
    ServiceCrashed {
        /// The service's name.
        service: Arc<str>,
        /// The error's text or the panic message.
        reason: Arc<str>,
    },
    /// The kernel is shutting down.
    Shutdown,
}

impl KernelEvent {
    /// Topic bit of [`KernelEvent::Health`].
    pub const HEALTH: u64 = 1 << 0;
    /// Topic bit of [`KernelEvent::ConfigUpdated`].
    pub const CONFIG_UPDATED: u64 = 1 << 1;
    /// Topic bit of [`KernelEvent::ServiceCrashed`].
    pub const SERVICE_CRASHED: u64 = 1 << 2;
    /// Topic bit of [`KernelEvent::Shutdown`].
    pub const SHUTDOWN: u64 = 1 << 3;

    /// This event's topic bit, for interest masks.
    ///
    /// ```
    /// use ron_kernel::KernelEvent;
    ///
    /// assert_eq!(KernelEvent::Shutdown.topic(), KernelEvent::SHUTDOWN);
    /// ```
    pub fn topic(&self) -> u64 {
        match self {
            KernelEvent::Health { .. } => Self::HEALTH,
            KernelEvent::ConfigUpdated { .. } => Self::CONFIG_UPDATED,
            KernelEvent::ServiceCrashed { .. } => Self::SERVICE_CRASHED,
            KernelEvent::Shutdown => Self::SHUTDOWN,
        }
    }

    /// A [`KernelEvent::Health`] event.
    pub fn health(service: &str, ok: bool) -> Self {
        KernelEvent::Health {
            service: Arc::from(service),
            ok,
        }
    }
}
