//! A raw HTTP/1.1 client over TCP, precise enough to send half a request,
//! garbage or a huge header, which a real client library would refuse to do.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ron_health::HealthState;
use ron_metrics::{Metrics, ServeOptions, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Liveness bound for any single wait; never a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A server on 127.0.0.1:0 with the given options.
pub async fn start(options: ServeOptions) -> (Metrics, Arc<HealthState>, ServerHandle, SocketAddr) {
    let metrics = Metrics::new(false).unwrap();
    let health = Arc::new(HealthState::new());
    let (server, addr) = metrics
        .serve_with("127.0.0.1:0".parse().unwrap(), Arc::clone(&health), options)
        .await
        .unwrap();
    (metrics, health, server, addr)
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One connection, kept open between requests.
pub struct Conn {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .unwrap();
        Self {
            stream,
            buffered: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends what the server lets through: it may answer and close before
    /// reading everything (a refused huge header, say).
    pub async fn send_ignoring_errors(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads one response (head, then a `Content-Length` body; none for HEAD).
    pub async fn read_response(&mut self, head_request: bool) -> Response {
        tokio::time::timeout(PATIENCE, self.read_response_inner(head_request))
            .await
            .expect("no response in time")
    }

    async fn read_response_inner(&mut self, head_request: bool) -> Response {
        let head_end = loop {
            if let Some(i) = find(&self.buffered, b"\r\n\r\n") {
                break i;
            }
            assert!(
                self.fill().await > 0,
                "connection closed before a response head: {:?}",
                self.text()
            );
        };
        let head = String::from_utf8(self.buffered[..head_end].to_vec()).unwrap();
        self.buffered.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let length = if head_request { 0 } else { length };
        while self.buffered.len() < length {
            assert!(self.fill().await > 0, "connection closed inside a body");
        }
        let body = String::from_utf8(self.buffered.drain(..length).collect()).unwrap();
        Response {
            status,
            headers,
            body,
        }
    }

    /// Waits until the server closes the connection; returns what it sent
    /// first. A reset counts as closed.
    pub async fn read_until_closed(&mut self) -> String {
        tokio::time::timeout(PATIENCE, async { while self.fill().await > 0 {} })
            .await
            .expect("the server did not close the connection");
        self.text()
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(n) => {
                self.buffered.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffered).into_owned()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of one integer series in a text exposition, the series named
/// exactly as exposed (`name` or `name{label="value",...}`); `None` when it
/// is absent.
pub fn sample(exposition: &str, series: &str) -> Option<u64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("an integer sample"))
    })
}

/// `GET path` on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path).await
}

/// `method path` on a fresh connection that the request asks to close.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut conn = Conn::open(addr).await;
    conn.send(
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    conn.read_response(method == "HEAD").await
}
