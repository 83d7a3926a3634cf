//! [`MetricsService`]: the endpoints without a socket, for a server the user
//! already runs. [`Metrics::serve`](crate::Metrics::serve) answers through it
//! too, so there is one way requests are answered.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Body;
use ron_health::HealthState;

use super::ServeOptions;
use super::routes::{self, Context};
use crate::Metrics;

/// `/metrics`, `/healthz` and `/readyz` as a [`tower_service::Service`] and a
/// [`hyper::service::Service`], with no socket of its own: hand it to any
/// hyper, tower or axum server (for axum, the `axum` feature's
/// [`Metrics::router`] wraps it in a `Router`).
///
/// The answers are those of [`Metrics::serve`] (see [the routes](crate::http)),
/// `request_latency_seconds` is recorded for every request and `kernel_ready`
/// is brought up to date on every scrape. It routes on the request's path
/// alone, which is what a router strips a nesting prefix down to. Of
/// [`ServeOptions`], only the body limits apply (`max_body_bytes`,
/// `body_read_timeout`); the connection limits are the hosting server's
/// business.
///
/// Cheap to clone: clones share one [`Metrics`] and one [`HealthState`].
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use http_body_util::{BodyExt, Empty};
/// use ron_metrics::Metrics;
/// use tower_service::Service;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = Metrics::new(false)?;
/// let mut service = metrics.service(Arc::default());
/// let request = http::Request::get("/healthz").body(Empty::<bytes::Bytes>::new())?;
/// let response = service.call(request).await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.into_body().collect().await?.to_bytes(), "ok\n");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MetricsService {
    ctx: Arc<Context>,
}

impl fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService")
            .field("options", &self.ctx.options)
            .finish_non_exhaustive()
    }
}

/// What a [`MetricsService`] answers: never an error, since every problem
/// with a request is a status code.
type Answer = Result<Response<Full<Bytes>>, Infallible>;

/// The future of one [`MetricsService`] answer. It never fails: every
/// problem with a request is a status code.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture(Pin<Box<dyn Future<Output = Answer> + Send>>);

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl MetricsService {
    pub(super) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    pub(super) fn options(&self) -> &ServeOptions {
        &self.ctx.options
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.ctx.metrics
    }

    fn answer<B>(&self, request: Request<B>) -> ResponseFuture
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let ctx = Arc::clone(&self.ctx);
        ResponseFuture(Box::pin(async move { routes::handle(request, &ctx).await }))
    }
}

impl<B> tower_service::Service<Request<B>> for MetricsService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: the service holds no capacity of its own.
    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.answer(request)
    }
}

impl<B> hyper::service::Service<Request<B>> for MetricsService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> Self::Future {
        self.answer(request)
    }
}

impl Metrics {
    /// The endpoints as a socket-free [`MetricsService`] with default
    /// [`ServeOptions`], readiness read from `health`.
    pub fn service(&self, health: Arc<HealthState>) -> MetricsService {
        self.service_with(health, ServeOptions::default())
    }

    /// [`service`](Self::service) with explicit options, of which only the
    /// body limits apply ([`ServeOptions::max_body_bytes`] and
    /// [`ServeOptions::body_read_timeout`]): the others (header read and
    /// write timeouts, header size, connection cap) are about connections,
    /// which the hosting server owns, and are ignored here.
    pub fn service_with(&self, health: Arc<HealthState>, options: ServeOptions) -> MetricsService {
        MetricsService::new(Arc::new(Context {
            metrics: self.clone(),
            health,
            options,
        }))
    }
}
