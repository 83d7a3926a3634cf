//! `cargo xtask perf-gate [--quick]`: runs the bus benchmarks (the
//! comparables harness and SoA against classic in the top-level `benches/`
//! package, classic against raw tokio in `ron-bus-classic`, and how cost
//! grows with subscribers, masks and churn in `benches/scaling.rs`,
//! receiving in runs in `benches/recv_many.rs`, and the NATS bridge across
//! processes in `benches/fleet.rs`, which needs `nats-server`), reads
//! the ratios each measured side by side in one run, checks them against
//! the gates, prints the table, and writes `target/perf-gate/report.md`,
//! `target/perf-gate/fanout.svg` and `target/perf-gate/async.svg` (the
//! async comparables: subscribers as tokio tasks).
//!
//! Full mode fails when a gate fails. `--quick` runs smaller samples and
//! only proves the harness works (CI runs it): timings on shared machines
//! are too noisy to gate on in CI.
//!
//! One module per job: [`bench`](mod@bench) runs the targets, [`parse`] reads their
//! machine lines, [`gates`] holds the gate table and checks it, [`report`]
//! and [`chart`] write the outputs ([`scaling`] reads and renders the
//! scaling bench's table).

mod bench;
mod chart;
mod gates;
mod parse;
mod report;
mod scaling;

use std::fs;

use crate::project_root;

/// The comparables harness's names for the libraries, as its `perf` lines
/// spell them.
const SOA: &str = "ron-bus soa";
const CLASSIC: &str = "ron-bus classic";
const TOKIO: &str = "tokio broadcast";
const ASYNC_BROADCAST: &str = "async-broadcast (overflow)";
const CROSSBEAM: &str = "crossbeam-channel (per-sub, try_send)";
const BUS: &str = "bus (backpressured)";
const DISRUPTOR: &str = "disruptor (backpressured)";

/// Libraries in the comparables harness, in chart order.
const LIBRARIES: [&str; 7] = [
    SOA,
    CLASSIC,
    TOKIO,
    ASYNC_BROADCAST,
    CROSSBEAM,
    BUS,
    DISRUPTOR,
];
/// Subscriber counts of the harness's fan-out.
const SUBSCRIBERS: [u32; 5] = [1, 2, 4, 8, 16];

/// The async comparables' backpressured reference, as its lines spell it.
const FLUME: &str = "flume (per-sub, backpressured)";
/// Libraries in the async comparables (subscriber tasks), in chart order.
const ASYNC_LIBRARIES: [&str; 5] = [SOA, CLASSIC, TOKIO, ASYNC_BROADCAST, FLUME];
/// Subscriber task counts of the async comparables.
const TASKS: [u32; 5] = [1, 4, 16, 64, 256];

pub fn run(quick: bool) -> Result<(), String> {
    let mut measured = parse::Measured::default();
    let dir = project_root().join("target").join("perf-gate");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let json = dir.join("comparables.json").display().to_string();
    let async_json = dir.join("async_comparables.json").display().to_string();
    for (package, bench) in bench::BENCHES {
        let mut args: Vec<&str> = Vec::new();
        if quick {
            args.push("--quick");
        }
        if bench == "comparables" {
            args.extend(["--json", json.as_str()]);
        }
        if bench == "async_comparables" {
            args.extend(["--json", async_json.as_str()]);
        }
        let output = bench::output(package, bench, &args)?;
        parse::parse(&output, &mut measured);
    }
    let verdicts = gates::evaluate(&measured);
    let table = gates::render_table(&verdicts);
    println!("{table}");
    println!("{}", measured.scaling.table());
    fs::write(dir.join("fanout.svg"), chart::chart(&measured))
        .map_err(|e| format!("cannot write the chart: {e}"))?;
    fs::write(dir.join("async.svg"), chart::async_chart(&measured))
        .map_err(|e| format!("cannot write the async chart: {e}"))?;
    fs::write(
        dir.join("report.md"),
        report::report(&measured, &table, quick),
    )
    .map_err(|e| format!("cannot write the report: {e}"))?;
    eprintln!(
        "perf-gate: wrote {0}/report.md, {0}/fanout.svg, {0}/async.svg, {0}/comparables.json and {0}/async_comparables.json",
        dir.display()
    );

    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.pass && !v.gate.goal)
        .map(|v| v.gate.name)
        .collect();
    if quick {
        eprintln!(
            "perf-gate --quick: harness ran ({} gates evaluated, not gating)",
            verdicts.len()
        );
        Ok(())
    } else if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} gate(s) failed: {}",
            failed.len(),
            failed.join("; ")
        ))
    }
}
