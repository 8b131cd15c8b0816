//! How the client requests fared, and rule `errors.kind-answered`: a store
//! that fails every request of one kind with an error that says nothing
//! (no leader, too many requests, ...) breaks no other rule, since such a
//! failure is taken to mean "did not happen". Away from faults, a correct
//! store answers; so a kind sent often enough away from faults and never
//! answered is a failure of the store.

use serde_json::json;

use super::{Context, verdict, violation};
use crate::history::{Annotation, EtcdError, History, OpResult, Operation};
use crate::report::{PropertyResult, RequestTally};
use crate::rules::ERRORS_KIND_ANSWERED;

/// How long after a fault healed a request still counts as near it: the
/// cluster may need an election to serve again.
pub const SETTLE_NS: u64 = 1_000_000_000;

/// How long the cluster may take to form at the start of a run (members
/// not yet listening, no leader yet).
pub const STARTUP_NS: u64 = 2_000_000_000;

/// Fewer fault-free requests of a kind than this say nothing about it.
pub const MIN_FAULT_FREE: usize = 5;

/// The fault windows of a history, widened by the settle time, and the
/// run's first [`STARTUP_NS`] (the cluster forms: no leader yet, members
/// not yet listening).
pub(crate) struct FaultWindows(Vec<(u64, u64)>);

impl FaultWindows {
    pub(crate) fn of(annotations: &[Annotation]) -> Self {
        let faults = annotations.iter().filter(|a| a.is_fault()).map(|a| {
            (
                a.at,
                a.end.map_or(u64::MAX, |e| e.saturating_add(SETTLE_NS)),
            )
        });
        FaultWindows(std::iter::once((0, STARTUP_NS)).chain(faults).collect())
    }

    /// Whether `[from, to)` meets no window: a request is away from faults
    /// only if none began while it was in flight either.
    pub(crate) fn free_during(&self, from: u64, to: u64) -> bool {
        !self
            .0
            .iter()
            .any(|&(start, end)| start < to.max(from.saturating_add(1)) && from < end)
    }

    fn free_for(&self, op: &Operation) -> bool {
        self.free_during(op.call, op.ret.unwrap_or(u64::MAX))
    }
}

/// Whether an operation got an answer: a success, or a definite error that
/// names a reason in the request or the state (judged by
/// `errors.no-false-refusal`).
fn answered(op: &Operation) -> bool {
    match &op.result {
        OpResult::Ok(_) => true,
        OpResult::Fail(e) => !matches!(e, EtcdError::Other(_)),
        OpResult::Unknown(_) => false,
    }
}

fn tally(history: &History, windows: &FaultWindows) -> RequestTally {
    let mut t = RequestTally::default();
    for op in &history.operations {
        let kind = t.kinds.entry(op.request.kind().to_string()).or_default();
        kind.sent += 1;
        match &op.result {
            OpResult::Ok(_) => kind.ok += 1,
            OpResult::Fail(_) if answered(op) => kind.refused += 1,
            OpResult::Fail(_) => kind.failed += 1,
            OpResult::Unknown(_) => kind.unknown += 1,
        }
        if windows.free_for(op) {
            kind.fault_free += 1;
            t.fault_free += 1;
            if answered(op) {
                kind.fault_free_answered += 1;
            } else {
                t.fault_free_failed += 1;
            }
        }
    }
    t
}

/// How the requests fared, and the rule: every kind sent at least
/// [`MIN_FAULT_FREE`] times away from faults (from its call to its return)
/// got at least one answer there.
pub(crate) fn check(ctx: &Context<'_>) -> (RequestTally, PropertyResult) {
    let windows = FaultWindows::of(&ctx.history.annotations);
    let tally = tally(ctx.history, &windows);
    let violations = tally
        .kinds
        .iter()
        .filter(|(_, k)| k.fault_free >= MIN_FAULT_FREE && k.fault_free_answered == 0)
        .map(|(kind, k)| {
            let ops: Vec<&Operation> = ctx
                .history
                .operations
                .iter()
                .filter(|op| op.request.kind() == kind && windows.free_for(op))
                .collect();
            let first_error = ops
                .first()
                .map(|op| crate::history::describe::result(&op.result));
            let v = violation(
                ERRORS_KIND_ANSWERED,
                format!(
                    "none of the {} {kind} requests sent away from faults was answered (first: {})",
                    k.fault_free,
                    first_error.unwrap_or_default()
                ),
                ops.iter().take(20).map(|op| op.id).collect(),
                None,
                json!({"kind": kind, "fault_free": k.fault_free, "sent": k.sent, "ok": k.ok}),
            );
            // The kind never answered is what the problem is about.
            match ops.first() {
                Some(op) => v.about_request(op.request.kind()),
                None => v,
            }
        })
        .collect();
    let result = verdict(ERRORS_KIND_ANSWERED, violations, ctx.options.max_reported);
    (tally, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Request, Response, TxnRequest, TxnResponse};

    fn op(id: u64, call: u64, result: OpResult) -> Operation {
        Operation {
            id,
            client: 1,
            call,
            ret: Some(call + 1),
            request: Request::Txn(TxnRequest::default()),
            result,
            k8s: None,
        }
    }

    fn refused() -> OpResult {
        OpResult::Fail(EtcdError::Other("etcdserver: too many requests".into()))
    }

    #[test]
    fn failures_inside_a_fault_or_its_settle_time_are_not_fault_free() {
        let s = 1_000_000_000;
        let history = History {
            operations: vec![
                op(1, 6 * s, refused()),
                op(2, 12 * s, refused()),
                op(3, 13 * s + s / 2, refused()),
                op(
                    4,
                    22 * s,
                    OpResult::Ok(Response::Txn(TxnResponse::default())),
                ),
                // While the cluster forms.
                op(5, s, refused()),
            ],
            watches: vec![],
            annotations: vec![Annotation {
                kind: None,
                at: 11 * s,
                end: Some(13 * s),
                source: Annotation::FAULT.into(),
                text: "partition".into(),
            }],
            ..Default::default()
        };
        let t = tally(&history, &FaultWindows::of(&history.annotations));
        // 2 (inside) and 3 (half a second after the heal) are near the fault.
        assert_eq!((t.fault_free, t.fault_free_failed), (2, 1));
        let k = t.kinds["txn"];
        assert_eq!(
            (k.sent, k.ok, k.failed, k.fault_free_answered),
            (5, 1, 4, 1)
        );
    }

    #[test]
    fn a_fault_that_never_healed_covers_the_rest_of_the_run() {
        let windows = FaultWindows::of(&[Annotation {
            kind: None,
            at: 3 * STARTUP_NS,
            end: None,
            source: Annotation::FAULT.into(),
            text: "kill m1".into(),
        }]);
        assert!(!windows.free_during(STARTUP_NS - 1, STARTUP_NS));
        assert!(windows.free_during(STARTUP_NS, STARTUP_NS + 1));
        assert!(!windows.free_during(3 * STARTUP_NS, 3 * STARTUP_NS));
        // In flight when the fault began.
        assert!(!windows.free_during(3 * STARTUP_NS - 5, 3 * STARTUP_NS + 5));
        assert!(windows.free_during(3 * STARTUP_NS - 5, 3 * STARTUP_NS));
        assert!(!windows.free_during(u64::MAX - 1, u64::MAX));
    }
}
