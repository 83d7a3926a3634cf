//! The charts: SVGs of deliveries per second against subscriber count, one
//! line per library (no plotting dependency): the fan-out to threads
//! ([`chart`]) and the async flood to tasks ([`async_chart`]).

use std::fmt::Write as _;

use super::parse::Measured;
use super::{ASYNC_LIBRARIES, LIBRARIES, SUBSCRIBERS, TASKS};

/// Deliveries per second against subscriber count, one line per library,
/// log-scale y axis (the libraries span two orders of magnitude).
pub fn chart(m: &Measured) -> String {
    let series: Vec<(&str, Vec<Option<f64>>)> = LIBRARIES
        .iter()
        .map(|lib| {
            let points = SUBSCRIBERS
                .iter()
                .map(|s| m.fanout.get(&((*lib).to_owned(), *s)).copied())
                .collect();
            (*lib, points)
        })
        .collect();
    let labels: Vec<String> = SUBSCRIBERS.iter().map(|s| format!("{s} subs")).collect();
    line_chart(
        "deliveries/s (millions, log scale) by subscribers, capacity 1024",
        &labels,
        &series,
    )
}

/// The async flood: median deliveries per second against subscriber task
/// count, one line per library, log-scale y axis.
pub fn async_chart(m: &Measured) -> String {
    let series: Vec<(&str, Vec<Option<f64>>)> = ASYNC_LIBRARIES
        .iter()
        .map(|lib| {
            let points = TASKS
                .iter()
                .map(|t| m.async_flood.get(&((*lib).to_owned(), *t)).map(|f| f.0))
                .collect();
            (*lib, points)
        })
        .collect();
    let labels: Vec<String> = TASKS
        .iter()
        .map(|t| format!("{t} {}", if *t == 1 { "task" } else { "tasks" }))
        .collect();
    line_chart(
        "async flood: deliveries/s (millions, log scale) by subscriber tasks, 2 workers",
        &labels,
        &series,
    )
}

/// One line per `(name, points)` of `series` over the x positions
/// `labels` (a missing point is skipped), log-scale y axis.
fn line_chart(title: &str, labels: &[String], series: &[(&str, Vec<Option<f64>>)]) -> String {
    const COLORS: [&str; 7] = [
        "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#ff7f0e", "#8c564b",
    ];
    let (w, h, left, right, top, bottom) = (720.0, 420.0, 70.0, 250.0, 30.0, 50.0);
    let values: Vec<f64> = series
        .iter()
        .flat_map(|(_, points)| points.iter().flatten().copied())
        .filter(|v| *v > 0.0)
        .collect();
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
    let x = |i: usize| left + (w - left - right) * i as f64 / (labels.len().max(2) - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (hi - v.max(1e-3).log10()) / (hi - lo);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"18\">{title}</text>\n"
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
    for (i, label) in labels.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            x(i),
            h - bottom + 20.0
        );
    }
    for (k, (name, points)) in series.iter().enumerate() {
        let points: Vec<String> = points
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
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
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            w - right + 15.0,
            w - right + 35.0,
            w - right + 40.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::{Measured, async_chart};

    #[test]
    fn the_async_chart_draws_one_line_per_library_and_labels_every_task_count() {
        let mut m = Measured::default();
        m.async_flood
            .insert(("ron-bus soa".into(), 4), (40.0, 3.7, 41.0));
        m.async_flood
            .insert(("ron-bus soa".into(), 16), (30.0, 20.0, 35.0));
        let svg = async_chart(&m);
        assert_eq!(
            svg.matches("<polyline").count(),
            super::ASYNC_LIBRARIES.len()
        );
        assert!(svg.contains(">1 task<"));
        assert!(
            super::TASKS[1..]
                .iter()
                .all(|t| svg.contains(&format!(">{t} tasks<")))
        );
        assert!(svg.contains(">ron-bus soa<"));
    }
}
