//! The markdown report: the gate table, why each gate's threshold is what
//! it is, and the comparables' figures.

use std::fmt::Write as _;

use super::gates::GATES;
use super::parse::{AsyncPaced, Measured};
use super::{ASYNC_LIBRARIES, LIBRARIES, SUBSCRIBERS, TASKS};

/// How each library is driven, in both harnesses.
const DRIVEN: &str = "\n## How each library is driven\n\n\
Each library runs the way its documentation recommends on a machine with fewer cores than \
threads (2 cores; up to 16 subscriber threads, 256 subscriber tasks). Threads: the fan-out and \
latency tables; tasks: the async tables.\n\n\
- ron-bus soa, ron-bus classic: threads in runs of up to 64 (`try_recv_many`, and `blocking_recv` for the first message after an empty poll: yield, poll up to 50 µs, then park); \
tasks `recv().await`.\n\
- tokio broadcast: threads `blocking_recv` (parks); tasks `recv().await`.\n\
- async-broadcast: overflow mode, lossy like the above (the publisher's `try_broadcast` never \
waits); threads `recv_blocking`; tasks `recv_direct().await` (the unboxed future its docs \
recommend for a plain `.await`).\n\
- crossbeam-channel: one bounded channel per subscriber fed with `try_send` (a full subscriber \
misses the message); `iter()` (spins briefly, then parks). Threads only.\n\
- bus: backpressured; `BusReader::iter()` (exponential spin, then `park_timeout`); the \
publisher's `broadcast` parks while the ring is full. Threads only.\n\
- disruptor: backpressured; one `EventPoller` per subscriber on the harness's thread, taking \
every ready event per poll and backing off spin-then-yield when none is; the producer's \
`try_publish` backs off the same way while the ring is full. Not the crate's managed consumers: \
they busy-spin a core each and collapse once they outnumber the cores. Threads only.\n\
- flume: one bounded channel per subscriber, backpressured (the publisher's blocking `send`), \
the reference that delivers everything; `recv_async().await`. Tasks only.\n";

/// `target/perf-gate/report.md`: `table` (the verdicts) and every figure of
/// `m`.
pub fn report(m: &Measured, table: &str, quick: bool) -> String {
    let mut out = String::from("# perf-gate report\n\n");
    let mode = if quick {
        "quick (smoke; not gating)"
    } else {
        "full"
    };
    let _ = writeln!(
        out,
        "Mode: {mode}. Command: `cargo xtask perf-gate{}`.\n",
        if quick { " --quick" } else { "" }
    );
    out.push_str("## Gates\n\n");
    out.push_str(table);
    out.push_str("\n### Why these thresholds\n\n");
    for gate in GATES {
        let _ = writeln!(out, "- {}: {}", gate.name, gate.why);
    }
    out.push_str("\n## Fan-out, million deliveries per second (capacity 1024)\n\n| library |");
    for subs in SUBSCRIBERS {
        let _ = write!(out, " {subs} subs |");
    }
    out.push_str(" p50 ns | p99 ns |\n|---|");
    out.push_str(&"---|".repeat(SUBSCRIBERS.len() + 2));
    out.push('\n');
    for lib in LIBRARIES {
        let cells: Vec<String> = SUBSCRIBERS
            .iter()
            .map(|s| {
                m.fanout
                    .get(&(lib.to_owned(), *s))
                    .map_or("-".into(), |v| format!("{v:.2}"))
            })
            .collect();
        let (p50, p99) = m
            .latency
            .get(lib)
            .map_or(("-".into(), "-".into()), |(a, b)| {
                (format!("{a:.0}"), format!("{b:.0}"))
            });
        let _ = writeln!(out, "| {lib} | {} | {p50} | {p99} |", cells.join(" | "));
    }
    out.push_str("\n## Publish cost, ns (batch: per message, batches of 64 with `publish_many` for ron-bus, a loop of sends for the others, which have no batch call; `-`: would block or cannot be set up)\n\n| library | no subscriber | 1 idle subscriber | batch of 64 |\n|---|---|---|---|\n");
    for lib in LIBRARIES {
        let ns = |case: &str| {
            m.publish
                .get(&(lib.to_owned(), case.to_owned()))
                .map_or("-".into(), |v| format!("{v:.2}"))
        };
        let _ = writeln!(
            out,
            "| {lib} | {} | {} | {} |",
            ns("empty"),
            ns("idle"),
            ns("batch")
        );
    }
    out.push_str(&async_tables(m));
    out.push_str(DRIVEN);
    let scaling = m.scaling.table();
    if !scaling.is_empty() {
        out.push_str("\n## How cost grows (both backends, capacity 1024, `u64` payload; `benches/scaling.rs`)\n\n");
        out.push_str(&scaling);
    }
    if let Some(fleet) = m.fleet {
        let _ = write!(
            out,
            "\n## Across processes: one publisher node, two subscriber nodes, one `nats-server` (`benches/fleet.rs`)\n\n\
             | measure | median |\n|---|---|\n\
             | raw async-nats publish, one task, pre-encoded events | {:.0} k/s |\n\
             | ron-bridge-nats export (bus → encode → client) | {:.0} k/s |\n\
             | received per subscriber node (burst) | {:.0} k/s |\n\
             | lost per subscriber node, burst of 50,000 | {:.0} |\n\
             | paced 5 k/s, publish → remote delivery p50 | {:.1} µs |\n\
             | paced 5 k/s, publish → remote delivery p99 | {:.1} µs |\n",
            fleet.raw_per_s / 1e3,
            fleet.bridge_per_s / 1e3,
            fleet.received_per_s / 1e3,
            fleet.lost,
            fleet.p50_us,
            fleet.p99_us
        );
    }
    out.push_str("\n![fan-out](fanout.svg)\n");
    out
}

/// The async comparables' tables (subscribers as tokio tasks) and their
/// chart; empty when that bench did not run.
fn async_tables(m: &Measured) -> String {
    if m.async_flood.is_empty() && m.async_paced.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Async: subscribers as tokio tasks (2-worker runtime, capacity 1024, `benches/async_comparables.rs`)\n\n\
         The publisher is its own OS thread. Flood: as fast as each channel takes messages, \
         until every task has seen the close. Paced: 20 k messages/s, the publisher sleeping \
         between messages; latency is publish→receive over every delivery of a run, CPU is the \
         process's CPU time over the run per delivery; medians over the rounds.\n\n\
         ### Flood, million deliveries per second: median (min–max over the rounds)\n\n",
    );
    let header = |out: &mut String| {
        out.push_str("| library |");
        for tasks in TASKS {
            let noun = if tasks == 1 { "task" } else { "tasks" };
            let _ = write!(out, " {tasks} {noun} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(TASKS.len()));
        out.push('\n');
    };
    header(&mut out);
    for lib in ASYNC_LIBRARIES {
        let cells: Vec<String> = TASKS
            .iter()
            .map(|t| {
                m.async_flood
                    .get(&(lib.to_owned(), *t))
                    .map_or("-".into(), |(med, lo, hi)| {
                        format!("{med:.2} ({lo:.2}–{hi:.2})")
                    })
            })
            .collect();
        let _ = writeln!(out, "| {lib} | {} |", cells.join(" | "));
    }
    // (title, figure, divisor to the unit the title names)
    type Figure = fn(&AsyncPaced) -> Option<f64>;
    let tables: [(&str, Figure, f64); 4] = [
        ("Paced, p50 µs", |p| p.p50, 1e3),
        ("Paced, p99 µs", |p| p.p99, 1e3),
        ("Paced, p99.9 µs", |p| p.p999, 1e3),
        ("Paced, CPU ns per delivery", |p| p.cpu, 1.0),
    ];
    for (title, field, scale) in tables {
        let _ = writeln!(out, "\n### {title}\n");
        header(&mut out);
        for lib in ASYNC_LIBRARIES {
            let cells: Vec<String> = TASKS
                .iter()
                .map(|t| {
                    m.async_paced
                        .get(&(lib.to_owned(), *t))
                        .and_then(field)
                        .map_or("-".into(), |v| format!("{:.1}", v / scale))
                })
                .collect();
            let _ = writeln!(out, "| {lib} | {} |", cells.join(" | "));
        }
    }
    out.push_str(
        "\n### Paced tails, each library over the best of the others: p99 / p99.9\n\n\
         The tail goals compare SoA with the lowest of the other four libraries' figures. \
         Where every library's tail is the machine's (a wake-up crossing vCPUs), a library \
         level with the field is above 1 by that construction most of the time: this table \
         applies the same measure to each library.\n\n",
    );
    header(&mut out);
    for lib in ASYNC_LIBRARIES {
        let cells: Vec<String> = TASKS
            .iter()
            .map(|t| {
                let p99 = over_best_other(m, lib, *t, |p| p.p99);
                let p999 = over_best_other(m, lib, *t, |p| p.p999);
                match (p99, p999) {
                    (Some(a), Some(b)) => format!("{a:.2} / {b:.2}"),
                    _ => "-".into(),
                }
            })
            .collect();
        let _ = writeln!(out, "| {lib} | {} |", cells.join(" | "));
    }
    out.push_str("\n![async flood](async.svg)\n");
    out
}

/// `lib`'s paced `figure` at `tasks` over the lowest of the other
/// libraries' (`None` unless all were measured).
fn over_best_other(
    m: &Measured,
    lib: &str,
    tasks: u32,
    figure: fn(&AsyncPaced) -> Option<f64>,
) -> Option<f64> {
    let at = |name: &str| figure(m.async_paced.get(&(name.to_owned(), tasks))?);
    let best_other = ASYNC_LIBRARIES
        .iter()
        .filter(|other| **other != lib)
        .map(|other| at(other))
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    Some(at(lib)? / best_other)
}

#[cfg(test)]
mod tests {
    use super::{AsyncPaced, Measured, report};

    #[test]
    fn the_report_has_the_async_tables_once_the_async_bench_ran() {
        let mut m = Measured::default();
        assert!(!report(&m, "", true).contains("## Async"));
        m.async_flood
            .insert(("ron-bus soa".into(), 4), (40.0, 3.7, 41.0));
        m.async_paced.insert(
            ("flume (per-sub, backpressured)".into(), 256),
            AsyncPaced {
                p99: Some(167_000.0),
                ..AsyncPaced::default()
            },
        );
        let text = report(&m, "", true);
        assert!(text.contains("## Async"));
        assert!(text.contains("| ron-bus soa | - | 40.00 (3.70–41.00) |"));
        assert!(text.contains("| flume (per-sub, backpressured) | - | - | - | - | 167.0 |"));
        assert!(text.contains("![async flood](async.svg)"));
        // Only flume measured at 256: no library has a full field to be
        // compared with.
        let table = text
            .split("each library over the best of the others")
            .nth(1)
            .unwrap();
        assert!(table.contains("| flume (per-sub, backpressured) | - | - | - | - | - |"));
        assert!(text.contains("disruptor: backpressured; one `EventPoller` per subscriber"));
    }

    #[test]
    fn each_library_is_set_against_the_best_of_the_others() {
        let mut m = Measured::default();
        let figures = [
            (50.0, 300.0),
            (100.0, 150.0),
            (40.0, 600.0),
            (80.0, 90.0),
            (200.0, 900.0),
        ];
        for (lib, (p99, p999)) in super::ASYNC_LIBRARIES.iter().zip(figures) {
            let paced = AsyncPaced {
                p99: Some(p99),
                p999: Some(p999),
                ..AsyncPaced::default()
            };
            m.async_paced.insert(((*lib).to_owned(), 16), paced);
        }
        let text = report(&m, "", true);
        let table = text
            .split("each library over the best of the others")
            .nth(1)
            .unwrap();
        // p99: 50 over the best other's 40, and 40 over 50; p99.9: 300 over
        // 90, and 600 over 90.
        assert!(table.contains(&format!(
            "| {} | - | - | 1.25 / 3.33 | - | - |",
            super::ASYNC_LIBRARIES[0]
        )));
        assert!(table.contains(&format!(
            "| {} | - | - | 0.80 / 6.67 | - | - |",
            super::ASYNC_LIBRARIES[2]
        )));
    }
}
