//! What each request gets: routing, the three endpoints, and refusal of
//! everything else. Independent of sockets, so any body type can drive it.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode, request::Parts};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use ron_health::HealthState;

use crate::Metrics;
use crate::http::ServeOptions;
use crate::registry::TEXT_CONTENT_TYPE;

const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// Everything a request handler needs, shared by all connections of a server.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) metrics: Metrics,
    pub(crate) health: std::sync::Arc<HealthState>,
    pub(crate) options: ServeOptions,
}

/// The served routes; anything else is [`Route::Other`] (never a raw path, so
/// the latency histogram's cardinality stays fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Metrics,
    Healthz,
    Readyz,
    Other,
}

impl Route {
    fn from_path(path: &str) -> Self {
        match path {
            "/metrics" => Route::Metrics,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            _ => Route::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Metrics => "/metrics",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Other => "other",
        }
    }
}

/// The `method` label: standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

/// Answers one request and records its latency. Never fails: every problem
/// becomes a status code.
pub(crate) async fn handle<B>(
    request: Request<B>,
    ctx: &Context,
) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let route = Route::from_path(parts.uri.path());
    let response = match discard_body(&parts, body, &ctx.options).await {
        Ok(()) => respond(route, &parts, ctx),
        Err(refusal) => refusal,
    };
    ctx.metrics.observe_request(
        route.label(),
        method_label(&parts.method),
        started.elapsed().as_secs_f64(),
    );
    Ok(response)
}

/// Reads and drops a request body of at most `max_body_bytes` within
/// `body_read_timeout`, so the connection can be reused. A larger, slower or
/// broken body gets a 4xx response that also closes the connection (its unread
/// rest cannot be skipped safely).
async fn discard_body<B>(
    parts: &Parts,
    body: B,
    options: &ServeOptions,
) -> Result<(), Response<Full<Bytes>>>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if body.is_end_stream() {
        return Ok(());
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = options.max_body_bytes;
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        ));
    }
    match tokio::time::timeout(
        options.body_read_timeout,
        Limited::new(body, limit).collect(),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        )),
        Ok(Err(_)) => Err(closing(StatusCode::BAD_REQUEST, "malformed request body\n")),
        Err(_elapsed) => Err(closing(
            StatusCode::REQUEST_TIMEOUT,
            "request body too slow\n",
        )),
    }
}

fn respond(route: Route, parts: &Parts, ctx: &Context) -> Response<Full<Bytes>> {
    if route == Route::Other {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match route {
        Route::Metrics => metrics(ctx),
        Route::Healthz => text(StatusCode::OK, "ok\n"),
        Route::Readyz => readyz(ctx, wants_verbose(parts.uri.query())),
        Route::Other => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn metrics(ctx: &Context) -> Response<Full<Bytes>> {
    ctx.metrics.set_ready(ctx.health.all_ready());
    match ctx.metrics.render() {
        Ok(body) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_CONTENT_TYPE));
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot render /metrics");
            text(StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics\n")
        }
    }
}

/// Degrade-first readiness: 503 with `Retry-After: 1` and the sorted missing
/// gates until every gate passes, then 200 `ready`. `verbose` replaces the body
/// with one `gate: state` line per gate.
fn readyz(ctx: &Context, verbose: bool) -> Response<Full<Bytes>> {
    let snapshot = ctx.health.snapshot();
    let ready = snapshot.is_ready();
    let body = if verbose {
        snapshot.gates().fold(String::new(), |mut out, gate| {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{gate}");
            out
        })
    } else if ready {
        "ready".to_owned()
    } else {
        format!("booting; missing={}", snapshot.missing().join(","))
    };
    if ready {
        return text(StatusCode::OK, body);
    }
    let mut response = text(StatusCode::SERVICE_UNAVAILABLE, body);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// `?verbose`, `?verbose=1` and `?verbose=true` (among other parameters) ask
/// for the per-gate listing.
fn wants_verbose(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "verbose" | "verbose=" | "verbose=1" | "verbose=true"))
    })
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLAIN_TEXT));
    response
}

fn closing(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(status, body);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use ron_health::ServiceState;
    use std::sync::Arc;

    fn context() -> Context {
        Context {
            metrics: Metrics::new(false).unwrap(),
            health: Arc::new(HealthState::new()),
            options: ServeOptions::default(),
        }
    }

    async fn call(
        ctx: &Context,
        method: Method,
        uri: &str,
        body: impl Into<Bytes>,
    ) -> Response<Full<Bytes>> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body.into()))
            .unwrap();
        handle(request, ctx).await.unwrap()
    }

    async fn body_of(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn readyz_lists_missing_then_ready() {
        let ctx = context();
        let response = call(&ctx, Method::GET, "/readyz", "").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(
            body_of(response).await,
            "booting; missing=config_loaded,services"
        );

        ctx.health.set(|s| s.set_config_loaded(true));
        ctx.health
            .set(|s| s.set_service("b", ServiceState::Starting))
            .unwrap();
        ctx.health
            .set(|s| s.set_service("a", ServiceState::Failed))
            .unwrap();
        assert_eq!(
            body_of(call(&ctx, Method::GET, "/readyz", "").await).await,
            "booting; missing=a,b"
        );

        ctx.health.set(|s| s.remove_service("a"));
        ctx.health
            .set(|s| s.set_service("b", ServiceState::Healthy))
            .unwrap();
        let response = call(&ctx, Method::GET, "/readyz", "").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key(RETRY_AFTER));
        assert_eq!(body_of(response).await, "ready");
    }

    #[tokio::test]
    async fn readyz_verbose_prints_every_gate() {
        let ctx = context();
        ctx.health
            .set(|s| s.set_service("db", ServiceState::Unhealthy))
            .unwrap();
        for uri in [
            "/readyz?verbose",
            "/readyz?x=1&verbose=1",
            "/readyz?verbose=true",
        ] {
            let response = call(&ctx, Method::GET, uri, "").await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                body_of(response).await,
                "config_loaded: not_loaded\ndb: unhealthy\n",
                "{uri}"
            );
        }
        let quiet = call(&ctx, Method::GET, "/readyz?verbose=0", "").await;
        assert_eq!(body_of(quiet).await, "booting; missing=config_loaded,db");
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused() {
        let ctx = context();
        let response = call(&ctx, Method::GET, "/nope", "").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        for path in ["/metrics", "/healthz", "/readyz"] {
            let response = call(&ctx, Method::POST, path, "").await;
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(response.headers()[ALLOW], "GET, HEAD");
        }
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(
            call(&ctx, odd, "/healthz", "").await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let text = ctx.metrics.render().unwrap();
        assert!(
            text.contains(r#"request_latency_seconds_count{method="other",route="/healthz"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"request_latency_seconds_count{method="GET",route="other"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn small_bodies_are_discarded_large_ones_refused() {
        let ctx = context();
        let small = call(&ctx, Method::GET, "/healthz", "tiny").await;
        assert_eq!(small.status(), StatusCode::OK);
        let big = "x".repeat(ctx.options.max_body_bytes + 1);
        let response = call(&ctx, Method::GET, "/healthz", big).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[CONNECTION], "close");
    }

    #[tokio::test]
    async fn metrics_reports_readiness_gauge() {
        let ctx = context();
        let response = call(&ctx, Method::GET, "/metrics", "").await;
        assert_eq!(response.headers()[CONTENT_TYPE], TEXT_CONTENT_TYPE);
        assert!(body_of(response).await.contains("kernel_ready 0"));
        ctx.health.set(|s| s.set_config_loaded(true));
        ctx.health
            .set(|s| s.set_service("a", ServiceState::Healthy))
            .unwrap();
        assert!(
            body_of(call(&ctx, Method::GET, "/metrics", "").await)
                .await
                .contains("kernel_ready 1")
        );
    }
}
