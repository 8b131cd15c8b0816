//! The watch guarantees, one rule each. Filter, Ordered, Unique, Atomic and
//! Bookmarkable look at a watch's responses alone; Reliable, Resumable, PrevKV
//! and IsCreate compare them with the linearized history; cancel-on-compaction
//! uses both.
//!
//! Within one revision etcd delivers events in the order they were written
//! (a transaction's operations in order, a range delete's or a lease's keys
//! in key order). Where the linearized history cannot be sure of that order
//! (a request with an unknown outcome wrote the revision), a revision's
//! events are compared as a set.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::{Context, needs_linearization, verdict, violation};
use crate::anomaly::Anomaly;
use crate::history::describe;
use crate::history::{Event, EventKind, History, OpResult, Recorded, Request, WatchRecord};
use crate::models::etcd::LinearizedHistory;
use crate::report::{PropertyResult, Violation};
use crate::rules::*;

pub(crate) fn check(ctx: &Context) -> Vec<PropertyResult> {
    let max = ctx.options.max_reported;
    let unknown_compaction = highest_unknown_compaction(ctx.history);
    let mut filter = vec![];
    let mut ordered = vec![];
    let mut unique = vec![];
    let mut atomic = vec![];
    let mut bookmarkable = vec![];
    let mut reliable = vec![];
    let mut resumable = vec![];
    let mut prev_kv = vec![];
    let mut is_create = vec![];
    let mut cancel = vec![];
    for w in &ctx.history.watches {
        filter.extend(check_filter(w));
        ordered.extend(check_ordered(w));
        unique.extend(check_unique(w));
        atomic.extend(check_atomic(w));
        bookmarkable.extend(check_bookmarkable(w));
        cancel.extend(check_cancel(w, unknown_compaction, ctx.linearized.ok()));
        if let Ok(lin) = ctx.linearized {
            let recorded = ctx.history.recorded;
            reliable.extend(check_reliable(w, lin, recorded));
            resumable.extend(check_resumable(w, lin));
            prev_kv.extend(check_prev_kv(w, lin, recorded));
            is_create.extend(check_is_create(w, lin));
        }
    }
    let with_history = |rule: &str, found: Vec<Violation>| match ctx.linearized {
        Ok(_) => verdict(rule, found, max),
        Err(reason) => needs_linearization(rule, reason),
    };
    let cancel_result = match (ctx.linearized, cancel.is_empty()) {
        (Err(reason), true) if !ctx.history.watches.is_empty() => {
            needs_linearization(WATCH_CANCEL_ON_COMPACTION, reason)
        }
        _ => verdict(WATCH_CANCEL_ON_COMPACTION, cancel, max),
    };
    vec![
        verdict(WATCH_FILTER, filter, max),
        verdict(WATCH_ORDERED, ordered, max),
        verdict(WATCH_UNIQUE, unique, max),
        verdict(WATCH_ATOMIC, atomic, max),
        verdict(WATCH_BOOKMARKABLE, bookmarkable, max),
        with_history(WATCH_RELIABLE, reliable),
        with_history(WATCH_RESUMABLE, resumable),
        with_history(WATCH_PREV_KV, prev_kv),
        with_history(WATCH_IS_CREATE, is_create),
        cancel_result,
    ]
}

/// The highest revision a compaction whose outcome is unknown asked for. Such
/// a compaction may have been applied even when the linearization did not need
/// it (nothing read below it), so a cancel up to it is justified.
pub(crate) fn highest_unknown_compaction(history: &History) -> i64 {
    history
        .operations
        .iter()
        .filter_map(|op| match (&op.request, &op.result) {
            (Request::Compact { revision }, OpResult::Unknown(_)) => Some(*revision),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The revision the watch's member had certainly compacted to before the
/// watch was requested, when that removed the watch's start revision: etcd
/// then cancels the watch with the compact revision on its first sync
/// (`syncWatchers`: a watcher below the compact revision is cancelled), and
/// a serving member's compaction never goes back.
///
/// Nothing else in a history pins that down. Another member's answer to
/// the compaction is in that member's numbering, which etcd-18667 shifts
/// (real five-member runs show members apart by up to 14 revisions). The
/// creation response's header revision is read after the watcher is
/// registered from etcd v3.4.38, v3.5.22 and v3.6.2 on (PR 20229), so a
/// member catching up may register the watch, sync it from its start, and
/// only then apply the compaction; a correct member delivers those events.
pub(crate) fn compacted_before_request(w: &WatchRecord) -> Option<i64> {
    let start = w.request.start_revision;
    let compacted = w.member_compacted?;
    (start > 0 && compacted > start).then_some(compacted)
}

/// Events the linearized history produced that this watch selects, in `[from, to]`.
pub(crate) fn expected_events<'a>(
    w: &'a WatchRecord,
    lin: &'a LinearizedHistory,
    from: i64,
    to: i64,
) -> impl Iterator<Item = &'a Event> + 'a {
    lin.events_between(from, to)
        .filter(move |e| w.request.selects(e.kind, &e.kv.key))
}

/// Delivered events the watch selects, at or after its first revision, first
/// occurrence of each (revision, key) only.
fn delivered_distinct(w: &WatchRecord, first: i64) -> Vec<&Event> {
    let mut seen = HashSet::new();
    w.events()
        .map(|(_, e)| e)
        .filter(|e| w.request.selects(e.kind, &e.kv.key) && e.revision() >= first)
        .filter(|e| seen.insert((e.revision(), e.kv.key.as_str())))
        .collect()
}

fn watch_violation(
    rule: &str,
    w: &WatchRecord,
    explanation: String,
    details: serde_json::Value,
) -> Violation {
    violation(rule, explanation, vec![], Some(w.id), details)
}

fn check_filter(w: &WatchRecord) -> Option<Violation> {
    let (i, e) = w
        .events()
        .find(|(_, e)| !w.request.selects(e.kind, &e.kv.key))?;
    Some(watch_violation(
        WATCH_FILTER,
        w,
        format!(
            "Watch {} on {:?}..{:?}{}{} delivered {}, which it does not select.",
            w.id,
            w.request.key,
            w.request.range_end,
            if w.request.filter_put {
                " without puts"
            } else {
                ""
            },
            if w.request.filter_delete {
                " without deletes"
            } else {
                ""
            },
            describe::event(e)
        ),
        json!({"response": i, "event": e}),
    ))
}

fn check_ordered(w: &WatchRecord) -> Option<Violation> {
    let mut last: Option<&Event> = None;
    for (i, e) in w.events() {
        if let Some(prev) = last
            && e.revision() < prev.revision()
        {
            return Some(
                watch_violation(
                    WATCH_ORDERED,
                    w,
                    format!(
                        "Watch {} delivered {} after {}: revisions went backwards.",
                        w.id,
                        describe::event(e),
                        describe::event(prev)
                    ),
                    json!({"response": i, "event": e, "previous": prev}),
                )
                .classed(Anomaly::OutOfOrderEvent),
            );
        }
        last = Some(e);
    }
    None
}

/// An event is identified by its revision, key and kind: one revision may
/// hold a key's delete and its put (a Txn that deletes a range reaching the
/// end of the keyspace and puts a key in it, which etcd's duplicate-key
/// check lets through before its open PR 22395), and etcd sends both.
fn check_unique(w: &WatchRecord) -> Option<Violation> {
    let by_revision = w.is_k8s();
    let mut seen: HashSet<(i64, Option<(&str, EventKind)>)> = HashSet::new();
    for (i, e) in w.events() {
        let key = if by_revision {
            None
        } else {
            Some((e.kv.key.as_str(), e.kind))
        };
        if !seen.insert((e.revision(), key)) {
            let what = if by_revision {
                format!("a second event at revision {}", e.revision())
            } else {
                format!("{} a second time", describe::event(e))
            };
            return Some(
                watch_violation(
                    WATCH_UNIQUE,
                    w,
                    format!("Watch {} delivered {what}.", w.id),
                    json!({"response": i, "event": e}),
                )
                .classed(Anomaly::DuplicateEvent),
            );
        }
    }
    None
}

fn check_atomic(w: &WatchRecord) -> Option<Violation> {
    let mut last: Option<(usize, i64)> = None;
    for (i, r) in w.responses.iter().enumerate() {
        let (Some(first), Some(end)) = (r.events.first(), r.events.last()) else {
            continue;
        };
        if let Some((prev_i, prev_rev)) = last
            && first.revision() == prev_rev
        {
            return Some(watch_violation(
                WATCH_ATOMIC,
                w,
                format!(
                    "Watch {} split the events of revision {prev_rev} over responses {prev_i} and {i}.",
                    w.id
                ),
                json!({"revision": prev_rev, "responses": [prev_i, i]}),
            )
            .classed(Anomaly::SplitRevision));
        }
        last = Some((i, end.revision()));
    }
    None
}

fn check_bookmarkable(w: &WatchRecord) -> Option<Violation> {
    let start = w.first_revision().unwrap_or(0);
    let mut progress: Option<(usize, i64)> = None;
    let mut last_event = 0;
    for (i, r) in w.responses.iter().enumerate() {
        for e in &r.events {
            if let Some((pi, p)) = progress
                && e.revision() <= p
            {
                return Some(watch_violation(
                    WATCH_BOOKMARKABLE,
                    w,
                    format!(
                        "Watch {} delivered {} after a progress notification at revision {p} said every event up to it was delivered.",
                        w.id,
                        describe::event(e)
                    ),
                    json!({"notification_response": pi, "response": i, "event": e}),
                )
                .classed(Anomaly::EventAfterProgress));
            }
            last_event = last_event.max(e.revision());
        }
        if !r.progress_notify {
            continue;
        }
        let rev = r.header_revision;
        let problem = match progress {
            Some((_, p)) if rev < p => Some(format!("went back from revision {p} to {rev}")),
            _ if rev < last_event => Some(format!(
                "is at revision {rev}, below the event at revision {last_event} already delivered"
            )),
            _ if start > 0 && rev < start - 1 => Some(format!(
                "is at revision {rev}, below the watch's start revision {start}"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            return Some(
                watch_violation(
                    WATCH_BOOKMARKABLE,
                    w,
                    format!("A progress notification on watch {} {problem}.", w.id),
                    json!({"response": i, "revision": rev}),
                )
                .classed(Anomaly::ProgressBackwards),
            );
        }
        progress = Some((i, progress.map_or(rev, |(_, p)| p.max(rev))));
    }
    None
}

/// The event the linearized history has for (revision, key), if any.
fn history_event<'a>(lin: &'a LinearizedHistory, rev: i64, key: &str) -> Option<&'a Event> {
    lin.events_at(rev).iter().find(|e| e.kv.key == key)
}

/// Same event as far as Reliable is concerned: kind, key, revision, and for a
/// put its value, version and lease (the create revision is IsCreate's),
/// as far as the history's source recorded them.
fn same_event(seen: &Event, real: &Event, recorded: Recorded) -> bool {
    seen.kind == real.kind
        && match seen.kind {
            EventKind::Delete => true,
            EventKind::Put => {
                seen.kv.value == real.kv.value
                    && recorded.event_version_agrees(seen.kv.version, real.kv.version)
                    && recorded.lease_agrees(seen.kv.lease, real.kv.lease)
            }
        }
}

/// The first pair of delivered events of one revision that came in another
/// order than the revision wrote them (when that order is known).
fn out_of_order<'a>(
    delivered: &[&'a Event],
    lin: &LinearizedHistory,
) -> Option<(&'a Event, &'a Event)> {
    let mut last: HashMap<i64, (usize, &Event)> = HashMap::new();
    for d in delivered {
        let rev = d.revision();
        if !lin.order_known(rev) {
            continue;
        }
        let Some(position) = lin.events_at(rev).iter().position(|e| e.kv.key == d.kv.key) else {
            continue;
        };
        if let Some((before, earlier)) = last.get(&rev)
            && *before > position
        {
            return Some((earlier, d));
        }
        last.insert(rev, (position, d));
    }
    None
}

fn check_reliable(
    w: &WatchRecord,
    lin: &LinearizedHistory,
    recorded: Recorded,
) -> Option<Violation> {
    let first = w.first_revision()?;
    let last = w.last_observed();
    let delivered = delivered_distinct(w, first);
    for d in &delivered {
        let real = history_event(lin, d.revision(), &d.kv.key);
        match real {
            Some(real) if same_event(d, real, recorded) => {}
            _ => {
                let what = match real {
                    Some(real) => {
                        format!("but the linearized history has {}", describe::event(real))
                    }
                    None => "which no operation of the linearized history produced".to_string(),
                };
                return Some(
                    watch_violation(
                        WATCH_RELIABLE,
                        w,
                        format!("Watch {} delivered {} {what}.", w.id, describe::event(d)),
                        json!({"event": d, "history": real}),
                    )
                    .classed(Anomaly::WrongEvent),
                );
            }
        }
    }
    if let Some((earlier, later)) = out_of_order(&delivered, lin) {
        return Some(watch_violation(
            WATCH_RELIABLE,
            w,
            format!(
                "Watch {} delivered {} before {}, but revision {} wrote {:?} first.",
                w.id,
                describe::event(earlier),
                describe::event(later),
                later.revision(),
                later.kv.key
            ),
            json!({"first_delivered": earlier, "then": later, "history": lin.events_at(later.revision())}),
        )
        .classed(Anomaly::OutOfOrderEvent));
    }
    let from = delivered.first().map_or(first, |e| e.revision());
    let got: HashSet<(i64, &str)> = delivered
        .iter()
        .map(|e| (e.revision(), e.kv.key.as_str()))
        .collect();
    let missing = expected_events(w, lin, from, last)
        .find(|e| !got.contains(&(e.revision(), e.kv.key.as_str())))?;
    Some(
        watch_violation(
            WATCH_RELIABLE,
            w,
            format!(
                "Watch {} never delivered {} although it reported revision {last}.",
                w.id,
                describe::event(missing)
            ),
            json!({"missing": missing, "last_observed": last}),
        )
        .classed(Anomaly::MissingEvent),
    )
}

fn check_resumable(w: &WatchRecord, lin: &LinearizedHistory) -> Option<Violation> {
    let first = w.first_revision()?;
    let (_, d0) = w
        .events()
        .find(|(_, e)| w.request.selects(e.kind, &e.kv.key))?;
    let e0 = expected_events(w, lin, first, d0.revision().max(first)).next();
    // Where the order inside the revision is not certain, any of its events
    // the watch selects may come first.
    let fine = e0.is_some_and(|e0| {
        let rev = e0.revision();
        rev == d0.revision()
            && (e0.kv.key == d0.kv.key
                || (!lin.order_known(rev)
                    && expected_events(w, lin, rev, rev).any(|e| e.kv.key == d0.kv.key)))
    });
    if fine {
        return None;
    }
    let expected = match e0 {
        _ if d0.revision() < first => "that is before its start revision".to_string(),
        Some(e0) if e0.revision() == d0.revision() => format!(
            "revision {} wrote {} first",
            e0.revision(),
            describe::event(e0)
        ),
        Some(e0) => format!(
            "the first event at or after revision {first} is {}",
            describe::event(e0)
        ),
        None => format!(
            "no event it selects happened from revision {first} to {}",
            d0.revision()
        ),
    };
    Some(
        watch_violation(
            WATCH_RESUMABLE,
            w,
            format!(
                "Watch {} from revision {first} first delivered {}, but {expected}.",
                w.id,
                describe::event(d0)
            ),
            json!({"start": first, "first_delivered": d0, "first_expected": e0}),
        )
        .classed(if d0.revision() < first {
            Anomaly::EventBeforeStart
        } else {
            Anomaly::WrongFirstEvent
        }),
    )
}

fn check_prev_kv(
    w: &WatchRecord,
    lin: &LinearizedHistory,
    recorded: Recorded,
) -> Option<Violation> {
    if !w.request.prev_kv {
        return None;
    }
    for (i, e) in w.events() {
        let Some(prev) = &e.prev_kv else { continue };
        let real = lin.get_at(&e.kv.key, e.revision() - 1);
        if real.is_some_and(|v| v.matches(prev, recorded)) {
            continue;
        }
        let truth = match real {
            Some(v) => format!(
                "the key held {}",
                describe::value(v.value.as_deref().unwrap_or(""))
            ),
            None => "the key did not exist".to_string(),
        };
        return Some(watch_violation(
            WATCH_PREV_KV,
            w,
            format!(
                "Watch {} delivered {} with previous value {}@{}, but at revision {} {truth}.",
                w.id,
                describe::event(e),
                describe::value(&prev.value),
                prev.mod_revision,
                e.revision() - 1
            ),
            json!({"response": i, "event": e, "history": real.map(|v| v.to_key_value(&e.kv.key))}),
        )
        .classed(Anomaly::WrongPrevKv));
    }
    None
}

fn check_is_create(w: &WatchRecord, lin: &LinearizedHistory) -> Option<Violation> {
    // Keys deleted earlier in the revision being read: a put after its
    // key's delete in one Txn creates the key again.
    let mut deleted_in: (i64, HashSet<&str>) = (0, HashSet::new());
    for (i, e) in w.events() {
        if deleted_in.0 != e.revision() {
            deleted_in = (e.revision(), HashSet::new());
        }
        if e.kind != EventKind::Put {
            deleted_in.1.insert(e.kv.key.as_str());
            continue;
        }
        let absent_before = deleted_in.1.contains(e.kv.key.as_str())
            || lin.get_at(&e.kv.key, e.revision() - 1).is_none();
        if e.is_create() == absent_before {
            continue;
        }
        let truth = if absent_before {
            "the key did not exist before, so it is a create"
        } else {
            "the key existed before, so it is an update"
        };
        return Some(
            watch_violation(
                WATCH_IS_CREATE,
                w,
                format!(
                    "Watch {} delivered {} with create revision {}: {truth}.",
                    w.id,
                    describe::event(e),
                    e.kv.create_revision
                ),
                json!({"response": i, "event": e}),
            )
            .classed(Anomaly::WrongCreateFlag),
        );
    }
    None
}

fn check_cancel(
    w: &WatchRecord,
    unknown_compaction: i64,
    lin: Option<&LinearizedHistory>,
) -> Option<Violation> {
    let first = w.first_revision().unwrap_or(0);
    let mut last_event = 0;
    for (i, r) in w.responses.iter().enumerate() {
        if r.canceled {
            if let Some(later) = w.responses.get(i + 1) {
                return Some(watch_violation(
                    WATCH_CANCEL_ON_COMPACTION,
                    w,
                    format!(
                        "Watch {} kept answering after it was cancelled (response {i}, then {} more).",
                        w.id,
                        w.responses.len() - i - 1
                    ),
                    json!({"cancel_response": i, "later": later}),
                )
                .classed(Anomaly::EventAfterCancel));
            }
            if r.compact_revision > 0 {
                let needed = first.max(last_event + 1);
                if needed >= r.compact_revision {
                    return Some(watch_violation(
                        WATCH_CANCEL_ON_COMPACTION,
                        w,
                        format!(
                            "Watch {} was cancelled for compaction at revision {}, but it only needed revisions from {needed} on, which that compaction kept.",
                            w.id, r.compact_revision
                        ),
                        json!({"cancel_response": i, "compact_revision": r.compact_revision, "next_needed": needed}),
                    )
                    .classed(Anomaly::UnjustifiedCompactionCancel));
                }
                let highest = lin.map(|l| {
                    l.compactions()
                        .iter()
                        .map(|c| c.revision)
                        .max()
                        .unwrap_or(0)
                        .max(unknown_compaction)
                });
                if let Some(highest) = highest
                    && r.compact_revision > highest
                {
                    return Some(watch_violation(
                        WATCH_CANCEL_ON_COMPACTION,
                        w,
                        format!(
                            "Watch {} was cancelled for compaction at revision {}, but the store never compacted past revision {highest}.",
                            w.id, r.compact_revision
                        ),
                        json!({"cancel_response": i, "compact_revision": r.compact_revision, "highest_compaction": highest}),
                    )
                    .classed(Anomaly::UnjustifiedCompactionCancel));
                }
            }
        }
        for e in &r.events {
            last_event = last_event.max(e.revision());
        }
    }
    if w.is_k8s() {
        return None;
    }
    silently_resumed(w).map(|(compacted, explanation)| {
        watch_violation(
            WATCH_CANCEL_ON_COMPACTION,
            w,
            explanation,
            json!({"member": w.member, "member_compacted": compacted}),
        )
        .classed(Anomaly::MissedCompactionCancel)
    })
}

/// A watch whose start revision was compacted on its member before it was
/// requested, that delivered events instead of being cancelled with the
/// compact revision.
pub(crate) fn silently_resumed(w: &WatchRecord) -> Option<(i64, String)> {
    let compacted = compacted_before_request(w)?;
    let cancel = w
        .responses
        .iter()
        .position(|r| r.canceled && r.compact_revision > 0);
    let first_event = w.responses.iter().position(|r| !r.events.is_empty());
    let resumed = match (first_event, cancel) {
        (Some(e), Some(c)) => e < c,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let member = w
        .member
        .map_or_else(|| "its member".to_string(), |m| format!("member {m}"));
    resumed.then(|| {
        (
            compacted,
            format!(
                "Watch {} from revision {} was requested after {member} had compacted to revision {compacted}, yet it delivered events instead of being cancelled with the compact revision.",
                w.id, w.request.start_revision
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::WatchRequest;

    fn watch(start_revision: i64, created_at: i64, member_compacted: Option<i64>) -> WatchRecord {
        WatchRecord {
            id: 1,
            client: 1,
            stream: 1,
            member: Some(0),
            member_compacted,
            request: WatchRequest {
                key: "k".into(),
                start_revision,
                ..Default::default()
            },
            created: 0,
            responses: vec![crate::history::WatchResponse {
                header_revision: created_at,
                ..Default::default()
            }],
            k8s_list: None,
            cancel_sent: None,
        }
    }

    #[test]
    fn only_the_member_s_own_compaction_past_the_start_demands_a_cancel() {
        // Created at 121, after some member answered a compaction to 30 at
        // 119: without the member's own word, nothing is certain.
        assert_eq!(compacted_before_request(&watch(1, 121, None)), None);
        assert_eq!(compacted_before_request(&watch(1, 121, Some(30))), Some(30));
        // The compaction kept the start revision, or the watch starts now.
        assert_eq!(compacted_before_request(&watch(30, 121, Some(30))), None);
        assert_eq!(compacted_before_request(&watch(0, 121, Some(30))), None);
    }
}
