//! Linearizability of an etcd history, and the linearized history the other
//! rules check against.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::lin_class;
use crate::anomaly::Anomaly;
use crate::history::History;
use crate::linearizable::{CheckOutput, Linearizability, SearchLimits, check};
use crate::models::etcd::{EtcdInput, LinearizedHistory, PreparedHistory, prepare};
use crate::options::CheckOptions;
use crate::report::{PropertyResult, SearchSummary, Verdict, Violation};
use crate::rules::{ERRORS_NO_FALSE_REFUSAL, LINEARIZABILITY};

pub struct EtcdLinearizability {
    pub result: PropertyResult,
    /// The linearized history, or why there is none.
    pub linearized: Result<LinearizedHistory, String>,
    pub summary: SearchSummary,
    /// Refusals of state that no linearization of the answered operations
    /// justifies (rule errors.no-false-refusal), found when the whole
    /// history is not linearizable but its answered operations are.
    pub false_refusals: Option<Violation>,
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
    let started = Instant::now();
    let prepared = prepare(history);
    let out = search(&prepared, history, options, started, 3);
    let (verdict, linearized) = judge(&prepared, history, &out);
    let mut stats = summary(&prepared, &out, started);
    // A history the answered operations fit but its refusals of state do
    // not: the refusals are what is wrong, and they are rule
    // errors.no-false-refusal's, not linearizability's.
    if let Verdict::Fail(violation) = &verdict
        && let Some(answered) = without_state_refusals(history)
    {
        let prepared_answered = prepare(&answered);
        let again = search(&prepared_answered, &answered, options, started, 1);
        if let (Verdict::Pass, Ok(lin)) = judge(&prepared_answered, &answered, &again) {
            stats = summary(&prepared, &again, started);
            return EtcdLinearizability {
                result: PropertyResult {
                    property: LINEARIZABILITY.to_string(),
                    verdict: Verdict::Pass,
                },
                linearized: Ok(lin),
                summary: stats,
                false_refusals: Some(false_refusals(history, violation)),
            };
        }
    }
    EtcdLinearizability {
        result: PropertyResult {
            property: LINEARIZABILITY.to_string(),
            verdict,
        },
        linearized,
        summary: stats,
        false_refusals: None,
    }
}

/// The history without its refusals of state (compacted, future revision,
/// lease not found), or None when it has none.
fn without_state_refusals(history: &History) -> Option<History> {
    if !history
        .operations
        .iter()
        .any(|op| op.result.is_state_refusal())
    {
        return None;
    }
    Some(History {
        operations: history
            .operations
            .iter()
            .filter(|op| !op.result.is_state_refusal())
            .cloned()
            .collect(),
        watches: history.watches.clone(),
        annotations: history.annotations.clone(),
        recorded: history.recorded,
        issuer: history.issuer,
    })
}

/// The refusals no linearization justifies: those among the operations
/// the failed search named, with its explanation.
fn false_refusals(history: &History, failed: &Violation) -> Violation {
    let refusals: Vec<u64> = history
        .operations
        .iter()
        .filter(|op| op.result.is_state_refusal())
        .map(|op| op.id)
        .collect();
    let named: Vec<u64> = failed
        .operations
        .iter()
        .copied()
        .filter(|id| refusals.contains(id))
        .collect();
    let stuck = failed
        .details
        .get("stuck_operation")
        .and_then(|v| v.as_u64());
    Violation {
        at: None,
        rule: ERRORS_NO_FALSE_REFUSAL.to_string(),
        explanation: format!(
            "every answered operation fits a linearization, but with the {} refusals of state ({}) none does: {}",
            refusals.len(),
            if named.is_empty() {
                "which of them is wrong is not known".to_string()
            } else {
                format!(
                    "operation{} {} among them",
                    if named.len() == 1 { "" } else { "s" },
                    named
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            failed.explanation
        ),
        operations: if named.is_empty() {
            refusals.clone()
        } else {
            named
        },
        watch: None,
        longest_prefix: failed.longest_prefix.clone(),
        details: json!({
            "stuck_operation": stuck,
            "refusals_of_state": refusals.len(),
        }),
        class: Some(Anomaly::FalseRefusal),
        subject: Default::default(),
    }
}

/// First an order that agrees with what the watches saw where the history
/// leaves the choice to the search (unknown writes, expiries); when there
/// is none, any order, and the watch rules judge the watches. The first
/// search may take `1/share` of the time left.
fn search(
    prepared: &PreparedHistory<'_>,
    history: &History,
    options: &CheckOptions,
    started: Instant,
    share: u32,
) -> CheckOutput {
    let limits = |share: u32| SearchLimits {
        deadline: search_deadline(started, Instant::now(), options.timeout, share),
        memory_bound_bytes: options.memory_bound_bytes,
    };
    let heeding = (!history.watches.is_empty()).then(|| {
        let model = prepared.model.heeding_watches();
        let out = check(&model, &prepared.ops, false, &limits(share), history.issuer);
        log_search("heeding the watches", &out, started);
        out
    });
    match heeding {
        Some(out) if matches!(out.result, Linearizability::Linearizable { .. }) => out,
        _ => {
            let out = check(
                &prepared.model,
                &prepared.ops,
                false,
                &limits(1),
                history.issuer,
            );
            log_search("in any order", &out, started);
            out
        }
    }
}

fn summary(prepared: &PreparedHistory<'_>, out: &CheckOutput, started: Instant) -> SearchSummary {
    SearchSummary {
        operations: prepared.first_synthetic,
        partitions: out.partitions,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        iterations: out.stats.iterations,
        backtracks: out.stats.backtracks,
        cache_entries: out.stats.cache_entries,
        peak_bytes: out.stats.peak_bytes,
    }
}

/// What a search's outcome means: the verdict, and the linearized history
/// or why there is none.
fn judge(
    prepared: &PreparedHistory<'_>,
    history: &History,
    out: &CheckOutput,
) -> (Verdict, Result<LinearizedHistory, String>) {
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
    match &out.result {
        Linearizability::Linearizable { order } => {
            match LinearizedHistory::build(prepared, order) {
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
                at: None,
                rule: LINEARIZABILITY.to_string(),
                explanation: c.explanation.clone(),
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
                class: None,
                subject: Default::default(),
            };
            // The stuck operation first, then those concurrent with it.
            let mut named: Vec<u64> = c.stuck.map(|i| prepared.ops[i].id).into_iter().collect();
            named.extend(&violation.operations);
            let violation = violation.classed(lin_class::classify(history, &named));
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
                real(longest_prefix).len(),
                prepared.first_synthetic
            );
            (Verdict::Unknown(text.clone()), Err(text))
        }
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
