//! The etcd model: the whole KV API (revisions, ranges at past revisions,
//! compaction, transactions with every compare, leases with attached keys)
//! as a sequential specification for the linearizability engine.
//!
//! Revision-guided pruning: every definite answer carries the revision it was
//! served at, so a candidate whose revision does not fit the current state is
//! rejected before any work. Writes whose outcome is unknown, lease expiries
//! (internal steps that delete a lease's keys at one revision) and key
//! expiries (a key put with a TTL deleted at one revision) may only take a
//! revision no definite write claimed, and must agree with every key-value any
//! definite answer reported at that revision. A lease granted once cannot be
//! revoked or expire before every definite answer that found it alive. Such
//! a step may not leave fewer free revisions than the lease removals later
//! complete reads show are still to come (see [`removals`]).

mod absences;
mod analysis;
mod compares;
mod deadlines;
pub mod exec;
mod fast_hash;
mod gates;
mod pinned;
mod prepare;
pub mod range;
mod removals;
pub mod replay;
mod sight;
mod slots;
pub mod store;
#[cfg(test)]
mod testing;

use fast_hash::{FastMap as HashMap, FastSet as HashSet};

use crate::history::describe::answer;
use crate::history::{
    EtcdError, EventKind, KeySpan, Recorded, Request, Response, TxnOp, TxnRequest,
};
use crate::linearizable::{Model, Op, Outcome};

pub use analysis::{Analysis, bumps_revision, leases_mentioned};
pub use prepare::{PreparedHistory, prepare};
pub use replay::LinearizedHistory;
pub use store::{Store, Version};

/// A client request, or the store expiring a lease or a key on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdInput<'h> {
    Request(&'h Request),
    LeaseExpiry {
        lease: i64,
    },
    /// The store deleting a key whose TTL ran out, for the `nth` time (the
    /// expiries of one key are numbered and happen in that order, so that
    /// interchangeable steps are not tried twice).
    KeyExpiry {
        key: &'h str,
        nth: u32,
    },
}

/// A definite answer: a response, or an error that says something about the state.
pub type EtcdOutput<'h> = Result<&'h Response, &'h EtcdError>;

pub type EtcdOp<'h> = Op<EtcdInput<'h>, EtcdOutput<'h>>;

/// The etcd model, with what it learned from the history it checks.
#[derive(Debug, Clone, Default)]
pub struct EtcdModel<'h> {
    analysis: Analysis<'h>,
    /// Where the lease removals later complete reads need can still go.
    removals: removals::Removals<'h>,
    /// The free revisions steps the search chooses must fill, and when
    /// leases were certainly alive.
    slots: slots::Slots,
    /// The reads answered at each revision: a step that moves the store
    /// there must leave what they read.
    pinned: pinned::PinnedReads<'h>,
    /// When each expiry (by engine operation id) most likely happened.
    expected_times: HashMap<u64, u64>,
    /// Leases with an expiry step: an unknown revoke of one adds nothing.
    expirable: HashSet<i64>,
    /// Without the shortcuts argued from the whole history (see [`EtcdModel::literal`]).
    literal: bool,
    /// Steps the search chooses may not write where a watch saw nothing
    /// (see [`EtcdModel::heeding_watches`]).
    heed_watches: bool,
    /// The fields of key-values the history's source recorded: only those are compared.
    recorded: Recorded,
}

impl<'h> EtcdModel<'h> {
    pub fn analysis(&self) -> &Analysis<'h> {
        &self.analysis
    }

    /// The same specification without the shortcuts that rest on arguments
    /// about the whole history: a lease granted once is not revoked or
    /// expired before the answers that need it alive, an unknown revoke of a
    /// lease that can expire adds nothing, the expiries of one key happen in
    /// a fixed order. Slower; differential tests check that the shortcuts
    /// never change a verdict.
    pub fn literal(&self) -> EtcdModel<'h> {
        EtcdModel {
            literal: true,
            ..self.clone()
        }
    }

    /// The same specification, except that a write with an unknown outcome
    /// or an expiry may not write a key at a revision where a watch over that
    /// key reported nothing, and the values watch events reported (their
    /// previous values included) count as observed. Watches are not the client's answers: a history
    /// may be linearizable only against a watch that missed an event, which
    /// is the watch rules' to report. So the checker tries this model first
    /// and falls back to the plain one when no order satisfies it.
    pub fn heeding_watches(&self) -> EtcdModel<'h> {
        EtcdModel {
            heed_watches: true,
            analysis: self.analysis.heeding_watches(),
            ..self.clone()
        }
    }

    /// Every key-value a definite answer reported at `rev` is what the store wrote there.
    fn observations_hold(&self, store: &Store, rev: i64) -> bool {
        self.analysis.observed.get(&rev).is_none_or(|kvs| {
            kvs.iter().all(|kv| {
                store
                    .written_at(&kv.key, rev)
                    .is_some_and(|v| v.matches(kv, self.recorded))
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
                    && (!self.removal_useful(store, id) || !self.uses_done(store, id, 0))
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
                if self.expiry_refused(store, *lease, claimed_next) {
                    return None;
                }
                exec::expire_lease(store, *lease);
            }
            EtcdInput::KeyExpiry { key, nth } => {
                let out_of_turn = !self.literal && store.key_expiries(key) != *nth;
                if claimed_next || out_of_turn || !store.expire_key(key) {
                    return None;
                }
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
                || (self.heed_watches
                    && store
                        .keys_written_since(mark)
                        .any(|k| self.analysis.silent_at(after, k)))
                || self.analysis.claimed.contains(&after)
                || store.earliest_deadline() < after
                || !self.observations_hold(store, after)
                || !self.pinned.hold(store, self.recorded)
                || store
                    .keys_written_since(mark)
                    .any(|k| self.analysis.unwritten_at(k, after))
                || (!self.literal && !self.removals.feasible(store)))
        {
            store.rollback(mark);
            return None;
        }
        Some(mark)
    }

    /// A definite answer applied: it must fit the store's revision and be
    /// what the store answers; with `deadlines`, it must also not move the
    /// store past an answer still to come that fits only at an earlier
    /// revision.
    fn apply_answer(
        &self,
        store: &mut Store,
        req: &'h Request,
        output: &EtcdOutput<'h>,
        deadlines: bool,
    ) -> Option<store::Mark> {
        if let Ok(resp) = output
            && !revision_fits(store.revision(), resp)
        {
            return None;
        }
        let mark = store.mark();
        if let (Request::Range(r), Ok(Response::Range(actual))) = (req, output) {
            if !range::range_fits(store, r, actual, self.recorded) {
                return None;
            }
            if r.revision > 0 {
                store.note_read_answered(&r.span(), r.revision);
            }
            if let Ok(resp) = output
                && let Some(latest) = analysis::latest_revision(req, resp)
            {
                store.note_deadline_met(latest);
            }
            return Some(mark);
        }
        if let (Request::LeaseRevoke { id }, Ok(_)) = (req, output)
            && !self.uses_done(store, *id, 1)
        {
            return None;
        }
        let before = store.revision();
        self.clear_for(store, req, output);
        let expected = exec::execute(store, req, grant_id_of(output));
        if !answer_matches(&expected, output, self.recorded) {
            store.rollback(mark);
            return None;
        }
        if let Ok(resp) = output {
            self.note_uses(store, req, resp);
            if let Some(latest) = analysis::latest_revision(req, resp) {
                store.note_deadline_met(latest);
            }
        }
        if deadlines && store.revision() != before && store.earliest_deadline() < store.revision() {
            // An answer still to come fits only at an earlier revision.
            store.rollback(mark);
            return None;
        }
        Some(mark)
    }

    /// Whether what the step would write at `next` is in the span of a
    /// watch that reported nothing there (see [`Analysis::silences`]).
    fn silenced(&self, store: &Store, input: &EtcdInput<'h>, next: i64) -> bool {
        let Some(spans) = self.analysis.silences.get(&next) else {
            return false;
        };
        let watched = |key: &str| spans.iter().any(|s| s.contains(key));
        match input {
            EtcdInput::Request(req) => {
                let written = exec::written_spans(req);
                !written.is_empty() && written.iter().all(|w| spans.iter().any(|s| s.overlaps(w)))
            }
            EtcdInput::LeaseExpiry { lease } => store
                .lease(*lease)
                .is_some_and(|l| l.keys.iter().any(|k| watched(k))),
            EtcdInput::KeyExpiry { key, .. } => watched(key),
        }
    }

    /// Whether every definite answer that needs `lease` alive, but `own`
    /// (the step being taken), was already linearized: once revoked or
    /// expired, a lease granted only once never comes back.
    fn uses_done(&self, store: &Store, lease: i64, own: u32) -> bool {
        self.literal
            || self
                .analysis
                .lease_uses
                .get(&lease)
                .is_none_or(|n| store.lease_uses(lease) + own >= *n)
    }

    /// Counts the leases a definite answer just applied showed alive, and
    /// the past revisions it read.
    fn note_uses(&self, store: &mut Store, req: &Request, resp: &Response) {
        analysis::lease_uses_of(req, resp, &mut |id| {
            if self.analysis.lease_uses.contains_key(&id) {
                store.note_lease_use(id);
            }
        });
        analysis::past_reads_of(req, resp, &mut |rev, span| {
            store.note_read_answered(&span, rev)
        });
    }

    /// Removing a lease that has no keys only matters if some answer saw it
    /// absent. For a lease with an expiry step, answers remove it themselves
    /// (see [`Self::clear_for`]), except for a transaction that could have
    /// missed several leases requests with unknown outcomes refer to: then
    /// the search places the removal.
    fn removal_useful(&self, store: &Store, lease: i64) -> bool {
        match store.lease(lease) {
            None => true,
            Some(l) if !l.keys.is_empty() => true,
            Some(_) => self.keyless_removal_useful(lease),
        }
    }

    /// Whether removing `lease` while it has no keys can matter (see
    /// [`Self::removal_useful`]): a fact of the history, not of the state.
    fn keyless_removal_useful(&self, lease: i64) -> bool {
        if self.literal || !self.expirable.contains(&lease) {
            self.analysis.seen_absent.contains(&lease)
        } else {
            self.analysis.absent_in_txn.contains(&lease)
                && self.analysis.unknown_mentions.contains(&lease)
        }
    }

    /// The leases a definite answer shows absent (LeaseNotFound, a
    /// time-to-live of -1; for a transaction, any of its leases).
    fn needed_absent(req: &'h Request, output: &EtcdOutput<'h>) -> Vec<i64> {
        match (req, output) {
            (Request::Txn(_), Err(EtcdError::LeaseNotFound)) => leases_mentioned(req),
            (
                Request::LeaseKeepAlive { id }
                | Request::LeaseRevoke { id }
                | Request::LeaseTimeToLive { id },
                Err(EtcdError::LeaseNotFound),
            ) => vec![*id],
            (Request::LeaseTimeToLive { id }, Ok(resp)) if exec::ttl_not_found(resp) => vec![*id],
            (Request::Put(p), Err(EtcdError::LeaseNotFound)) if !p.ignore_lease => vec![p.lease],
            _ => vec![],
        }
    }

    /// Whether an answer that needs a lease absent may remove one that a
    /// request with an unknown outcome refers to (which may need it alive
    /// later): such an answer is not linearized greedily.
    fn may_remove_needed(&self, req: &'h Request, output: &EtcdOutput<'h>) -> bool {
        !self.literal
            && Self::needed_absent(req, output)
                .iter()
                .any(|l| self.expirable.contains(l) && self.analysis.unknown_mentions.contains(l))
    }

    /// A definite answer that needs a lease absent first removes it when it
    /// has no keys and may go: a keyless expiry changes nothing else, so it
    /// can always come right before the first answer that needs it, instead
    /// of being tried at every step. Where no request with an unknown
    /// outcome refers to the lease, no request still to come can need it
    /// alive, so the answer stays read-only (linearized as soon as it fits).
    ///
    /// A transaction does not say which of its leases was missing: if one of
    /// the branch it takes already is, nothing is removed; else every such
    /// lease no unknown request refers to, else the only one that may go.
    /// A grant of a lease id removes the lease's previous life.
    fn clear_for(&self, store: &mut Store, req: &'h Request, output: &EtcdOutput<'h>) {
        if self.literal {
            return;
        }
        let leases = match (req, output) {
            (Request::Txn(t), Err(EtcdError::LeaseNotFound)) => {
                let leases = exec::txn_leases(store, t);
                if leases.iter().any(|l| store.lease(*l).is_none()) {
                    return;
                }
                let free: Vec<i64> = leases
                    .into_iter()
                    .filter(|l| self.removable(store, *l))
                    .collect();
                let safe: Vec<i64> = free
                    .iter()
                    .copied()
                    .filter(|l| !self.analysis.unknown_mentions.contains(l))
                    .collect();
                match (safe.is_empty(), free.len()) {
                    (false, _) => safe,
                    (true, 1) => free,
                    _ => return,
                }
            }
            (Request::LeaseGrant { .. }, Ok(Response::LeaseGrant(g))) => vec![g.id],
            _ => Self::needed_absent(req, output),
        };
        for lease in leases {
            if self.removable(store, lease) {
                store.remove_lease(lease);
            }
        }
    }

    /// Whether a step with an unknown outcome certainly cannot take effect in
    /// this state (the first checks of [`Self::apply_possible`], for ranking).
    fn cannot_apply(&self, store: &Store, input: &EtcdInput<'h>) -> bool {
        let claimed_next = self.analysis.claimed.contains(&(store.revision() + 1));
        match input {
            EtcdInput::Request(Request::Put(_) | Request::DeleteRange(_) | Request::Txn(_)) => {
                claimed_next
            }
            EtcdInput::Request(Request::LeaseRevoke { id }) => store.lease(*id).is_none(),
            EtcdInput::Request(_) => false,
            // The checks before the expiry, and a key some answer shows
            // unwritten at the next revision, where the expiry would delete
            // it (`apply_possible` finds that too, but only after deleting
            // the keys). Most live leases of a busy history are such, and
            // each would otherwise be sorted and tried at every revision the
            // search has to fill.
            EtcdInput::LeaseExpiry { lease } => {
                let next = store.revision() + 1;
                self.expiry_refused(store, *lease, claimed_next)
                    || store
                        .lease(*lease)
                        .is_some_and(|l| l.keys.iter().any(|k| self.analysis.unwritten_at(k, next)))
            }
            EtcdInput::KeyExpiry { key, nth } => {
                claimed_next
                    || (!self.literal && store.key_expiries(key) != *nth)
                    || store.get(key).is_none_or(|v| v.ttl <= 0)
                    || self.analysis.unwritten_at(key, store.revision() + 1)
            }
        }
    }

    /// Whether the expiry of `lease` is refused before it is tried: the
    /// lease is gone, or it has keys and the next revision is claimed, or
    /// its removal is useless, too early, or comes before an answer that
    /// needs it alive.
    fn expiry_refused(&self, store: &Store, lease: i64, claimed_next: bool) -> bool {
        let Some(l) = store.lease(lease) else {
            return true;
        };
        let has_keys = !l.keys.is_empty();
        let gone_at = store.revision() + i64::from(has_keys);
        (has_keys && claimed_next)
            || (!self.literal && self.slots.removal_too_early(lease, gone_at))
            || !self.removal_useful(store, lease)
            || !self.uses_done(store, lease, 0)
    }

    /// Whether a lease has no keys, an expiry step, and no definite answer
    /// still needing it alive.
    fn removable(&self, store: &Store, lease: i64) -> bool {
        store.lease(lease).is_some_and(|l| l.keys.is_empty())
            && self.expirable.contains(&lease)
            && self.uses_done(store, lease, 0)
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

fn answer_matches(
    expected: &Result<Response, EtcdError>,
    actual: &EtcdOutput<'_>,
    recorded: Recorded,
) -> bool {
    match (expected, actual) {
        (Ok(e), Ok(a)) => exec::response_matches(e, a, recorded),
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

/// Whether a transaction's answer shows it wrote nothing.
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
        let deadlines = self
            .analysis
            .deadlines
            .iter()
            .flat_map(|(rev, ops)| ops.iter().map(move |_| *rev));
        Store::expecting(self.analysis.past_reads.iter().copied(), deadlines)
    }

    /// Answers that change nothing, and answers that find a lease gone when
    /// removing it first can never hurt (see [`EtcdModel::clear_for`]).
    fn is_read_only(&self, input: &EtcdInput<'h>, output: &EtcdOutput<'h>) -> bool {
        match (input, output) {
            (EtcdInput::Request(req), _) if self.may_remove_needed(req, output) => false,
            (EtcdInput::Request(_), Err(_)) => true,
            (EtcdInput::Request(req), Ok(resp)) => read_only_answer(req, resp),
            (EtcdInput::LeaseExpiry { .. } | EtcdInput::KeyExpiry { .. }, _) => false,
        }
    }

    /// An unknown revoke of a lease that has an expiry step can do nothing
    /// the expiry cannot (remove the lease with its keys, at any time after
    /// the grant): leaving it out halves the ways to remove that lease.
    fn may_have_effect(&self, input: &EtcdInput<'h>) -> bool {
        match input {
            EtcdInput::Request(Request::LeaseRevoke { id }) => {
                self.literal || !self.expirable.contains(id)
            }
            EtcdInput::Request(req) => req.may_write(),
            EtcdInput::LeaseExpiry { .. } | EtcdInput::KeyExpiry { .. } => true,
        }
    }

    fn unknown_expected_time(&self, op: &EtcdOp<'h>) -> u64 {
        self.expected_times.get(&op.id).copied().unwrap_or(op.call)
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
        self.apply_answer(store, req, output, true)
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
            return !range::range_answers(store, r, at, actual, self.recorded);
        }
        // A bound may leave the key out of the answer however it stands.
        let (KeySpan::Single(key), false) = (span, r.prunes()) else {
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

    /// Prefer the unknown write that produces what watches saw at the next
    /// revision; leave out the steps that cannot take effect now.
    fn unknown_rank(&self, store: &Store, input: &EtcdInput<'h>) -> u8 {
        if self.cannot_apply(store, input) {
            return u8::MAX;
        }
        let next = store.revision() + 1;
        let Some(seen) = self.analysis.sightings.get(&next) else {
            return if self.silenced(store, input, next) {
                2
            } else {
                1
            };
        };
        let matches = match input {
            EtcdInput::Request(req) => seen.iter().any(|s| request_explains(req, s)),
            EtcdInput::LeaseExpiry { lease } => store.lease(*lease).is_some_and(|l| {
                seen.iter()
                    .all(|s| s.kind == EventKind::Delete && l.keys.contains(s.key))
            }),
            EtcdInput::KeyExpiry { key, .. } => seen
                .iter()
                .all(|s| s.kind == EventKind::Delete && s.key == *key),
        };
        if matches { 0 } else { 2 }
    }

    /// An expiry or an unknown revoke of a lease granted by one request
    /// only, once that lease is gone: nothing grants it again. A key's
    /// expiry whose turn has passed (the expiries of one key happen in
    /// order, and the store only counts up along a path).
    fn retired(&self, store: &Store, input: &EtcdInput<'h>) -> bool {
        match input {
            EtcdInput::LeaseExpiry { lease }
            | EtcdInput::Request(Request::LeaseRevoke { id: lease }) => {
                store.lease(*lease).is_none()
                    && store.was_removed(*lease)
                    && self.analysis.granted_once.contains(lease)
            }
            EtcdInput::KeyExpiry { key, nth } => !self.literal && store.key_expiries(key) > *nth,
            EtcdInput::Request(_) => false,
        }
    }

    /// The store's own steps wait for what makes them possible: an expiry
    /// of a lease whose removal matters only for its keys, for the lease to
    /// have keys; a key's `nth` expiry, for the key to have a live version
    /// with a TTL and `nth` expiries before it. (Not in the literal model,
    /// which the differential tests run through the plain walk.)
    fn gate(&self, input: &EtcdInput<'h>) -> Option<u64> {
        match input {
            _ if self.literal => None,
            EtcdInput::LeaseExpiry { lease } if !self.keyless_removal_useful(*lease) => {
                Some(gates::keyed_lease(*lease))
            }
            EtcdInput::KeyExpiry { key, nth } => Some(gates::key_turn(key, *nth)),
            _ => None,
        }
    }

    fn open_gates(&self, store: &Store, open: &mut dyn FnMut(u64)) {
        for lease in store.keyed_leases() {
            open(gates::keyed_lease(lease));
        }
        for key in store.ttl_keys() {
            open(gates::key_turn(key, store.key_expiries(key)));
        }
    }

    fn steps_still_needed(&self, store: &Store) -> usize {
        self.slots.still_needed(store)
    }

    fn may_still_step(&self, store: &Store, input: &EtcdInput<'h>) -> bool {
        self.slots
            .may_fill(store, input, !self.literal, self.heed_watches)
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
            EtcdInput::KeyExpiry { key, .. } => format!("key {key:?} expires (its TTL ran out)"),
            EtcdInput::Request(req) => {
                let call = crate::history::describe::request(req);
                match outcome {
                    Outcome::Ok(out) => format!("{call} -> {}", answer(*out)),
                    Outcome::Unknown => format!("{call} -> outcome unknown"),
                }
            }
        }
    }

    fn too_late(&self, store: &mut Store, input: &EtcdInput<'h>, output: &EtcdOutput<'h>) -> bool {
        let (EtcdInput::Request(req), Ok(resp)) = (input, output) else {
            return false;
        };
        let Some(latest) = analysis::latest_revision(req, resp) else {
            return false;
        };
        if store.revision() < latest {
            return false;
        }
        match self.apply_answer(store, req, output, false) {
            Some(mark) => {
                store.rollback(mark);
                false
            }
            None => true,
        }
    }

    fn explain(&self, store: &Store, input: &EtcdInput<'h>, output: &EtcdOutput<'h>) -> String {
        let EtcdInput::Request(req) = input else {
            return "an expiry has no answer".to_string();
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
            if !range::range_answers(store, r, at, actual, self.recorded) {
                let held = range::range_snapshot(store, r, at, actual.header_revision);
                return format!(
                    "at revision {at} the store held {}, not {}",
                    answer(Ok(&Response::Range(held))),
                    answer(*output)
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
            answer(expected.as_ref()),
            answer(*output)
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

#[cfg(test)]
mod tests {
    use super::testing::{leased, read_everything, run};
    use super::*;
    use crate::history::History;

    /// A lease granted once is retired once gone; a key's expiry once its turn passed.
    #[test]
    fn steps_that_can_never_apply_again_are_retired() {
        let mut store = Store::new();
        let mut history = History::default();
        run(
            &mut store,
            &mut history,
            Request::LeaseGrant { id: 5, ttl: 2 },
        );
        run(&mut store, &mut history, leased("a", 5));
        read_everything(&mut store, &mut history);
        let prepared = prepare(&history);
        let model = &prepared.model;
        let expiry = EtcdInput::LeaseExpiry { lease: 5 };
        let mut state = model.init();
        assert!(!model.retired(&state, &expiry), "not granted yet");
        state.grant(5, 2);
        assert!(!model.retired(&state, &expiry), "alive");
        let mark = state.mark();
        exec::expire_lease(&mut state, 5);
        assert!(model.retired(&state, &expiry), "gone, granted once");
        state.rollback(mark);
        assert!(!model.retired(&state, &expiry), "back after the rollback");

        let first = EtcdInput::KeyExpiry { key: "b", nth: 0 };
        let second = EtcdInput::KeyExpiry { key: "b", nth: 1 };
        state.put("b", "1".into(), 0, 1, state.revision() + 1);
        state.set_revision(state.revision() + 1);
        assert!(state.expire_key("b"));
        assert!(model.retired(&state, &first), "its turn passed");
        assert!(!model.retired(&state, &second), "its turn may come");
        assert!(
            !model.literal().retired(&state, &first),
            "literal: no turns"
        );
    }
}
