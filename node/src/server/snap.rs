//! Snapshot files: `snap/{term:016x}-{index:016x}.snap`, each holding the
//! raft snapshot metadata and the backend image, CRC-framed. Written to a
//! temporary name, fsynced and renamed, so a file under its final name is
//! always whole.

use crate::disk::{DiskError, DiskRef, join};
use crate::framing::{self, Decoded};
use bytes::Bytes;
use protobuf::Message as _;
use raft::eraftpb::{Snapshot, SnapshotMetadata};

pub const SNAP_DIR: &str = "snap";
const META_RECORD: u8 = 1;
const DATA_RECORD: u8 = 2;

fn file_name(index: u64, term: u64) -> String {
    format!("{term:016x}-{index:016x}.snap")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".snap")?;
    let (term, index) = stem.split_once('-')?;
    Some((
        u64::from_str_radix(index, 16).ok()?,
        u64::from_str_radix(term, 16).ok()?,
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error("snapshot {file} is damaged: {reason}")]
    Damaged { file: String, reason: String },
}

/// A snapshot file being built in memory: the metadata record, then the
/// data record, whose payload is appended in place (the backend image is
/// written once, into the file, and the snapshot's data is a view of it).
pub struct SnapFile {
    meta: SnapshotMetadata,
    buf: Vec<u8>,
    data: framing::Open,
}

impl SnapFile {
    pub fn new(meta: SnapshotMetadata) -> Result<SnapFile, SnapError> {
        let mut buf = Vec::new();
        let record = framing::open(&mut buf, META_RECORD);
        meta.write_to_vec(&mut buf)
            .map_err(|e| SnapError::Damaged {
                file: path_of(&meta),
                reason: e.to_string(),
            })?;
        framing::close(&mut buf, record);
        let data = framing::open(&mut buf, DATA_RECORD);
        Ok(SnapFile { meta, buf, data })
    }

    /// Where the snapshot's data goes: append it.
    pub fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The file's bytes, and the snapshot they hold (its data shares them).
    pub fn finish(self) -> (Bytes, Snapshot) {
        let SnapFile {
            meta,
            mut buf,
            data,
        } = self;
        let data_at = data.payload_at();
        framing::close(&mut buf, data);
        let file = Bytes::from(buf);
        let mut snap = Snapshot {
            data: file.slice(data_at..),
            ..Default::default()
        };
        snap.set_metadata(meta);
        (file, snap)
    }
}

fn path_of(meta: &SnapshotMetadata) -> String {
    join(SNAP_DIR, &file_name(meta.index, meta.term))
}

/// Writes a snapshot durably under its final name.
pub async fn save(disk: &DiskRef, snap: &Snapshot) -> Result<String, SnapError> {
    let mut file = SnapFile::new(snap.get_metadata().clone())?;
    file.data_mut().extend_from_slice(&snap.data);
    let (bytes, _) = file.finish();
    save_file(disk, snap.get_metadata(), &bytes).await
}

/// Writes a built snapshot file durably under its final name: to a
/// temporary name, fsynced, renamed.
pub async fn save_file(
    disk: &DiskRef,
    meta: &SnapshotMetadata,
    bytes: &[u8],
) -> Result<String, SnapError> {
    let path = path_of(meta);
    let tmp = format!("{path}.tmp");
    disk.create(&tmp).await?;
    disk.append(&tmp, bytes).await?;
    disk.fsync(&tmp).await?;
    disk.rename(&tmp, &path).await?;
    disk.fsync_dir(SNAP_DIR).await?;
    Ok(path)
}

/// Reads one snapshot file (its data is a view of the bytes read).
pub async fn load(disk: &DiskRef, path: &str) -> Result<Snapshot, SnapError> {
    let buf = Bytes::from(disk.read_all(path).await?);
    let damaged = |reason: String| SnapError::Damaged {
        file: path.to_string(),
        reason,
    };
    let (meta, next) = match framing::decode_at(&buf, 0) {
        Decoded::Record {
            kind: META_RECORD,
            payload,
            next,
        } => (payload, next),
        other => return Err(damaged(format!("bad metadata record: {other:?}"))),
    };
    let data = match framing::decode_at(&buf, next) {
        Decoded::Record {
            kind: DATA_RECORD,
            payload,
            next,
        } => next - payload.len()..next,
        Decoded::Corrupt(r) => return Err(damaged(r)),
        _ => return Err(damaged("missing data record".into())),
    };
    let meta = SnapshotMetadata::parse_from_bytes(meta).map_err(|e| damaged(e.to_string()))?;
    let mut snap = Snapshot {
        data: buf.slice(data),
        ..Default::default()
    };
    snap.set_metadata(meta);
    Ok(snap)
}

/// Snapshot files on disk as (index, term, path), newest first.
pub async fn list(disk: &DiskRef) -> Result<Vec<(u64, u64, String)>, SnapError> {
    let mut out: Vec<(u64, u64, String)> = disk
        .list_dir(SNAP_DIR)
        .await?
        .into_iter()
        .filter_map(|n| parse_name(&n).map(|(i, t)| (i, t, join(SNAP_DIR, &n))))
        .collect();
    out.sort_by(|a, b| b.cmp(a));
    Ok(out)
}

/// Removes temporary files of saves a crash interrupted (at start only:
/// later, a save may be writing one).
pub async fn remove_leftovers(disk: &DiskRef) -> Result<usize, SnapError> {
    let mut removed = 0;
    for name in disk.list_dir(SNAP_DIR).await? {
        if name.ends_with(".tmp") {
            disk.remove(&join(SNAP_DIR, &name)).await?;
            removed += 1;
        }
    }
    if removed > 0 {
        disk.fsync_dir(SNAP_DIR).await?;
    }
    Ok(removed)
}

/// Removes all but the newest `keep` snapshot files, never one in
/// `pending` (received, not yet applied).
pub async fn purge(
    disk: &DiskRef,
    keep: usize,
    pending: &std::collections::BTreeSet<u64>,
) -> Result<usize, SnapError> {
    let mut removed = 0;
    for (index, _, path) in list(disk).await?.into_iter().skip(keep) {
        if pending.contains(&index) {
            continue;
        }
        disk.remove(&path).await?;
        removed += 1;
    }
    if removed > 0 {
        disk.fsync_dir(SNAP_DIR).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_file_holds_the_metadata_and_the_data_it_shares() {
        let meta = SnapshotMetadata {
            index: 300,
            term: 2,
            ..Default::default()
        };
        let mut file = SnapFile::new(meta.clone()).expect("metadata encodes");
        file.data_mut().extend_from_slice(b"backend ");
        file.data_mut().extend_from_slice(b"image");
        let (bytes, snap) = file.finish();
        assert_eq!(&snap.data[..], b"backend image");
        assert_eq!(snap.get_metadata(), &meta);
        // The file is the two records `load` reads, the data record last.
        let Decoded::Record {
            kind: META_RECORD,
            payload,
            next,
        } = framing::decode_at(&bytes, 0)
        else {
            panic!("metadata record first");
        };
        assert_eq!(SnapshotMetadata::parse_from_bytes(payload).ok(), Some(meta));
        let Decoded::Record {
            kind: DATA_RECORD,
            payload,
            next,
        } = framing::decode_at(&bytes, next)
        else {
            panic!("data record second");
        };
        assert_eq!(payload, b"backend image");
        assert_eq!(next, bytes.len());
    }

    #[test]
    fn names_round_trip_and_sort_by_index() {
        assert_eq!(parse_name(&file_name(300, 2)), Some((300, 2)));
        assert_eq!(parse_name("x.snap"), None);
        assert_eq!(
            parse_name("0000000000000001-0000000000000002.snap.tmp"),
            None
        );
    }
}
