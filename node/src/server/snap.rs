//! Snapshot files: `snap/{term:016x}-{index:016x}.snap`, each holding the
//! raft snapshot metadata and the backend image, CRC-framed. Written to a
//! temporary name, fsynced and renamed, so a file under its final name is
//! always whole.

use crate::disk::{DiskError, DiskRef, join};
use crate::framing::{self, Decoded};
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

/// Writes a snapshot durably under its final name.
pub async fn save(disk: &DiskRef, snap: &Snapshot) -> Result<String, SnapError> {
    let meta = snap.get_metadata();
    let name = file_name(meta.index, meta.term);
    let path = join(SNAP_DIR, &name);
    let tmp = format!("{path}.tmp");
    let meta_bytes = meta.write_to_bytes().map_err(|e| SnapError::Damaged {
        file: path.clone(),
        reason: e.to_string(),
    })?;
    let mut buf = Vec::with_capacity(snap.data.len() + meta_bytes.len() + 2 * framing::HEADER_LEN);
    framing::encode(&mut buf, META_RECORD, &meta_bytes);
    framing::encode(&mut buf, DATA_RECORD, &snap.data);
    disk.create(&tmp).await?;
    disk.append(&tmp, &buf).await?;
    disk.fsync(&tmp).await?;
    disk.rename(&tmp, &path).await?;
    disk.fsync_dir(SNAP_DIR).await?;
    Ok(path)
}

/// Reads one snapshot file.
pub async fn load(disk: &DiskRef, path: &str) -> Result<Snapshot, SnapError> {
    let buf = disk.read_all(path).await?;
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
            ..
        } => payload,
        Decoded::Corrupt(r) => return Err(damaged(r)),
        _ => return Err(damaged("missing data record".into())),
    };
    let mut snap = Snapshot::default();
    let meta = SnapshotMetadata::parse_from_bytes(meta).map_err(|e| damaged(e.to_string()))?;
    snap.set_metadata(meta);
    snap.data = data.to_vec().into();
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
    fn names_round_trip_and_sort_by_index() {
        assert_eq!(parse_name(&file_name(300, 2)), Some((300, 2)));
        assert_eq!(parse_name("x.snap"), None);
        assert_eq!(
            parse_name("0000000000000001-0000000000000002.snap.tmp"),
            None
        );
    }
}
