//! The Kubernetes contract: how kube-apiserver uses the store (paged lists
//! pinned to a revision, optimistic writes on mod revision, a watch from the
//! list revision + 1, prev_kv on updates, 410 on compaction, bookmarks).

use std::collections::{BTreeMap, HashSet};

use serde_json::json;

use super::watch::{expected_events, silently_resumed};
use super::{Context, needs_linearization, verdict, violation};
use crate::history::describe;
use crate::history::{
    EventKind, K8sTag, KeySpan, OpResult, Operation, RangeRequest, RangeResponse, Request,
    Response, TxnOpResponse, TxnRequest, TxnResponse, WatchRecord,
};
use crate::models::etcd::{LinearizedHistory, bumps_revision};
use crate::report::{PropertyResult, Violation};
use crate::rules::*;

pub(crate) fn check(ctx: &Context) -> Vec<PropertyResult> {
    let max = ctx.options.max_reported;
    let lists = lists_of(&ctx.history.operations);
    let k8s_watches: Vec<&WatchRecord> =
        ctx.history.watches.iter().filter(|w| w.is_k8s()).collect();

    let pinned = lists
        .iter()
        .flat_map(|(id, pages)| list_pinned(*id, pages))
        .collect();
    let compactions = compactions(&ctx.history.operations);
    let prev_kv = k8s_watches
        .iter()
        .filter_map(|w| watch_prev_kv(w, &compactions))
        .collect();
    let compacted = k8s_watches
        .iter()
        .filter_map(|w| {
            silently_resumed(w).map(|(compacted, explanation)| {
                violation(
                    K8S_WATCH_COMPACTED,
                    explanation,
                    vec![],
                    Some(w.id),
                    json!({"list": w.k8s_list, "member": w.member, "member_compacted": compacted}),
                )
            })
        })
        .collect();
    let mut optimistic: Vec<Violation> = ctx
        .history
        .operations
        .iter()
        .filter_map(optimistic_self_check)
        .collect();

    let mut results = vec![verdict(K8S_LIST_PINNED, pinned, max)];
    match ctx.linearized {
        Ok(lin) => {
            let complete = lists
                .iter()
                .flat_map(|(id, pages)| list_complete(*id, pages, lin))
                .collect();
            optimistic.extend(
                ctx.history
                    .operations
                    .iter()
                    .filter_map(|op| optimistic_check(op, lin)),
            );
            let from_list = k8s_watches
                .iter()
                .filter_map(|w| watch_from_list(w, &lists, lin))
                .collect();
            let bookmarks = k8s_watches
                .iter()
                .filter_map(|w| bookmarks(w, lin))
                .collect();
            results.push(verdict(K8S_LIST_COMPLETE, complete, max));
            results.push(verdict(K8S_OPTIMISTIC_WRITE, optimistic, max));
            results.push(verdict(K8S_WATCH_FROM_LIST, from_list, max));
            results.push(verdict(K8S_WATCH_PREV_KV, prev_kv, max));
            results.push(verdict(K8S_WATCH_COMPACTED, compacted, max));
            results.push(verdict(K8S_BOOKMARKS, bookmarks, max));
        }
        Err(reason) => {
            let or_unknown = |rule: &str, found: Vec<Violation>, relevant: bool| {
                if found.is_empty() && relevant {
                    needs_linearization(rule, reason)
                } else {
                    verdict(rule, found, max)
                }
            };
            let has_optimistic = ctx.history.operations.iter().any(|o| {
                matches!(
                    o.k8s,
                    Some(K8sTag::OptimisticPut { .. } | K8sTag::OptimisticDelete { .. })
                )
            });
            results.push(or_unknown(K8S_LIST_COMPLETE, vec![], !lists.is_empty()));
            results.push(or_unknown(K8S_OPTIMISTIC_WRITE, optimistic, has_optimistic));
            results.push(or_unknown(
                K8S_WATCH_FROM_LIST,
                vec![],
                !k8s_watches.is_empty(),
            ));
            results.push(verdict(K8S_WATCH_PREV_KV, prev_kv, max));
            results.push(verdict(K8S_WATCH_COMPACTED, compacted, max));
            results.push(or_unknown(K8S_BOOKMARKS, vec![], !k8s_watches.is_empty()));
        }
    }
    results
}

/// One page of a list: its request and, when it succeeded, its response.
struct Page<'a> {
    op: &'a Operation,
    page: u32,
    request: &'a RangeRequest,
    response: Option<&'a RangeResponse>,
}

fn lists_of(ops: &[Operation]) -> BTreeMap<u64, Vec<Page<'_>>> {
    let mut lists: BTreeMap<u64, Vec<Page<'_>>> = BTreeMap::new();
    for op in ops {
        let (Some(K8sTag::ListPage { list, page }), Request::Range(request)) =
            (&op.k8s, &op.request)
        else {
            continue;
        };
        let response = match &op.result {
            OpResult::Ok(Response::Range(r)) => Some(r),
            _ => None,
        };
        lists.entry(*list).or_default().push(Page {
            op,
            page: *page,
            request,
            response,
        });
    }
    for pages in lists.values_mut() {
        pages.sort_by_key(|p| p.page);
    }
    lists
}

/// The revision a list is pinned to: its first page's header revision.
fn list_revision(pages: &[Page<'_>]) -> Option<i64> {
    let first = pages.first().filter(|p| p.page == 0)?;
    first.response.map(|r| r.header_revision).filter(|r| *r > 0)
}

fn list_pinned(list: u64, pages: &[Page<'_>]) -> Option<Violation> {
    let rev = list_revision(pages)?;
    let bad = pages
        .iter()
        .find(|p| p.page > 0 && p.request.revision != rev)?;
    Some(violation(
        K8S_LIST_PINNED,
        format!(
            "Page {} of list {list} was read at revision {} instead of the first page's revision {rev}.",
            bad.page,
            if bad.request.revision == 0 {
                "\"now\" (0)".to_string()
            } else {
                bad.request.revision.to_string()
            }
        ),
        vec![pages[0].op.id, bad.op.id],
        None,
        json!({"list": list, "list_revision": rev, "page": bad.page, "page_revision": bad.request.revision}),
    ))
}

fn list_complete(list: u64, pages: &[Page<'_>], lin: &LinearizedHistory) -> Option<Violation> {
    let rev = list_revision(pages)?;
    let ids: Vec<u64> = pages.iter().map(|p| p.op.id).collect();
    let fail = |explanation: String, details: serde_json::Value| {
        Some(violation(
            K8S_LIST_COMPLETE,
            explanation,
            ids.clone(),
            None,
            details,
        ))
    };
    let answered: Vec<(&Page<'_>, &RangeResponse)> = pages
        .iter()
        .map_while(|p| p.response.map(|r| (p, r)))
        .collect();
    for pair in answered.windows(2) {
        let [(a, ra), (b, _)] = pair else { continue };
        if !ra.more {
            return fail(
                format!(
                    "List {list} has page {} after page {}, which said no more keys remained.",
                    b.page, a.page
                ),
                json!({"list": list, "page": b.page}),
            );
        }
        if let Some(last) = ra.kvs.last() {
            let next = format!("{}\0", last.key);
            if b.request.key != next {
                return fail(
                    format!(
                        "Page {} of list {list} starts at {:?} instead of right after the previous page's last key {:?}.",
                        b.page, b.request.key, last.key
                    ),
                    json!({"list": list, "page": b.page, "start": b.request.key, "expected_start": next}),
                );
            }
        }
    }
    if answered.len() < pages.len() {
        // A page failed: the client abandoned the list, nothing more to compare.
        return None;
    }
    let (last_page, last) = answered.last()?;
    if last.more {
        return fail(
            format!(
                "List {list} stops after page {} although that page said more keys remained.",
                last_page.page
            ),
            json!({"list": list, "page": last_page.page}),
        );
    }
    let first = pages[0].request;
    let keys_only = first.keys_only;
    let got: Vec<(String, i64, String)> = answered
        .iter()
        .flat_map(|(_, r)| r.kvs.iter())
        .map(|kv| (kv.key.clone(), kv.mod_revision, kv.value.clone()))
        .collect();
    let expected: Vec<(String, i64, String)> = lin
        .range_at(KeySpan::new(&first.key, &first.range_end), rev)
        .map(|kv| {
            let value = if keys_only { String::new() } else { kv.value };
            (kv.key, kv.mod_revision, value)
        })
        .collect();
    if got != expected {
        let diff = got
            .iter()
            .zip(&expected)
            .position(|(g, e)| g != e)
            .unwrap_or(got.len().min(expected.len()));
        return fail(
            format!(
                "List {list} at revision {rev} returned {} keys, but the store held {} keys there (first difference at item {diff}).",
                got.len(),
                expected.len()
            ),
            json!({"list": list, "revision": rev, "returned": got.len(), "expected": expected.len(), "first_difference": diff}),
        );
    }
    None
}

fn optimistic_tag(op: &Operation) -> Option<(&'static str, i64)> {
    match op.k8s {
        Some(K8sTag::OptimisticPut {
            expected_mod_revision,
        }) => Some(("OptimisticPut", expected_mod_revision)),
        Some(K8sTag::OptimisticDelete {
            expected_mod_revision,
        }) => Some(("OptimisticDelete", expected_mod_revision)),
        _ => None,
    }
}

/// The object key of an optimistic write: the compared key, else the written one.
fn object_key(txn: &TxnRequest) -> Option<&str> {
    if let Some(c) = txn.compare.first() {
        return Some(&c.key);
    }
    txn.success.iter().find_map(|op| match op {
        crate::history::TxnOp::Put(p) => Some(p.key.as_str()),
        crate::history::TxnOp::DeleteRange(d) => Some(d.key.as_str()),
        _ => None,
    })
}

fn optimistic_parts(
    op: &Operation,
) -> Option<(&'static str, i64, &TxnRequest, &TxnResponse, &str)> {
    let (kind, expected) = optimistic_tag(op)?;
    let (Request::Txn(txn), OpResult::Ok(Response::Txn(resp))) = (&op.request, &op.result) else {
        return None;
    };
    Some((kind, expected, txn, resp, object_key(txn)?))
}

/// A failed optimistic write returns the current object: it cannot carry the
/// expected mod revision (the apiserver would retry forever).
fn optimistic_self_check(op: &Operation) -> Option<Violation> {
    let (kind, expected, _, resp, key) = optimistic_parts(op)?;
    if resp.succeeded {
        return None;
    }
    let current = resp.responses.iter().find_map(|r| match r {
        TxnOpResponse::Range(r) => Some(
            r.kvs
                .iter()
                .find(|kv| kv.key == key)
                .map_or(0, |kv| kv.mod_revision),
        ),
        _ => None,
    })?;
    (current == expected).then(|| {
        violation(
            K8S_OPTIMISTIC_WRITE,
            format!(
                "{kind} {} on {key:?} failed, yet the object it returned has the expected mod revision {expected}.",
                op.id
            ),
            vec![op.id],
            None,
            json!({"key": key, "expected_mod_revision": expected, "returned_mod_revision": current}),
        )
    })
}

fn optimistic_check(op: &Operation, lin: &LinearizedHistory) -> Option<Violation> {
    let (kind, expected, txn, resp, key) = optimistic_parts(op)?;
    let header = resp.header_revision;
    if header <= 0 {
        return None;
    }
    let wrote = bumps_revision(&op.request, &Response::Txn(resp.clone()));
    let before = if wrote { header - 1 } else { header };
    let actual = lin.get_at(key, before).map_or(0, |v| v.mod_revision);
    if resp.succeeded == (actual == expected) {
        return None;
    }
    let _ = txn;
    Some(violation(
        K8S_OPTIMISTIC_WRITE,
        format!(
            "{kind} {} on {key:?} expecting mod revision {expected} {} although the key's mod revision was {actual} at revision {before}.",
            op.id,
            if resp.succeeded {
                "succeeded"
            } else {
                "failed"
            }
        ),
        vec![op.id],
        None,
        json!({"key": key, "expected_mod_revision": expected, "actual_mod_revision": actual, "revision": before, "succeeded": resp.succeeded}),
    ))
}

fn watch_from_list(
    w: &WatchRecord,
    lists: &BTreeMap<u64, Vec<Page<'_>>>,
    lin: &LinearizedHistory,
) -> Option<Violation> {
    let list = w.k8s_list?;
    let fail = |explanation: String, details: serde_json::Value| {
        Some(violation(
            K8S_WATCH_FROM_LIST,
            explanation,
            vec![],
            Some(w.id),
            details,
        ))
    };
    let Some(rev) = lists.get(&list).and_then(|pages| list_revision(pages)) else {
        return fail(
            format!(
                "Watch {} follows list {list}, which has no successful first page.",
                w.id
            ),
            json!({"list": list}),
        );
    };
    if w.request.start_revision != rev + 1 {
        return fail(
            format!(
                "Watch {} after list {list} (revision {rev}) starts at revision {} instead of {}.",
                w.id,
                w.request.start_revision,
                rev + 1
            ),
            json!({"list": list, "list_revision": rev, "start_revision": w.request.start_revision}),
        );
    }
    let last = w.last_observed();
    let mut expected: Vec<_> = expected_events(w, lin, rev + 1, last)
        .map(compared_as)
        .collect();
    let mut delivered: Vec<_> = w.events().map(|(_, e)| compared_as(e)).collect();
    // Within a revision events come in write order; where that order is not
    // certain, compare the revision's events as a set.
    for events in [&mut expected, &mut delivered] {
        events
            .chunk_by_mut(|a, b| a.0 == b.0)
            .filter(|group| !lin.order_known(group[0].0))
            .for_each(|group| group.sort());
    }
    if delivered == expected {
        return None;
    }
    let at = delivered
        .iter()
        .zip(&expected)
        .position(|(d, e)| d != e)
        .unwrap_or(delivered.len().min(expected.len()));
    let show = |e: Option<&(i64, &str, bool)>| match e {
        Some((rev, key, put)) => format!("{} {key:?}@{rev}", if *put { "put" } else { "delete" }),
        None => "nothing".to_string(),
    };
    fail(
        format!(
            "Watch {} after list {list} does not see every event from revision {} once and in order: at position {at} it delivered {}, where the history has {}.",
            w.id,
            rev + 1,
            show(delivered.get(at)),
            show(expected.get(at))
        ),
        json!({"list": list, "position": at, "delivered": delivered.len(), "expected": expected.len()}),
    )
}

/// What a watch after a list compares of an event: revision, key, and
/// whether it is a put (the key borrowed: every event of every such watch
/// is compared).
fn compared_as(e: &crate::history::Event) -> (i64, &str, bool) {
    (e.revision(), e.kv.key.as_str(), e.kind == EventKind::Put)
}

/// Every compaction that may have taken effect: its call time and revision
/// (a definite failure changed nothing).
fn compactions(ops: &[Operation]) -> Vec<(u64, i64)> {
    ops.iter()
        .filter_map(|op| match (&op.request, &op.result) {
            (Request::Compact { .. }, OpResult::Fail(_)) => None,
            (Request::Compact { revision }, _) => Some((op.call, *revision)),
            _ => None,
        })
        .collect()
}

/// An update or delete delivered without its previous value to a watch
/// that asked for it. etcd's sendLoop reads the previous value at the
/// event's revision minus one and leaves it out when that read fails: once
/// a compaction at the event's revision or later has run, it is gone (the
/// apiserver's watcher then errs, "etcd event received with PrevKv=nil",
/// and its client lists again). So a compaction to at least the event's
/// revision called before the response arrived excuses it.
fn watch_prev_kv(w: &WatchRecord, compactions: &[(u64, i64)]) -> Option<Violation> {
    if !w.request.prev_kv {
        return None;
    }
    let compacted_past = |at: u64, revision: i64| {
        compactions
            .iter()
            .any(|&(call, compacted)| call < at && compacted >= revision)
    };
    let (i, e) = w.events().find(|(i, e)| {
        e.prev_kv.is_none()
            && (e.kind == EventKind::Delete || !e.is_create())
            && !compacted_past(w.responses[*i].at, e.kv.mod_revision)
    })?;
    Some(violation(
        K8S_WATCH_PREV_KV,
        format!(
            "Watch {} asked for prev_kv but delivered {} without it; the apiserver cannot handle an update or delete without the previous object.",
            w.id,
            describe::event(e)
        ),
        vec![],
        Some(w.id),
        json!({"response": i, "event": e}),
    ))
}

fn bookmarks(w: &WatchRecord, lin: &LinearizedHistory) -> Option<Violation> {
    let mut checked = HashSet::new();
    for (i, r) in w.responses.iter().enumerate() {
        if !r.progress_notify || r.header_revision <= 1 || !checked.insert(r.header_revision) {
            continue;
        }
        let rev = r.header_revision;
        let problem = if rev > lin.max_revision() {
            Some(format!(
                "the store never reached it (its last revision is {})",
                lin.max_revision()
            ))
        } else {
            lin.reached_not_before(rev)
                .filter(|(_, called)| *called > r.at)
                .map(|(written, called)| {
                    format!("the request that wrote revision {written} was only called at {called}")
                })
        };
        if let Some(problem) = problem {
            return Some(violation(
                K8S_BOOKMARKS,
                format!(
                    "Watch {} got a bookmark at revision {rev} at time {}, but {problem}.",
                    w.id, r.at
                ),
                vec![],
                Some(w.id),
                json!({"response": i, "revision": rev, "at": r.at}),
            ));
        }
    }
    None
}
