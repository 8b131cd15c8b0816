//! Linearizability of an etcd history, and the linearized history the other
//! rules check against.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::history::History;
use crate::linearizable::{CheckOutput, Linearizability, SearchLimits, check};
use crate::models::etcd::{EtcdInput, LinearizedHistory, prepare};
use crate::options::CheckOptions;
use crate::report::{PropertyResult, SearchSummary, Verdict, Violation};
use crate::rules::LINEARIZABILITY;

pub struct EtcdLinearizability {
    pub result: PropertyResult,
    /// The linearized history, or why there is none.
    pub linearized: Result<LinearizedHistory, String>,
    pub summary: SearchSummary,
}

/// When a search started at `now` must stop: after `timeout / share`, and
/// never past the whole check's time limit (`started + timeout`), which
/// both searches share (the first may take a third, the second the rest).
/// None only when the limit is too far to represent.
fn search_deadline(
    started: Instant,
    now: Instant,
    timeout: Duration,
    share: u32,
) -> Option<Instant> {
    let overall = started.checked_add(timeout);
    match (now.checked_add(timeout / share.max(1)), overall) {
        (Some(own), Some(overall)) => Some(own.min(overall)),
        (own, overall) => own.or(overall),
    }
}

/// What one search found and what it cost, for `FAULTLINE_LOG=checker=debug`.
fn log_search(order: &str, out: &CheckOutput, started: Instant) {
    tracing::debug!(
        outcome = out.result.word(),
        iterations = out.stats.iterations,
        backtracks = out.stats.backtracks,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "search {order}"
    );
}

pub fn check_linearizability(history: &History, options: &CheckOptions) -> EtcdLinearizability {
    let prepared = prepare(history);
    let started = Instant::now();
    let limits = |share: u32| SearchLimits {
        deadline: search_deadline(started, Instant::now(), options.timeout, share),
        memory_bound_bytes: options.memory_bound_bytes,
    };
    // First an order that agrees with what the watches saw where the history
    // leaves the choice to the search (unknown writes, expiries); when there
    // is none, any order, and the watch rules judge the watches.
    let heeding = (!history.watches.is_empty()).then(|| {
        let model = prepared.model.heeding_watches();
        let out = check(&model, &prepared.ops, false, &limits(3));
        log_search("heeding the watches", &out, started);
        out
    });
    let out = match heeding {
        Some(out) if matches!(out.result, Linearizability::Linearizable { .. }) => out,
        _ => {
            let out = check(&prepared.model, &prepared.ops, false, &limits(1));
            log_search("in any order", &out, started);
            out
        }
    };
    let summary = SearchSummary {
        operations: prepared.first_synthetic,
        partitions: out.partitions,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        iterations: out.stats.iterations,
        backtracks: out.stats.backtracks,
        cache_entries: out.stats.cache_entries,
        peak_bytes: out.stats.peak_bytes,
    };
    let synthetic: HashSet<u64> = prepared.ops[prepared.first_synthetic..]
        .iter()
        .map(|o| o.id)
        .collect();
    let real = |ids: &[u64]| -> Vec<u64> {
        ids.iter()
            .copied()
            .filter(|id| !synthetic.contains(id))
            .collect()
    };
    let (verdict, linearized) = match out.result {
        Linearizability::Linearizable { order } => {
            match LinearizedHistory::build(&prepared, &order) {
                Some(lin) => (Verdict::Pass, Ok(lin)),
                None => {
                    tracing::error!("a linearization found by the search does not replay");
                    let reason = "internal error: the linearization does not replay".to_string();
                    (Verdict::Unknown(reason.clone()), Err(reason))
                }
            }
        }
        Linearizability::Violation(c) => {
            let key_expiries: HashSet<u64> = prepared.ops[prepared.first_synthetic..]
                .iter()
                .filter(|o| matches!(o.input, EtcdInput::KeyExpiry { .. }))
                .map(|o| o.id)
                .collect();
            let (keys, leases): (Vec<u64>, Vec<u64>) = c
                .longest_prefix
                .iter()
                .filter(|id| synthetic.contains(id))
                .partition(|id| key_expiries.contains(id));
            let violation = Violation {
                rule: LINEARIZABILITY.to_string(),
                explanation: c.explanation,
                operations: real(&c.operations),
                watch: None,
                longest_prefix: real(&c.longest_prefix),
                details: json!({
                    "stuck_operation": c.stuck.map(|i| prepared.ops[i].id),
                    "prefix_length": c.longest_prefix.len(),
                    "lease_expiries_in_prefix": leases.len(),
                    "key_expiries_in_prefix": keys.len(),
                    "serializable_reads_left_out": prepared.skipped_serializable,
                }),
            };
            (
                Verdict::Fail(violation),
                Err("the history is not linearizable".to_string()),
            )
        }
        Linearizability::Unknown {
            reason,
            longest_prefix,
        } => {
            let text = format!(
                "{reason} after linearizing {} of {} operations",
                real(&longest_prefix).len(),
                prepared.first_synthetic
            );
            (Verdict::Unknown(text.clone()), Err(text))
        }
    };
    EtcdLinearizability {
        result: PropertyResult {
            property: LINEARIZABILITY.to_string(),
            verdict,
        },
        linearized,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_searches_stay_within_the_time_limit() {
        let started = Instant::now();
        let limit = Duration::from_secs(60);
        let first = search_deadline(started, started, limit, 3).unwrap();
        assert_eq!(first, started + Duration::from_secs(20));
        // The second search starts when the first gave up: it gets the rest.
        let second = search_deadline(started, first, limit, 1).unwrap();
        assert_eq!(second, started + limit);
        let huge = search_deadline(started, started, Duration::MAX, 1);
        assert!(huge.is_none() || huge.unwrap() >= started);
    }
}
