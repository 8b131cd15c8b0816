//! Reads pinned to a revision: a linearizable range with a definite answer
//! at header revision H fits only while the store is at H, and what it reads
//! (keys, versions, count) is written by then. So the moment a step moves
//! the store to H, every such read either fits the store as it is or fits
//! nowhere on this path: later steps write at revisions above H, and the
//! steps that leave the revision alone (grants, keep-alives, removals of
//! leases without keys, compactions) change nothing a range answers, except
//! that a compaction can only make a past read fail.
//!
//! Nothing of this needs the read to be the next operation in real time: it
//! is a fact about the store's revision H, not about when the read ran. The
//! search uses it for the steps it chooses (writes with an unknown outcome,
//! lease and key expiries): which of dozens of live leases expired at a free
//! revision is then told at once by the reads answered there, instead of
//! each wrong choice being linearized, found wrong at the read, and undone.
//!
//! Sound because the store reaches a revision once per path (revisions never
//! go back), so when a step first moves it to H no read answered at H has
//! been linearized yet, and each of them must be linearized at H later.

use std::collections::HashMap;

use super::range;
use super::store::Store;
use crate::history::{History, OpResult, RangeRequest, RangeResponse, Recorded, Request, Response};

/// The definite linearizable range answers of a history, by header revision.
#[derive(Debug, Clone, Default)]
pub struct PinnedReads<'h> {
    at: HashMap<i64, Vec<(&'h RangeRequest, &'h RangeResponse)>>,
}

impl<'h> PinnedReads<'h> {
    pub fn of(history: &'h History) -> PinnedReads<'h> {
        let mut at: HashMap<i64, Vec<_>> = HashMap::new();
        for op in &history.operations {
            // Serializable reads are checked apart from the search; a header
            // of 0 was not recorded and pins nothing.
            if let (Request::Range(r), OpResult::Ok(Response::Range(resp))) =
                (&op.request, &op.result)
                && !r.serializable
                && resp.header_revision > 0
            {
                at.entry(resp.header_revision).or_default().push((r, resp));
            }
        }
        PinnedReads { at }
    }

    /// Whether every read answered at the store's revision fits the store
    /// as it is now. Call it when a step has just moved the store to a new
    /// revision: false means no order of the remaining operations can
    /// linearize one of those reads.
    pub fn hold(&self, store: &Store, recorded: Recorded) -> bool {
        self.at.get(&store.revision()).is_none_or(|reads| {
            reads
                .iter()
                .all(|(r, resp)| range::range_fits(store, r, resp, recorded))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{KeyValue, Operation};

    fn read(id: u64, key: &str, header: i64, kvs: Vec<KeyValue>) -> Operation {
        let count = kvs.len() as i64;
        Operation {
            id,
            client: 1,
            call: 0,
            ret: Some(1),
            request: Request::Range(RangeRequest {
                key: key.to_string(),
                ..Default::default()
            }),
            result: OpResult::Ok(Response::Range(RangeResponse {
                header_revision: header,
                kvs,
                more: false,
                count,
            })),
            k8s: None,
        }
    }

    fn kv(key: &str, value: &str, rev: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: value.to_string(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
            ttl: 0,
        }
    }

    #[test]
    fn a_read_at_the_new_revision_must_fit_the_store_as_it_is() {
        let history = History {
            operations: vec![
                read(1, "a", 3, vec![]),
                read(2, "b", 3, vec![kv("b", "1", 2)]),
            ],
            ..History::default()
        };
        let pinned = PinnedReads::of(&history);
        let recorded = Recorded::default();
        let mut store = Store::new();
        store.put("a", "1".into(), 0, 0, 2);
        store.put("b", "1".into(), 0, 0, 2);
        store.set_revision(2);
        // No read is answered at revision 2: nothing to hold to.
        assert!(pinned.hold(&store, recorded));
        let mark = store.mark();
        // Revision 3 deletes "a": both reads fit.
        store.delete("a", 3);
        store.set_revision(3);
        assert!(pinned.hold(&store, recorded));
        store.rollback(mark);
        // Revision 3 deletes "b" instead: the read of "b" at 3 fits nowhere.
        store.delete("b", 3);
        store.set_revision(3);
        assert!(!pinned.hold(&store, recorded));
    }

    #[test]
    fn serializable_reads_and_unrecorded_headers_pin_nothing() {
        let mut serializable = read(1, "a", 2, vec![kv("a", "x", 2)]);
        if let Request::Range(r) = &mut serializable.request {
            r.serializable = true;
        }
        let history = History {
            operations: vec![serializable, read(2, "a", 0, vec![kv("a", "x", 2)])],
            ..History::default()
        };
        let mut store = Store::new();
        store.set_revision(2);
        assert!(PinnedReads::of(&history).hold(&store, Recorded::default()));
    }
}
