//! The linearized history: the store after replaying the linearization the
//! engine found, with every version of every key. Watch rules, serializable
//! reads and the Kubernetes contract ask it what the store held at a revision
//! and which events each revision produced, in the order etcd delivers them:
//! the order of the writes inside the revision (its sub-revisions).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::history::{Event, EventKind, KeySpan, KeyValue, Request, Response};
use crate::linearizable::{Model, Outcome, Step};

use super::{EtcdInput, PreparedHistory, Store, Version};

/// A compaction that took effect: to `revision`, when the store was at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub revision: i64,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct LinearizedHistory {
    store: Store,
    events: BTreeMap<i64, Vec<Event>>,
    compactions: Vec<Compaction>,
    /// Operations with unknown outcomes that the linearization let take effect.
    applied_unknown: Vec<u64>,
    /// Leases the linearization let expire, with the revision they expired at.
    expired_leases: Vec<(i64, i64)>,
    /// Keys the linearization let expire for their TTL, with the revision.
    expired_keys: Vec<(String, i64)>,
    /// Revisions written by requests whose outcome is unknown: which branch
    /// they took, so the order of their writes, is the model's guess.
    unordered: BTreeSet<i64>,
    /// Per written revision, in order: the answer of
    /// [`Self::reached_not_before`] for it, computed once as a running
    /// maximum (rules ask it for every bookmark and progress response).
    reached: Vec<(i64, Option<(i64, u64)>)>,
}

/// For each revision of `written_by_call` (when its writer was called, and
/// whether that writer's outcome was definite), the definite write up to it
/// with the latest call (the later revision on a tie), as (revision, call).
fn running_latest_call(
    written_by_call: &BTreeMap<i64, (u64, bool)>,
) -> Vec<(i64, Option<(i64, u64)>)> {
    let mut latest: Option<(i64, u64)> = None;
    written_by_call
        .iter()
        .map(|(&rev, &(call, definite))| {
            if definite && latest.is_none_or(|(r, c)| (call, rev) > (c, r)) {
                latest = Some((rev, call));
            }
            (rev, latest)
        })
        .collect()
}

/// The entry of `reached` (from [`running_latest_call`]) for the last
/// written revision up to `rev`.
fn latest_up_to(reached: &[(i64, Option<(i64, u64)>)], rev: i64) -> Option<(i64, u64)> {
    let upto = reached.partition_point(|(r, _)| *r <= rev);
    upto.checked_sub(1).and_then(|i| reached[i].1)
}

impl LinearizedHistory {
    /// Replays `order`, then lets unknown writes explain events watches saw
    /// after the last revision the client operations needed. None if a step
    /// does not apply (an engine bug).
    pub fn build(prepared: &PreparedHistory<'_>, order: &[Step]) -> Option<LinearizedHistory> {
        let model = &prepared.model;
        let mut store = model.init();
        let mut effects = Effects::default();
        let mut written_by_call = BTreeMap::new();
        let mut used = HashSet::new();
        for step in order {
            let op = &prepared.ops[step.op];
            used.insert(step.op);
            let before = store.revision();
            let applied = match &op.outcome {
                Outcome::Ok(out) => model.apply(&mut store, &op.input, out),
                Outcome::Unknown => model.apply_unknown(&mut store, &op.input, step.branch),
            };
            applied?;
            if store.revision() != before {
                let definite = matches!(op.outcome, Outcome::Ok(_));
                written_by_call.insert(store.revision(), (op.call, definite));
            }
            effects.note(prepared, step.op, &store, before);
        }
        // Events watches reported beyond the last needed revision: an unknown
        // write or an expiry that took effect at the end explains them.
        'extend: loop {
            let next = store.revision() + 1;
            let Some(seen) = model.analysis().sightings.get(&next) else {
                break;
            };
            for (i, op) in prepared.ops.iter().enumerate() {
                if used.contains(&i) || op.outcome != Outcome::Unknown {
                    continue;
                }
                for branch in 0..model.unknown_branches(&op.input) {
                    let Some(mark) = model.apply_unknown(&mut store, &op.input, branch) else {
                        continue;
                    };
                    let explains = store.revision() == next
                        && seen.iter().all(|s| {
                            store.written_at(s.key, next).is_some_and(|v| match s.kind {
                                EventKind::Put => v.value.as_deref() == Some(s.value),
                                EventKind::Delete => !v.is_live(),
                            })
                        });
                    if explains {
                        used.insert(i);
                        written_by_call.insert(next, (op.call, false));
                        effects.note(prepared, i, &store, next - 1);
                        continue 'extend;
                    }
                    model.undo(&mut store, mark);
                }
            }
            break;
        }
        let events = events_of(&store);
        Some(LinearizedHistory {
            store,
            events,
            compactions: effects.compactions,
            applied_unknown: effects.applied_unknown,
            expired_leases: effects.expired_leases,
            expired_keys: effects.expired_keys,
            unordered: effects.unordered,
            reached: running_latest_call(&written_by_call),
        })
    }

    /// The earliest time the store can have reached revision `rev`, as far
    /// as the history tells for certain: the latest call of a request with a
    /// definite answer that wrote a revision up to `rev` (that revision and
    /// the call time). Writes with an unknown outcome do not count: which of
    /// them wrote a revision is only the search's choice.
    pub fn reached_not_before(&self, rev: i64) -> Option<(i64, u64)> {
        latest_up_to(&self.reached, rev)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The last revision of the linearized history.
    pub fn max_revision(&self) -> i64 {
        self.store.revision()
    }

    pub fn compactions(&self) -> &[Compaction] {
        &self.compactions
    }

    pub fn applied_unknown(&self) -> &[u64] {
        &self.applied_unknown
    }

    pub fn expired_leases(&self) -> &[(i64, i64)] {
        &self.expired_leases
    }

    pub fn expired_keys(&self) -> &[(String, i64)] {
        &self.expired_keys
    }

    /// Whether the order of the events of revision `rev` is certain: false
    /// when a request whose outcome is unknown wrote it (the branch it took,
    /// so the order of its writes, is the model's choice). Rules then compare
    /// that revision's events as a set.
    pub fn order_known(&self, rev: i64) -> bool {
        !self.unordered.contains(&rev)
    }

    /// Events of one revision, in the order they were written (a
    /// transaction's operations in order, a range delete or a lease's keys in
    /// key order).
    pub fn events_at(&self, rev: i64) -> &[Event] {
        self.events.get(&rev).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Events with revisions in `[from, to]`, in revision then write order.
    pub fn events_between(&self, from: i64, to: i64) -> impl Iterator<Item = &Event> {
        self.events
            .range(from..)
            .take_while(move |(rev, _)| **rev <= to)
            .flat_map(|(_, e)| e.iter())
    }

    /// The live version of `key` at `rev`.
    pub fn get_at(&self, key: &str, rev: i64) -> Option<&Version> {
        self.store.get_at(key, rev)
    }

    /// Live keys of `span` at `rev`.
    pub fn range_at<'a>(
        &'a self,
        span: KeySpan<'a>,
        rev: i64,
    ) -> impl Iterator<Item = KeyValue> + 'a {
        self.store
            .range_at(span, rev)
            .map(|(k, v)| v.to_key_value(k))
    }
}

/// What the replayed steps did besides writing keys.
#[derive(Default)]
struct Effects {
    compactions: Vec<Compaction>,
    applied_unknown: Vec<u64>,
    expired_leases: Vec<(i64, i64)>,
    expired_keys: Vec<(String, i64)>,
    unordered: BTreeSet<i64>,
}

impl Effects {
    /// Notes what step `index` did; the store was at `before` until it.
    fn note(&mut self, prepared: &PreparedHistory<'_>, index: usize, store: &Store, before: i64) {
        let op = &prepared.ops[index];
        match &op.input {
            EtcdInput::LeaseExpiry { lease } => {
                self.expired_leases.push((*lease, store.revision()))
            }
            EtcdInput::KeyExpiry { key, .. } => {
                self.expired_keys.push((key.to_string(), store.revision()))
            }
            EtcdInput::Request(req) => {
                if op.outcome == Outcome::Unknown {
                    self.applied_unknown.push(op.id);
                    if store.revision() != before {
                        self.unordered.insert(store.revision());
                    }
                }
                let compacted = matches!(
                    (*req, &op.outcome),
                    (Request::Compact { .. }, Outcome::Unknown)
                        | (
                            Request::Compact { .. },
                            Outcome::Ok(Ok(Response::Compact(_)))
                        )
                );
                if compacted {
                    self.compactions.push(Compaction {
                        revision: store.compact_revision(),
                        at: store.revision(),
                    });
                }
            }
        }
    }
}

/// The events every revision produced, derived from the versions of each key,
/// in sub-revision order within a revision.
fn events_of(store: &Store) -> BTreeMap<i64, Vec<Event>> {
    let mut events: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    for (key, versions) in store.all_versions() {
        for (i, v) in versions.iter().enumerate() {
            let prev_kv = i
                .checked_sub(1)
                .and_then(|p| versions.get(p))
                .filter(|p| p.is_live())
                .map(|p| p.to_key_value(key));
            let event = if v.is_live() {
                Event {
                    kind: EventKind::Put,
                    kv: v.to_key_value(key),
                    prev_kv,
                }
            } else {
                Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key.clone(),
                        mod_revision: v.mod_revision,
                        ..Default::default()
                    },
                    prev_kv,
                }
            };
            events.entry(v.mod_revision).or_default().push(event);
        }
    }
    for (rev, list) in events.iter_mut().filter(|(_, l)| l.len() > 1) {
        list.sort_by_cached_key(|e| store.written_at(&e.kv.key, *rev).map(|v| v.sub));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: the latest-called definite write up to `rev`.
    fn naive(written: &BTreeMap<i64, (u64, bool)>, rev: i64) -> Option<(i64, u64)> {
        written
            .range(..=rev)
            .filter(|(_, (_, definite))| *definite)
            .map(|(r, (call, _))| (*r, *call))
            .max_by_key(|(r, call)| (*call, *r))
    }

    proptest! {
        #[test]
        fn the_running_maximum_answers_as_the_definition(
            written in proptest::collection::btree_map(1i64..60, (0u64..20, any::<bool>()), 0..40),
            rev in -2i64..65,
        ) {
            let reached = running_latest_call(&written);
            prop_assert_eq!(latest_up_to(&reached, rev), naive(&written, rev));
        }
    }
}
