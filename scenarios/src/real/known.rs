//! Which known etcd bug explains a real run's failed rule, from evidence in
//! the run's own history (not from the rule's name alone). Debian's etcd
//! 3.4.23 still has three bugs that faultline's traffic meets in most runs:
//!
//! - etcd-18667 (fix on etcd main only): only the member answering a Txn
//!   checks its reads; at a future or compacted revision that member
//!   refuses the Txn while the others apply its writes, so the members
//!   diverge. Evidence: a write Txn refused with "future revision" or
//!   "compacted" in the history. It explains `linearizability`,
//!   `end.hashkv` and `end.durability`.
//! - etcd-20221 (fixed in v3.4.38): a watch on a future revision gets
//!   progress notifications below its start. Evidence: the failing
//!   watch's request starts above a progress notification it received.
//!   It explains `watch.bookmarkable`.
//! - etcd-15220 (fixed in v3.4.25): a requested progress notification
//!   overtakes the events an unsynced watcher still has to send. Evidence:
//!   the failing watch started below its creation's revision (unsynced)
//!   and a requested progress notification vouched for the revision of
//!   an event it had not got yet (or never got), or, the other way round,
//!   a requested progress notification arrived below an event already
//!   delivered (both: etcd 3.4 sends the answer to a progress request
//!   apart from the watcher's events, the path the fix replaced). It
//!   explains `watch.reliable`, and `watch.bookmarkable`.
//!
//! A failed rule without such evidence is unexplained: a checker mistake
//! or a bug to write up.

use checker::history::{EtcdError, History, OpResult, Request, WatchRecord};
use checker::report::{Report, Verdict, Violation};
use checker::rules;

/// A failed rule and the known bugs its evidence points at (one, or one
/// per kind of violation the rule lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub rule: String,
    pub bugs: Vec<&'static str>,
    pub evidence: String,
}

/// Every failed rule of `report`: explained by a known bug, or not (None).
pub fn explain(history: &History, report: &Report) -> Vec<(String, Option<Explained>)> {
    report
        .results
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Fail(v) => Some((r.property.clone(), explain_one(history, v))),
            _ => None,
        })
        .collect()
}

fn explain_one(history: &History, v: &Violation) -> Option<Explained> {
    let found = |bug: &'static str, evidence: String| {
        Some(Explained {
            rule: v.rule.clone(),
            bugs: vec![bug],
            evidence,
        })
    };
    match v.rule.as_str() {
        rules::LINEARIZABILITY | rules::END_HASHKV | rules::END_DURABILITY => {
            let refused = refused_write_txns(history);
            if refused.is_empty() {
                return None;
            }
            found(
                "etcd-18667",
                format!(
                    "write Txn(s) {} refused for a read at a future or compacted revision (their member refused them, the others applied them)",
                    ids(&refused)
                ),
            )
        }
        rules::WATCH_BOOKMARKABLE => {
            // Each listed watch: progress below its future start
            // (etcd-20221), or progress that overtook its pending events
            // (etcd-15220).
            let watches = watches_of(history, v);
            let (mut below, mut overtaken) = (Vec::new(), Vec::new());
            for w in &watches {
                if progress_below_start(w) {
                    below.push(w.id);
                } else if progress_overtook(w, w.request.start_revision)
                    || progress_ahead(w)
                    || progress_behind_events(w)
                {
                    overtaken.push(w.id);
                } else {
                    return None;
                }
            }
            per_watch(
                &v.rule,
                [
                    (
                        "etcd-20221",
                        &below,
                        "start above the store's revision and got progress notifications below their start",
                    ),
                    (
                        "etcd-15220",
                        &overtaken,
                        "got requested progress notifications out of order with their events (before events below them, or after events above them)",
                    ),
                ],
            )
        }
        rules::WATCH_RELIABLE | rules::WATCH_IS_CREATE => {
            // Each listed watch: it delivered a write of a Txn etcd
            // refused (etcd-18667: its member applied what the answering
            // one refused), or a requested progress notification ran ahead
            // of its events (etcd-15220; `watch.reliable` only).
            let refused = refused_values(history);
            let (mut applied, mut overtaken) = (Vec::new(), Vec::new());
            for w in watches_of(history, v) {
                if delivered_any(w, &refused) {
                    applied.push(w.id);
                } else if v.rule == rules::WATCH_RELIABLE
                    && (progress_overtook(w, w.request.start_revision) || progress_ahead(w))
                {
                    overtaken.push(w.id);
                } else {
                    return None;
                }
            }
            per_watch(
                &v.rule,
                [
                    (
                        "etcd-18667",
                        &applied,
                        "delivered writes of Txns etcd answered as refused",
                    ),
                    (
                        "etcd-15220",
                        &overtaken,
                        "got a requested progress notification ahead of events at or below it",
                    ),
                ],
            )
        }
        _ => None,
    }
}

/// Write Txns etcd refused for one of their reads (future or compacted).
fn refused_write_txns(history: &History) -> Vec<u64> {
    history
        .operations
        .iter()
        .filter(|o| matches!(&o.request, Request::Txn(t) if t.may_write()))
        .filter(|o| {
            matches!(
                o.result,
                OpResult::Fail(EtcdError::FutureRevision | EtcdError::Compacted { .. })
            )
        })
        .map(|o| o.id)
        .collect()
}

/// The values the puts of refused write Txns would have written (values
/// are unique per write).
fn refused_values(history: &History) -> std::collections::HashSet<&str> {
    let refused = refused_write_txns(history);
    history
        .operations
        .iter()
        .filter(|o| refused.contains(&o.id))
        .filter_map(|o| match &o.request {
            Request::Txn(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| t.success.iter().chain(&t.failure))
        .filter_map(|op| match op {
            checker::history::TxnOp::Put(p) => Some(p.value.as_str()),
            _ => None,
        })
        .collect()
}

fn delivered_any(w: &WatchRecord, values: &std::collections::HashSet<&str>) -> bool {
    w.events()
        .any(|(_, e)| values.contains(e.kv.value.as_str()))
}

/// A requested progress notification at P, and after it an event at or
/// below P: the answer overtook an event that was pending.
fn progress_ahead(w: &WatchRecord) -> bool {
    let mut vouched = None;
    for r in &w.responses {
        if let Some(p) = vouched
            && r.events.iter().any(|e| e.revision() <= p)
        {
            return true;
        }
        if r.requested_progress {
            vouched = Some(vouched.map_or(r.header_revision, |v: i64| v.max(r.header_revision)));
        }
    }
    false
}

/// The violation's watch and those its `details.more` lists.
fn watches_of<'h>(history: &'h History, v: &Violation) -> Vec<&'h WatchRecord> {
    let mut ids: Vec<u64> = v.watch.into_iter().collect();
    if let Some(more) = v.details.get("more").and_then(|m| m.as_array()) {
        ids.extend(more.iter().filter_map(|m| m.get("watch")?.as_u64()));
    }
    ids.iter()
        .filter_map(|id| history.watches.iter().find(|w| w.id == *id))
        .collect()
}

fn progress_below_start(w: &WatchRecord) -> bool {
    let start = w.request.start_revision;
    start > 0
        && w.responses
            .iter()
            .any(|r| r.progress_notify && r.header_revision < start)
}

/// The watch started below its creation's revision (its watcher unsynced)
/// and a requested progress notification at or above `revision` came
/// before any event at or above it.
fn progress_overtook(w: &WatchRecord, revision: i64) -> bool {
    let Some(created) = w.responses.first() else {
        return false;
    };
    let start = w.request.start_revision;
    if start == 0 || start > created.header_revision {
        return false;
    }
    for r in &w.responses {
        if r.events.iter().any(|e| e.revision() >= revision) {
            return false;
        }
        if r.requested_progress && r.header_revision >= revision {
            return true;
        }
    }
    false
}

/// A requested progress notification below an event the watch had
/// already received: the answer was made before the event was sent and
/// overtaken by it (etcd 3.4 sends it apart from the watcher's events, the
/// path etcd-15220's fix replaced).
fn progress_behind_events(w: &WatchRecord) -> bool {
    let mut delivered = 0;
    for r in &w.responses {
        if r.requested_progress && r.header_revision < delivered {
            return true;
        }
        delivered = delivered.max(r.events.iter().map(|e| e.revision()).max().unwrap_or(0));
    }
    false
}

/// A rule explained watch by watch: each bug with the watches that show
/// its evidence and what they show; None when no watch shows any.
fn per_watch(rule: &str, groups: [(&'static str, &Vec<u64>, &str); 2]) -> Option<Explained> {
    let shown: Vec<_> = groups.iter().filter(|(_, w, _)| !w.is_empty()).collect();
    if shown.is_empty() {
        return None;
    }
    Some(Explained {
        rule: rule.to_string(),
        bugs: shown.iter().map(|(bug, _, _)| *bug).collect(),
        evidence: shown
            .iter()
            .map(|(_, w, what)| format!("watch(es) {} {what}", ids(w)))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn ids(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(u64::to_string).collect();
    let more = ids.len().saturating_sub(5);
    if more > 0 {
        format!("{} (and {more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::history::{
        Event, EventKind, KeyValue, Operation, PutRequest, TxnOp, TxnRequest, WatchRequest,
        WatchResponse,
    };

    fn violation(rule: &str, watch: Option<u64>, details: serde_json::Value) -> Violation {
        Violation {
            at: None,
            rule: rule.into(),
            explanation: String::new(),
            operations: Vec::new(),
            watch,
            longest_prefix: Vec::new(),
            details,
            class: None,
            subject: Default::default(),
        }
    }

    fn watch(start: i64, responses: Vec<WatchResponse>) -> WatchRecord {
        WatchRecord {
            id: 1,
            client: 5,
            stream: 1,
            member: Some(0),
            member_compacted: None,
            request: WatchRequest {
                key: "key".into(),
                range_end: "kez".into(),
                start_revision: start,
                ..Default::default()
            },
            created: 0,
            responses,
            k8s_list: None,
            cancel_sent: None,
        }
    }

    fn at(header_revision: i64, requested_progress: bool) -> WatchResponse {
        WatchResponse {
            header_revision,
            progress_notify: requested_progress,
            requested_progress,
            ..Default::default()
        }
    }

    fn event(revision: i64) -> WatchResponse {
        WatchResponse {
            header_revision: revision,
            events: vec![Event {
                kind: EventKind::Put,
                kv: KeyValue {
                    key: "key3".into(),
                    value: "v".into(),
                    create_revision: 3,
                    mod_revision: revision,
                    version: 2,
                    lease: 0,
                    ttl: 0,
                },
                prev_kv: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn progress_below_a_future_start_is_etcd_20221() {
        let mut h = History::default();
        h.watches
            .push(watch(65, vec![at(1, false), at(1, true), at(11, true)]));
        let v = violation(rules::WATCH_BOOKMARKABLE, Some(1), serde_json::json!({}));
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-20221"])
        );
        h.watches[0].request.start_revision = 0;
        assert_eq!(explain_one(&h, &v), None, "a watch from now is not the bug");
        // Progress that overtook an unsynced watcher's pending event, as
        // the same rule also reports: etcd-15220.
        h.watches[0].request.start_revision = 73;
        h.watches[0].responses = vec![at(99, false), at(99, true), event(85)];
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-15220"])
        );
        // A requested progress notification behind an event delivered
        // before it (a watch from now): the same out-of-band answer.
        h.watches[0].request.start_revision = 0;
        h.watches[0].responses = vec![at(91, false), event(151), at(150, true)];
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-15220"])
        );
        h.watches[0].responses = vec![at(91, false), event(151), at(151, true)];
        assert_eq!(explain_one(&h, &v), None, "in order: nothing to explain");
    }

    #[test]
    fn requested_progress_before_an_unsynced_watcher_s_events_is_etcd_15220() {
        let missing = serde_json::json!({"missing": {"kv": {"mod_revision": 39}}});
        let v = violation(rules::WATCH_RELIABLE, Some(1), missing);
        let mut h = History::default();
        h.watches.push(watch(39, vec![at(50, false), at(50, true)]));
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-15220"])
        );
        // The event came before the progress notification: not this bug.
        h.watches[0].responses = vec![at(50, false), event(39), at(50, true)];
        assert_eq!(explain_one(&h, &v), None);
        // A synced watch whose event came after a progress notification
        // that vouched for it.
        h.watches[0].request.start_revision = 0;
        h.watches[0].responses = vec![at(30, false), at(40, true), event(39)];
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-15220"])
        );
        h.watches[0].request.start_revision = 39;
        // A synced watcher (start above the creation's revision): not it.
        h.watches[0].responses = vec![at(30, false), at(50, true)];
        assert_eq!(explain_one(&h, &v), None);
    }

    #[test]
    fn divergence_with_a_refused_write_txn_is_etcd_18667() {
        let v = violation(rules::END_HASHKV, None, serde_json::json!({}));
        let mut h = History::default();
        assert_eq!(explain_one(&h, &v), None, "no refused Txn, no explanation");
        let txn = |result| Operation {
            id: 7,
            client: 2,
            call: 1,
            ret: Some(2),
            request: Request::Txn(TxnRequest {
                compare: Vec::new(),
                success: vec![TxnOp::Put(PutRequest {
                    key: "k".into(),
                    value: "v".into(),
                    ..Default::default()
                })],
                failure: Vec::new(),
            }),
            result,
            k8s: None,
        };
        h.operations
            .push(txn(OpResult::Fail(EtcdError::Other("x".into()))));
        assert_eq!(explain_one(&h, &v), None, "another refusal is not the bug");
        h.operations.push(Operation {
            id: 8,
            ..txn(OpResult::Fail(EtcdError::FutureRevision))
        });
        let e = explain_one(&h, &v).expect("explained");
        assert_eq!(e.bugs, ["etcd-18667"]);
        assert!(
            e.evidence.starts_with("write Txn(s) 8 refused"),
            "{}",
            e.evidence
        );
        // A watch that delivered the refused Txn's write ("v").
        let v = violation(rules::WATCH_IS_CREATE, Some(1), serde_json::json!({}));
        assert_eq!(explain_one(&h, &v), None, "no such watch");
        h.watches.push(watch(0, vec![at(30, false), event(31)]));
        assert_eq!(
            explain_one(&h, &v).map(|e| e.bugs),
            Some(vec!["etcd-18667"])
        );
        h.watches[0].responses[1].events[0].kv.value = "w".into();
        assert_eq!(explain_one(&h, &v), None, "another value");
        let v = violation(rules::WATCH_ORDERED, None, serde_json::json!({}));
        assert_eq!(explain_one(&h, &v), None, "other rules are not explained");
    }
}
