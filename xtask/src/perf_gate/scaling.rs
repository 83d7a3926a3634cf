//! The scaling table ("How cost grows"): the `perf\tscaling\t...` lines of
//! `benches/scaling.rs`, read into [`Scaling`] and rendered for the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{CLASSIC, SOA};

/// The scaling bench's figures: (measure, at, library) → value.
#[derive(Default)]
pub struct Scaling {
    values: BTreeMap<(String, u64, String), f64>,
}

/// How a row's values read.
#[derive(Clone, Copy)]
enum Unit {
    Ns,
    PerSecond,
    Bytes,
}

/// One kind of row: the bench's measure key, what the table calls it (`n`
/// stands for the `n` column), whether it has points (else it is one
/// figure, and `n` is blank), and how its values read.
struct Row {
    measure: &'static str,
    label: &'static str,
    by_n: bool,
    unit: Unit,
}

const fn row(measure: &'static str, label: &'static str, by_n: bool, unit: Unit) -> Row {
    Row {
        measure,
        label,
        by_n,
        unit,
    }
}

/// The table's rows, in order (one line per point the bench measured).
#[rustfmt::skip]
const ROWS: [Row; 10] = [
    row("publish_idle_ns",           "publish, n idle subscribers",                             true,  Unit::Ns),
    row("publish_one_mask_ns",       "publish to one mask's topic, n distinct masks",           true,  Unit::Ns),
    row("publish_every_mask_ns",     "publish to every topic, n distinct masks",                true,  Unit::Ns),
    row("churn_per_s",               "subscribe + drop while publishing, n subscribers held",   true,  Unit::PerSecond),
    row("churn_publish_per_s",       "publishes meanwhile, n subscribers held",                 true,  Unit::PerSecond),
    row("churn_narrow_per_s",        "subscribe + drop of a mask's only subscriber",            false, Unit::PerSecond),
    row("heap_bytes_per_subscriber", "heap per subscriber",                                     false, Unit::Bytes),
    row("receiver_bytes",            "receiver handle (size_of)",                               false, Unit::Bytes),
    row("bytes_per_slot",            "per ring slot (u64 payload)",                             false, Unit::Bytes),
    row("bytes_per_mask",            "per distinct narrow mask (capacity 1024)",                false, Unit::Bytes),
];

impl Scaling {
    /// Adds one line's fields after `perf\tscaling`: library, measure, at,
    /// value; fields that do not parse are ignored.
    pub fn add(&mut self, fields: &[&str]) {
        if let [library, measure, at, value] = fields
            && let (Ok(at), Ok(value)) = (at.parse(), value.parse())
        {
            self.values
                .insert(((*measure).to_owned(), at, (*library).to_owned()), value);
        }
    }

    /// The markdown table: one line per measure and point, a column per
    /// backend; empty when the bench did not run.
    pub fn table(&self) -> String {
        if self.values.is_empty() {
            return String::new();
        }
        let mut out = format!("| measure | n | {SOA} | {CLASSIC} |\n|---|---|---|---|\n");
        for row in &ROWS {
            let mut points: Vec<u64> = self
                .values
                .keys()
                .filter(|(measure, _, _)| measure == row.measure)
                .map(|(_, at, _)| *at)
                .collect();
            points.dedup();
            for at in points {
                let cell = |library: &str| {
                    self.values
                        .get(&(row.measure.to_owned(), at, library.to_owned()))
                        .map_or_else(|| "-".to_owned(), |v| format_value(*v, row.unit))
                };
                let point = if row.by_n {
                    at.to_string()
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {} | {point} | {} | {} |",
                    row.label,
                    cell(SOA),
                    cell(CLASSIC)
                );
            }
        }
        out
    }
}

fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ns => format!("{value:.1} ns"),
        Unit::PerSecond if value >= 1e6 => format!("{:.2} M/s", value / 1e6),
        Unit::PerSecond => format!("{:.0} k/s", value / 1e3),
        Unit::Bytes => format!("{value:.0} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::Scaling;

    #[test]
    fn reads_lines_and_renders_a_row_per_point() {
        let mut s = Scaling::default();
        s.add(&["ron-bus soa", "publish_idle_ns", "1", "5.5"]);
        s.add(&["ron-bus soa", "publish_idle_ns", "4096", "6.5"]);
        s.add(&["ron-bus classic", "publish_idle_ns", "1", "30"]);
        s.add(&["ron-bus soa", "churn_per_s", "1", "2500000"]);
        s.add(&["ron-bus classic", "bytes_per_slot", "0", "48"]);
        s.add(&["ron-bus soa", "bytes_per_slot", "zero", "48"]);
        let table = s.table();
        assert!(table.contains("| publish, n idle subscribers | 1 | 5.5 ns | 30.0 ns |"));
        assert!(table.contains("| publish, n idle subscribers | 4096 | 6.5 ns | - |"));
        assert!(table.contains(
            "| subscribe + drop while publishing, n subscribers held | 1 | 2.50 M/s | - |"
        ));
        assert!(table.contains("| per ring slot (u64 payload) |  | - | 48 B |"));
        assert_eq!(table.lines().count(), 2 + 4);
    }

    #[test]
    fn no_figures_no_table() {
        assert!(Scaling::default().table().is_empty());
    }
}
