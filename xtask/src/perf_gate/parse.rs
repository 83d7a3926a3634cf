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
    /// The scaling bench's figures (`perf\tscaling\t...`).
    pub scaling: super::scaling::Scaling,
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
            ["perf", "ratio", key, value] => {
                if let Ok(value) = value.parse() {
                    into.ratios.insert((*key).to_owned(), value);
                }
            }
            ["perf", "scaling", rest @ ..] => into.scaling.add(rest),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Measured, parse};

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
}
