//! `cargo xtask scrape-check`: the demo, scraped for real and checked by
//! `promtool check metrics`, then scraped by a real Prometheus server (on
//! 127.0.0.1, storage in a temp dir) until its query API shows `up == 1`
//! and values for `bus_published_total` and `service_restarts_total`, then
//! both stopped as an operator would (SIGINT to the demo, SIGTERM to
//! Prometheus). Bounded in time; kills only the processes it started.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd::{self, cargo, show};

/// Covers a cold build of the example on a slow machine.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// The demo's service turns healthy after about a second.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const LISTENING_PREFIX: &str = "metrics listening on http://";

pub fn run() -> Result<(), String> {
    cmd::run(cargo().args([
        "build",
        "--locked",
        "-p",
        "ron-kernel",
        "--example",
        "kernel_demo",
    ]))?;
    let mut command = cargo();
    command
        .args([
            "run",
            "--locked",
            "-q",
            "-p",
            "ron-kernel",
            "--example",
            "kernel_demo",
        ])
        .env("RON_METRICS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped());
    eprintln!("$ {}", show(&command));
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start kernel_demo: {e}"))?;
    let mut demo = Demo(child);
    let addr = demo.wait_for_listening_line()?;
    eprintln!("kernel_demo serves on {addr}");

    let readyz = wait_until_ready(addr)?;
    eprintln!("GET /readyz -> {}", readyz.trim());

    let (head, body) = get(addr, "/metrics")?;
    let content_type = "content-type: text/plain; version=0.0.4; charset=utf-8";
    if !head.lines().any(|l| l.eq_ignore_ascii_case(content_type)) {
        return Err(format!(
            "/metrics lacks `{content_type}`; head was:\n{head}"
        ));
    }
    let published = body
        .lines()
        .find_map(|l| l.strip_prefix(r#"bus_published_total{bus="kernel"} "#))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or(r#"/metrics has no bus_published_total{bus="kernel"} sample"#)?;
    if published < 1.0 {
        return Err(format!(
            "bus_published_total is {published}; the demo publishes on start"
        ));
    }
    promtool_check(&body)?;
    eprintln!(
        "promtool check metrics: ok ({} series lines)",
        body.lines().filter(|l| !l.starts_with('#')).count()
    );

    prometheus_scrape(addr)?;
    demo.interrupt_and_wait()
}

/// How long Prometheus gets to scrape the demo and show every series.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(60);

/// A real Prometheus server scraping `target` every second, until its query
/// API shows the demo up and the series an operator needs first.
fn prometheus_scrape(target: SocketAddr) -> Result<(), String> {
    let dir = crate::project_root()
        .join("target")
        .join("prometheus-scrape");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ron-kernel\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let listen = free_port()?;
    let log = std::fs::File::create(dir.join("prometheus.log"))
        .map_err(|e| format!("cannot create the log: {e}"))?;
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(log);
    eprintln!("$ {}", show(&command));
    let server = Server(
        command
            .spawn()
            .map_err(|e| format!("cannot start prometheus: {e}"))?,
    );

    let deadline = Instant::now() + SCRAPE_TIMEOUT;
    let mut last = String::new();
    loop {
        let checks = [
            ("up", "1"),
            (r#"bus_published_total{bus="kernel"}"#, ""),
            ("service_restarts_total", ""),
        ];
        let mut seen = Vec::new();
        for (query, want) in checks {
            match query_value(listen, query) {
                Some(value) if want.is_empty() || value == want => {
                    seen.push(format!("{query} = {value}"))
                }
                Some(value) => last = format!("{query} = {value}"),
                None => last = format!("no value for {query} yet"),
            }
        }
        if seen.len() == checks.len() {
            eprintln!(
                "prometheus (127.0.0.1:{}) sees: {}",
                listen.port(),
                seen.join(", ")
            );
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "prometheus did not see the demo within {SCRAPE_TIMEOUT:?} ({last}); see {}",
                dir.join("prometheus.log").display()
            ));
        }
        thread::sleep(Duration::from_millis(500));
    }
    server.terminate()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The first sample's value of an instant query, if any.
fn query_value(server: SocketAddr, query: &str) -> Option<String> {
    // Percent-encoded: a selector's `{`, `"`, `=` are not safe in a URL.
    let encoded: String = query
        .chars()
        .map(|c| match c {
            '{' | '}' | '"' | '=' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    let (head, body) = get(server, &format!("/api/v1/query?query={encoded}")).ok()?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    // `"value":[<time>,"<value>"]` in the first result.
    let value = body.split("\"value\":[").nth(1)?;
    let value = value.split(",\"").nth(1)?;
    Some(value.split('"').next()?.to_owned())
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<SocketAddr, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("no free port: {e}"))
}

/// The Prometheus process; killed if dropped before it was stopped.
struct Server(Child);

impl Server {
    fn terminate(mut self) -> Result<(), String> {
        let pid = self.0.id().to_string();
        cmd::run(Command::new("kill").args(["-TERM", &pid]))?;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                eprintln!("prometheus stopped on SIGTERM");
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "prometheus still running {EXIT_TIMEOUT:?} after SIGTERM"
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The demo process; killed if dropped before it exited on its own.
struct Demo(Child);

impl Demo {
    fn wait_for_listening_line(&mut self) -> Result<SocketAddr, String> {
        let stdout = self
            .0
            .stdout
            .take()
            .ok_or("kernel_demo stdout was not captured")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut first = String::new();
            let read = BufReader::new(stdout).read_line(&mut first).map(|_| first);
            let _ = tx.send(read);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(format!("cannot read kernel_demo stdout: {e}")),
            Err(_) => {
                return Err(format!(
                    "kernel_demo printed nothing within {START_TIMEOUT:?}"
                ));
            }
        };
        let addr = line
            .trim_end()
            .strip_prefix(LISTENING_PREFIX)
            .ok_or_else(|| {
                format!("kernel_demo's first line is {line:?}, expected `{LISTENING_PREFIX}ADDR`")
            })?;
        addr.parse()
            .map_err(|e| format!("kernel_demo printed a bad address {addr:?}: {e}"))
    }

    fn interrupt_and_wait(mut self) -> Result<(), String> {
        let pid = self.0.id().to_string();
        cmd::run(Command::new("kill").args(["-INT", &pid]))?;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            match self.0.try_wait() {
                Ok(Some(status)) if status.success() => {
                    eprintln!("kernel_demo stopped cleanly on SIGINT");
                    return Ok(());
                }
                Ok(Some(status)) => {
                    return Err(format!("kernel_demo exited with {status} after SIGINT"));
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                Ok(None) => {
                    return Err(format!(
                        "kernel_demo still running {EXIT_TIMEOUT:?} after SIGINT"
                    ));
                }
                Err(e) => return Err(format!("cannot wait for kernel_demo: {e}")),
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_until_ready(addr: SocketAddr) -> Result<String, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let (head, body) = get(addr, "/readyz")?;
        if head.starts_with("HTTP/1.1 200") {
            return Ok(body);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "/readyz not ready within {READY_TIMEOUT:?}: {}",
                body.trim()
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 GET; returns the head and the body.
fn get(addr: SocketAddr, path: &str) -> Result<(String, String), String> {
    let io = |e: std::io::Error| format!("GET {path} from {addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(io)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path}: response has no header end: {response:?}"))?;
    Ok((head.to_owned(), body.to_owned()))
}

fn promtool_check(exposition: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start promtool: {e}"))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("promtool stdin was not captured")?;
    stdin
        .write_all(exposition.as_bytes())
        .map_err(|e| format!("cannot feed promtool: {e}"))?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| format!("promtool did not finish: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics rejected /metrics ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
