//! `cargo xtask perf-gate [--quick]`: runs the bus benchmarks (the
//! comparables harness, SoA against classic, classic against raw tokio),
//! reads the ratios each measured side by side in one run, checks them
//! against the gates, prints the table, and writes
//! `target/perf-gate/report.md` and `target/perf-gate/fanout.svg`.
//!
//! Full mode fails when a gate fails. `--quick` runs smaller samples and
//! only proves the harness works (CI runs it): timings on shared machines
//! are too noisy to gate on in CI.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use crate::cmd::{cargo, show};
use crate::project_root;

/// Libraries in the comparables harness, in chart order.
const LIBRARIES: [&str; 7] = [
    "ron-bus soa",
    "ron-bus classic",
    "tokio broadcast",
    "async-broadcast (overflow)",
    "crossbeam-channel (per-sub, try_send)",
    "bus (backpressured)",
    "disruptor (backpressured)",
];
/// Subscriber counts of the harness's fan-out.
const SUBSCRIBERS: [u32; 5] = [1, 2, 4, 8, 16];
/// Subscriber counts the fan-out floors apply to.
const GATED_SUBSCRIBERS: [u32; 3] = [4, 8, 16];

/// What the benchmarks reported.
#[derive(Default)]
struct Measured {
    /// (library, subscribers) → million deliveries per second.
    fanout: BTreeMap<(String, u32), f64>,
    /// library → (p50 ns, p99 ns).
    latency: BTreeMap<String, (f64, f64)>,
    /// (library, case: empty / idle / batch) → ns per publish (per message
    /// for a batch).
    publish: BTreeMap<(String, String), f64>,
    /// ratio key → median ratio.
    ratios: BTreeMap<String, f64>,
}

/// One gate: a measured ratio against its threshold.
struct Gate {
    name: String,
    threshold: String,
    measured: Option<f64>,
    pass: bool,
    /// Goals are reported, never fail the run.
    goal: bool,
}

pub fn run(quick: bool) -> Result<(), String> {
    let mut measured = Measured::default();
    let extra: &[&str] = if quick { &["--quick"] } else { &[] };
    let dir = project_root().join("target").join("perf-gate");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let json = dir.join("comparables.json");
    let json_args = ["--json".to_owned(), json.display().to_string()];
    for (package, bench, own) in [
        ("ron-bus-soa", "comparables", &json_args[..]),
        ("ron-bus-soa", "vs_classic", &[][..]),
        ("ron-bus-classic", "ratios", &[][..]),
    ] {
        let args: Vec<&str> = extra
            .iter()
            .copied()
            .chain(own.iter().map(String::as_str))
            .collect();
        let output = bench_output(package, bench, &args)?;
        parse(&output, &mut measured);
    }
    let gates = gates(&measured);
    let table = render_table(&gates);
    println!("{table}");
    let svg = chart(&measured);
    fs::write(dir.join("fanout.svg"), svg).map_err(|e| format!("cannot write the chart: {e}"))?;
    let report = report(&measured, &table, quick);
    fs::write(dir.join("report.md"), report)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    eprintln!(
        "perf-gate: wrote {0}/report.md, {0}/fanout.svg and {0}/comparables.json",
        dir.display()
    );

    let failed: Vec<&str> = gates
        .iter()
        .filter(|g| !g.pass && !g.goal)
        .map(|g| g.name.as_str())
        .collect();
    if quick {
        eprintln!(
            "perf-gate --quick: harness ran ({} gates evaluated, not gating)",
            gates.len()
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

/// Runs one bench target and returns its stdout (stderr passes through).
fn bench_output(package: &str, bench: &str, extra: &[&str]) -> Result<String, String> {
    let mut command = cargo();
    command
        .args(["bench", "--locked", "-p", package, "--bench", bench, "--"])
        .args(extra);
    let shown = show(&command);
    eprintln!("$ {shown}");
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // Show the bench's own table, not the machine lines.
    for line in stdout.lines().filter(|l| !l.starts_with("perf\t")) {
        eprintln!("{line}");
    }
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!("`{shown}` failed ({})", output.status))
    }
}

/// Reads the `perf\t...` lines.
fn parse(output: &str, into: &mut Measured) {
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["perf", "fanout", library, subs, value] => {
                if let (Ok(subs), Ok(value)) = (subs.parse(), value.parse()) {
                    into.fanout.insert(((*library).to_owned(), subs), value);
                }
            }
            ["perf", "latency", library, p50, p99] => {
                if let (Ok(p50), Ok(p99)) = (p50.parse(), p99.parse()) {
                    into.latency.insert((*library).to_owned(), (p50, p99));
                }
            }
            ["perf", "publish", library, case, value] => {
                if let Ok(value) = value.parse() {
                    into.publish
                        .insert(((*library).to_owned(), (*case).to_owned()), value);
                }
            }
            ["perf", "ratio", key, value] => {
                if let Ok(value) = value.parse() {
                    into.ratios.insert((*key).to_owned(), value);
                }
            }
            _ => {}
        }
    }
}

fn gates(m: &Measured) -> Vec<Gate> {
    let mut gates = Vec::new();
    let mut at_least = |name: String, value: Option<f64>, floor: f64, goal: bool| {
        gates.push(Gate {
            name,
            threshold: format!(">= {floor}"),
            pass: value.is_some_and(|v| v >= floor),
            measured: value,
            goal,
        });
    };
    let ratio = |key: &str| m.ratios.get(key).copied();
    let fanout = |lib: &str, subs: u32| m.fanout.get(&(lib.to_owned(), subs)).copied();
    let over = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    for subs in GATED_SUBSCRIBERS {
        at_least(
            format!("SoA / classic fan-out, {subs} subs"),
            ratio(&format!("soa_vs_classic_fanout_{subs}")),
            2.0,
            false,
        );
        at_least(
            format!("SoA / tokio broadcast fan-out, {subs} subs"),
            over(fanout("ron-bus soa", subs), fanout("tokio broadcast", subs)),
            1.0,
            false,
        );
        at_least(
            format!("SoA / async-broadcast fan-out, {subs} subs"),
            over(
                fanout("ron-bus soa", subs),
                fanout("async-broadcast (overflow)", subs),
            ),
            1.0,
            false,
        );
        at_least(
            format!("SoA / crossbeam-channel fan-out, {subs} subs"),
            over(
                fanout("ron-bus soa", subs),
                fanout("crossbeam-channel (per-sub, try_send)", subs),
            ),
            1.0,
            false,
        );
        at_least(
            format!("SoA / bus fan-out, {subs} subs (goal)"),
            over(
                fanout("ron-bus soa", subs),
                fanout("bus (backpressured)", subs),
            ),
            1.0,
            true,
        );
    }
    at_least(
        "B1: SoA / classic, 4 subs, capacity 64".into(),
        ratio("b1_fanout_4_cap64"),
        1.2,
        false,
    );
    at_least(
        "B1: SoA / classic, 16 subs, capacity 128".into(),
        ratio("b1_fanout_16_cap128"),
        1.3,
        false,
    );
    at_least(
        "A2: SoA publish_many / publish loop".into(),
        ratio("soa_publish_many_gain"),
        1.5,
        false,
    );
    for subs in [1, 4] {
        at_least(
            format!("A2: classic publish_many / loop, {subs} subs"),
            ratio(&format!("classic_publish_many_gain_{subs}")),
            1.15,
            false,
        );
    }
    let mut at_most = |name: String, value: Option<f64>, ceiling: f64, goal: bool| {
        gates.push(Gate {
            name,
            threshold: format!("<= {ceiling}"),
            pass: value.is_some_and(|v| v <= ceiling),
            measured: value,
            goal,
        });
    };
    at_most(
        "SoA / classic publish, 0 subs".into(),
        ratio("soa_vs_classic_publish_0"),
        0.5,
        false,
    );
    at_most(
        "SoA / classic publish, 1 lagging sub".into(),
        ratio("soa_vs_classic_publish_lagging"),
        0.7,
        false,
    );
    at_most(
        "B2: interest-excluded sub / no sub".into(),
        ratio("soa_interest_excluded"),
        1.10,
        false,
    );
    let p99 = |lib: &str| m.latency.get(lib).map(|(_, p99)| *p99);
    let p50 = |lib: &str| m.latency.get(lib).map(|(p50, _)| *p50);
    at_most(
        "SoA / classic p99 latency, 1 sub".into(),
        over(p99("ron-bus soa"), p99("ron-bus classic")),
        1.0,
        false,
    );
    at_most(
        "SoA / bus p50 latency (goal)".into(),
        over(p50("ron-bus soa"), p50("bus (backpressured)")),
        1.0,
        true,
    );
    for subs in [0, 1, 4] {
        at_most(
            format!("classic / raw tokio publish, {subs} subs"),
            ratio(&format!("classic_vs_raw_publish_{subs}")),
            1.15,
            false,
        );
    }
    for subs in [1, 4, 16] {
        at_most(
            format!("classic / raw tokio fan-out time, {subs} subs"),
            ratio(&format!("classic_vs_raw_fanout_{subs}")),
            1.15,
            false,
        );
    }
    gates
}

fn render_table(gates: &[Gate]) -> String {
    let mut out =
        String::from("| gate | threshold | measured (median) | verdict |\n|---|---|---|---|\n");
    for g in gates {
        let measured = g
            .measured
            .map_or_else(|| "missing".to_owned(), |v| format!("{v:.3}"));
        let verdict = match (g.pass, g.goal) {
            (true, _) => "pass",
            (false, true) => "goal not reached",
            (false, false) => "FAIL",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {measured} | {verdict} |",
            g.name, g.threshold
        );
    }
    out
}

fn report(m: &Measured, table: &str, quick: bool) -> String {
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
    out.push_str("\n![fan-out](fanout.svg)\n");
    out
}

/// Deliveries per second against subscriber count, one line per library,
/// log-scale y axis (the libraries span two orders of magnitude).
fn chart(m: &Measured) -> String {
    const COLORS: [&str; 7] = [
        "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#ff7f0e", "#8c564b",
    ];
    let (w, h, left, right, top, bottom) = (720.0, 420.0, 70.0, 250.0, 30.0, 50.0);
    let values: Vec<f64> = m.fanout.values().copied().filter(|v| *v > 0.0).collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1e-3)
        .log10()
        .floor();
    let hi = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-3)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let x = |i: usize| left + (w - left - right) * i as f64 / (SUBSCRIBERS.len() - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (hi - v.max(1e-3).log10()) / (hi - lo);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"18\">deliveries/s (millions, log scale) by subscribers, capacity 1024</text>\n"
    );
    let mut decade = lo;
    while decade <= hi {
        let yy = y(10f64.powf(decade));
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            yy + 4.0,
            10f64.powf(decade)
        );
        decade += 1.0;
    }
    for (i, subs) in SUBSCRIBERS.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{subs} subs</text>",
            x(i),
            h - bottom + 20.0
        );
    }
    for (k, lib) in LIBRARIES.iter().enumerate() {
        let points: Vec<String> = SUBSCRIBERS
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                m.fanout
                    .get(&((*lib).to_owned(), *s))
                    .map(|v| format!("{:.1},{:.1}", x(i), y(*v)))
            })
            .collect();
        let color = COLORS[k % COLORS.len()];
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        let ly = top + 18.0 * k as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\">{lib}</text>",
            w - right + 15.0,
            w - right + 35.0,
            w - right + 40.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
