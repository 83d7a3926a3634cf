//! Supervision of the kernel's services (from `ron-supervisor`), and
//! [`KernelReporter`], which wires a supervisor's events to the bus, the
//! metrics and the readiness gates.

use std::sync::Arc;

use ron_health::{HealthState, ServiceState};
use ron_metrics::Metrics;
pub use ron_supervisor::{
    Backoff, BoxError, CancellationToken, ChildContext, ChildSpec, HealthMode, LogReporter,
    Reporter, Restart, ShutdownReport, StopCause, StopKind, Strategy, Supervisor,
    SupervisorBuilder, SupervisorError, SupervisorEvent,
};

use crate::{Bus, KernelEvent};

/// Turns supervisor events into what the rest of the kernel sees, and logs
/// each (as [`LogReporter`]):
///
/// | event | bus | metrics | readiness gate |
/// |---|---|---|---|
/// | `Started` | | | `starting` |
/// | `Healthy` | `Health { ok: true }` | | `healthy` |
/// | `Crashed`, will restart | `ServiceCrashed` | `service_restarts_total` + 1 | `unhealthy` |
/// | `Crashed`, no restart | `ServiceCrashed` | | `failed` |
/// | `Exited`, will restart | | `service_restarts_total` + 1 | `starting` |
/// | `Exited`, done | | | gate removed |
/// | `StoppingForSibling` (before the stop), `StoppedForSibling` | | | `unhealthy` |
/// | `GaveUp` | `ServiceCrashed`, `Health { ok: false }` | `service_failures_total` + 1 | `failed` |
/// | `Stopped` at shutdown / after give-up | | | `unhealthy` / `failed` |
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use ron_kernel::supervisor::{ChildSpec, KernelReporter, Supervisor};
/// use ron_kernel::{Bus, HealthState, Metrics};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = Metrics::new(false)?;
/// let bus: Bus = metrics.make_bus(64)?;
/// let health = Arc::new(HealthState::new());
/// let supervisor = Supervisor::builder()
///     .reporter(KernelReporter::new(bus.clone(), metrics.clone(), Arc::clone(&health)))
///     .child(ChildSpec::new("api", |ctx| async move {
///         ctx.cancelled().await;
///         Ok::<(), std::io::Error>(())
///     }))
///     .build();
/// # drop(supervisor);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KernelReporter {
    bus: Bus,
    metrics: Metrics,
    health: Arc<HealthState>,
}

impl KernelReporter {
    /// A reporter publishing on `bus`, counting in `metrics` and keeping
    /// each service's gate in `health`.
    pub fn new(bus: Bus, metrics: Metrics, health: Arc<HealthState>) -> Self {
        Self {
            bus,
            metrics,
            health,
        }
    }

    fn gate(&self, service: &str, state: Option<ServiceState>) {
        let result = match state {
            Some(state) => self.health.set(|s| s.set_service(service, state)),
            None => {
                self.health.set(|s| {
                    s.remove_service(service);
                });
                Ok(())
            }
        };
        if let Err(error) = result {
            // The name cannot be a gate: the service still runs, only its
            // readiness is not tracked.
            tracing::warn!(%service, %error, "service has no readiness gate");
        }
    }
}

impl Reporter for KernelReporter {
    fn report(&self, event: &SupervisorEvent) {
        LogReporter.report(event);
        match event {
            SupervisorEvent::Started { service } => {
                self.gate(service, Some(ServiceState::Starting))
            }
            SupervisorEvent::Healthy { service } => {
                self.gate(service, Some(ServiceState::Healthy));
                self.bus.publish(KernelEvent::Health {
                    service: Arc::clone(service),
                    ok: true,
                });
            }
            SupervisorEvent::Crashed {
                service,
                reason,
                restart_in,
            } => {
                self.bus.publish(KernelEvent::ServiceCrashed {
                    service: Arc::clone(service),
                    reason: Arc::clone(reason),
                });
                if restart_in.is_some() {
                    self.metrics.inc_service_restart(service);
                    self.gate(service, Some(ServiceState::Unhealthy));
                } else {
                    self.gate(service, Some(ServiceState::Failed));
                }
            }
            SupervisorEvent::Exited {
                service,
                restart_in: Some(_),
            } => {
                self.metrics.inc_service_restart(service);
                self.gate(service, Some(ServiceState::Starting));
            }
            SupervisorEvent::Exited {
                service,
                restart_in: None,
            } => self.gate(service, None),
            // Not ready from the start of the stop, not only once it is over.
            SupervisorEvent::StoppingForSibling { service, .. }
            | SupervisorEvent::StoppedForSibling { service, .. } => {
                self.gate(service, Some(ServiceState::Unhealthy));
            }
            SupervisorEvent::GaveUp {
                service,
                max_restarts,
                within,
            } => {
                self.metrics.inc_service_failure(service);
                self.gate(service, Some(ServiceState::Failed));
                let reason =
                    format!("gave up: more than {max_restarts} restarts within {within:?}");
                self.bus.publish(KernelEvent::ServiceCrashed {
                    service: Arc::clone(service),
                    reason: Arc::from(reason),
                });
                self.bus.publish(KernelEvent::Health {
                    service: Arc::clone(service),
                    ok: false,
                });
            }
            SupervisorEvent::Stopped { service, cause, .. } => {
                let state = match cause {
                    StopCause::Shutdown => ServiceState::Unhealthy,
                    StopCause::GaveUp => ServiceState::Failed,
                };
                self.gate(service, Some(state));
            }
            other => tracing::debug!(event = ?other, "supervisor event without kernel wiring"),
        }
    }
}
