//! The endpoints mounted in someone else's server, no socket of ours: the
//! socket-free [`MetricsService`] called as a tower and a hyper service, and
//! (with the `axum` feature) `Metrics::router` merged into an app and
//! nested under a prefix. Same answers as `Metrics::serve`, same
//! `request_latency_seconds`, `kernel_ready` kept current.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use ron_health::{HealthState, ServiceState};
use ron_metrics::{Metrics, MetricsService};

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn answer<B>(response: Response<B>) -> Answer
where
    B: hyper::body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn request(method: Method, uri: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn call_tower(service: &mut MetricsService, method: Method, uri: &str) -> Answer {
    use tower_service::Service as _;
    std::future::poll_fn(|cx| {
        tower_service::Service::<Request<Full<Bytes>>>::poll_ready(service, cx)
    })
    .await
    .unwrap();
    answer(service.call(request(method, uri)).await.unwrap()).await
}

fn make_ready(health: &HealthState) {
    health.set(|s| s.set_config_loaded(true));
    health
        .set(|s| s.set_service("api", ServiceState::Healthy))
        .unwrap();
}

fn series(metrics: &Metrics, prefix: &str) -> String {
    let text = metrics.render().unwrap();
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .to_owned()
}

#[tokio::test]
async fn tower_service_answers_like_the_server() {
    let metrics = Metrics::new(false).unwrap();
    let health = Arc::new(HealthState::new());
    let mut service = metrics.service(Arc::clone(&health));

    let healthz = call_tower(&mut service, Method::GET, "/healthz").await;
    assert_eq!(
        (healthz.status, healthz.body.as_str()),
        (StatusCode::OK, "ok\n")
    );

    let booting = call_tower(&mut service, Method::GET, "/readyz").await;
    assert_eq!(booting.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(booting.headers["retry-after"], "1");
    assert_eq!(booting.body, "booting; missing=config_loaded,services");
    let scrape = call_tower(&mut service, Method::GET, "/metrics").await;
    assert_eq!(
        scrape.headers["content-type"],
        ron_metrics::TEXT_CONTENT_TYPE
    );
    assert!(
        scrape.body.contains("\nkernel_ready 0\n"),
        "{}",
        scrape.body
    );

    make_ready(&health);
    let ready = call_tower(&mut service, Method::GET, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready")
    );
    let scrape = call_tower(&mut service, Method::GET, "/metrics").await;
    assert!(
        scrape.body.contains("\nkernel_ready 1\n"),
        "{}",
        scrape.body
    );

    let missing = call_tower(&mut service, Method::GET, "/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let post = call_tower(&mut service, Method::POST, "/metrics").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers["allow"], "GET, HEAD");

    assert_eq!(
        series(
            &metrics,
            "request_latency_seconds_count{method=\"GET\",route=\"/readyz\"}"
        ),
        "request_latency_seconds_count{method=\"GET\",route=\"/readyz\"} 2"
    );
    assert_eq!(
        series(
            &metrics,
            "request_latency_seconds_count{method=\"GET\",route=\"other\"}"
        ),
        "request_latency_seconds_count{method=\"GET\",route=\"other\"} 1"
    );
}

#[tokio::test]
async fn hyper_service_answers_too() {
    use hyper::service::Service as _;
    let metrics = Metrics::new(false).unwrap();
    let service = metrics.service(Arc::default());
    let response = service
        .call(request(Method::GET, "/healthz"))
        .await
        .unwrap();
    let healthz = answer(response).await;
    assert_eq!(
        (healthz.status, healthz.body.as_str()),
        (StatusCode::OK, "ok\n")
    );
    assert_eq!(
        series(
            &metrics,
            "request_latency_seconds_count{method=\"GET\",route=\"/healthz\"}"
        ),
        "request_latency_seconds_count{method=\"GET\",route=\"/healthz\"} 1"
    );
}

#[cfg(feature = "axum")]
mod axum_router {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower_service::Service as _;

    async fn call(app: &mut Router, method: Method, uri: &str) -> Answer {
        std::future::poll_fn(|cx| {
            tower_service::Service::<Request<Full<Bytes>>>::poll_ready(app, cx)
        })
        .await
        .unwrap();
        answer(app.call(request(method, uri)).await.unwrap()).await
    }

    fn app(metrics: &Metrics, health: &Arc<HealthState>) -> Router {
        Router::new()
            .route("/hello", get(|| async { "hello\n" }))
            .merge(metrics.router(Arc::clone(health)))
            .nest("/ops", metrics.router(Arc::clone(health)))
    }

    #[tokio::test]
    async fn merged_next_to_the_apps_own_routes() {
        let metrics = Metrics::new(false).unwrap();
        let health = Arc::new(HealthState::new());
        let mut app = app(&metrics, &health);

        let hello = call(&mut app, Method::GET, "/hello").await;
        assert_eq!(
            (hello.status, hello.body.as_str()),
            (StatusCode::OK, "hello\n")
        );
        assert_eq!(
            call(&mut app, Method::GET, "/readyz").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        make_ready(&health);
        assert_eq!(
            call(&mut app, Method::GET, "/readyz").await.status,
            StatusCode::OK
        );
        let scrape = call(&mut app, Method::GET, "/metrics").await;
        assert!(
            scrape.body.contains("\nkernel_ready 1\n"),
            "{}",
            scrape.body
        );
        // The app's own routes are the app's: not counted in the kernel's series.
        assert!(!scrape.body.contains("route=\"other\""), "{}", scrape.body);
        assert_eq!(
            call(&mut app, Method::DELETE, "/healthz").await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn nested_under_a_prefix() {
        let metrics = Metrics::new(false).unwrap();
        let health = Arc::new(HealthState::new());
        let mut app = app(&metrics, &health);

        let healthz = call(&mut app, Method::GET, "/ops/healthz").await;
        assert_eq!(
            (healthz.status, healthz.body.as_str()),
            (StatusCode::OK, "ok\n")
        );
        let booting = call(&mut app, Method::GET, "/ops/readyz?verbose").await;
        assert_eq!(booting.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            booting.body.starts_with("config_loaded: not_loaded\n"),
            "{}",
            booting.body
        );
        make_ready(&health);
        let ready = call(&mut app, Method::GET, "/ops/readyz").await;
        assert_eq!(
            (ready.status, ready.body.as_str()),
            (StatusCode::OK, "ready")
        );
        let scrape = call(&mut app, Method::GET, "/ops/metrics").await;
        assert_eq!(scrape.status, StatusCode::OK);
        assert!(
            scrape.body.contains("\nkernel_ready 1\n"),
            "{}",
            scrape.body
        );
        // The prefix is stripped before the service routes: the latency
        // series keep their fixed `route` labels.
        assert!(
            scrape
                .body
                .contains("request_latency_seconds_count{method=\"GET\",route=\"/readyz\"} 2"),
            "{}",
            scrape.body
        );
        // Paths under the prefix that are not endpoints are the router's 404.
        assert_eq!(
            call(&mut app, Method::GET, "/ops/nope").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&mut app, Method::GET, "/ops").await.status,
            StatusCode::NOT_FOUND
        );
    }
}
