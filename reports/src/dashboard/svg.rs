//! The dashboard's plots as inline SVG: horizontal bars of runs with their
//! failures, daily bars over time, and median/worst ranges for the hunt table.

use crate::html::escape;

use super::stats::Tally;

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 210.0;
const VALUE_W: f64 = 150.0;
const ROW_H: f64 = 20.0;
const TOP: f64 = 26.0;

fn open(height: f64, width: f64, caption: &str) -> String {
    format!(
        "<svg class=\"plot\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"{c}\">\n<title>{c}</title>\n<text x=\"0\" y=\"15\" class=\"caption\">{c}</text>\n",
        c = escape(caption)
    )
}

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(max - 1).collect::<String>())
    }
}

/// One row per label: a grey bar for its runs and a red bar for its failures.
pub(crate) fn run_bars(caption: &str, rows: &[(String, Tally)]) -> String {
    let height = TOP + ROW_H * rows.len().max(1) as f64 + 8.0;
    let mut out = open(height, WIDTH, caption);
    let max = rows.iter().map(|(_, t)| t.runs).max().unwrap_or(0).max(1) as f64;
    let area = WIDTH - LABEL_W - VALUE_W;
    if rows.is_empty() {
        out.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" class=\"muted\">no runs</text>\n",
            TOP + 14.0
        ));
    }
    for (i, (label, t)) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let runs_w = area * t.runs as f64 / max;
        let fail_w = area * t.failures as f64 / max;
        let tip = escape(&format!(
            "{label}: {} runs, {} failed, {} undecided",
            t.runs, t.failures, t.unknown
        ));
        out.push_str(&format!(
            "<g><title>{tip}</title><text x=\"{:.0}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text>\
<rect x=\"{LABEL_W:.0}\" y=\"{:.1}\" width=\"{runs_w:.1}\" height=\"14\" class=\"runs\"/>\
<rect x=\"{LABEL_W:.0}\" y=\"{:.1}\" width=\"{fail_w:.1}\" height=\"14\" class=\"failures\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{} runs{}</text></g>\n",
            LABEL_W - 6.0,
            y + 11.5,
            escape(&short(label, 30)),
            y,
            y,
            LABEL_W + runs_w + 6.0,
            y + 11.5,
            t.runs,
            if t.failures > 0 {
                format!(", {} failed", t.failures)
            } else {
                String::new()
            }
        ));
    }
    out.push_str("</svg>\n");
    out
}

/// One column per day: runs in grey, failures in red, counts above.
pub(crate) fn day_bars(caption: &str, days: &[(String, Tally)]) -> String {
    let col = 44.0;
    let left = 40.0;
    let chart_h = 150.0;
    let width = (left + col * days.len().max(1) as f64 + 20.0).max(360.0);
    let height = TOP + chart_h + 40.0;
    let mut out = open(height, width, caption);
    let max = days.iter().map(|(_, t)| t.runs).max().unwrap_or(0).max(1) as f64;
    let base = TOP + chart_h;
    out.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{:.0}\" y2=\"{base}\" class=\"axis\"/>\
<text x=\"{:.0}\" y=\"{:.0}\" class=\"value\" text-anchor=\"end\">{}</text>\
<text x=\"{:.0}\" y=\"{base}\" class=\"value\" text-anchor=\"end\">0</text>\n",
        width - 10.0,
        left - 4.0,
        TOP + 10.0,
        max as usize,
        left - 4.0
    ));
    for (i, (day, t)) in days.iter().enumerate() {
        let x = left + col * i as f64 + 6.0;
        let runs_h = chart_h * t.runs as f64 / max;
        let fail_h = chart_h * t.failures as f64 / max;
        let tip = escape(&format!(
            "{day}: {} runs, {} failed, {} undecided",
            t.runs, t.failures, t.unknown
        ));
        out.push_str(&format!(
            "<g><title>{tip}</title><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.0}\" height=\"{runs_h:.1}\" class=\"runs\"/>\
<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.0}\" height=\"{fail_h:.1}\" class=\"failures\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" class=\"count\" text-anchor=\"middle\">{}</text>\
<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\" text-anchor=\"middle\">{}</text></g>\n",
            base - runs_h,
            col - 12.0,
            base - fail_h,
            col - 12.0,
            x + (col - 12.0) / 2.0,
            base - runs_h - 3.0,
            t.failures,
            x + (col - 12.0) / 2.0,
            base + 14.0,
            escape(day.get(5..).unwrap_or(day))
        ));
    }
    out.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.0}\" class=\"muted\">grey: runs; red: failures (count above each day)</text>\n</svg>\n",
        base + 32.0
    ));
    out
}

/// A hunt row for [`hunt_bars`]: (bug, found, hunts, median s, worst s).
pub(crate) type HuntBar = (String, u64, u64, Option<f64>, Option<f64>);

/// One row per bug: the median time to find it as a bar, the worst as a whisker.
pub(crate) fn hunt_bars(caption: &str, rows: &[HuntBar]) -> String {
    let height = TOP + ROW_H * rows.len().max(1) as f64 + 8.0;
    let mut out = open(height, WIDTH, caption);
    let max = rows
        .iter()
        .filter_map(|r| r.4.or(r.3))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let area = WIDTH - LABEL_W - VALUE_W - 40.0;
    for (i, (bug, found, hunts, median, worst)) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let mut shapes = String::new();
        if let Some(m) = median {
            shapes.push_str(&format!(
                "<rect x=\"{LABEL_W:.0}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" class=\"median\"/>",
                y,
                area * m / max
            ));
        }
        if let Some(w) = worst {
            let x = LABEL_W + area * w / max;
            shapes.push_str(&format!(
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"whisker\"/>\
<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"whisker\"/>",
                LABEL_W + area * median.unwrap_or(0.0) / max,
                y + 7.0,
                y + 7.0,
                y + 2.0,
                y + 12.0
            ));
        }
        let value = match (median, worst) {
            (Some(m), Some(w)) => format!("median {m:.1}s, worst {w:.1}s, found {found}/{hunts}"),
            (Some(m), None) => format!("median {m:.1}s, found {found}/{hunts}"),
            _ => format!("not found ({found}/{hunts})"),
        };
        let x_value = LABEL_W + area * worst.or(*median).unwrap_or(0.0) / max + 6.0;
        out.push_str(&format!(
            "<g><title>{}</title><text x=\"{:.0}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text>{shapes}\
<text x=\"{x_value:.1}\" y=\"{:.1}\" class=\"value\">{}</text></g>\n",
            escape(&format!("{bug}: {value}")),
            LABEL_W - 6.0,
            y + 11.5,
            escape(&short(bug, 30)),
            y + 11.5,
            escape(&value)
        ));
    }
    out.push_str("</svg>\n");
    out
}

/// One exploration's growth: (run, distinct features, corpus entries)
/// after each merged run.
pub(crate) type Growth = (String, Vec<(u64, u64, u64)>);

/// Distinct features (solid) and corpus entries (dashed) over the runs of
/// each exploration, on shared axes: where the lines flatten, the explorer
/// stopped finding new states.
pub(crate) fn growth_lines(caption: &str, series: &[Growth]) -> String {
    const H: f64 = 220.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 24.0;
    let plot_w = WIDTH - LEFT - 170.0;
    let plot_h = H - TOP - BOTTOM;
    let mut out = open(H, WIDTH, caption);
    let max_run = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0 + 1))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_y = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1.max(q.2)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |run: u64| LEFT + plot_w * (run + 1) as f64 / max_run;
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / max_y);
    out.push_str(&format!(
        "<line x1=\"{LEFT:.0}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>\
<line x1=\"{LEFT:.0}\" y1=\"{TOP:.0}\" x2=\"{LEFT:.0}\" y2=\"{:.1}\" class=\"axis\"/>\
<text x=\"{:.0}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{max_y:.0}</text>\
<text x=\"{:.0}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">0</text>\
<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{max_run:.0} runs</text>\n",
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h,
        TOP + plot_h,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
        TOP + plot_h,
        LEFT + plot_w,
        H - 6.0,
    ));
    for (i, (label, points)) in series.iter().enumerate() {
        let line = |pick: fn(&(u64, u64, u64)) -> u64| {
            points
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.0), y(pick(p))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let last = points.last().copied().unwrap_or_default();
        let tip = escape(&format!(
            "{label}: {} features and {} corpus entries after {} runs",
            last.1,
            last.2,
            points.len()
        ));
        let style = i % 6;
        out.push_str(&format!(
            "<g><title>{tip}</title><polyline points=\"{}\" class=\"growth s{style}\"/>\
<polyline points=\"{}\" class=\"growth corpus s{style}\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{}: {} features, {} kept</text></g>\n",
            line(|p| p.1),
            line(|p| p.2),
            LEFT + plot_w + 6.0,
            TOP + 12.0 + 14.0 * i as f64,
            escape(&short(label, 14)),
            last.1,
            last.2
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_lines_draw_both_series_of_each_exploration() {
        let svg = growth_lines(
            "growth",
            &[
                ("a".into(), vec![(0, 10, 1), (1, 14, 2), (2, 14, 2)]),
                ("b<".into(), vec![(0, 5, 1)]),
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("a: 14 features, 2 kept"));
        assert!(svg.contains("b&lt;"), "labels are escaped");
        assert!(!growth_lines("empty", &[]).contains("<polyline"));
    }

    #[test]
    fn bars_scale_to_the_largest_row() {
        let rows = vec![
            (
                "default".to_string(),
                Tally {
                    runs: 10,
                    failures: 5,
                    unknown: 0,
                },
            ),
            (
                "<partitions>".to_string(),
                Tally {
                    runs: 5,
                    failures: 0,
                    unknown: 1,
                },
            ),
        ];
        let svg = run_bars("per scenario", &rows);
        assert!(svg.starts_with("<svg"));
        assert!(
            svg.contains("width=\"400.0\" height=\"14\" class=\"runs\""),
            "{svg}"
        );
        assert!(
            svg.contains("width=\"200.0\" height=\"14\" class=\"failures\""),
            "{svg}"
        );
        assert!(svg.contains("&lt;partitions&gt;"));
        assert!(svg.contains("10 runs, 5 failed"));
        let days = day_bars("per day", &rows);
        assert_eq!(days.matches("class=\"runs\"").count(), 2);
    }
}
