//! The etcd model: the whole KV API (revisions, ranges at past revisions,
//! compaction, transactions with every compare, leases with attached keys)
//! as a sequential specification for the linearizability engine.
//!
//! Revision-guided pruning: every definite answer carries the revision it was
//! served at, so a candidate whose revision does not fit the current state is
//! rejected before any work. Writes whose outcome is unknown, and lease expiries
//! (internal steps that delete a lease's keys at one revision), may only take a
//! revision no definite write claimed, and must agree with every key-value any
//! definite answer reported at that revision.

mod analysis;
pub mod describe;
pub mod exec;
pub mod replay;
pub mod store;

use crate::history::{
    EtcdError, EventKind, History, KeySpan, OpResult, Request, Response, TxnOp, TxnRequest,
};
use crate::linearizable::{Model, Op, Outcome};

pub use analysis::{Analysis, bumps_revision, leases_mentioned};
pub use replay::LinearizedHistory;
pub use store::{Store, Version};

/// A client request, or the store expiring a lease on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdInput<'h> {
    Request(&'h Request),
    LeaseExpiry { lease: i64 },
}

/// A definite answer: a response, or an error that says something about the state.
pub type EtcdOutput<'h> = Result<&'h Response, &'h EtcdError>;

pub type EtcdOp<'h> = Op<EtcdInput<'h>, EtcdOutput<'h>>;

/// The etcd model, with what it learned from the history it checks.
#[derive(Debug, Clone, Default)]
pub struct EtcdModel<'h> {
    analysis: Analysis<'h>,
}

/// A history made ready for the engine (borrowing it: nothing is copied).
#[derive(Debug, Clone)]
pub struct PreparedHistory<'h> {
    pub model: EtcdModel<'h>,
    pub ops: Vec<EtcdOp<'h>>,
    /// Engine operations from this index on are lease expiries, not client operations.
    pub first_synthetic: usize,
    /// Serializable reads, checked separately against the linearized history.
    pub skipped_serializable: usize,
}

impl PreparedHistory<'_> {
    pub fn is_synthetic(&self, index: usize) -> bool {
        index >= self.first_synthetic
    }
}

/// Turns a history into engine operations: serializable reads are left out
/// (they are not linearizable), failures that certainly changed nothing and say
/// nothing are dropped, and one possible expiry is added per granted lease.
pub fn prepare(history: &History) -> PreparedHistory<'_> {
    let analysis = Analysis::of(history);
    let mut ops = Vec::with_capacity(history.operations.len());
    let mut skipped_serializable = 0;
    let mut grants: Vec<(i64, u64)> = Vec::new();
    for op in &history.operations {
        if op.request.is_serializable_read() {
            skipped_serializable += 1;
            continue;
        }
        let outcome = match &op.result {
            OpResult::Ok(resp) => Outcome::Ok(Ok(resp)),
            OpResult::Fail(e) if e.is_informative() => Outcome::Ok(Err(e)),
            OpResult::Fail(_) => continue,
            OpResult::Unknown(_) => Outcome::Unknown,
        };
        if let Request::LeaseGrant { id, .. } = &op.request {
            let granted = match &outcome {
                _ if *id != 0 => Some(*id),
                Outcome::Ok(Ok(Response::LeaseGrant(g))) => Some(g.id),
                _ => None,
            };
            if let (Some(lease), false) = (granted, matches!(outcome, Outcome::Ok(Err(_)))) {
                grants.push((lease, op.call));
            }
        }
        ops.push(Op {
            id: op.id,
            client: op.client,
            call: op.call,
            ret: op.ret,
            input: EtcdInput::Request(&op.request),
            outcome,
        });
    }
    let first_synthetic = ops.len();
    let first_free = history.operations.iter().map(|o| o.id).max().unwrap_or(0) + 1;
    for (id, (lease, call)) in (first_free..).zip(grants) {
        ops.push(Op {
            id,
            client: u64::MAX,
            call,
            ret: None,
            input: EtcdInput::LeaseExpiry { lease },
            outcome: Outcome::Unknown,
        });
    }
    PreparedHistory {
        model: EtcdModel { analysis },
        ops,
        first_synthetic,
        skipped_serializable,
    }
}

impl<'h> EtcdModel<'h> {
    pub fn analysis(&self) -> &Analysis<'h> {
        &self.analysis
    }

    /// Every key-value a definite answer reported at `rev` is what the store wrote there.
    fn observations_hold(&self, store: &Store, rev: i64) -> bool {
        self.analysis.observed.get(&rev).is_none_or(|kvs| {
            kvs.iter().all(|kv| {
                store
                    .written_at(&kv.key, rev)
                    .is_some_and(|v| v.matches(kv))
            })
        })
    }

    /// Effect of an operation with an unknown outcome, checked against what the
    /// history says about the revision it would take.
    fn apply_possible(
        &self,
        store: &mut Store,
        input: &EtcdInput<'h>,
        branch: u32,
    ) -> Option<store::Mark> {
        let before = store.revision();
        let claimed_next = self.analysis.claimed.contains(&(before + 1));
        let mark = store.mark();
        match input {
            EtcdInput::Request(req) => {
                // The next revision belongs to a definite write: a write now
                // would take it, and not writing would change nothing.
                if claimed_next
                    && matches!(
                        **req,
                        Request::Put(_) | Request::DeleteRange(_) | Request::Txn(_)
                    )
                {
                    return None;
                }
                if let Request::LeaseRevoke { id } = **req
                    && !self.removal_useful(store, id)
                {
                    return None;
                }
                // A grant nobody needs, or a compaction nobody saw, only
                // multiplies the orders to search.
                let useless = match **req {
                    Request::LeaseGrant { id, .. } => {
                        id != 0 && !self.analysis.needed_leases.contains(&id)
                    }
                    Request::Compact { .. } => !self.analysis.compaction_seen,
                    _ => false,
                };
                if useless {
                    return None;
                }
                let grant_id = match **req {
                    Request::LeaseGrant { id: 0, .. } => {
                        Some(*self.analysis.orphan_leases.get(branch as usize)?)
                    }
                    _ => None,
                };
                if exec::execute(store, req, grant_id).is_err() {
                    store.rollback(mark);
                    return None;
                }
            }
            EtcdInput::LeaseExpiry { lease } => {
                let lease_has_keys = !store.lease(*lease)?.keys.is_empty();
                if (lease_has_keys && claimed_next) || !self.removal_useful(store, *lease) {
                    return None;
                }
                exec::expire_lease(store, *lease);
            }
        }
        if !store.changed_since(mark) {
            return None;
        }
        let after = store.revision();
        // Past the last revision anyone saw, a write can only matter by
        // removing a lease some answer says is gone.
        let past_the_end = after > self.analysis.max_revision
            && !matches!(
                input,
                EtcdInput::LeaseExpiry { lease } | EtcdInput::Request(Request::LeaseRevoke { id: lease })
                    if self.analysis.seen_absent.contains(lease)
            );
        if after != before
            && (past_the_end
                || self.analysis.claimed.contains(&after)
                || !self.observations_hold(store, after)
                || store
                    .keys_written_since(mark)
                    .any(|k| self.analysis.unwritten_at(k, after)))
        {
            store.rollback(mark);
            return None;
        }
        Some(mark)
    }

    /// Removing a lease that has no keys only matters if some answer saw it absent.
    fn removal_useful(&self, store: &Store, lease: i64) -> bool {
        match store.lease(lease) {
            None => true,
            Some(l) => !l.keys.is_empty() || self.analysis.seen_absent.contains(&lease),
        }
    }
}

/// Whether the response's revision fits a store at `rev` at all: the O(1)
/// test that rejects most candidates.
fn revision_fits(rev: i64, resp: &Response) -> bool {
    let h = resp.header_revision();
    if h == 0 {
        return true;
    }
    match resp {
        Response::Range(_) | Response::Compact(_) | Response::LeaseGrant(_) => h == rev,
        Response::Put(_) => h == rev + 1,
        Response::DeleteRange(_) | Response::Txn(_) | Response::LeaseRevoke(_) => {
            h == rev || h == rev + 1
        }
        Response::LeaseKeepAlive(_) | Response::LeaseTimeToLive(_) => true,
    }
}

fn grant_id_of(output: &EtcdOutput<'_>) -> Option<i64> {
    match output {
        Ok(Response::LeaseGrant(g)) => Some(g.id),
        _ => None,
    }
}

fn answer_matches(expected: &Result<Response, EtcdError>, actual: &EtcdOutput<'_>) -> bool {
    match (expected, actual) {
        (Ok(e), Ok(a)) => exec::response_matches(e, a),
        (Err(e), Err(a)) => exec::error_matches(e, a),
        (Ok(e), Err(EtcdError::LeaseNotFound)) => exec::ttl_not_found(e),
        _ => false,
    }
}

fn read_only_answer(req: &Request, resp: &Response) -> bool {
    match (req, resp) {
        (Request::Range(_), _)
        | (Request::LeaseKeepAlive { .. }, _)
        | (Request::LeaseTimeToLive { .. }, _) => true,
        (Request::DeleteRange(_), Response::DeleteRange(d)) => d.deleted == 0,
        (Request::Txn(t), Response::Txn(r)) => read_only_txn(t, r),
        _ => false,
    }
}

fn read_only_txn(t: &TxnRequest, r: &crate::history::TxnResponse) -> bool {
    use crate::history::TxnOpResponse;
    let branch = if r.succeeded { &t.success } else { &t.failure };
    branch.len() == r.responses.len()
        && branch
            .iter()
            .zip(&r.responses)
            .all(|(op, resp)| match (op, resp) {
                (TxnOp::Range(_), _) => true,
                (TxnOp::DeleteRange(_), TxnOpResponse::DeleteRange(d)) => d.deleted == 0,
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => read_only_txn(inner, ir),
                _ => false,
            })
}

impl<'h> Model for EtcdModel<'h> {
    type Input = EtcdInput<'h>;
    type Output = EtcdOutput<'h>;
    type State = Store;
    type Undo = store::Mark;

    fn name(&self) -> &'static str {
        "etcd"
    }

    fn init(&self) -> Store {
        Store::new()
    }

    fn is_read_only(&self, input: &EtcdInput<'h>, output: &EtcdOutput<'h>) -> bool {
        match (input, output) {
            (EtcdInput::Request(_), Err(_)) => true,
            (EtcdInput::Request(req), Ok(resp)) => read_only_answer(req, resp),
            (EtcdInput::LeaseExpiry { .. }, _) => false,
        }
    }

    fn may_have_effect(&self, input: &EtcdInput<'h>) -> bool {
        match input {
            EtcdInput::Request(req) => req.may_write(),
            EtcdInput::LeaseExpiry { .. } => true,
        }
    }

    fn apply(
        &self,
        store: &mut Store,
        input: &EtcdInput<'h>,
        output: &EtcdOutput<'h>,
    ) -> Option<store::Mark> {
        let EtcdInput::Request(req) = input else {
            return None;
        };
        if let Ok(resp) = output
            && !revision_fits(store.revision(), resp)
        {
            return None;
        }
        let mark = store.mark();
        if let (Request::Range(r), Ok(Response::Range(actual))) = (*req, output) {
            return exec::range_fits(store, r, actual).then_some(mark);
        }
        let expected = exec::execute(store, req, grant_id_of(output));
        if answer_matches(&expected, output) {
            Some(mark)
        } else {
            store.rollback(mark);
            None
        }
    }

    /// A linearizable range is hopeless when what it reads is settled and the
    /// store, already past its revision, held something else there.
    ///
    /// Settled: no uncertain write (unknown outcome, or a key with a lease)
    /// of the span was requested before the read returned, so every version
    /// it reads comes from definite writes. Or, for a single key, its last
    /// write at or before the read revision is a definite one and no later
    /// revision up to the read is free for an uncertain write or a revoke: then whether
    /// the key exists, its mod revision and (unless that write copied the old
    /// value) its value are settled; its version and create revision are not.
    fn hopeless(&self, store: &Store, op: &EtcdOp<'h>) -> bool {
        let (EtcdInput::Request(Request::Range(r)), Outcome::Ok(Ok(Response::Range(actual)))) =
            (&op.input, &op.outcome)
        else {
            return false;
        };
        let header = actual.header_revision;
        let at = if r.revision > 0 { r.revision } else { header };
        if header <= 0 || at > header || store.revision() < header {
            return false;
        }
        let span = r.span();
        if !self
            .analysis
            .uncertain_before(&span, op.ret.unwrap_or(u64::MAX))
        {
            let expected = exec::range_snapshot(store, r, at, header);
            return expected.kvs != actual.kvs
                || expected.count != actual.count
                || expected.more != actual.more;
        }
        let KeySpan::Single(key) = span else {
            return false;
        };
        let Some(last) = store.last_write_at(key, at) else {
            return false;
        };
        const SCAN: i64 = 4096;
        // Every revision from the last write on belongs to one definite write
        // (a revoke's revision is not certain: it may or may not have deleted).
        let definite = |g: i64| {
            self.analysis.claimed.contains(&g) && !self.analysis.revoke_revisions.contains(&g)
        };
        let settled = at - last.mod_revision <= SCAN && (last.mod_revision..=at).all(definite);
        if !settled || r.count_only {
            return false;
        }
        let live = last.value.as_ref().map(|v| (last.mod_revision, v));
        let seen = actual.kvs.first().map(|kv| (kv.mod_revision, &kv.value));
        match (live, seen) {
            (None, None) => false,
            (Some((m, v)), Some((sm, sv))) => {
                m != sm || (!r.keys_only && !self.analysis.copied_values.contains(&m) && v != sv)
            }
            _ => true,
        }
    }

    fn unknown_branches(&self, input: &EtcdInput<'h>) -> u32 {
        match input {
            EtcdInput::Request(Request::LeaseGrant { id: 0, .. }) => {
                self.analysis.orphan_leases.len() as u32
            }
            _ => 1,
        }
    }

    fn apply_unknown(
        &self,
        store: &mut Store,
        input: &EtcdInput<'h>,
        branch: u32,
    ) -> Option<store::Mark> {
        self.apply_possible(store, input, branch)
    }

    /// Between the definite writes around the next revision: after the last
    /// one's call, before the next one's return.
    fn unknown_time_hint(&self, store: &Store) -> Option<u64> {
        let rev = store.revision();
        let before = self
            .analysis
            .claim_times
            .range(..=rev)
            .next_back()
            .map(|(_, t)| t.0);
        let after = self
            .analysis
            .claim_times
            .range(rev + 1..)
            .next()
            .map(|(_, t)| t.1);
        match (before, after) {
            (Some(b), Some(a)) => Some(b / 2 + a / 2),
            (Some(b), None) => Some(b),
            (None, Some(a)) => Some(a),
            (None, None) => None,
        }
    }

    /// Prefer the unknown write that produces what watches saw at the next revision.
    fn unknown_rank(&self, store: &Store, input: &EtcdInput<'h>) -> u8 {
        let next = store.revision() + 1;
        let Some(seen) = self.analysis.sightings.get(&next) else {
            return 1;
        };
        let matches = match input {
            EtcdInput::Request(req) => seen.iter().any(|s| request_explains(req, s)),
            EtcdInput::LeaseExpiry { lease } => store.lease(*lease).is_some_and(|l| {
                seen.iter()
                    .all(|s| s.kind == EventKind::Delete && l.keys.contains(s.key))
            }),
        };
        if matches { 0 } else { 2 }
    }

    fn undo(&self, store: &mut Store, mark: store::Mark) {
        store.rollback(mark);
    }

    fn fingerprint(&self, store: &Store) -> u128 {
        store.fingerprint()
    }

    fn state_bytes(&self, store: &Store) -> usize {
        store.approx_bytes()
    }

    fn describe(&self, input: &EtcdInput<'h>, outcome: &Outcome<EtcdOutput<'h>>) -> String {
        match input {
            EtcdInput::LeaseExpiry { lease } => format!("lease {lease} expires"),
            EtcdInput::Request(req) => {
                let call = describe::describe_request(req);
                match outcome {
                    Outcome::Ok(out) => format!("{call} -> {}", describe::describe_answer(out)),
                    Outcome::Unknown => format!("{call} -> outcome unknown"),
                }
            }
        }
    }

    fn explain(&self, store: &Store, input: &EtcdInput<'h>, output: &EtcdOutput<'h>) -> String {
        let EtcdInput::Request(req) = input else {
            return "a lease expiry has no answer".to_string();
        };
        // A read behind the store: say what the store held at its revision.
        if let (Request::Range(r), Ok(Response::Range(actual))) = (*req, output)
            && actual.header_revision > 0
            && actual.header_revision < store.revision()
        {
            let at = if r.revision > 0 {
                r.revision
            } else {
                actual.header_revision
            };
            let held = exec::range_snapshot(store, r, at, actual.header_revision);
            if held.kvs != actual.kvs || held.count != actual.count || held.more != actual.more {
                return format!(
                    "at revision {at} the store held {}, not {}",
                    describe::describe_result(&Ok(Response::Range(held))),
                    describe::describe_answer(output)
                );
            }
        }
        if let Ok(resp) = output
            && !revision_fits(store.revision(), resp)
        {
            return format!(
                "the store is at revision {}, which a {} answered at revision {} cannot follow",
                store.revision(),
                req.kind(),
                resp.header_revision()
            );
        }
        let mut scratch = store.clone();
        let expected = exec::execute(&mut scratch, req, grant_id_of(output));
        format!(
            "at revision {} the store answers {}, not {}",
            store.revision(),
            describe::describe_result(&expected),
            describe::describe_answer(output)
        )
    }
}

/// Whether a request, had it taken effect, could produce a watched event.
fn request_explains(req: &Request, s: &analysis::Sighting<'_>) -> bool {
    fn op_explains(op: &TxnOp, s: &analysis::Sighting<'_>) -> bool {
        match op {
            TxnOp::Put(p) => s.kind == EventKind::Put && p.key == s.key && p.value == s.value,
            TxnOp::DeleteRange(d) => s.kind == EventKind::Delete && d.span().contains(s.key),
            TxnOp::Txn(t) => t
                .success
                .iter()
                .chain(&t.failure)
                .any(|o| op_explains(o, s)),
            TxnOp::Range(_) => false,
        }
    }
    match req {
        Request::Put(p) => s.kind == EventKind::Put && p.key == s.key && p.value == s.value,
        Request::DeleteRange(d) => s.kind == EventKind::Delete && d.span().contains(s.key),
        Request::Txn(t) => t
            .success
            .iter()
            .chain(&t.failure)
            .any(|o| op_explains(o, s)),
        Request::LeaseRevoke { .. } => s.kind == EventKind::Delete,
        _ => false,
    }
}
