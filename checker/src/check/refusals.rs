//! Rule `errors.no-false-refusal`: a definite error must be one the request
//! or the store's state justifies. This module judges the refusals that
//! follow from a request's shape alone (etcd's checks before a request is
//! proposed: `api/v3rpc/key.go`, and the size limit on a proposal); the refusals that follow from the state
//! (compacted or future revision, lease not found) are judged by the
//! linearizability search, which must place each at a point where the
//! model's state gives that error.
//!
//! The checks are written here from etcd's rules, independently of any
//! store, so a store that refuses wrongly cannot also mislead the oracle.

use std::collections::BTreeSet;

use serde_json::json;

use super::request_size::encoded_size_bound;
use super::{Context, verdict, violation};
use crate::history::{
    EtcdError, History, Invalid, OpResult, PutRequest, Request, TxnOp, TxnRequest,
};
use crate::options::CheckOptions;
use crate::report::{PropertyResult, Verdict, Violation};
use crate::rules::ERRORS_NO_FALSE_REFUSAL;

/// The rule's result: the shape refusals no fault of the request explains,
/// then the state refusals no linearization explains (`state`, from the
/// linearizability check; `undecided` when that check could not decide).
pub(crate) fn check(
    ctx: &Context<'_>,
    state: Option<Violation>,
    undecided: Option<&str>,
) -> PropertyResult {
    let mut violations: Vec<Violation> = ctx
        .history
        .operations
        .iter()
        .filter_map(|op| match &op.result {
            OpResult::Fail(EtcdError::Invalid(refusal)) => {
                let faults = shape_faults(&op.request, ctx.options);
                (!faults.contains(refusal)).then(|| {
                    violation(
                        ERRORS_NO_FALSE_REFUSAL,
                        format!(
                            "operation {} ({}) was refused with \"{}\", which nothing in the request justifies{}",
                            op.id,
                            op.request.kind(),
                            refusal.message(),
                            if faults.is_empty() {
                                String::new()
                            } else {
                                format!(" (its faults: {})", names(&faults))
                            }
                        ),
                        vec![op.id],
                        None,
                        json!({"refusal": refusal, "request_faults": faults}),
                    )
                    .about_request(op.request.kind())
                })
            }
            _ => None,
        })
        .collect();
    violations.extend(no_space_refusals(ctx.history));
    violations.extend(state);
    let result = verdict(
        ERRORS_NO_FALSE_REFUSAL,
        violations,
        ctx.options.max_reported,
    );
    match (result.verdict, undecided) {
        (Verdict::Pass, Some(reason)) if has_state_refusals(ctx) => PropertyResult {
            property: ERRORS_NO_FALSE_REFUSAL.to_string(),
            verdict: Verdict::Unknown(format!(
                "the refusals that depend on the store's state were not judged: {reason}"
            )),
        },
        (verdict, _) => PropertyResult {
            property: ERRORS_NO_FALSE_REFUSAL.to_string(),
            verdict,
        },
    }
}

/// The fault that fills a member's disk, by the name its annotations
/// start with.
const DISK_FULL: &str = "enospc";

/// NOSPACE refusals nothing explains: one of a request that writes
/// nothing new (etcd's capped applier lets deletes, reads and compactions
/// through), or one returned before any disk was full, or called after
/// the operator disarmed the alarm once no disk was full any more. A disk
/// still full when the alarm is disarmed raises it again.
fn no_space_refusals(history: &History) -> Vec<Violation> {
    let annotations = &history.annotations;
    // When each disk was full: from its fault's start to its heal.
    let filled: Vec<(u64, u64)> = annotations
        .iter()
        .filter(|a| a.is_fault() && a.text.starts_with(DISK_FULL))
        .map(|a| (a.at, a.end.unwrap_or(u64::MAX)))
        .collect();
    // When the cluster had accepted to disarm every alarm the operator
    // listed (an operator step that could not leaves no such mark).
    let disarmed: Vec<u64> = annotations
        .iter()
        .filter(|a| a.is_alarm_disarmed())
        .map(|a| a.at)
        .collect();
    history
        .operations
        .iter()
        .filter(|op| matches!(op.result, OpResult::Fail(EtcdError::NoSpace)))
        .filter_map(|op| {
            let ret = op.ret.unwrap_or(u64::MAX);
            let before: Vec<(u64, u64)> = filled
                .iter()
                .copied()
                .filter(|&(at, _)| at <= ret)
                .collect();
            // A full disk explains the refusal unless the alarm was
            // disarmed after that disk had room again and before the call.
            let explains = |&(_, healed): &(u64, u64)| {
                !disarmed.iter().any(|&end| healed <= end && end <= op.call)
            };
            let why = if !grows(&op.request) {
                "the request writes nothing a full backend refuses"
            } else if before.is_empty() {
                "no disk was full before it returned"
            } else if before.iter().any(explains) {
                return None;
            } else {
                "the alarm was disarmed before it was sent, with no disk full since"
            };
            Some(
                violation(
                    ERRORS_NO_FALSE_REFUSAL,
                    format!(
                        "operation {} ({}) was refused with \"{}\", but {why}",
                        op.id,
                        op.request.kind(),
                        EtcdError::NO_SPACE
                    ),
                    vec![op.id],
                    None,
                    json!({"refusal": "no_space"}),
                )
                .about_request(op.request.kind()),
            )
        })
        .collect()
}

/// What etcd's NOSPACE alarm caps: a Put, a Txn that puts, a lease grant.
pub(super) fn grows(request: &Request) -> bool {
    fn txn_puts(t: &TxnRequest) -> bool {
        t.success.iter().chain(&t.failure).any(|op| match op {
            TxnOp::Put(_) => true,
            TxnOp::Txn(nested) => txn_puts(nested),
            _ => false,
        })
    }
    match request {
        Request::Put(_) | Request::LeaseGrant { .. } => true,
        Request::Txn(t) => txn_puts(t),
        _ => false,
    }
}

fn has_state_refusals(ctx: &Context<'_>) -> bool {
    ctx.history
        .operations
        .iter()
        .any(|op| op.result.is_state_refusal())
}

fn names(faults: &BTreeSet<Invalid>) -> String {
    faults
        .iter()
        .map(|f| f.message())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every refusal etcd's request checks could answer this request with.
/// etcd answers the first it meets; a store may check in another order, so
/// any of them justifies a refusal.
pub fn shape_faults(request: &Request, options: &CheckOptions) -> BTreeSet<Invalid> {
    let mut faults = BTreeSet::new();
    if encoded_size_bound(request).is_some_and(|size| size > options.max_request_bytes) {
        faults.insert(Invalid::RequestTooLarge);
    }
    match request {
        Request::Range(r) if r.key.is_empty() => {
            faults.insert(Invalid::EmptyKey);
        }
        Request::DeleteRange(d) if d.key.is_empty() => {
            faults.insert(Invalid::EmptyKey);
        }
        Request::Put(p) => put_faults(p, &mut faults),
        Request::Txn(t) => {
            txn_faults(t, options.max_txn_ops, &mut faults);
            if duplicate_keys(&t.success) || duplicate_keys(&t.failure) {
                faults.insert(Invalid::DuplicateKey);
            }
        }
        _ => {}
    }
    faults
}

/// etcd's checkPutRequest.
fn put_faults(put: &PutRequest, faults: &mut BTreeSet<Invalid>) {
    if put.key.is_empty() {
        faults.insert(Invalid::EmptyKey);
    }
    if put.ignore_value && !put.value.is_empty() {
        faults.insert(Invalid::ValueProvided);
    }
    if put.ignore_lease && put.lease != 0 {
        faults.insert(Invalid::LeaseProvided);
    }
}

/// etcd's checkTxnRequest: the longest of compares, success and failure
/// against the limit; a nested Txn gets what its parent left of it.
fn txn_faults(txn: &TxnRequest, max_ops: usize, faults: &mut BTreeSet<Invalid>) {
    let ops = txn
        .compare
        .len()
        .max(txn.success.len())
        .max(txn.failure.len());
    if ops > max_ops {
        faults.insert(Invalid::TooManyOps);
        return;
    }
    if txn.compare.iter().any(|c| c.key.is_empty()) {
        faults.insert(Invalid::EmptyKey);
    }
    for op in txn.success.iter().chain(&txn.failure) {
        match op {
            TxnOp::Range(r) if r.key.is_empty() => {
                faults.insert(Invalid::EmptyKey);
            }
            TxnOp::DeleteRange(d) if d.key.is_empty() => {
                faults.insert(Invalid::EmptyKey);
            }
            TxnOp::Put(p) => put_faults(p, faults),
            TxnOp::Txn(t) => txn_faults(t, max_ops - ops, faults),
            _ => {}
        }
    }
}

/// Whether etcd's checkIntervals finds a key put twice, or put and deleted,
/// where both could run in one branch.
fn duplicate_keys(ops: &[TxnOp]) -> bool {
    branch_writes(ops).is_none()
}

/// The keys one branch puts and the ranges it deletes (`[start, end)`, a
/// single key when `end` is empty, every key from `start` on when `end` is
/// "\0"). etcd's own check reads "\0" as the empty `[start, "\0")` and
/// lets such a delete meet no put (etcd #22445); the fix proposed (PR 22395)
/// reads it as reaching the end. A refusal is judged against the wider
/// reading, so either store's refusal is justified.
#[derive(Default)]
struct BranchWrites<'h> {
    puts: BTreeSet<&'h str>,
    deletes: Vec<(&'h str, &'h str)>,
}

impl BranchWrites<'_> {
    fn deletes_key(&self, key: &str) -> bool {
        self.deletes.iter().any(|&(start, end)| {
            if end.is_empty() {
                key == start
            } else if end == "\0" {
                start <= key
            } else {
                start <= key && key < end
            }
        })
    }
}

/// A branch's writes, or None when two of them collide. The branches of a
/// nested Txn exclude each other: a key put in one and deleted in the
/// other is allowed, one put in both counts once.
fn branch_writes(ops: &[TxnOp]) -> Option<BranchWrites<'_>> {
    let mut w = BranchWrites {
        puts: BTreeSet::new(),
        deletes: ops
            .iter()
            .filter_map(|op| match op {
                TxnOp::DeleteRange(d) => Some((d.key.as_str(), d.range_end.as_str())),
                _ => None,
            })
            .collect(),
    };
    for op in ops {
        let TxnOp::Txn(t) = op else { continue };
        let then = branch_writes(&t.success)?;
        let otherwise = branch_writes(&t.failure)?;
        for key in &then.puts {
            if w.puts.contains(key) || w.deletes_key(key) {
                return None;
            }
            w.puts.insert(*key);
        }
        for key in &otherwise.puts {
            if (w.puts.contains(key) && !then.puts.contains(key)) || w.deletes_key(key) {
                return None;
            }
            w.puts.insert(*key);
        }
        w.deletes.extend(then.deletes);
        w.deletes.extend(otherwise.deletes);
    }
    for op in ops {
        let TxnOp::Put(p) = op else { continue };
        if w.puts.contains(p.key.as_str()) || w.deletes_key(&p.key) {
            return None;
        }
        w.puts.insert(&p.key);
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Compare, CompareResult, CompareTarget, DeleteRangeRequest, RangeRequest};

    fn put(key: &str) -> TxnOp {
        TxnOp::Put(PutRequest {
            key: key.into(),
            value: "v".into(),
            ..Default::default()
        })
    }

    fn delete(key: &str, end: &str) -> TxnOp {
        TxnOp::DeleteRange(DeleteRangeRequest {
            key: key.into(),
            range_end: end.into(),
            prev_kv: false,
        })
    }

    fn txn(success: Vec<TxnOp>, failure: Vec<TxnOp>) -> TxnRequest {
        TxnRequest {
            compare: vec![],
            success,
            failure,
        }
    }

    fn faults(t: TxnRequest) -> Vec<Invalid> {
        shape_faults(&Request::Txn(t), &CheckOptions::default())
            .into_iter()
            .collect()
    }

    #[test]
    fn a_no_space_refusal_needs_a_full_disk_and_no_disarm_since() {
        use crate::history::{Annotation, Operation};
        let fault = |at, end, text: &str| Annotation {
            kind: None,
            at,
            end: Some(end),
            source: Annotation::FAULT.into(),
            text: text.into(),
        };
        let disarmed = |at| Annotation {
            kind: None,
            at,
            end: None,
            source: Annotation::OPERATOR.into(),
            text: format!("{} memberID:2 alarm:NOSPACE", Annotation::ALARM_DISARMED),
        };
        let refused = |id, call, request| Operation {
            id,
            client: 1,
            call,
            ret: Some(call + 5),
            request,
            result: OpResult::Fail(EtcdError::NoSpace),
            k8s: None,
        };
        let put_k = || match put("k") {
            TxnOp::Put(p) => Request::Put(p),
            _ => unreachable!(),
        };
        let history = History {
            operations: vec![
                refused(1, 10, put_k()),
                refused(2, 110, put_k()),
                refused(3, 120, Request::DeleteRange(DeleteRangeRequest::default())),
                refused(4, 310, put_k()),
                refused(5, 410, Request::Txn(txn(vec![put("a")], vec![]))),
                refused(6, 760, put_k()),
                refused(7, 960, put_k()),
            ],
            annotations: vec![
                fault(100, 200, "enospc m2 quota=4096"),
                disarmed(280),
                fault(400, 500, "enospc m3 quota=4096"),
                // Disarmed while m1's disk is still full: raised again.
                fault(600, 900, "enospc m1 quota=4096"),
                disarmed(680),
                // An operator step that disarmed nothing is no disarm:
                // the refusal at 960 stays explained by m1's disk.
                fault(910, 950, "alarm_disarm nospace"),
            ],
            ..History::default()
        };
        let false_ones: Vec<u64> = no_space_refusals(&history)
            .iter()
            .flat_map(|v| v.operations.clone())
            .collect();
        // Before any full disk; a delete; after the disarm. Not 6 nor 7:
        // m1's disk was still full when the alarm was disarmed.
        assert_eq!(false_ones, vec![1, 3, 4]);
    }

    #[test]
    fn a_txn_is_too_big_past_the_limit_counting_its_longest_list() {
        let ops = |n: usize| (0..n).map(|i| put(&format!("k{i}"))).collect::<Vec<_>>();
        assert!(faults(txn(ops(128), ops(128))).is_empty());
        assert_eq!(faults(txn(ops(129), vec![])), vec![Invalid::TooManyOps]);
        let compares = (0..129)
            .map(|i| Compare {
                key: format!("k{i}"),
                range_end: String::new(),
                target: CompareTarget::Version(0),
                result: CompareResult::Equal,
            })
            .collect();
        let t = TxnRequest {
            compare: compares,
            success: vec![],
            failure: vec![],
        };
        assert_eq!(faults(t), vec![Invalid::TooManyOps]);
        // A nested Txn gets what its parent left: 100 + 29 > 128.
        let nested = (0..29).map(|i| put(&format!("n{i}"))).collect();
        let nested = TxnOp::Txn(txn(nested, vec![]));
        let mut outer = ops(99);
        outer.push(nested);
        assert_eq!(faults(txn(outer, vec![])), vec![Invalid::TooManyOps]);
    }

    #[test]
    fn duplicate_keys_are_the_ones_both_writes_of_a_branch_could_make() {
        assert_eq!(
            faults(txn(vec![put("a"), put("a")], vec![])),
            vec![Invalid::DuplicateKey]
        );
        assert_eq!(
            faults(txn(vec![put("b"), delete("a", "c")], vec![])),
            vec![Invalid::DuplicateKey]
        );
        // Different branches never both run.
        assert!(faults(txn(vec![put("a")], vec![put("a")])).is_empty());
        // Nested: put in one branch, deleted in the other is fine...
        let nested = TxnOp::Txn(txn(vec![put("a")], vec![delete("a", "")]));
        assert!(faults(txn(vec![nested], vec![])).is_empty());
        // ...but not next to a put of the same key outside.
        let nested = TxnOp::Txn(txn(vec![put("a")], vec![]));
        assert_eq!(
            faults(txn(vec![nested, put("a")], vec![])),
            vec![Invalid::DuplicateKey]
        );
        // A from-key delete reaches the end of the keyspace (etcd PR 22395;
        // etcd's own check, which reads it as empty, never refuses it).
        assert_eq!(
            faults(txn(vec![put("b"), delete("a", "\0")], vec![])),
            vec![Invalid::DuplicateKey]
        );
        assert!(faults(txn(vec![put("0"), delete("a", "\0")], vec![])).is_empty());
    }

    #[test]
    fn a_put_names_a_key_and_no_value_or_lease_it_keeps() {
        let p = |key: &str, value: &str, ignore_value, lease, ignore_lease| {
            shape_faults(
                &Request::Put(PutRequest {
                    key: key.into(),
                    value: value.into(),
                    lease,
                    ignore_value,
                    ignore_lease,
                    ..Default::default()
                }),
                &CheckOptions::default(),
            )
            .into_iter()
            .collect::<Vec<_>>()
        };
        assert!(p("a", "v", false, 5, false).is_empty());
        assert_eq!(p("", "v", false, 0, false), vec![Invalid::EmptyKey]);
        assert_eq!(p("a", "v", true, 0, false), vec![Invalid::ValueProvided]);
        assert_eq!(p("a", "", false, 5, true), vec![Invalid::LeaseProvided]);
        let range = Request::Range(RangeRequest::default());
        assert_eq!(
            shape_faults(&range, &CheckOptions::default())
                .into_iter()
                .collect::<Vec<_>>(),
            vec![Invalid::EmptyKey]
        );
    }

    #[test]
    fn a_write_is_too_large_only_past_the_request_limit() {
        let options = CheckOptions::default();
        let put = |len: usize| {
            Request::Put(PutRequest {
                key: "k".into(),
                value: "x".repeat(len),
                ..Default::default()
            })
        };
        let too_large = |r: &Request| shape_faults(r, &options).contains(&Invalid::RequestTooLarge);
        assert!(!too_large(&put(1000)));
        assert!(!too_large(&put(options.max_request_bytes - 1024)));
        assert!(too_large(&put(options.max_request_bytes)));
        // Many small puts in one Txn add up.
        let ops = (0..100)
            .map(|i| {
                TxnOp::Put(PutRequest {
                    key: format!("k{i}"),
                    value: "x".repeat(options.max_request_bytes / 99),
                    ..Default::default()
                })
            })
            .collect();
        assert!(too_large(&Request::Txn(txn(ops, vec![]))));
        // A read is never proposed, so never too large.
        let read = Request::Range(RangeRequest {
            key: "x".repeat(options.max_request_bytes * 2),
            ..Default::default()
        });
        assert!(!too_large(&read));
    }

    #[test]
    fn etcd_messages_name_their_refusal() {
        for (invalid, message) in Invalid::MESSAGES {
            assert_eq!(Invalid::from_message(message), Some(*invalid));
            assert_eq!(
                Invalid::from_message(&format!("InvalidArgument: {message}")),
                Some(*invalid)
            );
        }
        assert_eq!(Invalid::from_message("etcdserver: no leader"), None);
    }
}
