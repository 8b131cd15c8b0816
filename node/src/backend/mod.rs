//! The backend, etcd's "DB file": buckets of key/value pairs, written through
//! one batch transaction that is committed every N ms or M writes. A commit
//! appends the batch to the db file and fsyncs it; a pre-commit hook adds
//! the consistent index and term, so they are durable in the same commit as
//! the data they cover. Defragmentation copies the live data into a new file
//! and renames it over the old one.

pub mod batch;
pub mod bucket;
pub mod buffer;

pub use bucket::{Bucket, keys};

use crate::disk::{DiskError, parent_dir};
use crate::failpoint::{Failpoint, FailpointError};
use crate::framing::{self, Decoded};
use crate::host::MemberEnv;
use crate::invariants::Invariant;
use buffer::TxBuffer;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

pub const DB_FILE: &str = "db";
const DB_TMP: &str = "db.tmp";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error("backend {file} is corrupt at offset {offset}: {reason}")]
    Corrupt {
        file: String,
        offset: u64,
        reason: String,
    },
    #[error(transparent)]
    Failpoint(#[from] FailpointError),
}

/// Extra writes the hook adds to every commit.
pub type PreCommitHook = Box<dyn Fn() -> Vec<(Bucket, Vec<u8>, Vec<u8>)> + Send + Sync>;

/// One sorted map per bucket. Keys are looked up as they are given, in
/// their bucket's map, rather than first copied into a (bucket, key) pair:
/// every read of the store is such a lookup.
#[derive(Debug, Clone)]
struct Buckets<V> {
    /// In the order of [`Bucket::ALL`].
    maps: [BTreeMap<Vec<u8>, V>; Bucket::ALL.len()],
}

impl<V> Default for Buckets<V> {
    fn default() -> Self {
        Buckets {
            maps: std::array::from_fn(|_| BTreeMap::new()),
        }
    }
}

impl<V> Buckets<V> {
    fn slot(bucket: Bucket) -> usize {
        bucket as usize - Bucket::ALL[0] as usize
    }

    fn of(&self, bucket: Bucket) -> &BTreeMap<Vec<u8>, V> {
        &self.maps[Self::slot(bucket)]
    }

    fn of_mut(&mut self, bucket: Bucket) -> &mut BTreeMap<Vec<u8>, V> {
        &mut self.maps[Self::slot(bucket)]
    }

    /// Every entry in (bucket, key) order: the order a batch or an image
    /// is written in.
    fn iter(&self) -> impl Iterator<Item = (Bucket, &Vec<u8>, &V)> {
        Bucket::ALL
            .into_iter()
            .zip(&self.maps)
            .flat_map(|(bucket, map)| map.iter().map(move |(k, v)| (bucket, k, v)))
    }

    fn is_empty(&self) -> bool {
        self.maps.iter().all(BTreeMap::is_empty)
    }
}

type Map = Buckets<Vec<u8>>;

#[derive(Default)]
struct State {
    /// What the db file holds after the last commit.
    committed: Map,
    /// Changes of the open batch transaction, not yet in the file.
    pending: Buckets<Option<Vec<u8>>>,
    pending_writes: usize,
    /// Puts of the current holder of the batch transaction.
    write_buf: TxBuffer,
    /// Puts since the last commit, visible to readers.
    read_buf: TxBuffer,
    file_len: u64,
    commits: u64,
    /// The last commit found the disk full (ENOSPC): its batch is still
    /// pending, and the next commit tries again.
    no_space: bool,
}

struct Inner {
    env: MemberEnv,
    state: Mutex<State>,
    /// The batch transaction lock; held across a commit's disk writes.
    tx_lock: tokio::sync::Mutex<()>,
    hook: Mutex<Option<PreCommitHook>>,
    batch_limit: usize,
    /// etcd-17247: see [`buffer::TxBuffer::writeback`].
    bug_17247: bool,
}

/// A shared handle to the backend.
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

fn corrupt(offset: usize, reason: impl Into<String>) -> BackendError {
    BackendError::Corrupt {
        file: DB_FILE.to_string(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

/// Applies every batch in a db file image to `map`; returns the length of
/// the valid prefix and whether a torn tail follows it.
fn replay(buf: &[u8], map: &mut Map) -> Result<(usize, bool), BackendError> {
    let mut offset = 0;
    loop {
        match framing::decode_at(buf, offset) {
            Decoded::End => return Ok((offset, false)),
            Decoded::Incomplete => return Ok((offset, true)),
            Decoded::Corrupt(reason) => return Err(corrupt(offset, reason)),
            Decoded::Record {
                kind,
                payload,
                next,
            } => {
                if kind != batch::BATCH_RECORD {
                    return Err(corrupt(offset, format!("unknown record kind {kind}")));
                }
                for op in batch::decode(payload).map_err(|r| corrupt(offset, r))? {
                    match op {
                        batch::BatchOp::Put(b, k, v) => {
                            map.of_mut(b).insert(k.to_vec(), v.to_vec());
                        }
                        batch::BatchOp::Delete(b, k) => {
                            map.of_mut(b).remove(k);
                        }
                    }
                }
                offset = next;
            }
        }
    }
}

fn image_of(map: &Map) -> Vec<u8> {
    let mut out = Vec::new();
    write_image(map, &mut out);
    out
}

/// Appends the image of `map` (one batch record putting every key) to
/// `out`, sized once and written in place: an image is the whole backend,
/// and it is taken at every snapshot.
fn write_image(map: &Map, out: &mut Vec<u8>) {
    let payload_len: usize = map.iter().map(|(_, k, v)| batch::put_len(k, v)).sum();
    out.reserve(framing::HEADER_LEN + payload_len);
    let record = framing::open(out, batch::BATCH_RECORD);
    for (b, k, v) in map.iter() {
        batch::encode_put(out, b, k, v);
    }
    framing::close(out, record);
}

impl Backend {
    /// Opens (or creates) the db file and loads it.
    pub async fn open(
        env: MemberEnv,
        batch_limit: usize,
        bug_17247: bool,
    ) -> Result<Backend, BackendError> {
        let disk = env.disk.clone();
        // A defragmentation or snapshot install that crashed before its
        // rename leaves a temporary copy; the original is still intact.
        if disk.exists(DB_TMP).await? {
            disk.remove(DB_TMP).await?;
            disk.fsync_dir(parent_dir(DB_TMP)).await?;
        }
        let mut map = Map::default();
        let file_len = if disk.exists(DB_FILE).await? {
            let buf = disk.read_all(DB_FILE).await?;
            let (valid, torn) = replay(&buf, &mut map)?;
            if torn {
                tracing::info!(
                    member = env.member,
                    valid,
                    len = buf.len(),
                    "truncating torn backend tail"
                );
                disk.truncate(DB_FILE, valid as u64).await?;
                disk.fsync(DB_FILE).await?;
            }
            valid as u64
        } else {
            disk.create(DB_FILE).await?;
            disk.fsync(DB_FILE).await?;
            disk.fsync_dir(parent_dir(DB_FILE)).await?;
            0
        };
        Ok(Backend {
            inner: Arc::new(Inner {
                env,
                state: Mutex::new(State {
                    committed: map,
                    file_len,
                    ..State::default()
                }),
                tx_lock: tokio::sync::Mutex::new(()),
                hook: Mutex::new(None),
                batch_limit,
                bug_17247,
            }),
        })
    }

    pub fn set_pre_commit_hook(&self, hook: PreCommitHook) {
        *self.inner.hook.lock() = Some(hook);
    }

    /// Takes the batch transaction (waits while a commit holds it).
    pub async fn batch_tx(&self) -> BatchTx<'_> {
        let guard = self.inner.tx_lock.lock().await;
        BatchTx {
            backend: self,
            _guard: guard,
            wrote: false,
        }
    }

    /// Commits whatever is pending (the periodic batch commit). A full
    /// disk is not an error here: the batch stays pending for the next
    /// commit, and [`Backend::no_space`] says so (the member raises its
    /// NOSPACE alarm on it).
    pub async fn commit(&self) -> Result<(), BackendError> {
        let tx = self.batch_tx().await;
        deferred_on_full_disk(tx.commit_now(true).await)
    }

    /// Whether the last commit found the disk full: writes since are only
    /// in memory (and in the WAL), until a commit succeeds.
    pub fn no_space(&self) -> bool {
        self.inner.state.lock().no_space
    }

    /// Reads the committed data overlaid with the read buffer.
    pub fn get(&self, bucket: Bucket, key: &[u8]) -> Option<Vec<u8>> {
        self.read(bucket, key, <[u8]>::to_vec)
    }

    /// The consistent index and its term this backend holds: the last
    /// entry whose data it has (0, 0 when it has none).
    pub fn consistent_index(&self) -> (u64, u64) {
        let read = |key| {
            self.read(Bucket::Meta, key, |v| {
                v.try_into().ok().map(u64::from_be_bytes)
            })
            .flatten()
            .unwrap_or(0)
        };
        (read(keys::CONSISTENT_INDEX), read(keys::TERM))
    }

    /// What `read` makes of a key's value, read in place (a stored value
    /// is decoded where it lies instead of being copied out first).
    pub fn read<T>(&self, bucket: Bucket, key: &[u8], read: impl FnOnce(&[u8]) -> T) -> Option<T> {
        let st = self.inner.state.lock();
        if let Some(v) = st.read_buf.bucket(bucket).and_then(|b| b.get(key)) {
            return Some(read(v));
        }
        st.committed.of(bucket).get(key).map(|v| read(v))
    }

    /// Pairs with `start <= key < end` in key order, as readers see them:
    /// the committed data merged with the read buffer (`end` empty = the
    /// single key `start`).
    pub fn range(&self, bucket: Bucket, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        if !end.is_empty() && end < start {
            // An inverted range holds no keys (and would panic a BTreeMap).
            return Vec::new();
        }
        let st = self.inner.state.lock();
        let upper = if end.is_empty() {
            Bound::Included(start)
        } else {
            Bound::Excluded(end)
        };
        let committed = st
            .committed
            .of(bucket)
            .range::<[u8], _>((Bound::Included(start), upper))
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        let buffered = st
            .read_buf
            .bucket(bucket)
            .into_iter()
            .flat_map(|b| b.range(start, end))
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        if bucket == Bucket::Key {
            // As etcd's read transaction does for the key bucket: revision
            // keys only grow, so the buffer holds what is newer than the
            // committed data and is simply appended to it.
            return committed
                .chain(buffered)
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
        }
        merge_ranges(committed, buffered)
    }

    /// Every pair of a bucket as readers see them, in key order.
    pub fn scan(&self, bucket: Bucket) -> Vec<(Vec<u8>, Vec<u8>)> {
        let st = self.inner.state.lock();
        let committed = st
            .committed
            .of(bucket)
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        let buffered = st
            .read_buf
            .bucket(bucket)
            .into_iter()
            .flat_map(|b| b.entries().iter())
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        merge_ranges(committed, buffered)
    }

    /// Commits, then returns an image of the whole backend (a raft
    /// snapshot's data). The image is one batch in the db file format.
    pub async fn snapshot_image(&self) -> Result<Vec<u8>, BackendError> {
        let mut image = Vec::new();
        self.write_snapshot_image(&mut image).await?;
        Ok(image)
    }

    /// [`Self::snapshot_image`], appended to `out` (a snapshot file being
    /// built, so the image is written once, where it will stay).
    pub async fn write_snapshot_image(&self, out: &mut Vec<u8>) -> Result<(), BackendError> {
        let tx = self.batch_tx().await;
        tx.commit_now(true).await?;
        let st = self.inner.state.lock();
        write_image(&st.committed, out);
        Ok(())
    }

    /// Replaces the whole backend with a snapshot image, atomically on disk.
    pub async fn restore_image(&self, image: &[u8]) -> Result<(), BackendError> {
        let mut map = Map::default();
        let (valid, torn) = replay(image, &mut map)?;
        if torn || valid != image.len() {
            return Err(corrupt(valid, "snapshot image is cut short"));
        }
        let _guard = self.inner.tx_lock.lock().await;
        self.write_file_atomically(image, None).await?;
        let mut st = self.inner.state.lock();
        st.committed = map;
        st.pending = Buckets::default();
        st.pending_writes = 0;
        st.write_buf = TxBuffer::default();
        st.read_buf = TxBuffer::default();
        st.file_len = image.len() as u64;
        Ok(())
    }

    /// Writes a new db file next to the old one and renames it into place,
    /// passing `before_rename` (a failpoint) in between.
    async fn write_file_atomically(
        &self,
        image: &[u8],
        before_rename: Option<Failpoint>,
    ) -> Result<(), BackendError> {
        let disk = &self.inner.env.disk;
        disk.create(DB_TMP).await?;
        disk.append(DB_TMP, image).await?;
        disk.fsync(DB_TMP).await?;
        if let Some(point) = before_rename {
            self.inner.env.failpoint(point).await?;
        }
        disk.rename(DB_TMP, DB_FILE).await?;
        disk.fsync_dir(parent_dir(DB_FILE)).await?;
        Ok(())
    }

    /// Defragmentation: commit, copy the live data into a new file, fsync
    /// it and rename it over the old one. `run_hook: false` is etcd-14685.
    pub async fn defrag(&self, run_hook: bool) -> Result<(), BackendError> {
        let tx = self.batch_tx().await;
        tx.commit_locked(run_hook).await?;
        self.inner
            .env
            .failpoint(Failpoint::DefragBeforeCopy)
            .await?;
        let image = image_of(&self.inner.state.lock().committed);
        self.write_file_atomically(&image, Some(Failpoint::DefragBeforeRename))
            .await?;
        self.inner.state.lock().file_len = image.len() as u64;
        drop(tx);
        Ok(())
    }

    /// Bytes in the db file, and bytes its live data would take.
    pub fn size(&self) -> (u64, u64) {
        let st = self.inner.state.lock();
        let in_use: usize = st
            .committed
            .iter()
            .map(|(_, k, v)| k.len() + v.len() + 10)
            .sum();
        (st.file_len, in_use as u64)
    }

    pub fn commits(&self) -> u64 {
        self.inner.state.lock().commits
    }
}

fn merge_ranges<'a>(
    committed: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    buffered: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut a = committed.peekable();
    let mut b = buffered.peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) => match x.0.cmp(y.0) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                // The buffer holds the newer value of the same key.
                std::cmp::Ordering::Equal => {
                    a.next();
                    b.next()
                }
            },
        };
        if let Some((k, v)) = next {
            out.push((k.to_vec(), v.to_vec()));
        }
    }
    out
}

/// The batch transaction: exclusive while held. Dropping it writes its puts
/// back into the read buffer; [`BatchTx::end`] also commits once the batch
/// is full, as etcd's `Unlock` does.
pub struct BatchTx<'a> {
    backend: &'a Backend,
    _guard: tokio::sync::MutexGuard<'a, ()>,
    /// Whether this transaction wrote anything (etcd writes back on Unlock
    /// only then; a bare commit leaves the write buffer as it is).
    wrote: bool,
}

impl BatchTx<'_> {
    pub fn put(&mut self, bucket: Bucket, key: &[u8], value: &[u8]) {
        self.put_owned(bucket, key.to_vec(), value.to_vec());
    }

    /// [`Self::put`] of a key and value built for it (the store's
    /// revisions): they are kept instead of copied once more.
    pub fn put_owned(&mut self, bucket: Bucket, key: Vec<u8>, value: Vec<u8>) {
        let mut st = self.backend.inner.state.lock();
        st.pending
            .of_mut(bucket)
            .insert(key.clone(), Some(value.clone()));
        st.write_buf.put(bucket, key, value);
        st.pending_writes += 1;
        self.wrote = true;
    }

    pub fn delete(&mut self, bucket: Bucket, key: &[u8]) {
        let mut st = self.backend.inner.state.lock();
        st.pending.of_mut(bucket).insert(key.to_vec(), None);
        st.pending_writes += 1;
        self.wrote = true;
    }

    /// Reads through the open transaction (sees its own changes).
    pub fn get(&self, bucket: Bucket, key: &[u8]) -> Option<Vec<u8>> {
        self.read(bucket, key, <[u8]>::to_vec)
    }

    /// What `read` makes of a key's value as this transaction sees it,
    /// read in place (see [`Backend::read`]).
    pub fn read<T>(&self, bucket: Bucket, key: &[u8], read: impl FnOnce(&[u8]) -> T) -> Option<T> {
        let st = self.backend.inner.state.lock();
        match st.pending.of(bucket).get(key) {
            Some(v) => v.as_deref().map(read),
            None => st.committed.of(bucket).get(key).map(|v| read(v)),
        }
    }

    /// Keys of `bucket` with `start <= key < end` as this transaction sees
    /// them (its own deletes applied), at most `limit`.
    pub fn range_keys(
        &self,
        bucket: Bucket,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Vec<Vec<u8>> {
        if end < start {
            // An inverted range holds no keys (and would panic a BTreeMap).
            return Vec::new();
        }
        let st = self.backend.inner.state.lock();
        let range = (Bound::Included(start), Bound::Excluded(end));
        // Both maps are sorted: walk them side by side and stop at `limit`,
        // so a compaction batch costs its own size, not the whole range's.
        let mut committed = st
            .committed
            .of(bucket)
            .range::<[u8], _>(range)
            .map(|(k, _)| k)
            .peekable();
        let mut pending = st.pending.of(bucket).range::<[u8], _>(range).peekable();
        let mut keys = Vec::new();
        while keys.len() < limit {
            let take_pending = match (committed.peek(), pending.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(c), Some((p, _))) => match (*c).cmp(p) {
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Greater => true,
                    // The transaction's own change of the key wins.
                    std::cmp::Ordering::Equal => {
                        committed.next();
                        true
                    }
                },
            };
            if take_pending {
                if let Some((k, Some(_))) = pending.next() {
                    keys.push(k.clone());
                }
            } else if let Some(k) = committed.next() {
                keys.push(k.clone());
            }
        }
        keys
    }

    /// Ends the transaction, committing if the batch is full.
    pub async fn end(mut self) -> Result<(), BackendError> {
        self.writeback();
        let inner = &self.backend.inner;
        let mut pending = inner.state.lock().pending_writes;
        if pending >= inner.batch_limit {
            inner
                .env
                .reach(crate::coverage::Point::BackendCommitBatchFull);
            deferred_on_full_disk(self.commit_locked(true).await)?;
            pending = inner.state.lock().pending_writes;
        }
        let no_space = inner.state.lock().no_space;
        inner.env.check(
            Invariant::PendingWithinBatchLimit,
            pending < inner.batch_limit || no_space,
            || {
                format!(
                    "{pending} writes pending, batch limit {}",
                    inner.batch_limit
                )
            },
        );
        Ok(())
    }

    /// Commits the pending batch now, or, with the disk full, leaves it
    /// pending for the next commit (as [`Backend::commit`]): for commits
    /// that only make sooner what the periodic commit would do.
    pub async fn commit_or_defer(self) -> Result<(), BackendError> {
        deferred_on_full_disk(self.commit_now(true).await)
    }

    /// Commits the pending batch now and ends the transaction.
    pub async fn commit_now(mut self, run_hook: bool) -> Result<(), BackendError> {
        self.writeback();
        self.commit_locked(run_hook).await
    }

    /// Hands this transaction's puts to readers (etcd does it on Unlock,
    /// when the transaction wrote something).
    fn writeback(&mut self) {
        if !std::mem::take(&mut self.wrote) {
            return;
        }
        let inner = &self.backend.inner;
        let mut st = inner.state.lock();
        let st = &mut *st;
        st.write_buf.writeback(&mut st.read_buf, inner.bug_17247);
    }

    /// Commits while keeping the transaction (defragmentation continues
    /// under the same lock).
    async fn commit_locked(&self, run_hook: bool) -> Result<(), BackendError> {
        let inner = &self.backend.inner;
        inner.env.failpoint(Failpoint::BeforeCommit).await?;
        if run_hook && let Some(hook) = inner.hook.lock().as_ref() {
            let extra = hook();
            let mut st = inner.state.lock();
            // Straight into the commit: readers never look for these.
            for (b, k, v) in extra {
                st.pending.of_mut(b).insert(k, Some(v));
            }
        }
        let record = {
            let st = inner.state.lock();
            if st.pending.is_empty() {
                return Ok(());
            }
            let mut record = Vec::new();
            let open = framing::open(&mut record, batch::BATCH_RECORD);
            for (b, k, v) in st.pending.iter() {
                match v {
                    Some(v) => batch::encode_put(&mut record, b, k, v),
                    None => batch::encode_delete(&mut record, b, k),
                }
            }
            framing::close(&mut record, open);
            record
        };
        let disk = &inner.env.disk;
        let written = match disk.append(DB_FILE, &record).await {
            Ok(_) => disk.fsync(DB_FILE).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            // Nothing of the batch reached the file (the append was
            // refused whole): it stays pending, as bbolt's failed commit
            // leaves the transaction's pages in memory.
            if matches!(e, DiskError::NoSpace { .. }) {
                inner.state.lock().no_space = true;
            }
            return Err(e.into());
        }
        {
            let mut st = inner.state.lock();
            st.no_space = false;
            let pending = std::mem::take(&mut st.pending);
            for (bucket, changes) in Bucket::ALL.into_iter().zip(pending.maps) {
                let committed = st.committed.of_mut(bucket);
                for (key, v) in changes {
                    match v {
                        Some(v) => {
                            committed.insert(key, v);
                        }
                        None => {
                            committed.remove(&key);
                        }
                    }
                }
            }
            st.pending_writes = 0;
            st.read_buf.reset();
            st.file_len += record.len() as u64;
            st.commits += 1;
        }
        inner.env.failpoint(Failpoint::AfterCommit).await?;
        Ok(())
    }
}

/// A commit that found the disk full, taken as deferred: the batch stays
/// pending and `no_space` is set. Every other error stays an error.
fn deferred_on_full_disk(result: Result<(), BackendError>) -> Result<(), BackendError> {
    match result {
        Err(BackendError::Disk(DiskError::NoSpace { .. })) => Ok(()),
        other => other,
    }
}

impl Drop for BatchTx<'_> {
    fn drop(&mut self) {
        self.writeback();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::env_in;
    use futures::executor::block_on;

    async fn open(dir: &tempfile::TempDir, limit: usize) -> Backend {
        Backend::open(env_in(dir.path()), limit, false)
            .await
            .expect("open backend")
    }

    #[test]
    fn buckets_list_entries_in_bucket_then_key_order() {
        let mut buckets = Buckets::default();
        let mut pairs = BTreeMap::new();
        for (i, bucket) in Bucket::ALL.into_iter().rev().enumerate() {
            for key in [b"b".to_vec(), b"a".to_vec(), vec![i as u8]] {
                buckets.of_mut(bucket).insert(key.clone(), i);
                pairs.insert((bucket, key), i);
            }
        }
        let listed: Vec<_> = buckets
            .iter()
            .map(|(bucket, key, i)| ((bucket, key.clone()), *i))
            .collect();
        assert_eq!(listed, pairs.into_iter().collect::<Vec<_>>());
        for bucket in Bucket::ALL {
            assert_eq!(buckets.of(bucket).len(), 3, "{bucket:?}");
        }
    }

    #[test]
    fn only_committed_batches_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 100).await;
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Key, b"a", b"1");
            tx.end().await.expect("end");
            // Readers see the write before it is committed...
            assert_eq!(b.get(Bucket::Key, b"a"), Some(b"1".to_vec()));
            assert_eq!(b.commits(), 0);
            // ...but a reopen (a crash) does not.
            assert_eq!(open(&dir, 100).await.get(Bucket::Key, b"a"), None);
            b.commit().await.expect("commit");
            assert_eq!(
                open(&dir, 100).await.get(Bucket::Key, b"a"),
                Some(b"1".to_vec())
            );
        });
    }

    #[test]
    fn a_full_batch_commits_when_the_transaction_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 3).await;
            for i in 0..3u8 {
                let mut tx = b.batch_tx().await;
                tx.put(Bucket::Meta, &[i], b"v");
                tx.end().await.expect("end");
            }
            assert_eq!(b.commits(), 1, "the third write fills the batch");
            assert_eq!(open(&dir, 3).await.scan(Bucket::Meta).len(), 3);
        });
    }

    #[test]
    fn the_pre_commit_hook_lands_in_the_same_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 100).await;
            b.set_pre_commit_hook(Box::new(|| {
                vec![(
                    Bucket::Meta,
                    keys::CONSISTENT_INDEX.to_vec(),
                    7u64.to_be_bytes().to_vec(),
                )]
            }));
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Key, b"k", b"v");
            tx.commit_now(true).await.expect("commit");
            let again = open(&dir, 100).await;
            assert_eq!(again.get(Bucket::Key, b"k"), Some(b"v".to_vec()));
            assert_eq!(
                again.get(Bucket::Meta, keys::CONSISTENT_INDEX),
                Some(7u64.to_be_bytes().to_vec())
            );
        });
    }

    #[test]
    fn deletes_apply_on_commit_and_ranges_merge_buffers() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 100).await;
            let mut tx = b.batch_tx().await;
            for k in [b"a", b"b", b"c"] {
                tx.put(Bucket::Lease, k, b"old");
            }
            tx.commit_now(true).await.expect("commit");
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Lease, b"b", b"new");
            tx.put(Bucket::Lease, b"d", b"new");
            tx.delete(Bucket::Lease, b"a");
            assert_eq!(
                tx.range_keys(Bucket::Lease, b"a", b"z", 10),
                vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
            );
            tx.end().await.expect("end");
            let got: Vec<_> = b.range(Bucket::Lease, b"a", b"z");
            assert_eq!(
                got,
                vec![
                    (b"a".to_vec(), b"old".to_vec()),
                    (b"b".to_vec(), b"new".to_vec()),
                    (b"c".to_vec(), b"old".to_vec()),
                    (b"d".to_vec(), b"new".to_vec()),
                ],
                "readers see buffered puts but not the uncommitted delete"
            );
            b.commit().await.expect("commit");
            assert_eq!(b.get(Bucket::Lease, b"a"), None);
        });
    }

    proptest::proptest! {
        /// The walk over both maps gives what overlaying the transaction's
        /// changes on the committed keys and cutting at `limit` gives.
        #[test]
        fn range_keys_overlays_pending_changes_up_to_the_limit(
            committed in proptest::collection::btree_set(0u8..40, 0..20),
            changes in proptest::collection::btree_map(0u8..40, proptest::bool::ANY, 0..20),
            (start, end) in (0u8..40, 0u8..40),
            limit in 0usize..25,
        ) {
            let dir = tempfile::tempdir().expect("temp dir");
            block_on(async {
                let b = open(&dir, 1000).await;
                let mut tx = b.batch_tx().await;
                for k in &committed {
                    tx.put(Bucket::Key, &[*k], b"v");
                }
                tx.commit_now(true).await.expect("commit");
                let mut tx = b.batch_tx().await;
                for (k, put) in &changes {
                    if *put {
                        tx.put(Bucket::Key, &[*k], b"w");
                    } else {
                        tx.delete(Bucket::Key, &[*k]);
                    }
                }
                let mut want: std::collections::BTreeSet<u8> = committed.clone();
                for (k, put) in &changes {
                    if *put { want.insert(*k); } else { want.remove(k); }
                }
                let want: Vec<Vec<u8>> = want
                    .into_iter()
                    .filter(|k| *k >= start && *k < end)
                    .take(limit)
                    .map(|k| vec![k])
                    .collect();
                assert_eq!(tx.range_keys(Bucket::Key, &[start], &[end], limit), want);
                // Other buckets are outside the range.
                assert!(tx.range_keys(Bucket::Lease, &[start], &[end], limit).is_empty());
            });
        }
    }

    #[test]
    fn defragmentation_shrinks_the_file_and_keeps_the_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 1).await;
            for i in 0..50u8 {
                let mut tx = b.batch_tx().await;
                tx.put(Bucket::Key, b"same", &[i; 64]);
                tx.end().await.expect("end");
            }
            let (before, _) = b.size();
            b.defrag(true).await.expect("defrag");
            let (after, _) = b.size();
            assert!(after * 10 < before, "{before} -> {after}");
            assert_eq!(
                open(&dir, 1).await.get(Bucket::Key, b"same"),
                Some(vec![49; 64])
            );
            assert!(!dir.path().join(DB_TMP).exists());
        });
    }

    #[test]
    fn a_torn_tail_of_the_db_file_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let b = open(&dir, 1).await;
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Key, b"kept", b"1");
            tx.end().await.expect("end");
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Key, b"torn", b"2");
            tx.end().await.expect("end");
        });
        let path = dir.path().join(DB_FILE);
        let len = std::fs::metadata(&path).expect("db").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("db");
        f.set_len(len - 2).expect("truncate");
        let b = block_on(open(&dir, 1));
        assert_eq!(b.get(Bucket::Key, b"kept"), Some(b"1".to_vec()));
        assert_eq!(b.get(Bucket::Key, b"torn"), None);
    }
}
