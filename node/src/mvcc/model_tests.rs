//! Model-based property test: random Put/Delete/Txn/Range-at-revision/
//! Compact/reopen sequences against a small in-memory reference that keeps
//! every revision's full state. A Txn that deletes a key and puts it again
//! is among them: compacting at its revision lost the value in etcd since
//! PR 18274 (etcd issue 22376).

use super::{Mvcc, MvccError, MvccOptions, RangeOptions};
use crate::backend::Backend;
use crate::host::testing::{Recording, env_in};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8),
    Delete(u8),
    DeleteRange(u8, u8),
    /// Put `key` if its mod_revision equals the current one minus `stale`.
    Cas(u8, u8, i64),
    /// One Txn deletes `key` and puts it again.
    Recreate(u8, u8),
    Range(u8, u8, i64),
    Compact(i64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u8, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0..6u8).prop_map(Op::Delete),
        1 => (0..6u8, 0..6u8).prop_map(|(a, b)| Op::DeleteRange(a.min(b), a.max(b))),
        2 => (0..6u8, any::<u8>(), 0..2i64).prop_map(|(k, v, s)| Op::Cas(k, v, s)),
        1 => (0..6u8, any::<u8>()).prop_map(|(k, v)| Op::Recreate(k, v)),
        4 => (0..6u8, 0..6u8, 0..12i64).prop_map(|(a, b, back)| Op::Range(a.min(b), a.max(b) + 1, back)),
        1 => (0..10i64).prop_map(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("k{k}").into_bytes()
}

/// (value, create_revision, mod_revision, version)
type KvM = (Vec<u8>, i64, i64, i64);

struct Model {
    /// `states[r]` is the store at revision r (index 0 unused).
    states: Vec<BTreeMap<Vec<u8>, KvM>>,
    compact: i64,
}

impl Model {
    fn current(&self) -> i64 {
        self.states.len() as i64 - 1
    }

    fn state(&self) -> &BTreeMap<Vec<u8>, KvM> {
        &self.states[self.current() as usize]
    }

    fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        let rev = self.current() + 1;
        let mut next = self.state().clone();
        let entry = match next.get(&k) {
            Some((_, create, _, ver)) => (v, *create, rev, ver + 1),
            None => (v, rev, rev, 1),
        };
        next.insert(k, entry);
        self.states.push(next);
    }

    /// The key deleted and put again in one revision: a new generation.
    fn recreate(&mut self, k: Vec<u8>, v: Vec<u8>) {
        let rev = self.current() + 1;
        let mut next = self.state().clone();
        next.insert(k, (v, rev, rev, 1));
        self.states.push(next);
    }

    fn delete(&mut self, lo: &[u8], hi: &[u8]) -> usize {
        let mut next = self.state().clone();
        let before = next.len();
        next.retain(|k, _| !(k.as_slice() >= lo && k.as_slice() < hi));
        let gone = before - next.len();
        if gone > 0 {
            self.states.push(next);
        }
        gone
    }

    fn range(&self, lo: &[u8], hi: &[u8], rev: i64) -> Result<Vec<(Vec<u8>, KvM)>, MvccError> {
        let rev = if rev <= 0 { self.current() } else { rev };
        if rev > self.current() {
            return Err(MvccError::FutureRevision);
        }
        if rev < self.compact {
            return Err(MvccError::Compacted {
                compact_revision: self.compact,
            });
        }
        Ok(self.states[rev as usize]
            .range(lo.to_vec()..hi.to_vec())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

fn opts() -> MvccOptions {
    MvccOptions {
        compaction_batch_limit: 3,
        compaction_sleep: std::time::Duration::from_millis(1),
        ..MvccOptions::default()
    }
}

async fn open(dir: &std::path::Path) -> Mvcc {
    let env = env_in(dir);
    let backend = Backend::open(env.clone(), 4, false).await.expect("backend");
    let (mvcc, job) = Mvcc::open(backend, env, opts()).expect("mvcc");
    if let Some(job) = job {
        job.run().await.expect("resumed compaction");
    }
    mvcc
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut mvcc = open(dir.path()).await;
    let mut model = Model {
        states: vec![BTreeMap::new(), BTreeMap::new()],
        compact: 0,
    };
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let mut txn = mvcc.write().await;
                txn.put(&key(k), &[v], 0, 0).expect("put");
                let (rev, events, _) = txn.end().await.expect("end");
                model.put(key(k), vec![v]);
                prop_assert_eq!(rev, model.current());
                prop_assert_eq!(events.len(), 1);
            }
            Op::Delete(k) | Op::DeleteRange(k, _) => {
                let hi = match op {
                    Op::DeleteRange(_, h) => key(h),
                    _ => {
                        let mut end = key(k);
                        end.push(0);
                        end
                    }
                };
                let end = if matches!(op, Op::Delete(_)) {
                    vec![]
                } else {
                    hi.clone()
                };
                let mut txn = mvcc.write().await;
                let deleted = txn.delete_range(&key(k), &end).expect("delete");
                let (rev, _, _) = txn.end().await.expect("end");
                let gone = model.delete(&key(k), &hi);
                prop_assert_eq!(deleted.len(), gone);
                prop_assert_eq!(rev, model.current());
            }
            Op::Recreate(k, v) => {
                let mut txn = mvcc.write().await;
                txn.delete_range(&key(k), &[]).expect("delete");
                txn.put(&key(k), &[v], 0, 0).expect("put");
                let (rev, _, _) = txn.end().await.expect("end");
                model.recreate(key(k), vec![v]);
                prop_assert_eq!(rev, model.current());
            }
            Op::Cas(k, v, stale) => {
                let expected = model.state().get(&key(k)).map(|e| e.2).unwrap_or(0) - stale;
                let mut txn = mvcc.write().await;
                let seen = txn
                    .get(&key(k))
                    .expect("get")
                    .map(|kv| kv.mod_revision)
                    .unwrap_or(0);
                if seen == expected {
                    txn.put(&key(k), &[v], 0, 0).expect("put");
                }
                txn.end().await.expect("end");
                // Only an up-to-date expectation matches (an absent key has 0).
                if stale == 0 {
                    model.put(key(k), vec![v]);
                }
            }
            Op::Range(lo, hi, back) => {
                let rev = if back == 0 {
                    0
                } else {
                    (model.current() - back).max(1)
                };
                let got = mvcc.range(&RangeOptions {
                    key: key(lo),
                    range_end: key(hi),
                    revision: rev,
                    ..Default::default()
                });
                let want = model.range(&key(lo), &key(hi), rev);
                match (got, want) {
                    (Ok(got), Ok(want)) => {
                        let got: Vec<(Vec<u8>, KvM)> = got
                            .kvs
                            .into_iter()
                            .map(|kv| {
                                (
                                    kv.key,
                                    (kv.value, kv.create_revision, kv.mod_revision, kv.version),
                                )
                            })
                            .collect();
                        prop_assert_eq!(got, want, "range {}..{} at {}", lo, hi, rev);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "range at {}: store {:?}, model {:?}", rev, a, b),
                }
            }
            Op::Compact(back) => {
                let rev = (model.current() - back).max(1);
                let got = mvcc.compact(rev).await;
                let want = if rev <= model.compact {
                    Err(MvccError::Compacted {
                        compact_revision: model.compact,
                    })
                } else {
                    Ok(())
                };
                match (got, want) {
                    (Ok(job), Ok(())) => {
                        prop_assert_eq!(mvcc.compact_revision(), rev);
                        prop_assert!(mvcc.finished_compact_revision() < rev);
                        job.run().await.expect("compaction");
                        model.compact = rev;
                        prop_assert_eq!(mvcc.finished_compact_revision(), rev);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(
                        false,
                        "compact {}: store {:?}, model {:?}",
                        rev,
                        a.map(|_| ()),
                        b
                    ),
                }
            }
            Op::Reopen => {
                mvcc.backend().commit().await.expect("commit");
                mvcc = open(dir.path()).await;
                prop_assert_eq!(mvcc.current_revision(), model.current());
                prop_assert_eq!(mvcc.compact_revision(), model.compact);
            }
        }
        prop_assert_eq!(mvcc.current_revision(), model.current());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn mvcc_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        let rt = madsim::runtime::Runtime::new();
        rt.block_on(run(ops))?;
    }
}

/// A compaction planned on the store as it was, then stopped because a
/// snapshot is about to replace the backend, deletes nothing: its keep set
/// belongs to the old index (etcd's Restore stops its compactions). Run
/// anyway, it removed rows the installed data still needed.
#[test]
fn a_compaction_stopped_for_a_snapshot_deletes_nothing() {
    madsim::runtime::Runtime::new().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let mvcc = open(dir.path()).await;
        for v in 0..8 {
            let mut txn = mvcc.write().await;
            txn.put(&key(0), &[v], 0, 0).expect("put");
            txn.end().await.expect("end");
        }
        let before = mvcc.changes_between(1, 9).expect("read").len();
        let job = mvcc.compact(6).await.expect("compact");
        mvcc.stop_compactions();
        job.run().await.expect("a stopped compaction is no failure");
        assert_eq!(mvcc.changes_between(1, 9).expect("read").len(), before);
        assert_eq!(mvcc.finished_compact_revision(), 0);
        // One planned afterwards runs as usual.
        let job = mvcc.compact(7).await.expect("compact");
        job.run().await.expect("compaction");
        assert_eq!(mvcc.finished_compact_revision(), 7);
        assert!(mvcc.changes_between(1, 9).expect("read").len() < before);
    });
}

/// A finished compaction leaves at or below its revision only the versions
/// it planned to keep: a job whose deletions were never made (as a batch
/// that skipped a range would leave them) breaks
/// `mvcc.compaction-leaves-only-kept`; the same job run keeps it.
#[test]
fn versions_a_compaction_left_behind_break_its_invariant() {
    use crate::invariants::Invariant;
    madsim::runtime::Runtime::new().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let host = std::sync::Arc::new(Recording::default());
        let mut env = env_in(dir.path());
        env.host = host.clone();
        let backend = Backend::open(env.clone(), 4, false).await.expect("backend");
        let (mvcc, _) = Mvcc::open(backend.clone(), env, opts()).expect("mvcc");
        for v in 0..3 {
            let mut txn = mvcc.write().await;
            txn.put(&key(0), &[v], 0, 0).expect("put");
            txn.end().await.expect("end");
        }
        // Revisions 2 and 3 are to go, 4 stays; nothing is deleted yet.
        let job = mvcc.compact(4).await.expect("compact");
        let tx = backend.batch_tx().await;
        job.check_only_kept_left(&tx);
        drop(tx);
        let broken = || host.broken(Invariant::CompactionLeavesOnlyKept);
        assert_eq!(broken(), 1, "{:?}", host.0.lock());
        job.run().await.expect("compaction");
        assert_eq!(broken(), 1, "{:?}", host.0.lock());
        assert_eq!(mvcc.finished_compact_revision(), 4);
    });
}
