//! The write-ahead log: segment files of CRC-checked records holding raft
//! entries, hard states and snapshot markers.
//!
//! On open, a record cut short at the very end of the last segment (a torn
//! write from a crash) is truncated away; any other damage stops the member
//! with an error naming the file and offset.

use crate::disk::{DiskError, DiskRef, join};
use crate::framing::{self as record, Decoded};
use protobuf::Message as _;
use raft::eraftpb::{Entry, HardState};

/// The kinds of WAL record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    /// Member and cluster ids; first record of every segment.
    Metadata = 1,
    /// A raft log entry (raft-rs protobuf encoding).
    Entry = 2,
    /// Raft hard state: term, vote, commit.
    HardState = 3,
    /// A snapshot was taken at (index, term); entries before it may be gone.
    Snapshot = 4,
}

impl RecordType {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(RecordType::Metadata),
            2 => Some(RecordType::Entry),
            3 => Some(RecordType::HardState),
            4 => Some(RecordType::Snapshot),
            _ => None,
        }
    }
}

pub const WAL_DIR: &str = "wal";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error("WAL {file} is corrupt at offset {offset}: {reason}")]
    Corrupt {
        file: String,
        offset: u64,
        reason: String,
    },
    #[error("WAL {file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("no WAL found in {WAL_DIR}/")]
    Missing,
}

/// Identity written at the start of every segment, with the voters the
/// cluster was bootstrapped with (empty for a member that joined later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalMetadata {
    pub member_id: u64,
    pub cluster_id: u64,
    pub bootstrap_voters: Vec<u64>,
}

impl WalMetadata {
    fn encode(&self) -> Vec<u8> {
        let mut v = u64_pair(self.member_id, self.cluster_id);
        for id in &self.bootstrap_voters {
            v.extend_from_slice(&id.to_le_bytes());
        }
        v
    }

    fn decode(payload: &[u8]) -> Option<WalMetadata> {
        if payload.len() < 16 || !payload.len().is_multiple_of(8) {
            return None;
        }
        let (member_id, cluster_id) = read_u64_pair(&payload[..16])?;
        let bootstrap_voters = payload[16..]
            .chunks(8)
            .map(|c| c.try_into().ok().map(u64::from_le_bytes))
            .collect::<Option<Vec<u64>>>()?;
        Some(WalMetadata {
            member_id,
            cluster_id,
            bootstrap_voters,
        })
    }
}

/// A snapshot marker: the log was (or may be) compacted up to here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct SnapshotMarker {
    pub index: u64,
    pub term: u64,
}

/// Everything recovered from the WAL on open.
#[derive(Debug, Clone)]
pub struct WalContents {
    pub metadata: WalMetadata,
    pub hard_state: HardState,
    /// Every snapshot marker, oldest first.
    pub snapshots: Vec<SnapshotMarker>,
    /// Entries in index order, later writes replacing earlier ones from the
    /// same index on (a new leader's log overwriting an uncommitted tail).
    pub entries: Vec<Entry>,
    /// Bytes cut from the end of the last segment as a torn write.
    pub truncated_bytes: u64,
}

impl WalContents {
    /// Entries after `index` (those a snapshot at `index` does not cover).
    pub fn entries_after(&self, index: u64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.index > index)
            .cloned()
            .collect()
    }
}

/// What a segment is called while [`Wal::cut`] writes it.
const TMP_SUFFIX: &str = ".tmp";

fn segment_name(seq: u64, first_index: u64) -> String {
    format!("{seq:016x}-{first_index:016x}.wal")
}

fn parse_segment_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".wal")?;
    let (seq, index) = stem.split_once('-')?;
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        u64::from_str_radix(index, 16).ok()?,
    ))
}

fn u64_pair(a: u64, b: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&a.to_le_bytes());
    v.extend_from_slice(&b.to_le_bytes());
    v
}

fn read_u64_pair(payload: &[u8]) -> Option<(u64, u64)> {
    if payload.len() != 16 {
        return None;
    }
    let a = u64::from_le_bytes(payload[..8].try_into().ok()?);
    let b = u64::from_le_bytes(payload[8..].try_into().ok()?);
    Some((a, b))
}

/// An open WAL, appending to its last segment.
pub struct Wal {
    disk: DiskRef,
    metadata: WalMetadata,
    /// (seq, first_index, file name) of every live segment, oldest first.
    segments: Vec<(u64, u64, String)>,
    /// The last segment's path, where every write goes (kept rather than
    /// joined again for each write).
    tail_path: String,
    tail_len: u64,
    segment_bytes: u64,
    last_index: u64,
    hard_state: HardState,
}

impl Wal {
    /// Whether a WAL exists on this disk.
    pub async fn exists(disk: &DiskRef) -> Result<bool, WalError> {
        let names = disk.list_dir(WAL_DIR).await?;
        Ok(names.iter().any(|n| parse_segment_name(n).is_some()))
    }

    /// Creates a fresh WAL with one empty segment.
    pub async fn create(
        disk: DiskRef,
        metadata: WalMetadata,
        segment_bytes: u64,
    ) -> Result<Wal, WalError> {
        let mut wal = Wal {
            disk,
            metadata,
            segments: Vec::new(),
            tail_path: String::new(),
            tail_len: 0,
            segment_bytes,
            last_index: 0,
            hard_state: HardState::default(),
        };
        wal.cut(0, 1).await?;
        Ok(wal)
    }

    /// Opens the WAL, replays it and truncates a torn tail.
    pub async fn open(disk: DiskRef, segment_bytes: u64) -> Result<(Wal, WalContents), WalError> {
        Self::scan(disk, segment_bytes, true).await
    }

    /// Reads the WAL without changing it (a torn tail is reported in
    /// `truncated_bytes` but left on disk), for the offline tools.
    pub async fn read(disk: DiskRef) -> Result<WalContents, WalError> {
        Ok(Self::scan(disk, 64 * 1024, false).await?.1)
    }

    async fn scan(
        disk: DiskRef,
        segment_bytes: u64,
        repair: bool,
    ) -> Result<(Wal, WalContents), WalError> {
        let names = disk.list_dir(WAL_DIR).await?;
        if repair {
            // A segment a crash caught before its rename: never in use.
            for stale in names.iter().filter(|n| n.ends_with(TMP_SUFFIX)) {
                disk.remove(&join(WAL_DIR, stale)).await?;
            }
        }
        let mut segments: Vec<(u64, u64, String)> = names
            .into_iter()
            .filter_map(|n| parse_segment_name(&n).map(|(s, i)| (s, i, n)))
            .collect();
        segments.sort();
        if segments.is_empty() {
            return Err(WalError::Missing);
        }
        let mut metadata = None;
        let mut hard_state = HardState::default();
        let mut snapshots = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut tail_len = 0;
        let mut truncated_bytes = 0;
        let last = segments.len() - 1;
        for (i, (_, _, name)) in segments.iter().enumerate() {
            let path = join(WAL_DIR, name);
            let buf = disk.read_all(&path).await?;
            let mut offset = 0usize;
            loop {
                match record::decode_at(&buf, offset) {
                    Decoded::End => break,
                    Decoded::Incomplete if i == last => {
                        // A write cut short by a crash: drop it, durably.
                        truncated_bytes = (buf.len() - offset) as u64;
                        if repair {
                            tracing::info!(file = %path, offset, truncated_bytes, "truncating torn WAL tail");
                            disk.truncate(&path, offset as u64).await?;
                            disk.fsync(&path).await?;
                        }
                        break;
                    }
                    Decoded::Incomplete => {
                        return Err(WalError::Corrupt {
                            file: path,
                            offset: offset as u64,
                            reason: "record cut short in a segment that is not the last".into(),
                        });
                    }
                    Decoded::Corrupt(reason) => {
                        return Err(WalError::Corrupt {
                            file: path,
                            offset: offset as u64,
                            reason,
                        });
                    }
                    Decoded::Record {
                        kind,
                        payload,
                        next,
                    } => {
                        let bad = |reason: &str| WalError::Corrupt {
                            file: path.clone(),
                            offset: offset as u64,
                            reason: reason.to_string(),
                        };
                        let kind = RecordType::from_byte(kind)
                            .ok_or_else(|| bad(&format!("unknown record type {kind}")))?;
                        match kind {
                            RecordType::Metadata => {
                                let m = WalMetadata::decode(payload)
                                    .ok_or_else(|| bad("bad metadata record"))?;
                                if metadata.as_ref().is_some_and(|old| *old != m) {
                                    return Err(bad("segments belong to different members"));
                                }
                                metadata = Some(m);
                            }
                            RecordType::Entry => {
                                let entry = Entry::parse_from_bytes(payload)
                                    .map_err(|e| bad(&format!("undecodable entry: {e}")))?;
                                // A later entry at an index replaces the tail from there.
                                if let Some(pos) =
                                    entries.iter().position(|e| e.index >= entry.index)
                                {
                                    entries.truncate(pos);
                                }
                                entries.push(entry);
                            }
                            RecordType::HardState => {
                                hard_state = HardState::parse_from_bytes(payload)
                                    .map_err(|e| bad(&format!("undecodable hard state: {e}")))?;
                            }
                            RecordType::Snapshot => {
                                let (index, term) = read_u64_pair(payload)
                                    .ok_or_else(|| bad("bad snapshot record"))?;
                                snapshots.push(SnapshotMarker { index, term });
                            }
                        }
                        offset = next;
                    }
                }
            }
            if i == last {
                tail_len = offset as u64;
            }
        }
        let metadata: WalMetadata = metadata.ok_or_else(|| WalError::Invalid {
            file: join(WAL_DIR, &segments[0].2),
            reason: "no metadata record".into(),
        })?;
        let last_index = entries.last().map(|e| e.index).unwrap_or(0);
        let tail_path = join(WAL_DIR, &segments[last].2);
        let wal = Wal {
            disk,
            metadata: metadata.clone(),
            segments,
            tail_path,
            tail_len,
            segment_bytes,
            last_index,
            hard_state: hard_state.clone(),
        };
        let contents = WalContents {
            metadata,
            hard_state,
            snapshots,
            entries,
            truncated_bytes,
        };
        Ok((wal, contents))
    }

    pub fn metadata(&self) -> &WalMetadata {
        &self.metadata
    }

    fn tail_path(&self) -> String {
        self.tail_path.clone()
    }

    /// Starts segment `seq`, whose first entry will be `first_index`. As etcd's WAL does (a `.tmp` file, or at
    /// creation a `.tmp` directory, renamed once written), the segment is
    /// written and fsynced under a temporary name and only then renamed
    /// into place: a name can reach the disk before its data (a directory
    /// may be flushed without an fsync), and a segment named but empty
    /// would stop the member at every restart ("no metadata record").
    async fn cut(&mut self, seq: u64, first_index: u64) -> Result<(), WalError> {
        let name = segment_name(seq, first_index);
        let path = join(WAL_DIR, &name);
        let tmp = format!("{path}{TMP_SUFFIX}");
        self.disk.create(&tmp).await?;
        let mut buf = Vec::new();
        record::encode(
            &mut buf,
            RecordType::Metadata as u8,
            &self.metadata.encode(),
        );
        let hs = self
            .hard_state
            .write_to_bytes()
            .map_err(|e| WalError::Invalid {
                file: path.clone(),
                reason: e.to_string(),
            })?;
        record::encode(&mut buf, RecordType::HardState as u8, &hs);
        self.disk.append(&tmp, &buf).await?;
        self.disk.fsync(&tmp).await?;
        self.disk.rename(&tmp, &path).await?;
        self.disk.fsync_dir(WAL_DIR).await?;
        self.segments.push((seq, first_index, name));
        self.tail_path = path;
        self.tail_len = buf.len() as u64;
        Ok(())
    }

    /// Appends entries and the hard state and makes them durable.
    pub async fn save(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), WalError> {
        if entries.is_empty() && hard_state.is_none() {
            return Ok(());
        }
        // etcd's raft.MustSync: new entries, or a new term or vote, must be
        // on disk before raft acts on them; a hard state that only moved
        // the commit index is written and left to the next fsync (a commit
        // index lost in a crash is learned again from the leader).
        let must_sync = !entries.is_empty()
            || hard_state.is_some_and(|hs| {
                hs.term != self.hard_state.term || hs.vote != self.hard_state.vote
            });
        let path = self.tail_path();
        let mut buf = Vec::new();
        for e in entries {
            let bytes = e.write_to_bytes().map_err(|err| WalError::Invalid {
                file: path.clone(),
                reason: err.to_string(),
            })?;
            record::encode(&mut buf, RecordType::Entry as u8, &bytes);
        }
        if let Some(hs) = hard_state {
            let bytes = hs.write_to_bytes().map_err(|err| WalError::Invalid {
                file: path.clone(),
                reason: err.to_string(),
            })?;
            record::encode(&mut buf, RecordType::HardState as u8, &bytes);
            self.hard_state = hs.clone();
        }
        self.disk.append(&path, &buf).await?;
        self.tail_len += buf.len() as u64;
        // A segment about to be cut is fsynced whatever it holds, as etcd's
        // cut syncs the old tail: nothing writes to it again, and a torn
        // record left at its end would read as corruption at restart (only
        // the last segment may end in a write cut short).
        if must_sync || self.tail_len >= self.segment_bytes {
            self.disk.fsync(&path).await?;
        }
        if let Some(last) = entries.last() {
            self.last_index = last.index;
        }
        if self.tail_len >= self.segment_bytes {
            let seq = self.segments.last().map(|s| s.0 + 1).unwrap_or(0);
            self.cut(seq, self.last_index + 1).await?;
        }
        Ok(())
    }

    /// Makes everything written so far durable (etcd's `WAL.Sync`).
    pub async fn sync(&mut self) -> Result<(), WalError> {
        let path = self.tail_path();
        self.disk.fsync(&path).await?;
        Ok(())
    }

    /// Records that a snapshot at (index, term) exists, durably.
    pub async fn save_snapshot_marker(&mut self, marker: SnapshotMarker) -> Result<(), WalError> {
        let path = self.tail_path();
        let mut buf = Vec::new();
        record::encode(
            &mut buf,
            RecordType::Snapshot as u8,
            &u64_pair(marker.index, marker.term),
        );
        self.disk.append(&path, &buf).await?;
        self.disk.fsync(&path).await?;
        self.tail_len += buf.len() as u64;
        Ok(())
    }

    /// Removes segments that only hold entries before `index`, keeping at
    /// least `keep` of the older segments (etcd's --max-wals). Returns how
    /// many were removed.
    pub async fn release_to(&mut self, index: u64, keep: usize) -> Result<usize, WalError> {
        // Segment i holds entries from its first_index up to the next
        // segment's first_index; it is releasable if that next one starts at
        // or before `index`.
        let mut releasable: usize = 0;
        for w in self.segments.windows(2) {
            if w[1].1 <= index {
                releasable += 1;
            } else {
                break;
            }
        }
        let remove = releasable.saturating_sub(keep);
        if remove == 0 {
            return Ok(0);
        }
        let removed: Vec<_> = self.segments.drain(..remove).collect();
        for (_, _, name) in &removed {
            self.disk.remove(&join(WAL_DIR, name)).await?;
        }
        self.disk.fsync_dir(WAL_DIR).await?;
        Ok(removed.len())
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real_disk::RealDisk;
    use futures::executor::block_on;
    use std::sync::Arc;

    fn entry(index: u64, term: u64, data: &str) -> Entry {
        Entry {
            index,
            term,
            data: data.as_bytes().to_vec().into(),
            ..Default::default()
        }
    }

    fn meta() -> WalMetadata {
        WalMetadata {
            member_id: 1,
            cluster_id: 9,
            bootstrap_voters: vec![1, 2, 3],
        }
    }

    fn hs(term: u64, commit: u64) -> HardState {
        HardState {
            term,
            commit,
            ..Default::default()
        }
    }

    fn disk(dir: &tempfile::TempDir) -> DiskRef {
        Arc::new(RealDisk::new(dir.path()))
    }

    fn segment_path(dir: &tempfile::TempDir, n: usize) -> std::path::PathBuf {
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join(WAL_DIR))
            .expect("wal dir")
            .map(|e| e.expect("entry").path())
            .collect();
        names.sort();
        names[n].clone()
    }

    #[test]
    fn saved_entries_and_hard_state_come_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let mut wal = Wal::create(disk(&dir), meta(), 1 << 20)
                .await
                .expect("create");
            wal.save(&[entry(1, 1, "a"), entry(2, 1, "b")], Some(&hs(1, 1)))
                .await
                .expect("save");
            wal.save(&[entry(2, 2, "B"), entry(3, 2, "c")], Some(&hs(2, 3)))
                .await
                .expect("save");
            wal.save_snapshot_marker(SnapshotMarker { index: 2, term: 2 })
                .await
                .expect("marker");
            let (_, contents) = Wal::open(disk(&dir), 1 << 20).await.expect("open");
            assert_eq!(contents.metadata, meta());
            assert_eq!(contents.hard_state, hs(2, 3));
            let data: Vec<_> = contents
                .entries
                .iter()
                .map(|e| (e.index, e.term, e.data.to_vec()))
                .collect();
            assert_eq!(
                data,
                vec![
                    (1, 1, b"a".to_vec()),
                    (2, 2, b"B".to_vec()),
                    (3, 2, b"c".to_vec())
                ]
            );
            assert_eq!(
                contents.snapshots,
                vec![SnapshotMarker { index: 2, term: 2 }]
            );
            assert_eq!(contents.entries_after(2).len(), 1);
            assert_eq!(contents.truncated_bytes, 0);
        });
    }

    /// A real disk that counts its fsyncs.
    struct CountingDisk {
        inner: RealDisk,
        fsyncs: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl crate::disk::Disk for CountingDisk {
        async fn create(&self, path: &str) -> crate::disk::DiskResult<()> {
            self.inner.create(path).await
        }
        async fn exists(&self, path: &str) -> crate::disk::DiskResult<bool> {
            self.inner.exists(path).await
        }
        async fn append(&self, path: &str, data: &[u8]) -> crate::disk::DiskResult<u64> {
            self.inner.append(path, data).await
        }
        async fn write_at(
            &self,
            path: &str,
            offset: u64,
            data: &[u8],
        ) -> crate::disk::DiskResult<()> {
            self.inner.write_at(path, offset, data).await
        }
        async fn read(
            &self,
            path: &str,
            offset: u64,
            len: usize,
        ) -> crate::disk::DiskResult<Vec<u8>> {
            self.inner.read(path, offset, len).await
        }
        async fn read_all(&self, path: &str) -> crate::disk::DiskResult<Vec<u8>> {
            self.inner.read_all(path).await
        }
        async fn len(&self, path: &str) -> crate::disk::DiskResult<u64> {
            self.inner.len(path).await
        }
        async fn truncate(&self, path: &str, len: u64) -> crate::disk::DiskResult<()> {
            self.inner.truncate(path, len).await
        }
        async fn fsync(&self, path: &str) -> crate::disk::DiskResult<()> {
            self.fsyncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.fsync(path).await
        }
        async fn rename(&self, from: &str, to: &str) -> crate::disk::DiskResult<()> {
            self.inner.rename(from, to).await
        }
        async fn remove(&self, path: &str) -> crate::disk::DiskResult<()> {
            self.inner.remove(path).await
        }
        async fn list_dir(&self, dir: &str) -> crate::disk::DiskResult<Vec<String>> {
            self.inner.list_dir(dir).await
        }
        async fn fsync_dir(&self, dir: &str) -> crate::disk::DiskResult<()> {
            self.inner.fsync_dir(dir).await
        }
    }

    #[test]
    fn only_entries_or_a_new_term_or_vote_are_fsynced() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let counting = Arc::new(CountingDisk {
                inner: RealDisk::new(dir.path()),
                fsyncs: Default::default(),
            });
            let fsyncs = || counting.fsyncs.load(std::sync::atomic::Ordering::Relaxed);
            let mut wal = Wal::create(counting.clone(), meta(), 1 << 20)
                .await
                .expect("create");
            let mut count = fsyncs();
            let mut saved = |n: usize| {
                let more = n - count;
                count = n;
                more
            };
            wal.save(&[entry(1, 1, "a")], Some(&hs(1, 0)))
                .await
                .expect("save");
            assert_eq!(saved(fsyncs()), 1, "new entries");
            wal.save(&[], Some(&hs(1, 1))).await.expect("save");
            assert_eq!(
                saved(fsyncs()),
                0,
                "only the commit index moved (etcd's MustSync)"
            );
            wal.save(&[], Some(&hs(2, 1))).await.expect("save");
            assert_eq!(saved(fsyncs()), 1, "a new term");
            // Unsynced is still written: a reader (and a clean reopen) sees it.
            let (_, contents) = Wal::open(disk(&dir), 1 << 20).await.expect("open");
            assert_eq!(contents.hard_state, hs(2, 1));
        });
    }

    #[test]
    fn a_torn_tail_is_truncated_and_the_rest_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let mut wal = Wal::create(disk(&dir), meta(), 1 << 20)
                .await
                .expect("create");
            wal.save(&[entry(1, 1, "a"), entry(2, 1, "bbbbbbbb")], None)
                .await
                .expect("save");
        });
        let path = segment_path(&dir, 0);
        let len = std::fs::metadata(&path).expect("segment").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open segment");
        f.set_len(len - 3).expect("cut the last record short");
        block_on(async {
            let (mut wal, contents) = Wal::open(disk(&dir), 1 << 20)
                .await
                .expect("a torn tail is not an error");
            assert_eq!(contents.entries.len(), 1);
            assert!(contents.truncated_bytes > 0);
            // Appending after the repair works and survives reopening.
            wal.save(&[entry(2, 1, "again")], None).await.expect("save");
            let (_, contents) = Wal::open(disk(&dir), 1 << 20).await.expect("reopen");
            assert_eq!(
                contents.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
                vec![1, 2]
            );
        });
    }

    #[test]
    fn corruption_stops_with_the_file_and_offset() {
        for (what, at_end) in [("middle", false), ("last record", true)] {
            let dir = tempfile::tempdir().expect("temp dir");
            block_on(async {
                let mut wal = Wal::create(disk(&dir), meta(), 1 << 20)
                    .await
                    .expect("create");
                wal.save(
                    &[entry(1, 1, "first-entry"), entry(2, 1, "second-entry")],
                    None,
                )
                .await
                .expect("save");
            });
            let path = segment_path(&dir, 0);
            let mut bytes = std::fs::read(&path).expect("segment");
            let pos = if at_end {
                bytes.len() - 2
            } else {
                bytes.len() / 2
            };
            bytes[pos] ^= 0x40;
            std::fs::write(&path, &bytes).expect("write back");
            let err = block_on(Wal::open(disk(&dir), 1 << 20))
                .err()
                .expect("corruption must be an error");
            match err {
                WalError::Corrupt { file, offset, .. } => {
                    assert!(file.starts_with("wal/"), "{what}: {file}");
                    assert!(offset > 0, "{what}");
                }
                other => panic!("{what}: expected a corruption error, got {other}"),
            }
        }
    }

    #[test]
    fn segments_are_cut_and_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let mut wal = Wal::create(disk(&dir), meta(), 1024).await.expect("create");
            let big = "x".repeat(300);
            for i in 1..=20 {
                wal.save(&[entry(i, 1, &big)], Some(&hs(1, i)))
                    .await
                    .expect("save");
            }
            let segments = wal.segment_count();
            assert!(segments > 3, "only {segments} segments");
            let removed = wal.release_to(15, 1).await.expect("release");
            assert!(removed > 0);
            let (_, contents) = Wal::open(disk(&dir), 1024).await.expect("open");
            assert!(
                contents.entries.first().is_some_and(|e| e.index > 1),
                "old entries released"
            );
            assert_eq!(contents.entries.last().map(|e| e.index), Some(20));
            assert!(contents.entries.iter().any(|e| e.index == 15));
            assert_eq!(contents.hard_state.commit, 20);
        });
    }
}
