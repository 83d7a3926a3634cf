//! A soak run of the whole kernel: publishers at full rate with a fast and
//! a lagging subscriber, the configuration file edited every few seconds
//! (live reload), a flaky supervised service, `/metrics` scraped every
//! second. Every 5 s it samples RSS, open file descriptors, live tokio
//! tasks and the bus counters; at the end it fails if RSS grew more than
//! 10% after warm-up, if descriptors or tasks grew, or if any subscriber's
//! delivered + lost differs from what was published.
//!
//! ```text
//! cargo xtask soak --minutes 10
//! cargo run --release -p ron-kernel --example soak -- --seconds 60
//! ```

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ron_kernel::bus::{RecvError, Subscriber};
use ron_kernel::config::{KernelConfigListener, LiveConfig, Loader, WatchOptions};
use ron_kernel::supervisor::{Backoff, ChildSpec, KernelReporter, Supervisor};
use ron_kernel::{Bus, HealthState, KernelEvent, Metrics};

const SAMPLE_EVERY: Duration = Duration::from_secs(5);

struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: u64,
    tasks: u64,
    published: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds = run_seconds()?;
    let warm_up = Duration::from_secs((seconds / 5).clamp(10, 60));
    std::panic::set_hook(Box::new(|_| {})); // the flaky service panics on purpose

    let dir = std::env::temp_dir().join(format!("ron-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("ron-kernel.toml");
    std::fs::write(&config_path, "amnesia = false\n")?;

    let metrics = Metrics::new(false)?;
    let bus: Bus = metrics.make_bus(256)?;
    let health = Arc::new(HealthState::new());
    let listener = KernelConfigListener::new(bus.clone(), metrics.clone(), Arc::clone(&health));
    let loader =
        Loader::new(Some(config_path.clone())).env(ron_kernel::config::Env::from_fn(|_| None));
    let live = LiveConfig::start(loader, WatchOptions::default(), listener.clone())?;
    listener.loaded(&live.current());
    let (server, addr) = metrics
        .serve("127.0.0.1:0".parse()?, Arc::clone(&health))
        .await?;

    // Subscribers first, so each sees every message published from here on.
    let fast = tokio::spawn(count(bus.subscribe(), None));
    let slow = tokio::spawn(count(bus.subscribe(), Some(Duration::from_millis(1))));

    let stop = ron_kernel::supervisor::CancellationToken::new();
    let supervisor = Supervisor::builder()
        .intensity(1_000_000, Duration::from_secs(60))
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
        ))
        .reporter(KernelReporter::new(
            bus.clone(),
            metrics.clone(),
            Arc::clone(&health),
        ))
        .child(ChildSpec::new("flaky", |ctx| async move {
            tokio::select! {
                () = ctx.cancelled() => Ok::<(), std::io::Error>(()),
                () = tokio::time::sleep(Duration::from_secs(2)) => panic!("flaky: on purpose"),
            }
        }))
        .build();
    let supervising = tokio::spawn(supervisor.run(stop.clone()));

    let running = Arc::new(AtomicBool::new(true));
    let published = Arc::new(AtomicU64::new(0));
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            let (bus, running, published) =
                (bus.clone(), Arc::clone(&running), Arc::clone(&published));
            tokio::spawn(async move {
                let event = KernelEvent::health(if p == 0 { "load-a" } else { "load-b" }, true);
                while running.load(Ordering::Relaxed) {
                    for _ in 0..1_000 {
                        bus.publish(event.clone());
                    }
                    published.fetch_add(1_000, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut last_sample = Instant::now() - SAMPLE_EVERY;
    let mut edits = 0u64;
    let mut scrapes = 0u64;
    println!(
        "{:>8} {:>10} {:>6} {:>6} {:>14}",
        "t (s)", "RSS KiB", "fds", "tasks", "published"
    );
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        scrape(addr).await?;
        scrapes += 1;
        if scrapes.is_multiple_of(3) {
            edits += 1;
            std::fs::write(&config_path, format!("amnesia = {}\n", edits % 2 == 1))?;
        }
        if last_sample.elapsed() >= SAMPLE_EVERY {
            last_sample = Instant::now();
            let sample = Sample {
                at: started.elapsed(),
                rss_kib: rss_kib(),
                fds: open_fds(),
                tasks: tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks() as u64,
                published: bus.stats().snapshot().published,
            };
            println!(
                "{:>8.0} {:>10} {:>6} {:>6} {:>14}",
                sample.at.as_secs_f64(),
                sample.rss_kib,
                sample.fds,
                sample.tasks,
                sample.published
            );
            samples.push(sample);
        }
    }

    // Wind down: publishers, supervisor, config watcher, then every bus
    // handle, so the subscribers drain and report.
    running.store(false, Ordering::Relaxed);
    for p in publishers {
        p.await?;
    }
    stop.cancel();
    supervising.await??;
    live.stop().await;
    let stats = Arc::clone(bus.stats());
    drop((bus, listener));
    let (fast, slow) = (fast.await?, slow.await?);
    server.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let total = stats.snapshot().published;

    let warm: Vec<&Sample> = samples.iter().filter(|s| s.at <= warm_up).collect();
    let tail: Vec<&Sample> = samples.iter().rev().take(3).collect();
    let max_warm = |f: fn(&Sample) -> u64| warm.iter().map(|s| f(s)).max().unwrap_or(0);
    let min_tail = |f: fn(&Sample) -> u64| tail.iter().map(|s| f(s)).min().unwrap_or(0);
    let (rss_base, rss_end) = (max_warm(|s| s.rss_kib), min_tail(|s| s.rss_kib));
    let (fds_base, fds_end) = (max_warm(|s| s.fds), min_tail(|s| s.fds));
    let (tasks_base, tasks_end) = (max_warm(|s| s.tasks), min_tail(|s| s.tasks));
    println!();
    println!(
        "run {seconds} s, warm-up {} s, {scrapes} scrapes, {edits} config edits",
        warm_up.as_secs()
    );
    println!(
        "bus: {total} published; fast subscriber {} delivered + {} lost; lagging subscriber {} delivered + {} lost",
        fast.0, fast.1, slow.0, slow.1
    );
    println!(
        "RSS KiB {rss_base} after warm-up -> {rss_end} at the end; fds {fds_base} -> {fds_end}; tasks {tasks_base} -> {tasks_end}"
    );

    let mut failures = Vec::new();
    if warm.is_empty() || tail.len() < 3 {
        failures.push("run too short to compare warm-up and end".to_owned());
    }
    if rss_end * 10 > rss_base * 11 {
        failures.push(format!(
            "RSS grew more than 10%: {rss_base} -> {rss_end} KiB"
        ));
    }
    if fds_end > fds_base {
        failures.push(format!("file descriptors grew: {fds_base} -> {fds_end}"));
    }
    if tasks_end > tasks_base {
        failures.push(format!("tasks grew: {tasks_base} -> {tasks_end}"));
    }
    for (name, (delivered, lost)) in [("fast", fast), ("lagging", slow)] {
        if delivered + lost != total {
            failures.push(format!(
                "{name} subscriber: {delivered} + {lost} != {total} published"
            ));
        }
    }
    if failures.is_empty() {
        println!("soak: ok");
        Ok(())
    } else {
        Err(format!("soak failed: {}", failures.join("; ")).into())
    }
}

/// `--seconds N` or `--minutes N` (default 60 s).
fn run_seconds() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    for (flag, scale) in [("--seconds", 1), ("--minutes", 60)] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            let value = args.get(i + 1).ok_or(format!("{flag} needs a number"))?;
            let n: u64 = value
                .parse()
                .map_err(|_| format!("{flag} {value:?} is not a number"))?;
            return Ok(n * scale);
        }
    }
    Ok(60)
}

/// Receives until the bus closes: (delivered, lost). `pause` makes it lag.
async fn count(mut events: Subscriber, pause: Option<Duration>) -> (u64, u64) {
    let (mut delivered, mut lost) = (0u64, 0u64);
    loop {
        match events.recv().await {
            Ok(_) => {
                delivered += 1;
                if let Some(pause) = pause
                    && delivered.is_multiple_of(100)
                {
                    tokio::time::sleep(pause).await;
                }
            }
            Err(RecvError::Lagged(n)) => lost += n,
            Err(RecvError::Closed) => return (delivered, lost),
        }
    }
}

/// One `GET /metrics`, read to the end (on a blocking thread).
async fn scrape(addr: SocketAddr) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut body = String::new();
        stream
            .read_to_string(&mut body)
            .map_err(|e| e.to_string())?;
        if body.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("scrape failed: {}", &body[..body.len().min(80)]))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}
