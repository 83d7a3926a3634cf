//! The markdown report: the gate table, why each gate's threshold is what
//! it is, and the comparables' figures.

use std::fmt::Write as _;

use super::gates::GATES;
use super::parse::Measured;
use super::{LIBRARIES, SUBSCRIBERS};

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
    let scaling = m.scaling.table();
    if !scaling.is_empty() {
        out.push_str("\n## How cost grows (both backends, capacity 1024, `u64` payload; `benches/scaling.rs`)\n\n");
        out.push_str(&scaling);
    }
    out.push_str("\n![fan-out](fanout.svg)\n");
    out
}
