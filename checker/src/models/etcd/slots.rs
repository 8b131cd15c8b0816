//! Every revision up to the highest one an answer reported was written by
//! something. The ones no definite answer claimed ("free" revisions) can
//! only have been written by steps the search chooses: writes with an
//! unknown outcome and the store's own lease and key expiries. So the
//! search may not use up the steps able to fill the free revisions still
//! ahead: when it expires the lease that the last possible filler (a put
//! with that lease, outcome unknown) needs, it learns at once that the
//! revision this put had to take will stay empty, instead of at the read
//! that reports the highest revision, thousands of steps later.
//!
//! The same reads give each lease a revision it was certainly alive at (a
//! key attached to it read at that revision): a lease granted only once is
//! not removed at or before it.
//!
//! Both are counted from definite answers only, and a step is counted as
//! able to fill a revision unless that is certain not to happen, so the
//! bound never loses a linearization.

use super::fast_hash::{FastMap as HashMap, FastSet as HashSet};

use super::EtcdInput;
use super::analysis::{Analysis, for_each_put};
use super::compares;
use super::exec::written_spans;
use super::store::Store;
use crate::history::{
    History, KeySpan, OpResult, RangeRequest, RangeResponse, Request, Response, TxnOp,
    TxnOpResponse, TxnRequest, TxnResponse,
};

#[derive(Debug, Clone, Default)]
pub struct Slots {
    /// Revisions above the initial one and up to the highest any definite
    /// answer reported that no definite write claimed or may have written,
    /// sorted.
    free: Vec<i64>,
    /// Definite answers to writes that carry no revision: each may have
    /// written one of the free revisions.
    unplaced_writes: usize,
    /// Leases granted by exactly one request: once removed, gone for good.
    granted_once: HashSet<i64>,
    /// Per lease granted only once: the highest revision a definite answer
    /// shows it alive at.
    alive_through: HashMap<i64, i64>,
    /// Per write with an unknown outcome (by the address of its request):
    /// the last free revision it may write (where some key it may write was
    /// not certainly left alone there), and the same where also no watch
    /// over that key reported nothing (for the search that heeds watches).
    last_possible: HashMap<usize, (i64, i64)>,
}

impl Slots {
    pub fn of(history: &History, analysis: &Analysis<'_>) -> Slots {
        // A definite revoke may have written its answer's revision (when
        // the lease had keys): that one needs no step of the search.
        let free: Vec<i64> = (2..=analysis.max_revision)
            .filter(|r| !analysis.claimed.contains(r) && !analysis.revoke_revisions.contains(r))
            .collect();
        let mut slots = Slots {
            free,
            granted_once: analysis.granted_once.clone(),
            ..Slots::default()
        };
        for op in &history.operations {
            if op.request.is_serializable_read() {
                continue;
            }
            match &op.result {
                OpResult::Ok(resp) => {
                    if resp.header_revision() <= 0 && takes_revision(&op.request) {
                        slots.unplaced_writes += 1;
                    }
                    alive_in(&op.request, resp, &mut |lease, rev| {
                        if analysis.granted_once.contains(&lease) {
                            let through = slots.alive_through.entry(lease).or_default();
                            *through = (*through).max(rev);
                        }
                    });
                }
                OpResult::Unknown(_) if takes_revision(&op.request) => {
                    let last = (
                        slots.last_possible_of(&op.request, analysis, false),
                        slots.last_possible_of(&op.request, analysis, true),
                    );
                    tracing::trace!(op = op.id, last_possible = ?last, "free revisions an unknown write may fill");
                    slots
                        .last_possible
                        .insert(std::ptr::from_ref(&op.request) as usize, last);
                }
                _ => {}
            }
        }
        slots
    }

    /// The last free revision `req` may write: where a transaction's
    /// compares may hold ([`compares`]) and some key it may write
    /// was not certainly left alone (and, `heeding` watches, where no watch
    /// over it reported nothing). `i64::MAX` for a request that may delete a
    /// range or revoke a lease: those are not followed key by key.
    fn last_possible_of(&self, req: &Request, analysis: &Analysis<'_>, heeding: bool) -> i64 {
        if matches!(req, Request::LeaseRevoke { .. }) {
            return i64::MAX;
        }
        let mut keys = Vec::new();
        for span in written_spans(req) {
            match span {
                KeySpan::Single(key) => keys.push(key),
                _ => return i64::MAX,
            }
        }
        let open = |rev: i64, key: &str| {
            let watched_empty = heeding && analysis.silent_at(rev, key);
            !(analysis.unwritten_at(key, rev) || watched_empty)
        };
        let may_write = |rev: i64| match req {
            Request::Txn(t) => !compares::cannot_write_at(analysis, t, rev - 1),
            _ => true,
        };
        self.free
            .iter()
            .rev()
            .find(|&&rev| may_write(rev) && keys.iter().any(|k| open(rev, k)))
            .copied()
            .unwrap_or(0)
    }

    /// Free revisions above the store's that steps the search chooses must
    /// still write, at least.
    pub fn still_needed(&self, store: &Store) -> usize {
        let now = store.revision();
        let ahead = self.free.len() - self.free.partition_point(|r| *r <= now);
        ahead.saturating_sub(self.unplaced_writes)
    }

    /// Whether a lease granted only once would be removed at or before a
    /// revision some answer shows it alive at: `gone_at` is the first
    /// revision it would be missing at.
    pub fn removal_too_early(&self, lease: i64, gone_at: i64) -> bool {
        self.alive_through
            .get(&lease)
            .is_some_and(|through| gone_at <= *through)
    }

    /// Whether `input` (not yet linearized) may still write one of the free
    /// revisions ahead of `store`. `shortcuts`: the arguments from the whole
    /// history hold (a lease granted once never comes back); `heed_watches`:
    /// a write may not land where a watch over it reported nothing.
    pub fn may_fill(
        &self,
        store: &Store,
        input: &EtcdInput<'_>,
        shortcuts: bool,
        heed_watches: bool,
    ) -> bool {
        let last_free = self.free.last().copied().unwrap_or(0);
        let gone_for_good = |lease: i64| {
            shortcuts && self.granted_once.contains(&lease) && store.was_removed(lease)
        };
        match input {
            EtcdInput::Request(req) => {
                if !takes_revision(req) {
                    return false;
                }
                if let Request::Put(p) = req
                    && p.lease != 0
                    && !p.ignore_lease
                    && gone_for_good(p.lease)
                {
                    return false;
                }
                if let Request::LeaseRevoke { id } = req
                    && gone_for_good(*id)
                {
                    return false;
                }
                self.last_possible
                    .get(&(std::ptr::from_ref(*req) as usize))
                    .is_none_or(|(plain, heeding)| {
                        let last = if heed_watches { heeding } else { plain };
                        *last > store.revision()
                    })
            }
            EtcdInput::LeaseExpiry { lease } => {
                let alive_to_the_end = shortcuts && self.removal_too_early(*lease, last_free);
                !(gone_for_good(*lease) || alive_to_the_end)
            }
            EtcdInput::KeyExpiry { .. } => true,
        }
    }
}

/// Whether a request, if it takes effect, may write a new revision.
fn takes_revision(req: &Request) -> bool {
    match req {
        Request::Put(_) | Request::DeleteRange(_) | Request::LeaseRevoke { .. } => true,
        Request::Txn(t) => t.may_write(),
        _ => false,
    }
}

/// Leases a definite answer shows alive, each with a revision it was alive
/// at: the lease of every key a read returned (at the revision read) and of
/// every key put (at the put's revision). Not a keep-alive: the revision in
/// its answer is not one the lease was read at.
fn alive_in(req: &Request, resp: &Response, f: &mut impl FnMut(i64, i64)) {
    let header = resp.header_revision();
    match (req, resp) {
        (Request::Range(r), Response::Range(got)) => leases_read(r, got, header, f),
        (Request::Txn(t), Response::Txn(r)) => txn_reads(t, r, header, f),
        _ => {}
    }
    if header > 0 {
        for_each_put(req, Some(resp), &mut |p| {
            if p.lease != 0 && !p.ignore_lease {
                f(p.lease, header);
            }
        });
    }
}

/// The lease of every key a range returned, at the revision it read.
fn leases_read(q: &RangeRequest, got: &RangeResponse, header: i64, f: &mut impl FnMut(i64, i64)) {
    let at = if q.revision > 0 { q.revision } else { header };
    for kv in got.kvs.iter().filter(|kv| kv.lease != 0) {
        f(kv.lease, at);
    }
}

fn txn_reads(t: &TxnRequest, r: &TxnResponse, header: i64, f: &mut impl FnMut(i64, i64)) {
    let branch = if r.succeeded { &t.success } else { &t.failure };
    for (op, resp) in branch.iter().zip(&r.responses) {
        match (op, resp) {
            (TxnOp::Range(q), TxnOpResponse::Range(got)) => leases_read(q, got, header, f),
            (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn_reads(inner, ir, header, f),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::history::History;
    use crate::linearizable::Model;
    use crate::models::etcd::store::Store;
    use crate::models::etcd::testing::{leased, read_everything, run, run_unanswered};
    use crate::models::etcd::{EtcdInput, exec, prepare};

    /// Leases 5 and 6 with /a (revision 2) and /b (3); a put of /e with
    /// lease 5 whose outcome is unknown, which took 4; lease 5 expires at 5;
    /// /x at 6 and a read of everything at 6 (showing /b, lease 6 alive).
    /// Revisions 4 and 5 are free: the put and the expiry must take them.
    fn history() -> History {
        let mut store = Store::new();
        let mut h = History::default();
        run(
            &mut store,
            &mut h,
            crate::history::Request::LeaseGrant { id: 5, ttl: 1 },
        );
        run(
            &mut store,
            &mut h,
            crate::history::Request::LeaseGrant { id: 6, ttl: 1 },
        );
        run(&mut store, &mut h, leased("/a", 5));
        run(&mut store, &mut h, leased("/b", 6));
        run_unanswered(&mut store, &mut h, leased("/e", 5));
        exec::expire_lease(&mut store, 5);
        run(&mut store, &mut h, leased("/x", 0));
        read_everything(&mut store, &mut h);
        h
    }

    /// The checker's store after the grants and the two definite puts.
    fn at_three(h: &History) -> Store {
        let mut store = Store::new();
        for op in &h.operations[..4] {
            exec::execute(&mut store, &op.request, None).expect("applies");
        }
        store
    }

    #[test]
    fn the_free_revisions_ahead_are_the_steps_still_needed() {
        let h = history();
        let prepared = prepare(&h);
        let store = at_three(&h);
        assert_eq!(prepared.model.steps_still_needed(&store), 2);
        let mut later = store.clone();
        exec::execute(&mut later, &leased("/e", 5), None).expect("applies");
        assert_eq!(prepared.model.steps_still_needed(&later), 1);
    }

    #[test]
    fn expiring_a_lease_ends_the_unknown_puts_with_it_as_fillers() {
        let h = history();
        let prepared = prepare(&h);
        let model = &prepared.model;
        let unknown_put = EtcdInput::Request(&h.operations[4].request);
        let mut store = at_three(&h);
        assert!(model.may_still_step(&store, &unknown_put));
        exec::expire_lease(&mut store, 5);
        assert!(
            !model.may_still_step(&store, &unknown_put),
            "lease 5 is gone for good"
        );
        assert_eq!(model.steps_still_needed(&store), 1);
        assert!(
            !model.may_still_step(&store, &EtcdInput::LeaseExpiry { lease: 6 }),
            "lease 6 is alive at the last free revision"
        );
    }

    #[test]
    fn a_lease_a_read_shows_alive_is_not_removed_before_it() {
        let h = history();
        let prepared = prepare(&h);
        let slots = &prepared.model.slots;
        assert!(slots.removal_too_early(6, 6), "the read at 6 shows /b");
        assert!(!slots.removal_too_early(6, 7));
        assert!(slots.removal_too_early(5, 2), "/a was put at 2");
        assert!(!slots.removal_too_early(5, 3));
        let mut store = at_three(&h);
        let expiry = EtcdInput::LeaseExpiry { lease: 6 };
        assert!(
            prepared
                .model
                .apply_unknown(&mut store, &expiry, 0)
                .is_none()
        );
    }

    #[test]
    fn the_search_finds_the_order_that_fills_every_free_revision() {
        let h = history();
        let lin = crate::check_linearizability(&h, &crate::CheckOptions::default());
        assert!(lin.result.verdict.is_pass(), "{:?}", lin.result.verdict);
    }

    #[test]
    fn a_lease_granted_again_is_not_gone_for_good() {
        let mut h = history();
        let again = h.operations[0].clone();
        h.operations
            .push(crate::history::Operation { id: 100, ..again });
        let prepared = prepare(&h);
        let mut store = at_three(&h);
        exec::expire_lease(&mut store, 5);
        let unknown_put = EtcdInput::Request(&h.operations[4].request);
        assert!(prepared.model.may_still_step(&store, &unknown_put));
    }
}
