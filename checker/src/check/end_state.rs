//! After the run quiesced: equal HashKV on all members, the same member
//! list on members at the same applied index, acknowledged writes still
//! there in the final reads, and the cluster answering again in time.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::{Context, verdict, violation};
use crate::anomaly::Anomaly;
use crate::history::Membership;
use crate::history::describe;
use crate::history::{
    KeySpan, KeyValue, OpResult, Operation, PutRequest, RangeRequest, RangeResponse, Request,
    Response, TxnOp, TxnOpResponse, TxnRequest, TxnResponse,
};
use crate::models::etcd::exec::written_spans;
use crate::report::{PropertyResult, Verdict, Violation};
use crate::rules::{END_DURABILITY, END_HASHKV, END_LIVENESS, END_MEMBERS};

pub(crate) fn check(ctx: &Context) -> Vec<PropertyResult> {
    vec![
        hash_kv(ctx),
        membership(ctx),
        durability(ctx),
        liveness(ctx),
    ]
}

fn unknown(rule: &str, reason: impl Into<String>) -> PropertyResult {
    PropertyResult {
        property: rule.to_string(),
        verdict: Verdict::Unknown(reason.into()),
    }
}

fn hash_kv(ctx: &Context) -> PropertyResult {
    let members = &ctx.end.members;
    if members.is_empty() {
        return unknown(END_HASHKV, "no member end state was recorded");
    }
    let mut groups: BTreeMap<(i64, i64), Vec<(u64, u32)>> = BTreeMap::new();
    for m in members {
        if let Some(h) = m.hash_kv {
            groups
                .entry((h.revision, h.compact_revision))
                .or_default()
                .push((m.member, h.hash));
        }
    }
    let mut found = vec![];
    let mut compared = 0;
    for ((revision, compact), reports) in &groups {
        if reports.len() < 2 {
            continue;
        }
        compared += 1;
        let first = reports[0].1;
        if reports.iter().any(|(_, h)| *h != first) {
            let listed: Vec<String> = reports
                .iter()
                .map(|(m, h)| format!("member {m}: {h:#010x}"))
                .collect();
            found.push(violation(
                END_HASHKV,
                format!(
                    "Members disagree on HashKV at revision {revision} (compact revision {compact}): {}.",
                    listed.join(", ")
                ),
                vec![],
                None,
                json!({"revision": revision, "compact_revision": compact, "hashes": reports}),
            )
            .classed(Anomaly::HashDivergence));
        }
    }
    if found.is_empty() && compared == 0 {
        let reporting: usize = groups.values().map(Vec::len).sum();
        if members.len() == 1 && reporting == 1 {
            return verdict(END_HASHKV, vec![], 0);
        }
        return unknown(
            END_HASHKV,
            format!(
                "no two members reported HashKV at the same revision ({reporting} of {} members reported one)",
                members.len()
            ),
        );
    }
    verdict(END_HASHKV, found, ctx.options.max_reported)
}

/// Members that applied the same raft index hold the same configuration:
/// each lists the same members. Members at different indexes are not
/// compared (a configuration change may lie between them).
fn membership(ctx: &Context) -> PropertyResult {
    let mut groups: BTreeMap<u64, Vec<(u64, &Membership)>> = BTreeMap::new();
    for m in &ctx.end.members {
        if let Some(list) = &m.membership {
            groups
                .entry(list.applied_index)
                .or_default()
                .push((m.member, list));
        }
    }
    if groups.is_empty() {
        return unknown(END_MEMBERS, "no member answered its member list");
    }
    let found = groups
        .iter()
        .filter_map(|(index, lists)| {
            let (first_member, first) = lists[0];
            let (other_member, other) = lists
                .iter()
                .find(|(_, l)| l.members != first.members)?;
            let show = |l: &Membership| {
                l.members
                    .iter()
                    .map(|e| {
                        let learner = if e.is_learner { " (learner)" } else { "" };
                        format!("{:x} at {}{learner}", e.id, e.peer)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Some(
                violation(
                    END_MEMBERS,
                    format!(
                        "Members {first_member} and {other_member} both applied raft index {index} but list different members: member {first_member} [{}], member {other_member} [{}].",
                        show(first),
                        show(other)
                    ),
                    vec![],
                    None,
                    json!({"applied_index": index, "lists": lists.iter().map(|(m, l)| json!({"member": m, "members": l.members})).collect::<Vec<_>>()}),
                )
                .classed(Anomaly::MembershipDivergence),
            )
        })
        .collect();
    verdict(END_MEMBERS, found, ctx.options.max_reported)
}

/// What the final reads say about a key they returned: the answer with the
/// highest revision. (Keys the final reads lack are found by `absent_in_final_read`.)
struct FinalView<'a> {
    op: &'a Operation,
    revision: i64,
    kv: Option<&'a KeyValue>,
    keys_only: bool,
}

fn final_views<'a>(
    finals: &[(&'a Operation, &'a RangeRequest, &'a RangeResponse)],
) -> HashMap<&'a str, FinalView<'a>> {
    let mut views: HashMap<&str, FinalView<'_>> = HashMap::new();
    for (op, req, resp) in finals {
        for kv in &resp.kvs {
            let view = FinalView {
                op,
                revision: resp.header_revision,
                kv: Some(kv),
                keys_only: req.keys_only,
            };
            upsert(&mut views, &kv.key, view);
        }
    }
    views
}

fn upsert<'a>(views: &mut HashMap<&'a str, FinalView<'a>>, key: &'a str, view: FinalView<'a>) {
    match views.get(key) {
        Some(v) if v.revision >= view.revision => {}
        _ => {
            views.insert(key, view);
        }
    }
}

/// Linearizable reads of the current state called after the last write returned.
fn final_reads(
    ops: &[Operation],
    last_write: u64,
) -> Vec<(&Operation, &RangeRequest, &RangeResponse)> {
    ops.iter()
        .filter_map(|op| match (&op.request, &op.result) {
            (Request::Range(req), OpResult::Ok(Response::Range(resp)))
                if op.call >= last_write
                    && !req.serializable
                    && req.revision == 0
                    && !req.count_only
                    && !req.reshaped()
                    && resp.header_revision > 0 =>
            {
                Some((op, req, resp))
            }
            _ => None,
        })
        .collect()
}

/// The latest final read whose span covers `key` but that did not return it.
fn absent_in_final_read<'a>(
    finals: &[(&'a Operation, &RangeRequest, &RangeResponse)],
    key: &str,
) -> Option<(&'a Operation, i64)> {
    finals
        .iter()
        .filter(|(_, req, resp)| {
            req.span().contains(key)
                && (!resp.more || resp.kvs.last().is_some_and(|kv| kv.key.as_str() >= key))
                && !resp.kvs.iter().any(|kv| kv.key == key)
        })
        .map(|(op, _, resp)| (*op, resp.header_revision))
        .max_by_key(|(_, rev)| *rev)
}

/// Writes the client saw succeed: puts with their revision, and deletes.
enum Acked<'a> {
    Put(&'a PutRequest, i64),
    Delete(KeySpan<'a>, i64),
}

fn acknowledged(op: &Operation) -> Vec<Acked<'_>> {
    fn txn<'a>(t: &'a TxnRequest, r: &'a TxnResponse, rev: i64, out: &mut Vec<Acked<'a>>) {
        let branch = if r.succeeded { &t.success } else { &t.failure };
        for (o, resp) in branch.iter().zip(&r.responses) {
            match (o, resp) {
                // A put keeping the key's value writes no value of its
                // own to look for (as for a Put outside a Txn).
                (TxnOp::Put(p), _) if !p.ignore_value => out.push(Acked::Put(p, rev)),
                (TxnOp::DeleteRange(d), TxnOpResponse::DeleteRange(dr)) if dr.deleted > 0 => {
                    // A put earlier in the same Txn that this delete covers
                    // (etcd's duplicate-key check lets a from-key delete
                    // after a put through, etcd #22445) did not outlive
                    // its own Txn: no write of it to look for at the end.
                    let span = d.span();
                    out.retain(|a| !matches!(a, Acked::Put(p, _) if span.contains(&p.key)));
                    out.push(Acked::Delete(span, rev))
                }
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn(inner, ir, rev, out),
                _ => {}
            }
        }
    }
    let mut out = vec![];
    let OpResult::Ok(resp) = &op.result else {
        return out;
    };
    let rev = resp.header_revision();
    if rev <= 0 {
        return out;
    }
    match (&op.request, resp) {
        (Request::Put(p), Response::Put(_)) if !p.ignore_value => out.push(Acked::Put(p, rev)),
        (Request::DeleteRange(d), Response::DeleteRange(dr)) if dr.deleted > 0 => {
            out.push(Acked::Delete(d.span(), rev))
        }
        (Request::Txn(t), Response::Txn(r)) => txn(t, r, rev, &mut out),
        _ => {}
    }
    out
}

/// Whether some operation may have removed `key` after revision `after`
/// (and no later than `until`), or a lease or a per-key TTL may have expired it.
fn removal_explained(
    deleters: &[&Operation],
    key: &str,
    after: i64,
    until: i64,
    until_time: u64,
) -> bool {
    deleters.iter().any(|op| {
        let in_window = match &op.result {
            OpResult::Ok(r) => r.header_revision() > after && r.header_revision() <= until,
            OpResult::Unknown(_) => op.call <= until_time,
            OpResult::Fail(_) => false,
        };
        in_window
            && match &op.request {
                Request::LeaseRevoke { .. } => true,
                Request::Put(p) => p.key == key,
                req => written_spans(req).iter().any(|s| s.contains(key)),
            }
    })
}

/// Operations that may delete keys (directly, or through a lease or a TTL).
fn may_delete(req: &Request) -> bool {
    match req {
        Request::LeaseRevoke { .. } => true,
        Request::Put(p) => expires(p),
        req => deletes_possible(req),
    }
}

/// A put whose key the store may delete on its own later (through the
/// lease it names or, with `ignore_lease`, the one it keeps).
fn expires(p: &PutRequest) -> bool {
    p.lease != 0 || p.ignore_lease || p.ttl > 0
}

fn deletes_possible(req: &Request) -> bool {
    fn txn(t: &TxnRequest) -> bool {
        t.success.iter().chain(&t.failure).any(|o| match o {
            TxnOp::DeleteRange(_) => true,
            TxnOp::Put(p) => expires(p),
            TxnOp::Txn(inner) => txn(inner),
            TxnOp::Range(_) => false,
        })
    }
    match req {
        Request::DeleteRange(_) => true,
        Request::Txn(t) => txn(t),
        _ => false,
    }
}

fn durability(ctx: &Context) -> PropertyResult {
    let ops = &ctx.history.operations;
    if !ops.iter().any(|o| !acknowledged(o).is_empty()) {
        return verdict(END_DURABILITY, vec![], 0);
    }
    let last_write = ops
        .iter()
        .filter(|o| o.request.may_write())
        .filter_map(|o| o.ret)
        .max()
        .unwrap_or(0);
    let finals = final_reads(ops, last_write);
    if finals.is_empty() {
        return unknown(
            END_DURABILITY,
            "the history has no linearizable final reads after the last write returned",
        );
    }
    let views = final_views(&finals);
    let deleters: Vec<&Operation> = ops.iter().filter(|o| may_delete(&o.request)).collect();
    let mut found: Vec<Violation> = vec![];
    for op in ops {
        for acked in acknowledged(op) {
            match acked {
                Acked::Put(p, rev) => {
                    if let Some(view) = views.get(p.key.as_str()).filter(|v| v.revision >= rev) {
                        let Some(kv) = view.kv else { continue };
                        let lost = kv.mod_revision < rev
                            || (kv.mod_revision == rev && !view.keys_only && kv.value != p.value);
                        if lost {
                            found.push(violation(
                                END_DURABILITY,
                                format!(
                                    "Put {} of {}={} was acknowledged at revision {rev}, but final read {} shows {}@{} instead.",
                                    op.id,
                                    describe::key(&p.key),
                                    describe::value(&p.value),
                                    view.op.id,
                                    describe::value(&kv.value),
                                    kv.mod_revision
                                ),
                                vec![op.id, view.op.id],
                                None,
                                json!({"key": p.key, "revision": rev, "final": kv}),
                            )
                            .classed(Anomaly::AckedWriteMissingAtEnd));
                        }
                        continue;
                    }
                    if let Some((read, final_rev)) = absent_in_final_read(&finals, &p.key)
                        && final_rev >= rev
                        && !expires(p)
                        && !removal_explained(
                            &deleters,
                            &p.key,
                            rev,
                            final_rev,
                            read.ret.unwrap_or(u64::MAX),
                        )
                    {
                        found.push(violation(
                            END_DURABILITY,
                            format!(
                                "Put {} of {}={} was acknowledged at revision {rev}, but final read {} (revision {final_rev}) does not have the key and nothing deleted it.",
                                op.id,
                                describe::key(&p.key),
                                describe::value(&p.value),
                                read.id
                            ),
                            vec![op.id, read.id],
                            None,
                            json!({"key": p.key, "revision": rev, "final_revision": final_rev}),
                        )
                        .classed(Anomaly::AckedWriteMissingAtEnd));
                    }
                }
                Acked::Delete(span, rev) => {
                    let back = views.values().find(|v| {
                        v.revision >= rev
                            && v.kv
                                .is_some_and(|kv| span.contains(&kv.key) && kv.mod_revision < rev)
                    });
                    if let Some(view) = back
                        && let Some(kv) = view.kv
                    {
                        found.push(violation(
                            END_DURABILITY,
                            format!(
                                "Delete {} was acknowledged at revision {rev}, but final read {} still shows {:?} from revision {}.",
                                op.id, view.op.id, kv.key, kv.mod_revision
                            ),
                            vec![op.id, view.op.id],
                            None,
                            json!({"key": kv.key, "revision": rev, "final": kv}),
                        )
                        .classed(Anomaly::AckedWriteMissingAtEnd));
                    }
                }
            }
        }
    }
    verdict(END_DURABILITY, found, ctx.options.max_reported)
}

fn liveness(ctx: &Context) -> PropertyResult {
    let Some(heal) = ctx.end.heal_time else {
        return verdict(END_LIVENESS, vec![], 0);
    };
    if ctx.end.liveness_bound == 0 {
        return unknown(END_LIVENESS, "no liveness bound was configured");
    }
    let first = ctx.end.first_success_after_heal.or_else(|| {
        ctx.history
            .operations
            .iter()
            .filter(|o| o.call >= heal && matches!(o.result, OpResult::Ok(_)))
            .filter_map(|o| o.ret)
            .min()
    });
    let bound = ctx.end.liveness_bound;
    let found = match first {
        None => vec![violation(
            END_LIVENESS,
            format!("No request succeeded after the faults healed at {heal}."),
            vec![],
            None,
            json!({"heal_time": heal, "bound": bound}),
        )],
        Some(t) if t.saturating_sub(heal) > bound => vec![violation(
            END_LIVENESS,
            format!(
                "The first request after healing at {heal} succeeded only at {t}, {} ns later, past the bound of {bound} ns.",
                t - heal
            ),
            vec![],
            None,
            json!({"heal_time": heal, "first_success": t, "bound": bound}),
        )],
        Some(_) => vec![],
    };
    verdict(END_LIVENESS, found, ctx.options.max_reported)
}
