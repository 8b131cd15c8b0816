//! Which injected faults were on when a violation happened: the fault
//! annotations of the history whose span (to their heal plus the settle
//! time, or to the end if they never healed) meets the violation's
//! evidence. Reports show them beside a problem; they never split one
//! (the same bug shows up under many faults).

use std::collections::BTreeSet;

use crate::check::requests::SETTLE_NS;
use crate::history::History;
use crate::report::Violation;

/// When the evidence of `v` happened, as a span of run time: its own
/// moment if the store reported one, else from the first call to the last
/// return of its operations and the life of its watch. `None` when nothing
/// places it (an end-state rule: the run had healed every fault by then).
pub fn evidence_span(v: &Violation, history: &History) -> Option<(u64, u64)> {
    if let Some(at) = v.at {
        return Some((at, at));
    }
    let mut span: Option<(u64, u64)> = None;
    let mut widen = |from: u64, to: u64| {
        span = Some(match span {
            None => (from, to),
            Some((a, b)) => (a.min(from), b.max(to)),
        });
    };
    for id in &v.operations {
        if let Ok(i) = history.operations.binary_search_by_key(id, |o| o.id) {
            let op = &history.operations[i];
            widen(op.call, op.ret.unwrap_or(op.call));
        }
    }
    if let Some(w) = v
        .watch
        .and_then(|id| history.watches.iter().find(|w| w.id == id))
    {
        let last = w.responses.last().map_or(w.created, |r| r.at);
        widen(w.created, last);
    }
    span
}

/// The kinds of the faults on during `v`'s evidence (sorted, each once).
pub fn faults_active(v: &Violation, history: &History) -> Vec<String> {
    let Some((from, to)) = evidence_span(v, history) else {
        return Vec::new();
    };
    let kinds: BTreeSet<&str> = history
        .annotations
        .iter()
        .filter(|a| a.is_fault())
        .filter(|a| {
            let end = a.end.map_or(u64::MAX, |e| e.saturating_add(SETTLE_NS));
            a.at <= to && from <= end
        })
        .filter_map(|a| a.kind.as_deref())
        .collect();
    kinds.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Annotation, EtcdError, OpResult, Operation, Request, TxnRequest};

    fn fault(at: u64, end: Option<u64>, kind: &str) -> Annotation {
        Annotation {
            at,
            end,
            source: Annotation::FAULT.into(),
            text: format!("{kind} m1"),
            kind: Some(kind.into()),
        }
    }

    fn op(id: u64, call: u64, ret: u64) -> Operation {
        Operation {
            id,
            client: 1,
            call,
            ret: Some(ret),
            request: Request::Txn(TxnRequest::default()),
            result: OpResult::Fail(EtcdError::Other("timeout".into())),
            k8s: None,
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_faults_on_during_the_evidence_and_shortly_after_a_heal_count() {
        let history = History {
            operations: vec![op(1, 10 * S, 11 * S), op(2, 20 * S, 21 * S)],
            annotations: vec![
                fault(0, Some(5 * S), "crash"),
                fault(9 * S, Some(10 * S), "isolate"),
                fault(15 * S, None, "pause"),
                Annotation {
                    at: 10 * S,
                    source: "not-applied".into(),
                    text: "member_replace: ...".into(),
                    ..Annotation::default()
                },
            ],
            ..History::default()
        };
        let v = Violation {
            operations: vec![1],
            ..Violation::default()
        };
        assert_eq!(faults_active(&v, &history), vec!["isolate".to_string()]);
        let v = Violation {
            operations: vec![1, 2],
            ..Violation::default()
        };
        assert_eq!(faults_active(&v, &history), vec!["isolate", "pause"]);
        let v = Violation {
            at: Some(3 * S),
            ..Violation::default()
        };
        assert_eq!(faults_active(&v, &history), vec!["crash"]);
        assert!(faults_active(&Violation::default(), &history).is_empty());
    }
}
