//! The MVCC store: restore from the backend, reads at a revision,
//! compaction, hashing.

use super::MvccError;
use super::key_index::{AtCompactRevision, KeyIndex};
use super::revision::{Revision, decode_key, encode_key, start_key};
use crate::backend::{Backend, Bucket, keys};
use crate::coverage::Point;
use crate::failpoint::Failpoint;
use crate::host::MemberEnv;
use crate::invariants::Invariant;
use crate::wire::api::KeyValue;
use parking_lot::Mutex;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

/// The compact revision before any compaction (etcd's -1).
const NEVER_COMPACTED: i64 = -1;

/// Behaviour switches of the store.
#[derive(Debug, Clone, Copy)]
pub struct MvccOptions {
    pub compaction_batch_limit: usize,
    pub compaction_sleep: Duration,
    /// What compaction does with a tombstone at the compact revision
    /// (etcd-18089 and etcd-22376 are two of its rules).
    pub at_compact_revision: AtCompactRevision,
    /// etcd-17780: compaction drops the newest tombstone too, and restore
    /// ignores the scheduled compact revision when computing the revision.
    pub bug_lower_revision_after_compaction: bool,
    /// etcd-19179: restore skips keys whose only revision is a tombstone.
    pub bug_skip_tombstone_only_keys: bool,
}

impl Default for MvccOptions {
    fn default() -> Self {
        MvccOptions {
            compaction_batch_limit: 16,
            compaction_sleep: Duration::from_millis(2),
            at_compact_revision: AtCompactRevision::default(),
            bug_lower_revision_after_compaction: false,
            bug_skip_tombstone_only_keys: false,
        }
    }
}

pub(super) struct State {
    pub(super) index: BTreeMap<Vec<u8>, KeyIndex>,
    pub(super) current_rev: i64,
    /// Reads below this revision fail with `Compacted` (0 = none yet).
    pub(super) compact_main_rev: i64,
    /// The last compaction whose removal of old revisions finished.
    pub(super) finished_compact_rev: i64,
}

pub(super) struct Shared {
    pub(super) backend: Backend,
    pub(super) env: MemberEnv,
    pub(super) state: Mutex<State>,
    pub(super) opts: MvccOptions,
    /// Compaction batches this process has removed (a progress counter).
    pub(super) compaction_batches: std::sync::atomic::AtomicU64,
    /// Bumped when a snapshot is about to replace the backend: a
    /// compaction planned before belongs to the old store (its keep set is
    /// the old index's) and stops, as etcd's Restore closes the stop
    /// channel its compactions check between batches.
    pub(super) generation: std::sync::atomic::AtomicU64,
}

/// Handle to the store (cheap to clone).
#[derive(Clone)]
pub struct Mvcc {
    pub(super) shared: Arc<Shared>,
}

/// What to read. Shaping the answer (revision bounds, sort, `more`,
/// keys only) is `server::txn::range_response`'s, as in etcd's applier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeOptions {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub revision: i64,
    /// Read at most this many keys (0: all).
    pub limit: i64,
    /// Count the keys without reading any.
    pub count_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// Every key in the range, whatever the limit.
    pub count: i64,
    /// The revision the read was served at.
    pub revision: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    /// etcd's hash (what HashKV answers).
    pub hash: u32,
    pub compact_revision: i64,
    pub hash_revision: i64,
    /// A stricter hash, for the simulation's end-state check only: every
    /// revision compaction at the compact revision leaves, the tombstone
    /// at the compact revision included. etcd's hash leaves that tombstone
    /// out on purpose (members before and after the etcd-18089 fix differ
    /// there), which also hides a member that lost it (etcd-19179).
    pub strict_hash: u32,
}

/// A compaction whose index part is done; its backend deletions run later
/// (etcd's FIFO compaction scheduler) through [`CompactionJob::run`].
pub struct CompactionJob {
    mvcc: Mvcc,
    pub revision: i64,
    keep: BTreeSet<Revision>,
    /// The store's generation it was planned on.
    generation: u64,
}

fn read_i64(backend: &Backend, key: &[u8]) -> Result<Option<i64>, MvccError> {
    match backend.get(Bucket::Meta, key) {
        None => Ok(None),
        Some(v) if v.len() == 8 => Ok(Some(i64::from_be_bytes(
            v.as_slice().try_into().unwrap_or([0; 8]),
        ))),
        Some(v) => Err(MvccError::Corrupt(format!(
            "meta/{} has {} bytes, expected 8",
            String::from_utf8_lossy(key),
            v.len()
        ))),
    }
}

/// Builds the index from the key bucket. Returns the state and, when a
/// compaction was scheduled but not finished, its revision.
fn load_state(backend: &Backend, opts: &MvccOptions) -> Result<(State, Option<i64>), MvccError> {
    let mut index: BTreeMap<Vec<u8>, KeyIndex> = BTreeMap::new();
    let mut current_rev = 1;
    for (k, v) in backend.scan(Bucket::Key) {
        let (rev, tombstone, kv) = decode_pair(&k, &v)?;
        current_rev = current_rev.max(rev.main);
        if tombstone {
            match index.get_mut(&kv.key) {
                Some(ki) if ki.is_live() => {
                    ki.tombstone(rev)
                        .map_err(|e| MvccError::Corrupt(e.to_string()))?;
                }
                _ if opts.bug_skip_tombstone_only_keys => {}
                _ => index
                    .entry(kv.key.clone())
                    .or_default()
                    .restore_tombstone(rev),
            }
        } else {
            index
                .entry(kv.key.clone())
                .or_default()
                .put(rev)
                .map_err(|e| MvccError::Corrupt(e.to_string()))?;
        }
    }
    let finished_record = read_i64(backend, keys::FINISHED_COMPACT_REV)?;
    let finished = finished_record.unwrap_or(0);
    let scheduled = read_i64(backend, keys::SCHEDULED_COMPACT_REV)?.unwrap_or(0);
    current_rev = current_rev.max(finished);
    if !opts.bug_lower_revision_after_compaction {
        // The newest revision may have been a compacted-away tombstone; the
        // scheduled compact revision still says how far the store was.
        current_rev = current_rev.max(scheduled);
    }
    let state = State {
        index,
        current_rev,
        // As etcd: -1 until a compaction happened, so one at 0 is allowed.
        compact_main_rev: finished_record.unwrap_or(NEVER_COMPACTED),
        finished_compact_rev: finished,
    };
    Ok((state, (scheduled > finished).then_some(scheduled)))
}

/// Decodes one key-bucket pair.
pub(super) fn decode_pair(k: &[u8], v: &[u8]) -> Result<(Revision, bool, KeyValue), MvccError> {
    let (rev, tombstone) =
        decode_key(k).ok_or_else(|| MvccError::Corrupt(format!("bad revision key {k:?}")))?;
    let mut kv = KeyValue::decode(v)
        .map_err(|e| MvccError::Corrupt(format!("revision {}: {e}", rev.main)))?;
    if tombstone {
        // A tombstone holds only its key, as in etcd; its revision is the
        // record's own (etcd patches it in the same way when it reads).
        kv.mod_revision = rev.main;
    }
    Ok((rev, tombstone, kv))
}

impl Mvcc {
    /// Rebuilds the store from the backend; resumes an unfinished
    /// compaction (the returned job must be run).
    pub fn open(
        backend: Backend,
        env: MemberEnv,
        opts: MvccOptions,
    ) -> Result<(Mvcc, Option<CompactionJob>), MvccError> {
        let (state, scheduled) = load_state(&backend, &opts)?;
        let mvcc = Mvcc {
            shared: Arc::new(Shared {
                backend,
                env,
                state: Mutex::new(state),
                opts,
                compaction_batches: Default::default(),
                generation: Default::default(),
            }),
        };
        let job = scheduled.map(|rev| mvcc.compact_index(rev));
        Ok((mvcc, job))
    }

    /// Stops every compaction planned so far: a snapshot is about to
    /// replace the backend. Called before the backend changes, so no batch
    /// of an old compaction ever runs against the new data.
    pub fn stop_compactions(&self) {
        self.shared
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reloads everything from the backend (after a snapshot replaced it).
    pub fn reload(&self) -> Result<Option<CompactionJob>, MvccError> {
        let (state, scheduled) = load_state(&self.shared.backend, &self.shared.opts)?;
        let mut st = self.shared.state.lock();
        let (before, after) = (st.current_rev, state.current_rev);
        self.shared.env.check(
            Invariant::RevisionNeverDecreasesOnRestore,
            after >= before,
            || format!("revision {before} -> {after} restoring a snapshot"),
        );
        *st = state;
        drop(st);
        Ok(scheduled.map(|rev| self.compact_index(rev)))
    }

    /// The member's environment (for the store's coverage points).
    pub(crate) fn env(&self) -> &MemberEnv {
        &self.shared.env
    }

    pub fn backend(&self) -> &Backend {
        &self.shared.backend
    }

    pub fn current_revision(&self) -> i64 {
        self.shared.state.lock().current_rev
    }

    /// The revision of the last compaction, 0 when there was none.
    pub fn compact_revision(&self) -> i64 {
        self.shared.state.lock().compact_main_rev.max(0)
    }

    /// The last compaction that finished removing old revisions.
    pub fn finished_compact_revision(&self) -> i64 {
        self.shared.state.lock().finished_compact_rev
    }

    /// How many compaction batches this process has completed.
    pub fn compaction_batches(&self) -> u64 {
        self.shared
            .compaction_batches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads keys as of a revision (0 = the current one).
    pub fn range(&self, opts: &RangeOptions) -> Result<RangeResult, MvccError> {
        // The values are read with the index still locked (the backend has
        // a lock of its own), so the keys need no copies to outlive it.
        let st = self.shared.state.lock();
        let rev = if opts.revision <= 0 {
            st.current_rev
        } else {
            opts.revision
        };
        if rev > st.current_rev {
            self.shared.env.reach(Point::RangeFutureRevision);
            return Err(MvccError::FutureRevision);
        }
        if rev < st.compact_main_rev {
            self.shared.env.reach(Point::CompactionRefusedRead);
            return Err(MvccError::Compacted {
                compact_revision: st.compact_main_rev,
            });
        }
        if rev < st.current_rev {
            self.shared.env.reach(Point::ReadAtPastRevision);
        }
        let found: Vec<(&Vec<u8>, Revision)> = index_range(&st.index, &opts.key, &opts.range_end)
            .filter_map(|(key, ki)| ki.get(rev).map(|at| (key, at.modified)))
            .collect();
        let count = found.len() as i64;
        let limit = if opts.limit > 0 {
            opts.limit as usize
        } else {
            usize::MAX
        };
        let mut kvs = Vec::new();
        if !opts.count_only {
            for (key, modified) in found.into_iter().take(limit) {
                kvs.push(self.value_at(key, modified)?);
            }
        }
        Ok(RangeResult {
            kvs,
            count,
            revision: rev,
        })
    }

    fn value_at(&self, key: &[u8], rev: Revision) -> Result<KeyValue, MvccError> {
        self.shared
            .backend
            .read(Bucket::Key, &encode_key(rev, false), |v| {
                KeyValue::decode(v)
            })
            .ok_or_else(|| MvccError::missing(key, rev))?
            .map_err(|e| MvccError::Corrupt(e.to_string()))
    }

    /// The key's value as of `rev`, if it existed and is not compacted.
    pub fn get_at(&self, key: &[u8], rev: i64) -> Option<KeyValue> {
        let modified = {
            let st = self.shared.state.lock();
            if rev < st.compact_main_rev {
                return None;
            }
            st.index.get(key)?.get(rev)?.modified
        };
        self.value_at(key, modified).ok()
    }

    /// Every change with `from <= revision <= to`, in revision order, as
    /// (revision, is_delete, key value) — what a catching-up watcher reads.
    pub fn changes_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(Revision, bool, KeyValue)>, MvccError> {
        if from > to {
            return Ok(Vec::new());
        }
        let pairs = self
            .shared
            .backend
            .range(Bucket::Key, &start_key(from), &start_key(to + 1));
        pairs.iter().map(|(k, v)| decode_pair(k, v)).collect()
    }

    /// Validates a compaction and does its index part: from now on reads
    /// below `rev` fail. The backend part is the returned job.
    pub async fn compact(&self, rev: i64) -> Result<CompactionJob, MvccError> {
        self.compact_inside(rev, || {}).await
    }

    /// [`Mvcc::compact`], calling `inside_tx` once the batch transaction
    /// that records the scheduled revision is held (not when the
    /// compaction is refused): the apply loop advances the consistent
    /// index there, so the entry's index is committed with its scheduled
    /// revision or not at all. Advanced in a transaction of its own, a
    /// commit in between (a defragmentation's, the periodic one) could
    /// persist the index without the revision; a crash then, and the
    /// restarted member neither replays the entry nor knows the
    /// compaction, and serves reads the others refuse.
    pub async fn compact_inside(
        &self,
        rev: i64,
        inside_tx: impl FnOnce(),
    ) -> Result<CompactionJob, MvccError> {
        {
            let mut st = self.shared.state.lock();
            if rev <= st.compact_main_rev {
                return Err(MvccError::Compacted {
                    compact_revision: st.compact_main_rev,
                });
            }
            if rev > st.current_rev {
                return Err(MvccError::FutureRevision);
            }
            st.compact_main_rev = rev;
        }
        let env = &self.shared.env;
        let mut tx = self.shared.backend.batch_tx().await;
        inside_tx();
        tx.put(
            Bucket::Meta,
            keys::SCHEDULED_COMPACT_REV,
            &rev.to_be_bytes(),
        );
        env.failpoint(Failpoint::CompactBeforeCommitScheduledCompact)
            .await
            .map_err(|e| MvccError::Backend(e.into()))?;
        // With the disk full the mark waits in the batch (the member has
        // raised NOSPACE); a restart before it commits replays the entry.
        tx.commit_or_defer().await?;
        env.failpoint(Failpoint::CompactAfterCommitScheduledCompact)
            .await
            .map_err(|e| MvccError::Backend(e.into()))?;
        Ok(self.compact_index(rev))
    }

    fn compact_index(&self, rev: i64) -> CompactionJob {
        let mut keep = BTreeSet::new();
        let mut st = self.shared.state.lock();
        self.shared.env.check(
            Invariant::CompactNotPastCurrent,
            rev <= st.current_rev,
            || format!("compacting at {rev}, current revision {}", st.current_rev),
        );
        st.compact_main_rev = st.compact_main_rev.max(rev);
        // etcd-17780 alone does not drop the tombstone: that is etcd-18089.
        let rule = self.shared.opts.at_compact_revision;
        st.index.retain(|_, ki| {
            ki.compact(rev, &mut keep, rule);
            !ki.is_empty()
        });
        CompactionJob {
            mvcc: self.clone(),
            revision: rev,
            keep,
            generation: self
                .shared
                .generation
                .load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// etcd's hashByRev (as fixed by etcd PR 14457 and the etcd-18089
    /// fix): a CRC-32C over the key bucket up to `rev`; of the revisions at
    /// or below the compact revision, only those a compaction at `rev` would
    /// keep (all of them when it would keep none), and never a tombstone at
    /// the compact revision, so members that did and did not keep it (before
    /// and after the 18089 fix) hash alike. The compact revision itself can
    /// be hashed (3.4 before 3.4.27 and 3.5 before 3.5.10 refused it).
    pub fn hash_kv(&self, rev: i64) -> Result<HashKv, MvccError> {
        let (rev, compact_rev, keep, compaction_keeps) = {
            let st = self.shared.state.lock();
            if rev > 0 && rev < st.compact_main_rev {
                return Err(MvccError::Compacted {
                    compact_revision: st.compact_main_rev,
                });
            }
            let rev = if rev <= 0 { st.current_rev } else { rev };
            if rev > st.current_rev {
                return Err(MvccError::FutureRevision);
            }
            let mut keep = BTreeSet::new();
            let rule = self.shared.opts.at_compact_revision;
            let mut compaction_keeps = BTreeSet::new();
            for ki in st.index.values() {
                ki.keep(rev, &mut keep, rule);
                ki.clone()
                    .compact(st.compact_main_rev, &mut compaction_keeps, rule);
            }
            (rev, st.compact_main_rev, keep, compaction_keeps)
        };
        let mut strict = crc32c::crc32c(Bucket::Key.name().as_bytes());
        let mut crc = crc32c::crc32c(Bucket::Key.name().as_bytes());
        for (k, v) in self
            .shared
            .backend
            .range(Bucket::Key, &start_key(0), &start_key(rev + 1))
        {
            let Some((kr, tombstone)) = decode_key(&k) else {
                return Err(MvccError::Corrupt(format!("bad revision key {k:?}")));
            };
            if kr.main > compact_rev || compaction_keeps.contains(&kr) {
                strict = crc32c::crc32c_append(strict, &k);
                strict = crc32c::crc32c_append(strict, &v);
            }
            if kr.main <= compact_rev && !keep.is_empty() && !keep.contains(&kr) {
                continue;
            }
            if tombstone && kr.main == compact_rev {
                continue;
            }
            crc = crc32c::crc32c_append(crc, &k);
            crc = crc32c::crc32c_append(crc, &v);
        }
        Ok(HashKv {
            hash: crc,
            compact_revision: compact_rev,
            hash_revision: rev,
            strict_hash: strict,
        })
    }

    /// Number of keys with a live or compactable history.
    pub fn index_len(&self) -> usize {
        self.shared.state.lock().index.len()
    }
}

pub(super) fn index_range<'a>(
    index: &'a BTreeMap<Vec<u8>, KeyIndex>,
    start: &[u8],
    end: &[u8],
) -> Box<dyn Iterator<Item = (&'a Vec<u8>, &'a KeyIndex)> + 'a> {
    if end.is_empty() {
        return Box::new(index.get_key_value(start).into_iter());
    }
    let lower = Bound::Included(start.to_vec());
    if end == [0] {
        return Box::new(index.range((lower, Bound::Unbounded)));
    }
    if start >= end {
        return Box::new(std::iter::empty());
    }
    Box::new(index.range((lower, Bound::Excluded(end.to_vec()))))
}

impl CompactionJob {
    /// What the last batch leaves at or below the compaction's revision
    /// must be what the job planned to keep. Costs the size of the keep
    /// set: more records than that are already a break.
    pub(super) fn check_only_kept_left(&self, tx: &crate::backend::BatchTx<'_>) {
        let left = tx.range_keys(
            Bucket::Key,
            &start_key(0),
            &start_key(self.revision + 1),
            self.keep.len() + 1,
        );
        let stray = left
            .iter()
            .find(|k| decode_key(k).is_none_or(|(rev, _)| !self.keep.contains(&rev)));
        self.mvcc
            .shared
            .env
            .check(Invariant::CompactionLeavesOnlyKept, stray.is_none(), || {
                format!(
                    "compaction at {} finished with record {:?} left, not one it keeps ({} kept)",
                    self.revision,
                    stray.and_then(|k| decode_key(k)).map(|(rev, _)| rev),
                    self.keep.len()
                )
            });
    }

    /// Deletes compacted revisions from the backend in batches, then
    /// records the finished compact revision.
    pub async fn run(self) -> Result<(), MvccError> {
        let shared = &self.mvcc.shared;
        let env = &shared.env;
        let fp = |e: crate::failpoint::FailpointError| MvccError::Backend(e.into());
        let end = start_key(self.revision + 1);
        let mut last = start_key(0);
        loop {
            let mut tx = shared.backend.batch_tx().await;
            // Checked holding the batch: a snapshot replaces the backend
            // under the same lock, after stopping the compactions.
            if shared.generation.load(std::sync::atomic::Ordering::SeqCst) != self.generation {
                env.reach(Point::CompactionStoppedBySnapshot);
                return Ok(());
            }
            let keys = tx.range_keys(Bucket::Key, &last, &end, shared.opts.compaction_batch_limit);
            for key in &keys {
                let Some((rev, _)) = decode_key(key) else {
                    return Err(MvccError::Corrupt(format!("bad revision key {key:?}")));
                };
                if !self.keep.contains(&rev) {
                    tx.delete(Bucket::Key, key);
                }
            }
            if keys.len() < shared.opts.compaction_batch_limit {
                self.check_only_kept_left(&tx);
                env.failpoint(Failpoint::CompactBeforeSetFinishedCompact)
                    .await
                    .map_err(fp)?;
                tx.put(
                    Bucket::Meta,
                    keys::FINISHED_COMPACT_REV,
                    &self.revision.to_be_bytes(),
                );
                tx.end().await?;
                env.failpoint(Failpoint::CompactAfterSetFinishedCompact)
                    .await
                    .map_err(fp)?;
                {
                    let mut st = shared.state.lock();
                    st.finished_compact_rev = st.finished_compact_rev.max(self.revision);
                }
                env.emit(crate::host::NodeEvent::Compacted {
                    revision: self.revision,
                });
                return Ok(());
            }
            if let Some(k) = keys.last() {
                last = k.clone();
                last.push(0);
            }
            drop(tx);
            env.failpoint(Failpoint::CompactBeforeCommitBatch)
                .await
                .map_err(fp)?;
            shared.backend.commit().await?;
            env.reach(Point::CompactionSeveralBatches);
            shared
                .compaction_batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            env.failpoint(Failpoint::CompactAfterCommitBatch)
                .await
                .map_err(fp)?;
            madsim::time::sleep(shared.opts.compaction_sleep).await;
        }
    }
}
