//! What the whole history says about revisions before the search starts: the
//! revisions definite writes claimed, the key-values observed at each revision,
//! leases seen absent. This is what lets the search place operations whose
//! outcome is unknown (and lease expiries) only where they can fit.

use std::collections::BTreeMap;

use super::fast_hash::{FastMap as HashMap, FastSet as HashSet};

use super::exec::written_spans;
use crate::history::{
    EtcdError, EventKind, History, KeySpan, KeyValue, OpResult, PutRequest, Request, Response,
    TxnOp, TxnOpResponse, TxnRequest, TxnResponse, WatchRecord,
};

/// One event a watch reported at a revision: used only to prefer, among
/// unknown writes, the one the watches saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting<'h> {
    pub key: &'h str,
    pub kind: EventKind,
    pub value: &'h str,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis<'h> {
    /// Revisions written by an operation with a definite answer: nothing else may take them.
    pub claimed: HashSet<i64>,
    /// Key-values reported by definite linearizable answers, by mod revision.
    pub observed: HashMap<i64, Vec<&'h KeyValue>>,
    /// Per key, revision intervals `(from, to]` in which a definite answer shows
    /// the key was not written (it reported a version older than `from + 1`
    /// as current at `to`), merged and sorted.
    pub unwritten: HashMap<&'h str, Vec<(i64, i64)>>,
    /// Versions reported by definite answers: (key, create, mod, version).
    generations: Vec<(&'h str, i64, i64, i64)>,
    /// Per key, the versions definite answers reported as current: (create
    /// revision, or 0 where only a compare showed it; mod revision; a
    /// revision it was current at). The key existed, as that version, from
    /// its mod revision to that one.
    pub current: HashMap<&'h str, Vec<(i64, i64, i64)>>,
    /// Revisions of definite puts, per key.
    definite_puts: HashMap<&'h str, Vec<i64>>,
    /// Events watches reported, by revision.
    pub sightings: HashMap<i64, Vec<Sighting<'h>>>,
    /// Per revision, the key spans of unfiltered watches that started at or
    /// before it and vouched for it but reported no event at it: per those watches, nothing
    /// in the span was written there. Only a preference for the search, as
    /// sightings are (a watch that missed an event is the watch rules' to
    /// report).
    pub silences: HashMap<i64, Vec<KeySpan<'h>>>,
    /// Key-values watch events reported, each with the revision at which it
    /// was the key's current version (a put event's value at its own
    /// revision, an event's previous value just before the event). Facts only
    /// for the search that heeds watches (see [`Analysis::heeding_watches`]).
    watch_values: Vec<(&'h KeyValue, i64)>,
    /// Leases some definite answer needs to exist (a put with it succeeded,
    /// a keep-alive or revoke of it succeeded, its time-to-live was read).
    pub needed_leases: HashSet<i64>,
    /// Some answer reports a compaction (a Compacted error, a watch cancelled
    /// with a compact revision).
    pub compaction_seen: bool,
    /// Leases some definite answer says did not exist at some point.
    pub seen_absent: HashSet<i64>,
    /// Leases of transactions that failed with LeaseNotFound (which of a
    /// transaction's leases was missing is not known).
    pub absent_in_txn: HashSet<i64>,
    /// Leases requests with an unknown outcome refer to.
    pub unknown_mentions: HashSet<i64>,
    /// Key spans that a step the search chooses may write, with the call time
    /// of the request: writes with an unknown outcome, and keys put with a
    /// lease (an expiry may delete them).
    pub uncertain: Vec<(KeySpan<'h>, u64)>,
    /// Header revisions of definite lease revokes: whether a revoke took a new
    /// revision (it did if keys were attached) cannot be told from its answer.
    pub revoke_revisions: HashSet<i64>,
    /// Call and return times of the definite write of each claimed revision.
    pub claim_times: BTreeMap<i64, (u64, u64)>,
    /// The highest revision any definite answer reported.
    pub max_revision: i64,
    /// Revisions written by definite puts that copied the previous value
    /// (`ignore_value`).
    pub copied_values: HashSet<i64>,
    /// Lease ids used but never granted under that id (a grant without a requested
    /// id and an unknown outcome may have obtained one of them).
    pub orphan_leases: Vec<i64>,
    /// For each lease granted by exactly one request: how many definite
    /// answers need it alive (a keep-alive, revoke or time-to-live that found
    /// it, a put attached to it). Once gone it never comes back, so it cannot
    /// be revoked or expire before all of them.
    pub lease_uses: HashMap<i64, u32>,
    /// Leases granted by exactly one request: once removed, gone for good.
    pub granted_once: HashSet<i64>,
    /// The past revisions definite answers read at, each with the keys it
    /// read (one entry per read): the store's fingerprint keeps what they can
    /// see until they are answered.
    pub past_reads: Vec<(i64, KeySpan<'h>)>,
    /// Per revision R, the definite answers that fit only at a store revision
    /// <= R, with R the highest (see [`latest_revision`]).
    pub deadlines: BTreeMap<i64, Vec<u64>>,
}

impl<'h> Analysis<'h> {
    pub fn of(history: &'h History) -> Analysis<'h> {
        let mut a = Analysis::default();
        let mut granted: HashMap<i64, usize> = HashMap::default();
        let mut used: HashSet<i64> = HashSet::default();
        let mut anonymous_unknown_grant = false;
        let mut uses: HashMap<i64, u32> = HashMap::default();
        for op in &history.operations {
            if op.request.is_serializable_read() {
                continue;
            }
            used.extend(leases_mentioned(&op.request));
            // A write whose revision is not known (unknown outcome, or no
            // recorded header) may have written anywhere after its call.
            let unplaced = match &op.result {
                OpResult::Unknown(_) => true,
                OpResult::Ok(resp) => resp.header_revision() <= 0,
                OpResult::Fail(_) => false,
            };
            if let OpResult::Unknown(_) = op.result {
                a.unknown_mentions.extend(leases_mentioned(&op.request));
            }
            if unplaced {
                a.uncertain
                    .extend(written_spans(&op.request).into_iter().map(|s| (s, op.call)));
            }
            a.uncertain.extend(
                expiring_keys(&op.request)
                    .into_iter()
                    .map(|k| (KeySpan::Single(k), op.call)),
            );
            if let Request::LeaseGrant { id, .. } = &op.request {
                let got = match (&op.result, *id) {
                    (_, id) if id != 0 => Some(id),
                    (OpResult::Ok(Response::LeaseGrant(g)), _) => Some(g.id),
                    (OpResult::Unknown(_), _) => {
                        anonymous_unknown_grant = true;
                        None
                    }
                    _ => None,
                };
                if let Some(id) = got {
                    *granted.entry(id).or_default() += 1;
                }
            }
            match &op.result {
                OpResult::Ok(resp) => {
                    a.max_revision = a.max_revision.max(resp.header_revision());
                    if let Request::LeaseRevoke { .. } = op.request {
                        a.revoke_revisions.insert(resp.header_revision());
                    }
                    if resp.header_revision() > 0 && bumps_revision(&op.request, resp) {
                        a.claimed.insert(resp.header_revision());
                        a.claim_times
                            .insert(resp.header_revision(), (op.call, op.ret.unwrap_or(op.call)));
                        if copies_value(&op.request) {
                            a.copied_values.insert(resp.header_revision());
                        }
                        for key in keys_put(&op.request, resp) {
                            a.definite_puts
                                .entry(key)
                                .or_default()
                                .push(resp.header_revision());
                        }
                    }
                    a.observe_response(&op.request, resp);
                    if let (Request::Txn(t), Response::Txn(got)) = (&op.request, resp) {
                        super::compares::versions_compared(t, got, &mut |key, m, at| {
                            a.current.entry(key).or_default().push((0, m, at));
                        });
                    }
                    lease_uses_of(&op.request, resp, &mut |id| {
                        *uses.entry(id).or_default() += 1
                    });
                    past_reads_of(&op.request, resp, &mut |r, span| {
                        a.past_reads.push((r, span))
                    });
                    if let Some(latest) = latest_revision(&op.request, resp) {
                        a.deadlines.entry(latest).or_default().push(op.id);
                    }
                    if !crate::models::etcd::exec::ttl_not_found(resp) {
                        a.needed_leases.extend(leases_mentioned(&op.request));
                    }
                    if let Response::LeaseTimeToLive(t) = resp
                        && t.ttl == -1
                        && let Request::LeaseTimeToLive { id } = &op.request
                    {
                        a.seen_absent.insert(*id);
                    }
                }
                OpResult::Fail(EtcdError::LeaseNotFound) => {
                    a.seen_absent.extend(leases_mentioned(&op.request));
                    if let Request::Txn(_) = op.request {
                        a.absent_in_txn.extend(leases_mentioned(&op.request));
                    }
                }
                OpResult::Fail(EtcdError::Compacted { .. }) => a.compaction_seen = true,
                _ => {}
            }
        }
        a.count_generations();
        for (key, from, to) in super::absences::unwritten_by_absence(history) {
            a.unwritten.entry(key).or_default().push((from, to));
        }
        a.merge_intervals();
        a.seen_absent
            .extend(granted.iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id));
        a.granted_once = granted
            .iter()
            .filter(|(_, n)| **n == 1)
            .map(|(id, _)| *id)
            .collect();
        a.lease_uses = uses
            .into_iter()
            .filter(|(id, _)| granted.get(id) == Some(&1))
            .collect();
        if anonymous_unknown_grant {
            let mut orphans: Vec<i64> = used
                .into_iter()
                .filter(|id| *id != 0 && !granted.contains_key(id))
                .collect();
            orphans.sort_unstable();
            a.orphan_leases = orphans;
        }
        for w in &history.watches {
            if w.responses.iter().any(|r| r.compact_revision > 0) {
                a.compaction_seen = true;
            }
            a.note_silences(w);
            for (_, e) in w.events() {
                if e.kind == EventKind::Put {
                    a.watch_values.push((&e.kv, e.revision()));
                }
                if let Some(prev) = &e.prev_kv {
                    a.watch_values.push((prev, e.revision() - 1));
                }
                let list = a.sightings.entry(e.revision()).or_default();
                let s = Sighting {
                    key: &e.kv.key,
                    kind: e.kind,
                    value: &e.kv.value,
                };
                if !list.contains(&s) {
                    list.push(s);
                }
            }
        }
        a
    }

    /// Revisions from a watch's first revision up to the last one it vouched
    /// for (see [`WatchRecord::last_observed`]) at which it reported nothing
    /// (for watches that see every kind of event).
    fn note_silences(&mut self, w: &'h WatchRecord) {
        if w.request.filter_put || w.request.filter_delete {
            return;
        }
        let seen: HashSet<i64> = w.events().map(|(_, e)| e.revision()).collect();
        let Some(first) = w.first_revision() else {
            return;
        };
        let span = w.request.span();
        for rev in first.max(1)..=w.last_observed() {
            if !seen.contains(&rev) {
                let spans = self.silences.entry(rev).or_default();
                if !spans.contains(&span) {
                    spans.push(span);
                }
            }
        }
    }

    /// The same facts, with what the watches' events showed taken as if a
    /// definite answer had shown it: each value was written at its mod
    /// revision and still current at the revision it was reported at. An
    /// order of the unknown writes that agrees with the watches must hold
    /// to this as well as to their silences.
    pub fn heeding_watches(&self) -> Analysis<'h> {
        let mut a = self.clone();
        for &(kv, current_at) in &self.watch_values {
            a.observe(kv);
            a.unwritten_until(kv, current_at);
        }
        a.merge_intervals();
        a
    }

    /// Whether some watch saw nothing at `rev` in a span that `key` is in.
    pub fn silent_at(&self, rev: i64, key: &str) -> bool {
        self.silences
            .get(&rev)
            .is_some_and(|spans| spans.iter().any(|s| s.contains(key)))
    }

    /// `kv` was the key's current version at revision `as_of`.
    fn current_at(&mut self, kv: &'h KeyValue, as_of: i64) {
        if kv.create_revision > 0 && kv.version > 0 {
            self.generations
                .push((&kv.key, kv.create_revision, kv.mod_revision, kv.version));
            if kv.mod_revision >= kv.create_revision && as_of >= kv.mod_revision {
                self.current.entry(&kv.key).or_default().push((
                    kv.create_revision,
                    kv.mod_revision,
                    as_of,
                ));
            }
        }
        self.unwritten_until(kv, as_of);
    }

    /// Nothing wrote `kv`'s key after its mod revision up to `as_of`.
    fn unwritten_until(&mut self, kv: &'h KeyValue, as_of: i64) {
        if kv.mod_revision > 0 && as_of > kv.mod_revision {
            self.unwritten
                .entry(&kv.key)
                .or_default()
                .push((kv.mod_revision, as_of));
        }
    }

    fn observe(&mut self, kv: &'h KeyValue) {
        if kv.mod_revision <= 0 {
            return;
        }
        let list = self.observed.entry(kv.mod_revision).or_default();
        if !list.contains(&kv) {
            list.push(kv);
        }
    }

    fn observe_response(&mut self, req: &'h Request, resp: &'h Response) {
        let header = resp.header_revision();
        match (req, resp) {
            (Request::Range(r), Response::Range(rr)) if !r.count_only => {
                let as_of = if r.revision > 0 { r.revision } else { header };
                for kv in &rr.kvs {
                    self.current_at(kv, as_of);
                    if !r.keys_only {
                        self.observe(kv);
                    }
                }
            }
            (Request::Put(_), Response::Put(p)) => {
                if let Some(kv) = &p.prev_kv {
                    self.observe(kv);
                    self.current_at(kv, header - 1);
                }
            }
            (Request::DeleteRange(_), Response::DeleteRange(d)) => {
                for kv in &d.prev_kvs {
                    self.observe(kv);
                    self.current_at(kv, header - 1);
                }
            }
            (Request::Txn(t), Response::Txn(tr)) => {
                // Reads inside a writing transaction see its own writes: only
                // read-only transactions give intervals.
                let wrote = txn_bumps(t, tr);
                self.observe_txn(t, tr, (!wrote).then_some(header));
            }
            _ => {}
        }
    }

    fn observe_txn(&mut self, t: &'h TxnRequest, tr: &'h TxnResponse, as_of: Option<i64>) {
        let branch = if tr.succeeded { &t.success } else { &t.failure };
        for (op, r) in branch.iter().zip(&tr.responses) {
            match (op, r) {
                (TxnOp::Range(q), TxnOpResponse::Range(rr)) if !q.count_only => {
                    for kv in &rr.kvs {
                        if let Some(h) = as_of {
                            self.current_at(kv, if q.revision > 0 { q.revision } else { h });
                        }
                        if !q.keys_only {
                            self.observe(kv);
                        }
                    }
                }
                (TxnOp::Put(_), TxnOpResponse::Put(p)) => {
                    p.prev_kv.iter().for_each(|kv| self.observe(kv));
                }
                (TxnOp::DeleteRange(_), TxnOpResponse::DeleteRange(d)) => {
                    d.prev_kvs.iter().for_each(|kv| self.observe(kv));
                }
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => self.observe_txn(inner, ir, as_of),
                _ => {}
            }
        }
    }

    /// Whether a step the search chooses, requested before `time`, may write in `span`.
    pub fn uncertain_before(&self, span: &KeySpan<'_>, time: u64) -> bool {
        self.uncertain
            .iter()
            .any(|(s, call)| *call <= time && s.overlaps(span))
    }

    /// Whether some definite answer shows `key` was not written at `rev`.
    pub fn unwritten_at(&self, key: &str, rev: i64) -> bool {
        let Some(intervals) = self.unwritten.get(key) else {
            return false;
        };
        let i = intervals.partition_point(|&(from, _)| from < rev);
        // The candidate is the last interval starting before `rev`.
        i > 0 && intervals[i - 1].1 >= rev
    }

    /// A key at version v, created at c and last written at m, took exactly v
    /// puts in [c, m]. When definite puts account for all of them, no write
    /// with an unknown outcome (and no expiry) touched the key in (c, m].
    fn count_generations(&mut self) {
        for list in self.definite_puts.values_mut() {
            list.sort_unstable();
        }
        for (key, create, modified, version) in std::mem::take(&mut self.generations) {
            let Some(puts) = self.definite_puts.get(key) else {
                continue;
            };
            let lo = puts.partition_point(|&r| r < create);
            let hi = puts.partition_point(|&r| r <= modified);
            if (hi - lo) as i64 == version && modified > create {
                self.unwritten
                    .entry(key)
                    .or_default()
                    .push((create, modified));
            }
        }
    }

    fn merge_intervals(&mut self) {
        for list in self.unwritten.values_mut() {
            list.sort_unstable();
            let mut merged: Vec<(i64, i64)> = Vec::with_capacity(list.len());
            for &(from, to) in list.iter() {
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(to),
                    _ => merged.push((from, to)),
                }
            }
            *list = merged;
        }
    }
}

/// The highest store revision a definite answer fits at (from its header:
/// a read at R needs the store at R, a write answered at R needs it at R - 1,
/// a revoke at R - 1 or R); None when the header was not recorded or is not
/// checked.
pub fn latest_revision(req: &Request, resp: &Response) -> Option<i64> {
    let h = resp.header_revision();
    if h <= 0 {
        return None;
    }
    match resp {
        Response::LeaseKeepAlive(_) | Response::LeaseTimeToLive(_) => None,
        Response::LeaseRevoke(_) => Some(h),
        _ if bumps_revision(req, resp) => Some(h - 1),
        _ => Some(h),
    }
}

/// Whether a definite answer shows the request wrote (so took a new revision).
/// A lease revoke cannot tell (it writes only if keys were attached).
pub fn bumps_revision(req: &Request, resp: &Response) -> bool {
    match (req, resp) {
        (Request::Put(_), Response::Put(_)) => true,
        (Request::DeleteRange(_), Response::DeleteRange(d)) => d.deleted > 0,
        (Request::Txn(t), Response::Txn(r)) => txn_bumps(t, r),
        _ => false,
    }
}

fn txn_bumps(t: &TxnRequest, r: &TxnResponse) -> bool {
    let branch = if r.succeeded { &t.success } else { &t.failure };
    branch
        .iter()
        .zip(&r.responses)
        .any(|(op, resp)| match (op, resp) {
            (TxnOp::Put(_), _) => true,
            (TxnOp::DeleteRange(_), TxnOpResponse::DeleteRange(d)) => d.deleted > 0,
            (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn_bumps(inner, ir),
            _ => false,
        })
}

/// Keys a definite answer shows the request put.
fn keys_put<'a>(req: &'a Request, resp: &Response) -> Vec<&'a str> {
    fn txn<'a>(t: &'a TxnRequest, r: &TxnResponse, out: &mut Vec<&'a str>) {
        let branch = if r.succeeded { &t.success } else { &t.failure };
        for (op, resp) in branch.iter().zip(&r.responses) {
            match (op, resp) {
                (TxnOp::Put(p), _) => out.push(&p.key),
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn(inner, ir, out),
                _ => {}
            }
        }
    }
    let mut out = vec![];
    match (req, resp) {
        (Request::Put(p), Response::Put(_)) => out.push(p.key.as_str()),
        (Request::Txn(t), Response::Txn(r)) => txn(t, r, &mut out),
        _ => {}
    }
    out
}

/// Whether a request may put a key's previous value again (`ignore_value`).
fn copies_value(req: &Request) -> bool {
    fn txn(t: &TxnRequest) -> bool {
        t.success.iter().chain(&t.failure).any(|op| match op {
            TxnOp::Put(p) => p.ignore_value,
            TxnOp::Txn(inner) => txn(inner),
            _ => false,
        })
    }
    match req {
        Request::Put(p) => p.ignore_value,
        Request::Txn(t) => txn(t),
        _ => false,
    }
}

/// Keys a request may put with a lease or a TTL: the store may delete them
/// on its own later.
fn expiring_keys(req: &Request) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_put(req, None, &mut |p| {
        if p.lease != 0 || p.ignore_lease || p.ttl > 0 {
            out.push(p.key.as_str());
        }
    });
    out
}

/// Calls `f` on the puts of a request: with its answer, the puts of the
/// branches that ran; without, every put it may make.
pub fn for_each_put<'a>(
    req: &'a Request,
    resp: Option<&Response>,
    f: &mut impl FnMut(&'a PutRequest),
) {
    fn txn<'a>(t: &'a TxnRequest, r: Option<&TxnResponse>, f: &mut impl FnMut(&'a PutRequest)) {
        match r {
            Some(r) => {
                let branch = if r.succeeded { &t.success } else { &t.failure };
                for (op, resp) in branch.iter().zip(&r.responses) {
                    match (op, resp) {
                        (TxnOp::Put(p), _) => f(p),
                        (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn(inner, Some(ir), f),
                        _ => {}
                    }
                }
            }
            None => {
                for op in t.success.iter().chain(&t.failure) {
                    match op {
                        TxnOp::Put(p) => f(p),
                        TxnOp::Txn(inner) => txn(inner, None, f),
                        _ => {}
                    }
                }
            }
        }
    }
    match (req, resp) {
        (Request::Put(p), None | Some(Response::Put(_))) => f(p),
        (Request::Txn(t), Some(Response::Txn(r))) => txn(t, Some(r), f),
        (Request::Txn(t), None) => txn(t, None, f),
        _ => {}
    }
}

/// Leases a definite answer shows alive when it was served (each time it
/// does: a transaction putting two keys with one lease counts twice).
pub fn lease_uses_of(req: &Request, resp: &Response, f: &mut impl FnMut(i64)) {
    match (req, resp) {
        (Request::LeaseKeepAlive { id }, Response::LeaseKeepAlive(_))
        | (Request::LeaseRevoke { id }, Response::LeaseRevoke(_)) => f(*id),
        (Request::LeaseTimeToLive { id }, Response::LeaseTimeToLive(t)) if t.ttl != -1 => f(*id),
        (Request::Put(_) | Request::Txn(_), _) => for_each_put(req, Some(resp), &mut |p| {
            if p.lease != 0 && !p.ignore_lease {
                f(p.lease);
            }
        }),
        _ => {}
    }
}

/// The past revisions a definite answer read at, with the keys read there:
/// ranges with a revision, on their own or in the branches of a transaction
/// that ran.
pub fn past_reads_of<'r>(req: &'r Request, resp: &Response, f: &mut impl FnMut(i64, KeySpan<'r>)) {
    fn txn<'r>(t: &'r TxnRequest, r: &TxnResponse, f: &mut impl FnMut(i64, KeySpan<'r>)) {
        let branch = if r.succeeded { &t.success } else { &t.failure };
        for (op, resp) in branch.iter().zip(&r.responses) {
            match (op, resp) {
                (TxnOp::Range(q), TxnOpResponse::Range(_)) if q.revision > 0 => {
                    f(q.revision, q.span())
                }
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn(inner, ir, f),
                _ => {}
            }
        }
    }
    match (req, resp) {
        (Request::Range(r), Response::Range(_)) if r.revision > 0 => f(r.revision, r.span()),
        (Request::Txn(t), Response::Txn(r)) => txn(t, r, f),
        _ => {}
    }
}

/// Lease ids a request refers to.
pub fn leases_mentioned(req: &Request) -> Vec<i64> {
    fn txn(t: &TxnRequest, out: &mut Vec<i64>) {
        for op in t.success.iter().chain(&t.failure) {
            match op {
                TxnOp::Put(p) if p.lease != 0 => out.push(p.lease),
                TxnOp::Txn(inner) => txn(inner, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    match req {
        Request::Put(p) if p.lease != 0 => out.push(p.lease),
        Request::Txn(t) => txn(t, &mut out),
        Request::LeaseRevoke { id }
        | Request::LeaseKeepAlive { id }
        | Request::LeaseTimeToLive { id } => out.push(*id),
        _ => {}
    }
    out
}
