//! Short human text for a run's report: the history describer of the
//! checker (one way to print a request everywhere), the operation a
//! violation is about, and simulated times.

use checker::Violation;
use checker::history::History;
pub use checker::history::describe::{
    event, key, key_value, request, request_key, response, result, span, value, watch_request,
};

/// The "first differing operation" of a violation, as the dashboard groups
/// failures by it: the first operation it names, as its request kind and key
/// (`put /a`); for a violation naming no operation, its watch's span
/// (`watch /pods/*`); otherwise `-`.
pub fn first_difference(v: &Violation, history: &History) -> String {
    if let Some(op) = v.operations.first().and_then(|&id| history.operation(id)) {
        return format!("{} {}", op.request.kind(), request_key(&op.request));
    }
    if let Some(w) = v
        .watch
        .and_then(|id| history.watches.iter().find(|w| w.id == id))
    {
        return format!("watch {}", span(&w.request.key, &w.request.range_end));
    }
    "-".to_string()
}

/// Simulated nanoseconds as seconds with microseconds: `12.345678s`.
pub fn seconds(ns: u64) -> String {
    format!("{:.6}s", ns as f64 / 1e9)
}

/// A duration in the most readable unit: `850µs`, `12.3ms`, `4.20s`.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{}µs", ns / 1000)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}s", ns as f64 / 1e9)
    }
}
