//! Running an example binary of this crate for a test, keeping its log
//! when asked, and speaking plain HTTP/1.1 to it (reading `/metrics`
//! samples): loopback only, every wait bounded by [`PATIENCE`].

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// For anything an example should do: build, start, serve, apply a change.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `target/<profile>/examples/<name>`, (re)built by cargo first (a no-op
/// when it is fresh): a filtered `cargo test` run does not build examples,
/// and a stale binary would test old code.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<this test> -> target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q", "-p", "ron-kernel", "--example", name])
        .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap());
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "cannot build {name}");
    profile_dir.join("examples").join(name)
}

/// An example process; killed when dropped.
pub struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Example {
    /// Builds and starts example `name` with `env` on a free loopback port
    /// (`RON_METRICS_ADDR=127.0.0.1:0`), and returns it with the address
    /// from its first stdout line, which must be `{prefix}ADDR`. Its log
    /// (stderr) goes to the test's stderr.
    pub fn start(name: &str, env: &[(&str, &str)], prefix: &str) -> (Self, SocketAddr) {
        Self::spawn(name, env, prefix, Stdio::inherit())
    }

    /// As [`start`](Self::start), and keeps the log: every stderr line is
    /// kept in the returned [`Log`] as it comes (and echoed to the test's
    /// stderr, prefixed with `label`, for a failure's report).
    pub fn start_logged(
        name: &str,
        env: &[(&str, &str)],
        prefix: &str,
        label: &str,
    ) -> (Self, SocketAddr, Log) {
        let (mut running, addr) = Self::spawn(name, env, prefix, Stdio::piped());
        let stderr = running.0.stderr.take().unwrap();
        let log = Log::default();
        let lines = Arc::clone(&log.0);
        let label = label.to_owned();
        // Ends at EOF, when the process is gone.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                eprintln!("[{label}] {line}");
                lines.lock().unwrap().push(line);
            }
        });
        (running, addr, log)
    }

    fn spawn(name: &str, env: &[(&str, &str)], prefix: &str, stderr: Stdio) -> (Self, SocketAddr) {
        let child = Command::new(example(name))
            .env("RON_METRICS_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut running = Example(child);
        let stdout = running.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{name} printed nothing"));
        let addr = line
            .trim_end()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        (running, addr)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

/// The lines an example logged so far (see [`Example::start_logged`]).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The first line satisfying `wanted`, waiting for it until `deadline`
    /// (`None` then).
    pub fn wait_for(&self, deadline: Instant, wanted: impl Fn(&str) -> bool) -> Option<String> {
        loop {
            if let Some(line) = self.0.lock().unwrap().iter().find(|l| wanted(l)) {
                return Some(line.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// When a line of the examples' log (tracing-subscriber's default format,
/// which starts with the wall-clock time as `2026-11-29T17:53:35.586737Z`)
/// was written; `None` for a line without that time.
pub fn log_time(line: &str) -> Option<SystemTime> {
    let stamp = line.get(..27)?;
    let b = stamp.as_bytes();
    let shape_ok = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    if !shape_ok {
        return None;
    }
    let num = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<u64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, micros) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?);
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard
    // Hinnant's days_from_civil), years from 1970 on.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// One HTTP answer.
pub struct Response {
    pub status: u16,
    /// Header lines as sent, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on a connection of its own (`Connection: close`).
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {raw:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The value of the series named exactly `series` (name and labels, as
/// written on `/metrics`), if `/metrics` has it.
pub fn try_sample(addr: SocketAddr, series: &str) -> Option<f64> {
    let scrape = get(addr, "/metrics");
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    scrape
        .body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

/// As [`try_sample`], for a series that must be there.
pub fn sample(addr: SocketAddr, series: &str) -> f64 {
    try_sample(addr, series).unwrap_or_else(|| panic!("no {series} on /metrics"))
}
