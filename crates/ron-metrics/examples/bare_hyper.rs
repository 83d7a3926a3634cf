//! Baseline for load comparisons: the barest hyper 1.x server (one task per
//! connection, every request answered `200 ok`), built like ron-metrics'
//! server minus routing, metrics, limits and timeouts.
//!
//! ```text
//! cargo run --release -p ron-metrics --example bare_hyper -- 127.0.0.1:0
//! ```
//!
//! Prints exactly one line, `listening on http://ADDR`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::io::Write as _;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "listening on http://{}",
        listener.local_addr().unwrap()
    )
    .unwrap();
    stdout.flush().unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let service = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
