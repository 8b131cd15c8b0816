//! The in-memory raft log raft-rs reads through its `Storage` trait: hard
//! and conf state, the entries since the last compaction, and the newest
//! snapshot (with its data) to send to members that fell behind.

use parking_lot::RwLock;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use std::sync::Arc;

#[derive(Default)]
struct Inner {
    hard_state: HardState,
    conf_state: ConfState,
    /// Entries after `snapshot_meta.index`, contiguous.
    entries: Vec<Entry>,
    /// Where the log was last compacted to (index and term of the entry).
    compacted: SnapshotMetadata,
    /// The newest snapshot this member can send.
    snapshot: Snapshot,
}

/// Shared handle; the raft loop owns the writes.
#[derive(Clone, Default)]
pub struct RaftLog {
    inner: Arc<RwLock<Inner>>,
}

impl RaftLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_hard_state(&self, hs: HardState) {
        self.inner.write().hard_state = hs;
    }

    pub fn hard_state(&self) -> HardState {
        self.inner.read().hard_state.clone()
    }

    pub fn set_conf_state(&self, cs: ConfState) {
        self.inner.write().conf_state = cs;
    }

    pub fn conf_state(&self) -> ConfState {
        self.inner.read().conf_state.clone()
    }

    pub fn first_index(&self) -> u64 {
        self.inner.read().compacted.index + 1
    }

    /// What breaks raft-rs' `Storage` contract at the start of the log:
    /// the term of the entry before the first index, and (while the log
    /// holds any entry) the first entry's, must be readable. None when both
    /// are.
    pub fn unreadable_start(&self) -> Option<String> {
        use raft::Storage;
        let first = RaftLog::first_index(self);
        let last = RaftLog::last_index(self);
        let before = self.term(first.saturating_sub(1));
        let at_first = (first <= last).then(|| self.term(first));
        match (before, at_first) {
            (Ok(_), None | Some(Ok(_))) => None,
            (before, at_first) => Some(format!(
                "first index {first}, last index {last}: term before it {before:?}, term at it {at_first:?}"
            )),
        }
    }

    pub fn last_index(&self) -> u64 {
        let inner = self.inner.read();
        inner
            .entries
            .last()
            .map(|e| e.index)
            .unwrap_or(inner.compacted.index)
    }

    /// Installs a snapshot: the log restarts after it.
    pub fn apply_snapshot(&self, snapshot: Snapshot) {
        let mut inner = self.inner.write();
        let meta = snapshot.get_metadata().clone();
        inner.entries.retain(|e| e.index > meta.index);
        // Entries after the snapshot are only valid if they follow it.
        if inner
            .entries
            .first()
            .is_some_and(|e| e.index != meta.index + 1)
        {
            inner.entries.clear();
        }
        if inner.hard_state.commit < meta.index {
            inner.hard_state.commit = meta.index;
        }
        if inner.hard_state.term < meta.term {
            inner.hard_state.term = meta.term;
        }
        inner.conf_state = meta.get_conf_state().clone();
        inner.compacted = meta;
        inner.snapshot = snapshot;
    }

    /// Remembers a snapshot this member took, for sending to others,
    /// without touching the log.
    pub fn set_snapshot(&self, snapshot: Snapshot) {
        self.inner.write().snapshot = snapshot;
    }

    pub fn snapshot_index(&self) -> u64 {
        self.inner.read().snapshot.get_metadata().index
    }

    pub fn snapshot_term(&self) -> u64 {
        self.inner.read().snapshot.get_metadata().term
    }

    /// Appends entries, replacing any conflicting tail.
    pub fn append(&self, ents: &[Entry]) {
        let Some(first) = ents.first() else {
            return;
        };
        let mut inner = self.inner.write();
        let offset = inner.compacted.index + 1;
        if first.index < offset {
            // Already compacted away: keep only what is new.
            let skip = (offset - first.index) as usize;
            if skip >= ents.len() {
                return;
            }
            let rest = ents[skip..].to_vec();
            drop(inner);
            self.append(&rest);
            return;
        }
        let keep = (first.index - offset) as usize;
        inner.entries.truncate(keep);
        inner.entries.extend_from_slice(ents);
    }

    /// Drops entries before `index` (they are covered by a snapshot).
    pub fn compact(&self, index: u64) {
        let mut inner = self.inner.write();
        let last = inner
            .entries
            .last()
            .map(|e| e.index)
            .unwrap_or(inner.compacted.index);
        if index <= inner.compacted.index + 1 || index > last + 1 {
            return;
        }
        let term = inner
            .entries
            .iter()
            .find(|e| e.index == index - 1)
            .map(|e| e.term)
            .unwrap_or(inner.compacted.term);
        let drop_count = (index - 1 - inner.compacted.index) as usize;
        inner.entries.drain(..drop_count);
        inner.compacted.index = index - 1;
        inner.compacted.term = term;
    }

    /// Entries in `[low, high)` that are still in memory.
    pub fn entries_between(&self, low: u64, high: u64) -> Vec<Entry> {
        let inner = self.inner.read();
        inner
            .entries
            .iter()
            .filter(|e| e.index >= low && e.index < high)
            .cloned()
            .collect()
    }
}

impl raft::Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let inner = self.inner.read();
        Ok(RaftState::new(
            inner.hard_state.clone(),
            inner.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let inner = self.inner.read();
        let offset = inner.compacted.index + 1;
        if low < offset {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        let last = inner
            .entries
            .last()
            .map(|e| e.index)
            .unwrap_or(inner.compacted.index);
        if high > last + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let lo = (low - offset) as usize;
        let hi = (high - offset) as usize;
        let max = max_size.into().unwrap_or(u64::MAX);
        let mut size = 0u64;
        let mut out = Vec::with_capacity(hi - lo);
        for e in &inner.entries[lo..hi] {
            size += protobuf::Message::compute_size(e) as u64;
            if !out.is_empty() && size > max {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let inner = self.inner.read();
        if idx == inner.compacted.index {
            return Ok(inner.compacted.term);
        }
        let offset = inner.compacted.index + 1;
        if idx < offset {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match inner.entries.get((idx - offset) as usize) {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::first_index(self))
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(RaftLog::last_index(self))
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let inner = self.inner.read();
        let snap = &inner.snapshot;
        // A snapshot with no data was never taken; ask again later (the
        // server takes one as soon as it can).
        if snap.get_metadata().index == 0 || snap.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snap.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn append_replaces_conflicting_tail_and_compact_keeps_terms() {
        let log = RaftLog::new();
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        log.append(&[entry(3, 2), entry(4, 2)]);
        assert_eq!(log.last_index(), 4);
        assert_eq!(log.term(3).ok(), Some(2));
        log.compact(3);
        assert_eq!(RaftLog::first_index(&log), 3);
        assert_eq!(log.term(2).ok(), Some(1));
        assert!(log.term(1).is_err());
        assert!(
            log.entries(2, 4, None, GetEntriesContext::empty(false))
                .is_err()
        );
        let got = log
            .entries(3, 5, None, GetEntriesContext::empty(false))
            .expect("entries 3..5 are in memory");
        assert_eq!(got.iter().map(|e| e.index).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(log.unreadable_start(), None);
    }

    /// Whatever happened to the log, raft can read it from its first index.
    /// (A first index that lies, which this cannot build, is what the
    /// invariant `raft.log-readable-from-first-index` is there to catch.)
    #[test]
    fn the_log_is_readable_from_its_first_index_whatever_happened_to_it() {
        let log = RaftLog::new();
        assert_eq!(log.unreadable_start(), None, "empty");
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 2)]);
        assert_eq!(log.unreadable_start(), None, "appended");
        log.compact(4);
        assert_eq!(log.unreadable_start(), None, "compacted to its end");
        let mut snap = Snapshot::default();
        snap.mut_metadata().index = 9;
        snap.mut_metadata().term = 3;
        log.apply_snapshot(snap);
        assert_eq!(log.unreadable_start(), None, "a snapshot past its end");
        log.append(&[entry(10, 3), entry(11, 4)]);
        log.compact(11);
        assert_eq!(log.unreadable_start(), None, "appended after it, compacted");
    }

    #[test]
    fn snapshot_resets_the_log() {
        let log = RaftLog::new();
        log.append(&[entry(1, 1), entry(2, 1)]);
        let mut snap = Snapshot::default();
        snap.mut_metadata().index = 10;
        snap.mut_metadata().term = 3;
        log.apply_snapshot(snap);
        assert_eq!(RaftLog::first_index(&log), 11);
        assert_eq!(log.last_index(), 10);
        assert_eq!(log.term(10).ok(), Some(3));
        assert_eq!(log.hard_state().commit, 10);
        assert!(log.snapshot(0, 2).is_ok());
    }

    #[test]
    fn no_snapshot_means_temporarily_unavailable() {
        let log = RaftLog::new();
        assert!(matches!(
            log.snapshot(0, 2),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        ));
    }
}
