//! The `axum` feature: the endpoints as an [`axum::Router`].

use std::sync::Arc;

use axum::Router;
use ron_health::HealthState;

use super::service::MetricsService;
use crate::Metrics;

/// The paths [`MetricsService`] answers; everything else is the host
/// router's (its own routes or its fallback).
const PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

impl MetricsService {
    /// A [`Router`] with `/metrics`, `/healthz` and `/readyz` answered by
    /// this service, to [`merge`](Router::merge) into an app or
    /// [`nest`](Router::nest) under a prefix (nested, `/ops/metrics` reaches
    /// the service as `/metrics`, so the latency series keep their `route`
    /// label). Generic over the app's state, which the endpoints do not use.
    pub fn into_router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        PATHS.into_iter().fold(Router::new(), |router, path| {
            router.route_service(path, self.clone())
        })
    }
}

impl Metrics {
    /// `/metrics`, `/healthz` and `/readyz` as an [`axum::Router`], readiness
    /// read from `health`: [`service`](Self::service) as a router (see
    /// [`MetricsService::into_router`]). Needs the `axum` feature.
    ///
    /// # Example
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::{Router, routing::get};
    /// use ron_health::HealthState;
    /// use ron_metrics::Metrics;
    ///
    /// # fn main() -> Result<(), ron_metrics::MetricsError> {
    /// let metrics = Metrics::new(false)?;
    /// let health = Arc::new(HealthState::new());
    /// // The endpoints next to the app's own routes ...
    /// let app: Router = Router::new()
    ///     .route("/hello", get(|| async { "hello\n" }))
    ///     .merge(metrics.router(Arc::clone(&health)));
    /// // ... or under a prefix: /ops/metrics, /ops/healthz, /ops/readyz.
    /// let app = app.nest("/ops", metrics.router(health));
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn router<S>(&self, health: Arc<HealthState>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.service(health).into_router()
    }
}
