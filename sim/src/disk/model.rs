//! A file system with a page cache, as a pure model: what reads see, what
//! is on the platter, and what a crash keeps. No simulator types here, so
//! the rules can be tested directly (and against a reference in a proptest).
//!
//! Rules:
//! - data written is in the page cache (reads see it) until `fsync` copies
//!   the file's dirty ranges to disk;
//! - creating, renaming and removing names changes the directory in memory;
//!   `fsync_dir` makes the pending changes of that directory durable;
//! - a crash keeps each file's on-disk bytes, plus (when torn tails are on)
//!   a random prefix of the unsynced bytes appended at its end, and keeps a
//!   random prefix of the pending directory changes, in order;
//! - a failed fsync (EIO) forgets the dirty ranges, as Linux does: they are
//!   never written, and a later fsync succeeds without them (they become
//!   holes of zeros on disk if the file grew).

use node::disk::{DiskError, DiskResult, parent_dir};
use rand::Rng;
use std::collections::BTreeMap;

type InodeId = u64;

#[derive(Debug, Clone, Default)]
struct Inode {
    /// Page cache: what reads return.
    data: Vec<u8>,
    /// What survives a crash.
    durable: Durable,
    /// Sorted, disjoint ranges of `data` not yet on disk.
    dirty: Vec<(usize, usize)>,
}

/// The bytes of a file that survive a crash.
#[derive(Debug, Clone)]
enum Durable {
    /// The first this-many bytes of the page cache. A file that is only
    /// appended to and fsynced (a WAL segment, the db file, a snapshot:
    /// nearly every file) needs no second copy of its bytes; an fsync
    /// moves the mark.
    Prefix(usize),
    /// Bytes of their own, once the page cache no longer starts with them
    /// (overwritten or cut shorter since, or a failed fsync left a hole).
    Copy(Vec<u8>),
}

impl Default for Durable {
    fn default() -> Self {
        Durable::Prefix(0)
    }
}

impl Inode {
    fn durable_len(&self) -> usize {
        match &self.durable {
            Durable::Prefix(n) => *n,
            Durable::Copy(bytes) => bytes.len(),
        }
    }

    /// The durable bytes as a copy of their own (made now if they were a
    /// prefix of the page cache).
    fn durable_copy(&mut self) -> &mut Vec<u8> {
        if let Durable::Prefix(n) = self.durable {
            self.durable = Durable::Copy(self.data[..n].to_vec());
        }
        match &mut self.durable {
            Durable::Copy(bytes) => bytes,
            Durable::Prefix(_) => unreachable!("made a copy above"),
        }
    }

    /// Called before the page cache changes from byte `from` on (an
    /// overwrite, a truncation): durable bytes there must not change too.
    fn before_change_at(&mut self, from: usize) {
        if matches!(self.durable, Durable::Prefix(n) if from < n) {
            self.durable_copy();
        }
    }

    fn mark_dirty(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        // An append (the usual write) starts at or after the start of the
        // last range: it extends that range or follows it, and the ranges
        // stay sorted and disjoint without sorting them again.
        match self.dirty.last_mut() {
            None => {
                self.dirty.push((start, end));
                return;
            }
            Some(last) if start >= last.0 => {
                if start <= last.1 {
                    last.1 = last.1.max(end);
                } else {
                    self.dirty.push((start, end));
                }
                return;
            }
            Some(_) => {}
        }
        self.dirty.push((start, end));
        self.dirty.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.dirty.len());
        for (s, e) in self.dirty.drain(..) {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.dirty = merged;
    }

    fn sync(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        if let Durable::Prefix(n) = &mut self.durable {
            // Dirty ranges that extend the durable prefix one after the
            // other up to the page cache's end (appends) leave the disk
            // equal to the whole page cache: the mark moves to its end.
            let mut end = *n;
            let appended_only = dirty.iter().all(|&(s, e)| {
                let e = e.min(self.data.len());
                if s >= e {
                    return true;
                }
                let extends = s == end;
                end = e;
                extends
            });
            if appended_only && end == self.data.len() {
                *n = end;
                return;
            }
        }
        let data_len = self.data.len();
        // Split borrows: the copy is written from the page cache.
        if let Durable::Prefix(_) = self.durable {
            self.durable_copy();
        }
        let Durable::Copy(disk) = &mut self.durable else {
            unreachable!("made a copy above");
        };
        for (s, e) in dirty {
            let e = e.min(data_len);
            if s >= e {
                continue;
            }
            // Appended bytes (the usual case: a log or a new file) go on
            // the end, written once rather than zeroed and overwritten.
            if s == disk.len() {
                disk.extend_from_slice(&self.data[s..e]);
                continue;
            }
            if disk.len() < e {
                disk.resize(e, 0);
            }
            disk[s..e].copy_from_slice(&self.data[s..e]);
        }
        // The file's length is metadata and follows the page cache.
        disk.resize(data_len, 0);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DirOp {
    Link {
        name: String,
        inode: InodeId,
    },
    Unlink {
        name: String,
    },
    Rename {
        from: String,
        to: String,
        inode: InodeId,
    },
}

impl DirOp {
    fn touches(&self, dir: &str) -> bool {
        match self {
            DirOp::Link { name, .. } | DirOp::Unlink { name } => parent_dir(name) == dir,
            DirOp::Rename { from, to, .. } => parent_dir(from) == dir || parent_dir(to) == dir,
        }
    }

    fn apply(&self, names: &mut BTreeMap<String, InodeId>) {
        match self {
            DirOp::Link { name, inode } => {
                names.insert(name.clone(), *inode);
            }
            DirOp::Unlink { name } => {
                names.remove(name);
            }
            DirOp::Rename { from, to, inode } => {
                if names.get(from) == Some(inode) {
                    names.remove(from);
                }
                names.insert(to.clone(), *inode);
            }
        }
    }
}

/// Faults and behaviour switches of one node's disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskFaults {
    /// The next this-many fsyncs fail with EIO.
    pub fsync_failures: u32,
    /// Probability that any fsync fails with EIO.
    pub fsync_failure_rate: f64,
    /// Writes that would make the node's files larger than this fail with ENOSPC.
    pub quota_bytes: Option<u64>,
    /// With a quota: only files whose path starts with this share it (one
    /// volume of the node, as etcd's backend on a disk apart from its
    /// `--wal-dir`); other files grow freely. None: every file.
    pub quota_files: Option<String>,
    /// Probability that a read returns one flipped bit.
    pub bit_flip_rate: f64,
    /// Whether a crash may keep a torn prefix of unsynced appended bytes.
    pub torn_tail: bool,
}

/// What a crash did, for the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashReport {
    pub lost_bytes: u64,
    pub torn_files: Vec<(String, u64)>,
    pub lost_dir_ops: usize,
}

/// One node's file system.
#[derive(Debug, Clone, Default)]
pub struct FsModel {
    inodes: BTreeMap<InodeId, Inode>,
    names: BTreeMap<String, InodeId>,
    durable_names: BTreeMap<String, InodeId>,
    pending: Vec<DirOp>,
    next_inode: InodeId,
    pub faults: DiskFaults,
    pub fsyncs: u64,
}

impl FsModel {
    pub fn new() -> Self {
        Self::default()
    }

    fn inode(&self, path: &str) -> DiskResult<&Inode> {
        self.names
            .get(path)
            .and_then(|id| self.inodes.get(id))
            .ok_or_else(|| DiskError::NotFound {
                path: path.to_string(),
            })
    }

    fn inode_mut(&mut self, path: &str) -> DiskResult<&mut Inode> {
        let id = *self.names.get(path).ok_or_else(|| DiskError::NotFound {
            path: path.to_string(),
        })?;
        self.inodes.get_mut(&id).ok_or_else(|| DiskError::NotFound {
            path: path.to_string(),
        })
    }

    fn used_bytes(&self) -> u64 {
        self.inodes
            .values()
            .map(|i| i.data.len().max(i.durable_len()) as u64)
            .sum()
    }

    /// Bytes the files under `prefix` take (by name; a file no name
    /// reaches takes space on no volume the quota counts).
    fn used_bytes_under(&self, prefix: &str) -> u64 {
        self.names
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter_map(|(_, id)| self.inodes.get(id))
            .map(|i| i.data.len().max(i.durable_len()) as u64)
            .sum()
    }

    /// What the quota counts now: every file, or those of its volume.
    pub fn quota_used_bytes(&self) -> u64 {
        match &self.faults.quota_files {
            Some(prefix) => self.used_bytes_under(prefix),
            None => self.used_bytes(),
        }
    }

    fn check_space(&self, path: &str, growth: u64) -> DiskResult<()> {
        if let Some(prefix) = &self.faults.quota_files
            && !path.starts_with(prefix.as_str())
        {
            return Ok(());
        }
        match self.faults.quota_bytes {
            Some(quota) if growth > 0 && self.quota_used_bytes() + growth > quota => {
                Err(DiskError::NoSpace {
                    path: path.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    pub fn create(&mut self, path: &str) -> DiskResult<()> {
        if let Ok(inode) = self.inode_mut(path) {
            inode.before_change_at(0);
            inode.data.clear();
            inode.dirty.clear();
            return Ok(());
        }
        let id = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(id, Inode::default());
        self.names.insert(path.to_string(), id);
        self.pending.push(DirOp::Link {
            name: path.to_string(),
            inode: id,
        });
        Ok(())
    }

    pub fn exists(&self, path: &str) -> bool {
        self.names.contains_key(path)
    }

    pub fn append(&mut self, path: &str, data: &[u8]) -> DiskResult<u64> {
        self.check_space(path, data.len() as u64)?;
        let inode = self.inode_mut(path)?;
        let start = inode.data.len();
        inode.data.extend_from_slice(data);
        inode.mark_dirty(start, start + data.len());
        Ok(start as u64)
    }

    pub fn write_at(&mut self, path: &str, offset: u64, data: &[u8]) -> DiskResult<()> {
        let offset = offset as usize;
        let len = self.inode(path)?.data.len();
        let growth = (offset + data.len()).saturating_sub(len) as u64;
        self.check_space(path, growth)?;
        let inode = self.inode_mut(path)?;
        inode.before_change_at(offset);
        if inode.data.len() < offset + data.len() {
            inode.data.resize(offset + data.len(), 0);
        }
        inode.data[offset..offset + data.len()].copy_from_slice(data);
        inode.mark_dirty(offset, offset + data.len());
        Ok(())
    }

    /// Reads bytes; `flip` is a bit index to corrupt in the result (a read
    /// error the disk did not report).
    pub fn read(
        &self,
        path: &str,
        offset: u64,
        len: usize,
        flip: Option<u64>,
    ) -> DiskResult<Vec<u8>> {
        let data = &self.inode(path)?.data;
        let start = (offset as usize).min(data.len());
        let end = start.saturating_add(len).min(data.len());
        let mut out = data[start..end].to_vec();
        if let Some(bit) = flip
            && !out.is_empty()
        {
            let bit = (bit % (out.len() as u64 * 8)) as usize;
            out[bit / 8] ^= 1 << (bit % 8);
        }
        Ok(out)
    }

    pub fn len(&self, path: &str) -> DiskResult<u64> {
        Ok(self.inode(path)?.data.len() as u64)
    }

    pub fn truncate(&mut self, path: &str, len: u64) -> DiskResult<()> {
        let len = len as usize;
        let cur = self.inode(path)?.data.len();
        self.check_space(path, len.saturating_sub(cur) as u64)?;
        let inode = self.inode_mut(path)?;
        let old = inode.data.len();
        inode.before_change_at(len);
        inode.data.resize(len, 0);
        if len > old {
            inode.mark_dirty(old, len);
        }
        for r in inode.dirty.iter_mut() {
            r.1 = r.1.min(len);
        }
        inode.dirty.retain(|r| r.0 < r.1);
        Ok(())
    }

    /// fsync; `fail` says whether this one fails with EIO.
    pub fn fsync(&mut self, path: &str, fail: bool) -> DiskResult<()> {
        self.fsyncs += 1;
        let inode = self.inode_mut(path)?;
        if fail {
            inode.dirty.clear();
            return Err(DiskError::Io {
                path: path.to_string(),
                op: "fsync",
            });
        }
        inode.sync();
        Ok(())
    }

    pub fn rename(&mut self, from: &str, to: &str) -> DiskResult<()> {
        let id = *self.names.get(from).ok_or_else(|| DiskError::NotFound {
            path: from.to_string(),
        })?;
        self.names.remove(from);
        self.names.insert(to.to_string(), id);
        self.pending.push(DirOp::Rename {
            from: from.to_string(),
            to: to.to_string(),
            inode: id,
        });
        self.gc();
        Ok(())
    }

    pub fn remove(&mut self, path: &str) -> DiskResult<()> {
        if self.names.remove(path).is_none() {
            return Err(DiskError::NotFound {
                path: path.to_string(),
            });
        }
        self.pending.push(DirOp::Unlink {
            name: path.to_string(),
        });
        self.gc();
        Ok(())
    }

    pub fn list_dir(&self, dir: &str) -> Vec<String> {
        self.names
            .keys()
            .filter(|p| parent_dir(p) == dir)
            .map(|p| node::disk::file_name(p).to_string())
            .collect()
    }

    pub fn fsync_dir(&mut self, dir: &str) {
        let (now, later): (Vec<DirOp>, Vec<DirOp>) =
            self.pending.drain(..).partition(|op| op.touches(dir));
        for op in &now {
            op.apply(&mut self.durable_names);
        }
        self.pending = later;
        self.gc();
    }

    /// Drops inodes no name (current or durable) refers to any more.
    fn gc(&mut self) {
        let live: std::collections::BTreeSet<InodeId> = self
            .names
            .values()
            .chain(self.durable_names.values())
            .copied()
            .chain(self.pending.iter().filter_map(|op| match op {
                DirOp::Link { inode, .. } | DirOp::Rename { inode, .. } => Some(*inode),
                DirOp::Unlink { .. } => None,
            }))
            .collect();
        self.inodes.retain(|id, _| live.contains(id));
    }

    /// The process died: only what reached the disk stays.
    pub fn crash(&mut self, rng: &mut impl Rng) -> CrashReport {
        let mut report = CrashReport::default();
        let keep_ops = if self.pending.is_empty() {
            0
        } else {
            rng.gen_range(0..=self.pending.len())
        };
        report.lost_dir_ops = self.pending.len() - keep_ops;
        for op in self.pending.drain(..keep_ops) {
            op.apply(&mut self.durable_names);
        }
        self.pending.clear();
        self.names = self.durable_names.clone();
        let names_of: BTreeMap<InodeId, String> =
            self.names.iter().map(|(n, i)| (*i, n.clone())).collect();
        for (id, inode) in self.inodes.iter_mut() {
            // A torn tail: part of the unsynced bytes appended at the end.
            let mut torn = 0;
            if self.faults.torn_tail
                && let Some(&(s, e)) = inode.dirty.last()
                && s == inode.durable_len()
                && e == inode.data.len()
            {
                torn = rng.gen_range(0..=e - s);
                if torn > 0
                    && let Some(name) = names_of.get(id)
                {
                    report.torn_files.push((name.clone(), torn as u64));
                }
            }
            let before = inode.data.len();
            let kept = match std::mem::take(&mut inode.durable) {
                Durable::Prefix(n) => {
                    let mut kept = std::mem::take(&mut inode.data);
                    kept.truncate(n + torn);
                    kept
                }
                Durable::Copy(mut kept) => {
                    if torn > 0 {
                        let s = kept.len();
                        kept.extend_from_slice(&inode.data[s..s + torn]);
                    }
                    kept
                }
            };
            report.lost_bytes += before.abs_diff(kept.len()) as u64;
            inode.durable = Durable::Prefix(kept.len());
            inode.data = kept;
            inode.dirty.clear();
        }
        self.gc();
        report
    }

    /// Removes every file, durably (a wiped data directory).
    pub fn wipe(&mut self) {
        let faults = self.faults.clone();
        *self = FsModel::new();
        self.faults = faults;
    }

    /// Every file with what reads of it return now.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        self.names
            .iter()
            .filter_map(|(n, id)| self.inodes.get(id).map(|i| (n.clone(), i.data.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    /// Marking ranges dirty one by one keeps them as sorting and merging
    /// all of them at once would.
    #[test]
    fn dirty_ranges_stay_sorted_and_merged() {
        let mut rng = rng();
        for _ in 0..500 {
            let mut inode = Inode::default();
            let mut marked = Vec::new();
            for _ in 0..rng.gen_range(1..8) {
                let start = rng.gen_range(0..40);
                let end = start + rng.gen_range(0..8);
                inode.mark_dirty(start, end);
                if start < end {
                    marked.push((start, end));
                }
            }
            marked.sort_unstable();
            let mut merged: Vec<(usize, usize)> = Vec::new();
            for (s, e) in marked {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            assert_eq!(inode.dirty, merged);
        }
    }

    fn synced_file(fs: &mut FsModel, path: &str, data: &[u8]) {
        fs.create(path).expect("create");
        fs.append(path, data).expect("append");
        fs.fsync(path, false).expect("fsync");
        fs.fsync_dir(parent_dir(path));
    }

    #[test]
    fn unsynced_data_is_lost_on_crash() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "wal/a", b"durable");
        fs.append("wal/a", b"-volatile").expect("append");
        assert_eq!(
            fs.read("wal/a", 0, 100, None).expect("read"),
            b"durable-volatile"
        );
        let report = fs.crash(&mut rng());
        assert_eq!(fs.read("wal/a", 0, 100, None).expect("read"), b"durable");
        assert_eq!(report.lost_bytes, 9);
    }

    #[test]
    fn synced_data_survives_a_crash() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "db", b"abc");
        fs.write_at("db", 1, b"X").expect("write");
        fs.fsync("db", false).expect("fsync");
        fs.crash(&mut rng());
        assert_eq!(fs.read("db", 0, 10, None).expect("read"), b"aXc");
    }

    #[test]
    fn a_torn_tail_keeps_a_prefix_of_the_last_append() {
        for seed in 0..20 {
            let mut fs = FsModel::new();
            fs.faults.torn_tail = true;
            synced_file(&mut fs, "wal/a", b"head");
            fs.append("wal/a", b"0123456789").expect("append");
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            fs.crash(&mut r);
            let got = fs.read("wal/a", 0, 100, None).expect("read");
            assert!(got.starts_with(b"head"));
            assert!(b"head0123456789".starts_with(&got), "seed {seed}: {got:?}");
        }
    }

    #[test]
    fn without_torn_tails_nothing_unsynced_survives() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "wal/a", b"head");
        fs.append("wal/a", b"0123456789").expect("append");
        fs.crash(&mut rng());
        assert_eq!(fs.read("wal/a", 0, 100, None).expect("read"), b"head");
    }

    #[test]
    fn a_new_name_needs_a_directory_fsync() {
        let mut lost = 0;
        for seed in 0..20 {
            let mut fs = FsModel::new();
            fs.create("snap/1.snap").expect("create");
            fs.append("snap/1.snap", b"x").expect("append");
            fs.fsync("snap/1.snap", false).expect("fsync");
            fs.crash(&mut ChaCha8Rng::seed_from_u64(seed));
            if !fs.exists("snap/1.snap") {
                lost += 1;
            }
        }
        assert!(lost > 0, "an unsynced create must be losable");
        let mut fs = FsModel::new();
        synced_file(&mut fs, "snap/1.snap", b"x");
        fs.crash(&mut rng());
        assert!(fs.exists("snap/1.snap"));
    }

    #[test]
    fn rename_is_atomic_and_durable_after_dir_fsync() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "db", b"old");
        fs.create("db.tmp").expect("create");
        fs.append("db.tmp", b"new").expect("append");
        fs.fsync("db.tmp", false).expect("fsync");
        fs.rename("db.tmp", "db").expect("rename");
        // Before the directory fsync a crash leaves either the old or the new file.
        for seed in 0..10 {
            let mut copy = fs.clone();
            copy.crash(&mut ChaCha8Rng::seed_from_u64(seed));
            let got = copy
                .read("db", 0, 10, None)
                .expect("db exists in every outcome");
            assert!(got == b"old" || got == b"new", "{got:?}");
        }
        fs.fsync_dir("");
        fs.crash(&mut rng());
        assert_eq!(fs.read("db", 0, 10, None).expect("read"), b"new");
        assert!(!fs.exists("db.tmp"));
    }

    #[test]
    fn failed_fsync_drops_the_dirty_pages() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "wal/a", b"ok");
        fs.append("wal/a", b"-lost").expect("append");
        assert!(matches!(fs.fsync("wal/a", true), Err(DiskError::Io { .. })));
        // The page cache still shows the data...
        assert_eq!(fs.read("wal/a", 0, 10, None).expect("read"), b"ok-lost");
        // ...and a later fsync "succeeds" without writing it.
        fs.fsync("wal/a", false).expect("fsync");
        fs.crash(&mut rng());
        assert_eq!(
            fs.read("wal/a", 0, 10, None).expect("read"),
            b"ok\0\0\0\0\0"
        );
    }

    #[test]
    fn quota_gives_enospc() {
        let mut fs = FsModel::new();
        fs.faults.quota_bytes = Some(8);
        fs.create("a").expect("create");
        fs.append("a", b"12345678").expect("fits");
        assert!(matches!(
            fs.append("a", b"9"),
            Err(DiskError::NoSpace { .. })
        ));
        assert_eq!(fs.len("a").expect("len"), 8);
    }

    #[test]
    fn a_quota_on_one_volume_leaves_other_files_free() {
        let mut fs = FsModel::new();
        fs.create("wal/0").expect("create");
        fs.append("wal/0", b"0123456789").expect("no quota yet");
        fs.faults.quota_bytes = Some(4);
        fs.faults.quota_files = Some("db".into());
        fs.create("db").expect("create");
        fs.append("db", b"1234").expect("fits");
        assert!(matches!(
            fs.append("db", b"5"),
            Err(DiskError::NoSpace { .. })
        ));
        fs.append("wal/0", b"more")
            .expect("the WAL's volume is not full");
        assert_eq!(fs.quota_used_bytes(), 4);
    }

    #[test]
    fn bit_flips_only_affect_the_read() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "a", b"\0\0");
        assert_eq!(fs.read("a", 0, 2, Some(9)).expect("read"), vec![0, 2]);
        assert_eq!(fs.read("a", 0, 2, None).expect("read"), vec![0, 0]);
    }

    #[test]
    fn wipe_removes_everything() {
        let mut fs = FsModel::new();
        synced_file(&mut fs, "wal/a", b"x");
        fs.wipe();
        assert!(fs.files().is_empty());
        fs.crash(&mut rng());
        assert!(fs.files().is_empty());
    }
}

#[cfg(test)]
mod proptests {
    //! Drives the model and a tiny reference with random operations and
    //! crashes, and checks that what survives is allowed by the rules.
    use super::*;
    use proptest::prelude::*;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize),
        Append(usize, Vec<u8>),
        WriteAt(usize, u8, Vec<u8>),
        Fsync(usize),
        FsyncDir,
        Crash(u64),
    }

    const FILES: [&str; 3] = ["f0", "f1", "f2"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3usize).prop_map(Op::Create),
            (0..3usize, proptest::collection::vec(any::<u8>(), 1..6))
                .prop_map(|(f, d)| Op::Append(f, d)),
            (
                0..3usize,
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 1..4)
            )
                .prop_map(|(f, o, d)| Op::WriteAt(f, o % 16, d)),
            (0..3usize).prop_map(Op::Fsync),
            Just(Op::FsyncDir),
            any::<u64>().prop_map(Op::Crash),
        ]
    }

    /// Every file's durable bytes as a copy of their own, as the model kept
    /// them before durable prefixes of the page cache.
    fn copy_every_durable(fs: &mut FsModel) {
        for inode in fs.inodes.values_mut() {
            inode.durable_copy();
        }
    }

    /// One operation (then an optional truncation), and what it answered,
    /// crash reports and the crash's next random draw included.
    fn apply(fs: &mut FsModel, op: &Op, cut: Option<(usize, u8)>, fsync_fails: bool) -> String {
        let answer = match op {
            Op::Create(f) => format!("{:?}", fs.create(FILES[*f])),
            Op::Append(f, d) => format!("{:?}", fs.append(FILES[*f], d)),
            Op::WriteAt(f, o, d) => format!("{:?}", fs.write_at(FILES[*f], u64::from(*o), d)),
            Op::Fsync(f) => format!("{:?}", fs.fsync(FILES[*f], fsync_fails)),
            Op::FsyncDir => {
                fs.fsync_dir("");
                String::new()
            }
            Op::Crash(seed) => {
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                let report = fs.crash(&mut rng);
                format!("{report:?} then {}", rng.next_u64())
            }
        };
        let cut = cut.map(|(f, len)| fs.truncate(FILES[f], u64::from(len % 12)));
        format!("{answer} {cut:?}")
    }

    /// Also truncations, failing fsyncs and re-creating an existing file,
    /// which all take a durable prefix apart from the page cache.
    fn op_or_cut() -> impl Strategy<Value = (Op, Option<(usize, u8)>, bool)> {
        (
            op(),
            proptest::option::of((0..3usize, any::<u8>())),
            any::<bool>(),
        )
    }

    #[derive(Debug, Clone, Default)]
    struct RefFile {
        /// Content at the last successful fsync.
        synced: Vec<u8>,
        /// Content reads see.
        cache: Vec<u8>,
        /// Whether the name is known to survive a crash.
        name_durable: bool,
    }

    proptest! {
        /// Keeping durable bytes as a prefix of the page cache changes
        /// nothing anyone sees: reads, crash reports and the random draws
        /// of a crash are those of a model holding a copy of them.
        #[test]
        fn durable_prefixes_behave_as_copies(
            ops in proptest::collection::vec(op_or_cut(), 1..80),
            torn in any::<bool>(),
        ) {
            let mut prefixed = FsModel::new();
            let mut copied = FsModel::new();
            for fs in [&mut prefixed, &mut copied] {
                fs.faults.torn_tail = torn;
            }
            for (op, cut, fsync_fails) in ops {
                let step = apply(&mut prefixed, &op, cut, fsync_fails);
                prop_assert_eq!(step, apply(&mut copied, &op, cut, fsync_fails));
                copy_every_durable(&mut copied);
                prop_assert_eq!(prefixed.files(), copied.files());
                prop_assert_eq!(prefixed.quota_used_bytes(), copied.quota_used_bytes());
            }
            // What a last crash keeps, and what it draws.
            let mut a = ChaCha8Rng::seed_from_u64(3);
            let mut b = ChaCha8Rng::seed_from_u64(3);
            prop_assert_eq!(prefixed.crash(&mut a), copied.crash(&mut b));
            prop_assert_eq!(a.next_u64(), b.next_u64());
            prop_assert_eq!(prefixed.files(), copied.files());
        }

        #[test]
        fn what_survives_is_allowed(ops in proptest::collection::vec(op(), 1..60), torn in any::<bool>()) {
            let mut fs = FsModel::new();
            fs.faults.torn_tail = torn;
            let mut reference: BTreeMap<&str, RefFile> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Create(f) => {
                        if !reference.contains_key(FILES[f]) {
                            fs.create(FILES[f]).expect("create");
                            reference.insert(FILES[f], RefFile::default());
                        }
                    }
                    Op::Append(f, d) => {
                        let r = fs.append(FILES[f], &d);
                        match reference.get_mut(FILES[f]) {
                            Some(rf) => {
                                prop_assert!(r.is_ok());
                                rf.cache.extend_from_slice(&d);
                            }
                            None => prop_assert!(r.is_err()),
                        }
                    }
                    Op::WriteAt(f, o, d) => {
                        let r = fs.write_at(FILES[f], o as u64, &d);
                        match reference.get_mut(FILES[f]) {
                            Some(rf) => {
                                prop_assert!(r.is_ok());
                                let end = o as usize + d.len();
                                if rf.cache.len() < end {
                                    rf.cache.resize(end, 0);
                                }
                                rf.cache[o as usize..end].copy_from_slice(&d);
                            }
                            None => prop_assert!(r.is_err()),
                        }
                    }
                    Op::Fsync(f) => {
                        let r = fs.fsync(FILES[f], false);
                        if let Some(rf) = reference.get_mut(FILES[f]) {
                            prop_assert!(r.is_ok());
                            rf.synced = rf.cache.clone();
                        }
                    }
                    Op::FsyncDir => {
                        fs.fsync_dir("");
                        for rf in reference.values_mut() {
                            rf.name_durable = true;
                        }
                    }
                    Op::Crash(seed) => {
                        fs.crash(&mut ChaCha8Rng::seed_from_u64(seed));
                        let mut after = BTreeMap::new();
                        for (name, rf) in reference {
                            let exists = fs.exists(name);
                            if rf.name_durable {
                                prop_assert!(exists, "{name} was made durable but is gone");
                            }
                            if !exists {
                                continue;
                            }
                            let got = fs.read(name, 0, usize::MAX, None).expect("read");
                            let base = &rf.synced;
                            let ok = got == *base
                                || (torn
                                    && got.len() > base.len()
                                    && got.starts_with(base)
                                    && rf.cache.len() >= got.len()
                                    && got[base.len()..] == rf.cache[base.len()..got.len()]);
                            prop_assert!(ok, "{name}: got {got:?}, synced {base:?}, cache {:?}", rf.cache);
                            after.insert(name, RefFile { synced: got.clone(), cache: got, name_durable: rf.name_durable });
                        }
                        reference = after;
                    }
                }
                for (name, rf) in &reference {
                    prop_assert_eq!(&fs.read(name, 0, usize::MAX, None).expect("read"), &rf.cache);
                }
            }
        }
    }
}
