//! Reading the benches' machine lines (`perf\t...`) into [`Measured`].

use std::collections::BTreeMap;

/// What the benchmarks reported.
#[derive(Default)]
pub struct Measured {
    /// (library, subscribers) → million deliveries per second.
    pub fanout: BTreeMap<(String, u32), f64>,
    /// library → (p50 ns, p99 ns).
    pub latency: BTreeMap<String, (f64, f64)>,
    /// (library, case: empty / idle / batch) → ns per publish (per message
    /// for a batch).
    pub publish: BTreeMap<(String, String), f64>,
    /// ratio key → median ratio.
    pub ratios: BTreeMap<String, f64>,
    /// (library, tasks) → async flood, million deliveries per second:
    /// (median, min, max) over the rounds.
    pub async_flood: BTreeMap<(String, u32), (f64, f64, f64)>,
    /// (library, tasks) → the async paced scenario's medians.
    pub async_paced: BTreeMap<(String, u32), AsyncPaced>,
    /// The scaling bench's figures (`perf\tscaling\t...`).
    pub scaling: super::scaling::Scaling,
    /// The fleet bench's figures (`perf\tfleet\t...`).
    pub fleet: Option<Fleet>,
}

/// Across processes through one `nats-server` (the fleet bench): medians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fleet {
    /// Raw async-nats, one task, events handed to the client per second.
    pub raw_per_s: f64,
    /// The bridge's export, events handed to the client per second.
    pub bridge_per_s: f64,
    /// Events received per second by each subscriber node.
    pub received_per_s: f64,
    /// Events of a burst a subscriber node lost.
    pub lost: f64,
    /// Paced publish→remote delivery, µs.
    pub p50_us: f64,
    /// Its p99, µs.
    pub p99_us: f64,
}

/// The async paced scenario at one task count: latency quantiles in ns
/// and process CPU ns per delivery (`None` where the bench printed `-`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AsyncPaced {
    /// p50 publish→receive, ns.
    pub p50: Option<f64>,
    /// p99, ns.
    pub p99: Option<f64>,
    /// p99.9, ns.
    pub p999: Option<f64>,
    /// Process CPU ns per delivery.
    pub cpu: Option<f64>,
}

/// Adds the `perf\t...` lines of one bench's `output` to `into`; other
/// lines, and lines whose numbers do not parse, are ignored.
pub fn parse(output: &str, into: &mut Measured) {
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
            ["perf", "async_flood", library, tasks, median, min, max] => {
                if let (Ok(tasks), Ok(median), Ok(min), Ok(max)) =
                    (tasks.parse(), median.parse(), min.parse(), max.parse())
                {
                    into.async_flood
                        .insert(((*library).to_owned(), tasks), (median, min, max));
                }
            }
            ["perf", "async_paced", library, tasks, p50, p99, p999, cpu] => {
                if let Ok(tasks) = tasks.parse() {
                    let paced = AsyncPaced {
                        p50: p50.parse().ok(),
                        p99: p99.parse().ok(),
                        p999: p999.parse().ok(),
                        cpu: cpu.parse().ok(),
                    };
                    into.async_paced
                        .insert(((*library).to_owned(), tasks), paced);
                }
            }
            ["perf", "ratio", key, value] => {
                if let Ok(value) = value.parse() {
                    into.ratios.insert((*key).to_owned(), value);
                }
            }
            ["perf", "scaling", rest @ ..] => into.scaling.add(rest),
            ["perf", "fleet", figures @ ..] => {
                let numbers: Vec<f64> = figures.iter().filter_map(|f| f.parse().ok()).collect();
                if let [raw, bridge, received, lost, p50, p99] = numbers[..] {
                    into.fleet = Some(Fleet {
                        raw_per_s: raw * 1e3,
                        bridge_per_s: bridge * 1e3,
                        received_per_s: received * 1e3,
                        lost,
                        p50_us: p50,
                        p99_us: p99,
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AsyncPaced, Measured, parse};

    #[test]
    fn reads_every_kind_of_line_and_skips_the_rest() {
        let mut m = Measured::default();
        parse(
            "case  soa  classic\n\
             perf\tfanout\tron-bus soa\t4\t12.5\n\
             perf\tlatency\tron-bus soa\t900\t4000\n\
             perf\tpublish\tron-bus soa\tidle\t3.25\n\
             perf\tratio\tsoa_publish_many_gain\t2.3\n\
             perf\tratio\tbroken\tnot-a-number\n",
            &mut m,
        );
        assert_eq!(m.fanout.get(&("ron-bus soa".into(), 4)), Some(&12.5));
        assert_eq!(m.latency.get("ron-bus soa"), Some(&(900.0, 4000.0)));
        assert_eq!(
            m.publish.get(&("ron-bus soa".into(), "idle".into())),
            Some(&3.25)
        );
        assert_eq!(m.ratios.get("soa_publish_many_gain"), Some(&2.3));
        assert_eq!(m.ratios.len(), 1);
    }

    #[test]
    fn reads_the_fleet_line_in_thousands_per_second() {
        let mut m = Measured::default();
        parse(
            "perf\tfleet\t696.7\t584.1\t405.1\t11355\t93.4\t196.4\n",
            &mut m,
        );
        let fleet = m.fleet.unwrap();
        assert_eq!(fleet.raw_per_s, 696_700.0);
        assert_eq!(fleet.bridge_per_s, 584_100.0);
        assert_eq!(
            (fleet.lost, fleet.p50_us, fleet.p99_us),
            (11355.0, 93.4, 196.4)
        );
        let mut short = Measured::default();
        parse("perf\tfleet\t1\t2\n", &mut short);
        assert!(short.fleet.is_none());
    }

    #[test]
    fn reads_the_async_lines_and_a_dash_as_not_measured() {
        let mut m = Measured::default();
        parse(
            "perf\tasync_flood\tron-bus soa\t16\t30.5\t12.0\t41.25\n\
             perf\tasync_paced\tron-bus soa\t256\t9000\t80000\t150000\t95.5\n\
             perf\tasync_paced\tflume\t1\t9000\t80000\t150000\t-\n",
            &mut m,
        );
        assert_eq!(
            m.async_flood.get(&("ron-bus soa".into(), 16)),
            Some(&(30.5, 12.0, 41.25))
        );
        assert_eq!(
            m.async_paced.get(&("ron-bus soa".into(), 256)),
            Some(&AsyncPaced {
                p50: Some(9000.0),
                p99: Some(80000.0),
                p999: Some(150000.0),
                cpu: Some(95.5),
            })
        );
        assert_eq!(m.async_paced.get(&("flume".into(), 1)).unwrap().cpu, None);
    }
}
