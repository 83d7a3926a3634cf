//! The gates, as data: each names a measured ratio, a threshold and why the
//! threshold is what it is. [`evaluate`] checks them against what the
//! benches measured; [`render_table`] prints the verdicts.

use std::fmt::Write as _;

use super::parse::Measured;
use super::{ASYNC_BROADCAST, BUS, CLASSIC, CROSSBEAM, SOA, TOKIO};

/// One gate: a measured ratio against its threshold.
pub struct Gate {
    /// What the table calls it.
    pub name: &'static str,
    /// Which measured ratio it reads.
    pub measure: Measure,
    /// Its threshold.
    pub bound: Bound,
    /// Why the threshold is what it is (the report lists it).
    pub why: &'static str,
    /// A goal is reported, never fails the run.
    pub goal: bool,
}

/// Where a gate's ratio comes from.
pub enum Measure {
    /// A ratio a bench printed as `perf\tratio\tKEY\tVALUE`.
    Ratio(&'static str),
    /// Fan-out of `ours` over `theirs` at `subs` subscribers (comparables).
    Fanout {
        ours: &'static str,
        theirs: &'static str,
        subs: u32,
    },
    /// Latency of `ours` over `theirs` at a quantile (comparables).
    Latency {
        ours: &'static str,
        theirs: &'static str,
        quantile: Quantile,
    },
}

/// A latency quantile the comparables bench reports.
pub enum Quantile {
    P50,
    P99,
}

/// A threshold: the ratio must be at least, or at most, this.
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

const fn at_least(name: &'static str, measure: Measure, floor: f64, why: &'static str) -> Gate {
    Gate {
        name,
        measure,
        bound: Bound::AtLeast(floor),
        why,
        goal: false,
    }
}

const fn at_most(name: &'static str, measure: Measure, ceiling: f64, why: &'static str) -> Gate {
    Gate {
        name,
        measure,
        bound: Bound::AtMost(ceiling),
        why,
        goal: false,
    }
}

/// `gate`, reported but never failing the run.
const fn goal(gate: Gate) -> Gate {
    Gate { goal: true, ..gate }
}

const fn ratio(key: &'static str) -> Measure {
    Measure::Ratio(key)
}

const fn fanout_over(theirs: &'static str, subs: u32) -> Measure {
    Measure::Fanout {
        ours: SOA,
        theirs,
        subs,
    }
}

const fn latency_over(theirs: &'static str, quantile: Quantile) -> Measure {
    Measure::Latency {
        ours: SOA,
        theirs,
        quantile,
    }
}

const WHY_SOA_CLASSIC: &str =
    "the SoA ring's reason to exist: at least twice classic's deliveries once subscribers share it";
const WHY_TOKIO: &str = "no slower than tokio's broadcast, the channel classic wraps";
const WHY_ASYNC_BROADCAST: &str = "no slower than the other lossy broadcast channel";
const WHY_CROSSBEAM: &str = "one shared ring no slower than a bounded channel per subscriber";
const WHY_BUS: &str =
    "goal only: `bus` is backpressured (it never loses a message), a different trade";
const WHY_CLASSIC_PUBLISH: &str = "the classic wrapper adds at most 15 % to a raw tokio send";
const WHY_CLASSIC_FANOUT: &str = "classic delivers at least 1/1.15 of raw tokio's rate";
const WHY_B1: &str = "+20 % over classic at 4 subscribers, +30 % at 16, on autotune's capacity";
const WHY_SOA_BATCH: &str = "a batch claims its slots with one fetch_add and sweeps wake-ups once";
const WHY_EMPTY_PUBLISH: &str = "publishing with nobody listening costs no more than classic's (both are a load of a receiver count and a thread-local counter bump; the earlier ≤ 0.5 was never reached: docs/PERFORMANCE.md)";
const WHY_LAGGING: &str =
    "a subscriber that never reads does not slow the lock-free publisher down";
const WHY_B2: &str = "a subscriber whose mask excludes the topic costs the publisher under 10 %";
const WHY_SCALING: &str = "goal: publish cost at 4,096 idle subscribers at most twice that at one; the floor's pin scan, once per `capacity` publishes, is SoA's only per-subscriber step (docs/PERFORMANCE.md, How cost grows)";
const WHY_TAIL: &str = "the ring's wake-up path no worse in the tail than classic's";
const WHY_ASYNC_FLOOD: &str = "goal: with subscriber tasks on a 2-worker runtime, SoA delivers at least as much as every other library in every round (the worst round's ratio to the fastest other: no collapse in some runs)";
const WHY_ASYNC_TAIL: &str = "goal: a paced stream's wake-up tail with subscriber tasks no worse than the best other library's";
const WHY_ASYNC_CPU: &str =
    "goal: with many subscriber tasks, SoA spends the least process CPU per delivery";
const WHY_RECV_MANY: &str = "a subscriber that takes a run per wake-up (one pin and one fence in SoA) delivers at least twice what a `recv` loop does";
const WHY_BRIDGE: &str = "the NATS bridge's own cost (bus receive, JSON encode) at most the transport's: it exports at least half the rate of raw async-nats publishing the same encoded events from one task";
const WHY_CLASSIC_BATCH: &str = "the batch gate; over tokio a batch still pays one send per message, so classic cannot reach it (docs/PERFORMANCE.md)";

/// Every gate, in the table's order. One gate a line: a table, so
/// rustfmt leaves its columns alone.
#[rustfmt::skip]
pub const GATES: &[Gate] = &[
    at_least("SoA / classic fan-out, 4 subs",            ratio("soa_vs_classic_fanout_4"),  2.0, WHY_SOA_CLASSIC),
    at_least("SoA / tokio broadcast fan-out, 4 subs",    fanout_over(TOKIO, 4),             1.0, WHY_TOKIO),
    at_least("SoA / async-broadcast fan-out, 4 subs",    fanout_over(ASYNC_BROADCAST, 4),   1.0, WHY_ASYNC_BROADCAST),
    at_least("SoA / crossbeam-channel fan-out, 4 subs",  fanout_over(CROSSBEAM, 4),         1.0, WHY_CROSSBEAM),
    goal(at_least("SoA / bus fan-out, 4 subs (goal)",    fanout_over(BUS, 4),               1.0, WHY_BUS)),
    at_least("SoA / classic fan-out, 8 subs",            ratio("soa_vs_classic_fanout_8"),  2.0, WHY_SOA_CLASSIC),
    at_least("SoA / tokio broadcast fan-out, 8 subs",    fanout_over(TOKIO, 8),             1.0, WHY_TOKIO),
    at_least("SoA / async-broadcast fan-out, 8 subs",    fanout_over(ASYNC_BROADCAST, 8),   1.0, WHY_ASYNC_BROADCAST),
    at_least("SoA / crossbeam-channel fan-out, 8 subs",  fanout_over(CROSSBEAM, 8),         1.0, WHY_CROSSBEAM),
    goal(at_least("SoA / bus fan-out, 8 subs (goal)",    fanout_over(BUS, 8),               1.0, WHY_BUS)),
    at_least("SoA / classic fan-out, 16 subs",           ratio("soa_vs_classic_fanout_16"), 2.0, WHY_SOA_CLASSIC),
    at_least("SoA / tokio broadcast fan-out, 16 subs",   fanout_over(TOKIO, 16),            1.0, WHY_TOKIO),
    at_least("SoA / async-broadcast fan-out, 16 subs",   fanout_over(ASYNC_BROADCAST, 16),  1.0, WHY_ASYNC_BROADCAST),
    at_least("SoA / crossbeam-channel fan-out, 16 subs", fanout_over(CROSSBEAM, 16),        1.0, WHY_CROSSBEAM),
    goal(at_least("SoA / bus fan-out, 16 subs (goal)",   fanout_over(BUS, 16),              1.0, WHY_BUS)),
    at_least("B1: SoA / classic, 4 subs, capacity 64",   ratio("b1_fanout_4_cap64"),        1.2, WHY_B1),
    at_least("B1: SoA / classic, 16 subs, capacity 128", ratio("b1_fanout_16_cap128"),      1.3, WHY_B1),
    at_least("A2: SoA publish_many / publish loop",      ratio("soa_publish_many_gain"),    1.5, WHY_SOA_BATCH),
    at_least("A2: classic publish_many / loop, 1 subs",  ratio("classic_publish_many_gain_1"), 1.15, WHY_CLASSIC_BATCH),
    at_least("A2: classic publish_many / loop, 4 subs",  ratio("classic_publish_many_gain_4"), 1.15, WHY_CLASSIC_BATCH),
    at_least("SoA recv_many / recv loop, 4 threads",     ratio("recv_many_gain_threads_4"), 2.0, WHY_RECV_MANY),
    at_least("SoA recv_many / recv loop, 4 tasks",       ratio("recv_many_gain_tasks_4"),   2.0, WHY_RECV_MANY),
    at_least("bridge export / raw async-nats publish",   ratio("bridge_export_over_raw"),   0.5, WHY_BRIDGE),
    at_most("SoA / classic publish, 0 subs",             ratio("soa_vs_classic_publish_0"), 1.0, WHY_EMPTY_PUBLISH),
    at_most("SoA / classic publish, 1 lagging sub",      ratio("soa_vs_classic_publish_lagging"), 0.7, WHY_LAGGING),
    at_most("B2: interest-excluded sub / no sub",        ratio("soa_interest_excluded"),    1.10, WHY_B2),
    goal(at_most("SoA publish, 4096 / 1 idle subs (goal)", ratio("soa_publish_idle_4096_over_1"), 2.0, WHY_SCALING)),
    at_most("SoA / classic p99 latency, 1 sub",          latency_over(CLASSIC, Quantile::P99), 1.0, WHY_TAIL),
    goal(at_most("SoA / bus p50 latency (goal)",         latency_over(BUS, Quantile::P50),  1.0, WHY_BUS)),
    at_most("classic / raw tokio publish, 0 subs",       ratio("classic_vs_raw_publish_0"), 1.15, WHY_CLASSIC_PUBLISH),
    at_most("classic / raw tokio publish, 1 subs",       ratio("classic_vs_raw_publish_1"), 1.15, WHY_CLASSIC_PUBLISH),
    at_most("classic / raw tokio publish, 4 subs",       ratio("classic_vs_raw_publish_4"), 1.15, WHY_CLASSIC_PUBLISH),
    at_most("classic / raw tokio fan-out time, 1 subs",  ratio("classic_vs_raw_fanout_1"),  1.15, WHY_CLASSIC_FANOUT),
    at_most("classic / raw tokio fan-out time, 4 subs",  ratio("classic_vs_raw_fanout_4"),  1.15, WHY_CLASSIC_FANOUT),
    at_most("classic / raw tokio fan-out time, 16 subs", ratio("classic_vs_raw_fanout_16"), 1.15, WHY_CLASSIC_FANOUT),
    goal(at_least("async flood: SoA / best other, 1 task",     ratio("async_flood_soa_over_best_1"),   1.0, WHY_ASYNC_FLOOD)),
    goal(at_least("async flood: SoA / best other, 4 tasks",    ratio("async_flood_soa_over_best_4"),   1.0, WHY_ASYNC_FLOOD)),
    goal(at_least("async flood: SoA / best other, 16 tasks",   ratio("async_flood_soa_over_best_16"),  1.0, WHY_ASYNC_FLOOD)),
    goal(at_least("async flood: SoA / best other, 64 tasks",   ratio("async_flood_soa_over_best_64"),  1.0, WHY_ASYNC_FLOOD)),
    goal(at_least("async flood: SoA / best other, 256 tasks",  ratio("async_flood_soa_over_best_256"), 1.0, WHY_ASYNC_FLOOD)),
    goal(at_most("async paced p99: SoA / best other, 16 tasks",    ratio("async_p99_soa_over_best_16"),   1.0, WHY_ASYNC_TAIL)),
    goal(at_most("async paced p99.9: SoA / best other, 16 tasks",  ratio("async_p999_soa_over_best_16"),  1.0, WHY_ASYNC_TAIL)),
    goal(at_most("async paced p99: SoA / best other, 256 tasks",   ratio("async_p99_soa_over_best_256"),  1.0, WHY_ASYNC_TAIL)),
    goal(at_most("async paced p99.9: SoA / best other, 256 tasks", ratio("async_p999_soa_over_best_256"), 1.0, WHY_ASYNC_TAIL)),
    goal(at_most("async CPU/delivery: SoA / best other, 64 tasks",  ratio("async_cpu_soa_over_best_64"),  1.0, WHY_ASYNC_CPU)),
    goal(at_most("async CPU/delivery: SoA / best other, 256 tasks", ratio("async_cpu_soa_over_best_256"), 1.0, WHY_ASYNC_CPU)),
];

impl Measure {
    /// The ratio in `m`; `None` when a side was not measured.
    fn value(&self, m: &Measured) -> Option<f64> {
        match self {
            Self::Ratio(key) => m.ratios.get(*key).copied(),
            Self::Fanout { ours, theirs, subs } => {
                let fanout = |lib: &str| m.fanout.get(&(lib.to_owned(), *subs)).copied();
                over(fanout(ours), fanout(theirs))
            }
            Self::Latency {
                ours,
                theirs,
                quantile,
            } => {
                let at = |lib: &str| {
                    m.latency.get(lib).map(|(p50, p99)| match quantile {
                        Quantile::P50 => *p50,
                        Quantile::P99 => *p99,
                    })
                };
                over(at(ours), at(theirs))
            }
        }
    }
}

fn over(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    a.zip(b).map(|(a, b)| a / b)
}

impl Bound {
    fn admits(&self, value: f64) -> bool {
        match *self {
            Self::AtLeast(floor) => value >= floor,
            Self::AtMost(ceiling) => value <= ceiling,
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AtLeast(floor) => write!(f, ">= {floor}"),
            Self::AtMost(ceiling) => write!(f, "<= {ceiling}"),
        }
    }
}

/// A gate checked against what was measured.
pub struct Verdict {
    pub gate: &'static Gate,
    /// `None`: the bench did not report it (which fails the gate).
    pub measured: Option<f64>,
    pub pass: bool,
}

/// Every gate of [`GATES`] against `m`.
pub fn evaluate(m: &Measured) -> Vec<Verdict> {
    GATES
        .iter()
        .map(|gate| {
            let measured = gate.measure.value(m);
            Verdict {
                gate,
                measured,
                pass: measured.is_some_and(|v| gate.bound.admits(v)),
            }
        })
        .collect()
}

/// The verdicts as a markdown table.
pub fn render_table(verdicts: &[Verdict]) -> String {
    let mut out =
        String::from("| gate | threshold | measured (median) | verdict |\n|---|---|---|---|\n");
    for v in verdicts {
        let measured = v
            .measured
            .map_or_else(|| "missing".to_owned(), |v| format!("{v:.3}"));
        let verdict = match (v.pass, v.gate.goal) {
            (true, _) => "pass",
            (false, true) => "goal not reached",
            (false, false) => "FAIL",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {measured} | {verdict} |",
            v.gate.name, v.gate.bound
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{GATES, Measured, evaluate};

    #[test]
    fn gate_names_are_unique() {
        let mut names: Vec<&str> = GATES.iter().map(|g| g.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), GATES.len());
    }

    #[test]
    fn every_gate_says_why() {
        assert!(GATES.iter().all(|g| !g.why.trim().is_empty()));
    }

    #[test]
    fn a_missing_measurement_fails_its_gate() {
        let verdicts = evaluate(&Measured::default());
        assert_eq!(verdicts.len(), GATES.len());
        assert!(verdicts.iter().all(|v| v.measured.is_none() && !v.pass));
    }

    #[test]
    fn ratios_and_library_quotients_are_checked_against_their_bounds() {
        let mut m = Measured::default();
        m.ratios.insert("soa_vs_classic_fanout_4".into(), 2.5);
        m.ratios.insert("soa_interest_excluded".into(), 1.2);
        m.fanout.insert(("ron-bus soa".into(), 8), 30.0);
        m.fanout.insert(("tokio broadcast".into(), 8), 10.0);
        m.latency.insert("ron-bus soa".into(), (1000.0, 2000.0));
        m.latency.insert("ron-bus classic".into(), (1000.0, 4000.0));
        let verdicts = evaluate(&m);
        let get = |name: &str| {
            let v = verdicts.iter().find(|v| v.gate.name == name).unwrap();
            (v.measured, v.pass)
        };
        assert_eq!(get("SoA / classic fan-out, 4 subs"), (Some(2.5), true));
        assert_eq!(
            get("B2: interest-excluded sub / no sub"),
            (Some(1.2), false)
        );
        assert_eq!(
            get("SoA / tokio broadcast fan-out, 8 subs"),
            (Some(3.0), true)
        );
        assert_eq!(get("SoA / classic p99 latency, 1 sub"), (Some(0.5), true));
    }
}
