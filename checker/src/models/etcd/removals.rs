//! A counting argument over free revisions: every lease whose keys a later
//! complete read no longer shows has to be removed (expired or revoked) at a
//! revision of its own, and only revisions no definite write claimed are
//! left for that (and of those, not the ones where a definite answer shows a
//! key put: a removal only deletes). When an unknown step takes a free
//! revision that a needed removal would have had, the search learns it at
//! once instead of at the read, hundreds of revisions later (a Kubernetes
//! events workload leaves dozens of lease expiries to place, and one wrong
//! choice early used to cost the search all its time).
//!
//! The count is a lower bound on what the store must do, so pruning on it
//! never loses a linearization: only keys nothing else can delete are counted
//! (no delete request, no TTL, no put with an unknown outcome touches them),
//! only leases no definite revoke names (that revoke's revision is not known
//! to be free), and only complete reads (current revision, every matching key
//! returned).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use super::analysis::{Analysis, for_each_put};
use super::store::Store;
use crate::history::{History, KeySpan, KeyValue, OpResult, Request, Response, TxnOp, TxnRequest};

/// The lease puts one complete read shows undone.
#[derive(Debug, Clone)]
struct CompleteRead<'h> {
    revision: i64,
    /// Per key whose last definite put before the read attached a lease and
    /// whose version the read no longer shows: (that put's revision, lease).
    gone: HashMap<&'h str, (i64, i64)>,
    /// The same puts sorted by revision.
    by_revision: Vec<(i64, i64)>,
    /// `distinct_from[i]`: how many distinct leases `by_revision[i..]` names.
    distinct_from: Vec<u32>,
    /// Per lease, the revision of its last put in `by_revision`.
    last_put: HashMap<i64, i64>,
}

/// What the history says must be removed by when, and where it can be.
#[derive(Debug, Clone, Default)]
pub struct Removals<'h> {
    /// Sorted by revision.
    reads: Vec<CompleteRead<'h>>,
    /// Revisions up to the highest one seen that a lease removal may take:
    /// no definite write claimed them, and no definite answer shows a key
    /// put there (a removal only deletes).
    free: Vec<i64>,
}

/// How many of the nearest complete reads each check looks at: the nearest
/// prune earliest, and a handful keeps the check cheap.
const READS_CHECKED: usize = 4;

impl<'h> Removals<'h> {
    pub fn of(history: &'h History, analysis: &Analysis<'h>) -> Removals<'h> {
        let mut deletable: Vec<KeySpan<'h>> = Vec::new();
        let mut untouchable: HashSet<&'h str> = HashSet::new();
        let mut revoked: HashSet<i64> = HashSet::new();
        // Per key, every definite put: (revision, lease, ignore_lease).
        // In key order: each read looks only at the keys of its span.
        let mut puts: BTreeMap<&'h str, Vec<(i64, i64, bool)>> = BTreeMap::new();
        let mut reads: Vec<(i64, KeySpan<'h>, &'h [KeyValue])> = Vec::new();
        for op in &history.operations {
            if op.request.is_serializable_read() {
                continue;
            }
            delete_spans(&op.request, &mut deletable);
            let placed = match &op.result {
                OpResult::Ok(resp) if resp.header_revision() > 0 => Some(resp),
                OpResult::Fail(_) => continue,
                _ => None,
            };
            for_each_put(&op.request, None, &mut |p| {
                if p.ttl > 0 || placed.is_none() {
                    untouchable.insert(p.key.as_str());
                }
            });
            let Some(resp) = placed else { continue };
            if let Request::LeaseRevoke { id } = op.request {
                revoked.insert(id);
            }
            for_each_put(&op.request, Some(resp), &mut |p| {
                puts.entry(p.key.as_str()).or_default().push((
                    resp.header_revision(),
                    p.lease,
                    p.ignore_lease,
                ));
            });
            if let (Request::Range(r), Response::Range(got)) = (&op.request, resp)
                && r.revision == 0
                && !r.count_only
                && !r.keys_only
                && !got.more
                && got.kvs.len() as i64 == got.count
            {
                reads.push((got.header_revision, r.span(), &got.kvs));
            }
        }
        // Only keys that nothing but a lease removal can delete count. Each
        // delete request's span drops the keys it holds (a walk of that
        // span, instead of every key asking every span).
        puts.retain(|key, _| !untouchable.contains(key));
        for span in &deletable {
            let deleted: Vec<&str> = in_span(&puts, span).map(|(key, _)| *key).collect();
            for key in deleted {
                puts.remove(key);
            }
        }
        for versions in puts.values_mut() {
            versions.sort_unstable();
        }
        let mut complete: Vec<CompleteRead<'h>> = reads
            .into_iter()
            .map(|(revision, span, kvs)| {
                let shown: HashMap<&str, i64> = kvs
                    .iter()
                    .map(|kv| (kv.key.as_str(), kv.create_revision))
                    .collect();
                let mut gone = HashMap::new();
                for (key, versions) in in_span(&puts, &span) {
                    let Some(&(at, lease, ignore_lease)) =
                        versions.iter().rev().find(|(at, ..)| *at < revision)
                    else {
                        continue;
                    };
                    if lease == 0 || ignore_lease || revoked.contains(&lease) {
                        continue;
                    }
                    // Absent, or a later incarnation: the version put at `at` was deleted.
                    if shown.get(key).is_none_or(|created| *created > at) {
                        gone.insert(*key, (at, lease));
                    }
                }
                CompleteRead::new(revision, gone)
            })
            .filter(|read| !read.gone.is_empty())
            .collect();
        complete.sort_by_key(|r| r.revision);
        let free = (1..=analysis.max_revision)
            .filter(|r| !analysis.claimed.contains(r) && !analysis.observed.contains_key(r))
            .collect();
        Removals {
            reads: complete,
            free,
        }
    }

    /// Whether the free revisions left before each of the nearest complete
    /// reads can hold the lease removals it needs.
    pub fn feasible(&self, store: &Store) -> bool {
        let now = store.revision();
        let first = self.reads.partition_point(|r| r.revision <= now);
        self.reads[first..]
            .iter()
            .take(READS_CHECKED)
            .all(|read| read.needed(store) <= self.free_in(now, read.revision))
    }

    /// Free revisions in `(after, upto]`.
    fn free_in(&self, after: i64, upto: i64) -> usize {
        self.free.partition_point(|r| *r <= upto) - self.free.partition_point(|r| *r <= after)
    }
}

/// The entries of `map` whose keys `span` contains.
fn in_span<'m, 'h, V>(
    map: &'m BTreeMap<&'h str, V>,
    span: &KeySpan<'_>,
) -> impl Iterator<Item = (&'m &'h str, &'m V)> {
    let (start, end) = match *span {
        KeySpan::Single(k) => (k, Bound::Included(k)),
        KeySpan::From(k) => (k, Bound::Unbounded),
        KeySpan::Between(start, end) => (start, Bound::Excluded(end)),
    };
    // An inverted span holds no keys (and would panic a BTreeMap).
    let empty = match end {
        Bound::Included(end) => end < start,
        Bound::Excluded(end) => end <= start,
        Bound::Unbounded => false,
    };
    (!empty)
        .then(|| map.range::<str, _>((Bound::Included(start), end)))
        .into_iter()
        .flatten()
}

impl<'h> CompleteRead<'h> {
    fn new(revision: i64, gone: HashMap<&'h str, (i64, i64)>) -> Self {
        let mut by_revision: Vec<(i64, i64)> = gone.values().copied().collect();
        by_revision.sort_unstable();
        let mut seen = HashSet::new();
        let mut distinct_from = vec![0; by_revision.len() + 1];
        for (i, (_, lease)) in by_revision.iter().enumerate().rev() {
            seen.insert(*lease);
            distinct_from[i] = seen.len() as u32;
        }
        let mut last_put = HashMap::new();
        for (at, lease) in &by_revision {
            last_put.insert(*lease, *at);
        }
        CompleteRead {
            revision,
            gone,
            by_revision,
            distinct_from,
            last_put,
        }
    }

    /// Lease removals still needed before this read, for a store at its
    /// revision: leases of puts still to come, and leases alive in the
    /// store holding a version this read shows deleted.
    fn needed(&self, store: &Store) -> usize {
        let now = store.revision();
        let first_future = self.by_revision.partition_point(|(at, _)| *at <= now);
        let future = self.distinct_from[first_future] as usize;
        let alive = store
            .leases()
            .filter(|(id, lease)| {
                !lease.keys.is_empty()
                    && self.last_put.get(id).is_some_and(|at| *at <= now)
                    && lease.keys.iter().any(|key| {
                        self.gone.get(key.as_str()).is_some_and(|(at, l)| {
                            l == *id && store.get(key).is_some_and(|v| v.mod_revision == *at)
                        })
                    })
            })
            .count();
        future + alive
    }
}

/// The spans a request may delete, whatever its outcome.
fn delete_spans<'h>(req: &'h Request, out: &mut Vec<KeySpan<'h>>) {
    fn txn<'h>(t: &'h TxnRequest, out: &mut Vec<KeySpan<'h>>) {
        for op in t.success.iter().chain(&t.failure) {
            match op {
                TxnOp::DeleteRange(d) => out.push(d.span()),
                TxnOp::Txn(inner) => txn(inner, out),
                _ => {}
            }
        }
    }
    match req {
        Request::DeleteRange(d) => out.push(d.span()),
        Request::Txn(t) => txn(t, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{DeleteRangeRequest, EtcdError};
    use crate::models::etcd::exec;
    use crate::models::etcd::testing::{leased, read_everything, record, run};

    /// Leases 5 and 6, with /a at revision 2 and /b at 3; then `removal` of
    /// each (the store expires lease 5 at 4, lease 6 at 5, unless `revoke`
    /// says a client revoked it) and a complete read at 5 that shows neither.
    fn history(extra: Option<(Request, OpResult)>, revoke: bool) -> History {
        let mut store = Store::new();
        let mut h = History::default();
        run(&mut store, &mut h, Request::LeaseGrant { id: 5, ttl: 1 });
        run(&mut store, &mut h, Request::LeaseGrant { id: 6, ttl: 1 });
        run(&mut store, &mut h, leased("/a", 5));
        run(&mut store, &mut h, leased("/b", 6));
        if let Some((request, result)) = extra {
            record(&mut h, request, result);
        }
        exec::expire_lease(&mut store, 5);
        if revoke {
            run(&mut store, &mut h, Request::LeaseRevoke { id: 6 });
        } else {
            exec::expire_lease(&mut store, 6);
        }
        read_everything(&mut store, &mut h);
        h
    }

    #[test]
    fn the_keys_in_a_span_are_those_it_contains() {
        let keys = ["", "a", "a\0", "ab", "b", "c"];
        let map: BTreeMap<&str, ()> = keys.iter().map(|k| (*k, ())).collect();
        for start in keys {
            let mut spans = vec![KeySpan::Single(start), KeySpan::From(start)];
            spans.extend(keys.iter().map(|end| KeySpan::Between(start, end)));
            for span in spans {
                let got: Vec<&str> = in_span(&map, &span).map(|(k, _)| *k).collect();
                let want: Vec<&str> = keys.into_iter().filter(|k| span.contains(k)).collect();
                assert_eq!(got, want, "{span:?}");
            }
        }
    }

    fn removals(h: &History) -> Removals<'_> {
        Removals::of(h, &Analysis::of(h))
    }

    /// The checker's store after the grants and puts (revision 3), and after
    /// one more write that takes revision 4 without removing a lease.
    fn stores() -> (Store, Store) {
        let mut store = Store::new();
        for request in [
            Request::LeaseGrant { id: 5, ttl: 1 },
            Request::LeaseGrant { id: 6, ttl: 1 },
            leased("/a", 5),
            leased("/b", 6),
        ] {
            exec::execute(&mut store, &request, None).expect("applies");
        }
        let mut wasted = store.clone();
        exec::execute(&mut wasted, &leased("/x", 0), None).expect("applies");
        (store, wasted)
    }

    #[test]
    fn a_free_revision_a_removal_needs_cannot_be_taken() {
        let h = history(None, false);
        let r = removals(&h);
        let (store, wasted) = stores();
        assert!(r.feasible(&store));
        assert!(!r.feasible(&wasted), "two removals, one free revision left");
        let mut expired = store.clone();
        exec::expire_lease(&mut expired, 5);
        assert!(r.feasible(&expired));
    }

    #[test]
    fn a_key_a_delete_request_names_is_not_counted() {
        let delete = Request::DeleteRange(DeleteRangeRequest {
            key: "/a".into(),
            ..Default::default()
        });
        let failed = OpResult::Fail(EtcdError::Other("timeout".into()));
        let h = history(Some((delete, failed)), false);
        let (_, wasted) = stores();
        assert!(removals(&h).feasible(&wasted), "only lease 6 is counted");
    }

    #[test]
    fn a_key_a_put_with_an_unknown_outcome_touches_is_not_counted() {
        let put = leased("/b", 0);
        let h = history(Some((put, OpResult::Unknown("timeout".into()))), false);
        let (_, wasted) = stores();
        assert!(removals(&h).feasible(&wasted), "only lease 5 is counted");
    }

    /// Leases 5, 6 and 7 (keys at 2, 3, 4) expire at 5, 7 and 8; a put
    /// whose outcome is unknown took 6, and a read of everything at 8 shows
    /// its key. Revision 6 is not free for a removal: a step that takes 5
    /// without removing a lease leaves two revisions for three removals.
    #[test]
    fn a_revision_where_a_put_was_seen_is_not_free_for_a_removal() {
        let mut store = Store::new();
        let mut h = History::default();
        for lease in [5, 6, 7] {
            run(
                &mut store,
                &mut h,
                Request::LeaseGrant { id: lease, ttl: 1 },
            );
        }
        for (key, lease) in [("/a", 5), ("/b", 6), ("/c", 7)] {
            run(&mut store, &mut h, leased(key, lease));
        }
        exec::expire_lease(&mut store, 5);
        let seen = leased("/x", 0);
        exec::execute(&mut store, &seen, None).expect("applies");
        record(&mut h, seen, OpResult::Unknown("timeout".into()));
        exec::expire_lease(&mut store, 6);
        exec::expire_lease(&mut store, 7);
        read_everything(&mut store, &mut h);
        let r = removals(&h);
        let mut checker_store = Store::new();
        for request in &h.operations[..6] {
            exec::execute(&mut checker_store, &request.request, None).expect("applies");
        }
        assert!(r.feasible(&checker_store));
        exec::execute(&mut checker_store, &leased("/y", 0), None).expect("applies");
        assert!(!r.feasible(&checker_store), "three removals, two revisions");
    }

    #[test]
    fn a_lease_a_client_revoked_is_not_counted() {
        let h = history(None, true);
        let (_, wasted) = stores();
        assert!(removals(&h).feasible(&wasted), "only lease 5 is counted");
    }
}
