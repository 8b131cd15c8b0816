//! The writes etcd's members persisted, read from the write-ahead logs kept
//! in a report's `server-*` folders, as etcd's robustness validation reads
//! them (etcd `tests/robustness/report/wal.go`: `LoadClusterPersistedRequests`,
//! `ReadWAL`, `mergeMembersEntries`, `parseEntryNormal`).
//!
//! A WAL file (`server-NAME/member/wal/*.wal`, read in name order) is a
//! sequence of frames: a little-endian u64 whose low 56 bits are the record's
//! length and whose top byte, when its high bit is set, holds the padding
//! after it; then a `walpb.Record` (protobuf: type, crc, data). Each record's
//! crc is the CRC-32C of its data continued from the previous record's
//! (a `crc` record at the start of each file carries the running value
//! over). A zero frame is the preallocated end of a file; a frame cut short
//! is a torn write, which etcd repairs by dropping it, as is done here.
//! Entry records hold `raftpb.Entry`s (a later entry of the same index
//! replaces the earlier and everything after it), state records the
//! `HardState` with the commit index. The members' entries are merged by
//! raft index, the entry most members hold winning; past the lowest commit
//! index a disagreement goes to the higher term. Normal entries hold an
//! `InternalRaftRequest`: its puts, deletes (also inside transactions) and
//! compactions are the persisted writes.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use prost::Message;

use super::value;

/// Where a member's WAL lives inside its data directory (etcd's
/// `datadir.ToWALDir`).
pub const WAL_DIR: [&str; 2] = ["member", "wal"];

/// The prefix of a member's data directory in a report.
pub const SERVER_DIR_PREFIX: &str = "server-";

/// Largest WAL file read (etcd's segments are 64 MB, preallocated).
pub const MAX_WAL_FILE_BYTES: u64 = 256 << 20;

/// Largest record etcd's decoder accepts (`maxWALEntrySizeLimit`).
const MAX_RECORD_BYTES: u64 = 10 << 20;

/// A write a member persisted, as etcd's validation counts them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PersistedWrite {
    /// A put of `value` (as etcd's format keeps it: long values hashed).
    Put {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    Compact {
        revision: i64,
    },
}

/// What the report's WALs say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    /// The members whose WAL was read, by folder.
    pub members: Vec<PathBuf>,
    /// Members whose WAL could not be read (skipped, as etcd does), and why.
    pub unreadable: Vec<String>,
    /// Every write of the merged log, in log order.
    pub writes: Vec<PersistedWrite>,
}

/// A WAL that cannot be read or merged: displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}", file = file.display())]
pub struct WalError {
    pub file: PathBuf,
    pub message: String,
}

// The protobuf messages, as far as they are read (etcd's walpb, raftpb and
// etcdserverpb; unknown fields are skipped).

#[derive(Clone, PartialEq, Message)]
struct Record {
    #[prost(int64, tag = "1")]
    kind: i64,
    #[prost(uint32, tag = "2")]
    crc: u32,
    #[prost(bytes = "vec", tag = "3")]
    data: Vec<u8>,
}

const METADATA_RECORD: i64 = 1;
const ENTRY_RECORD: i64 = 2;
const STATE_RECORD: i64 = 3;
const CRC_RECORD: i64 = 4;
const SNAPSHOT_RECORD: i64 = 5;

#[derive(Clone, PartialEq, Message)]
struct Entry {
    #[prost(uint64, tag = "2")]
    term: u64,
    #[prost(uint64, tag = "3")]
    index: u64,
    /// 0 normal, 1 conf change, 2 conf change v2.
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(bytes = "vec", tag = "4")]
    data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct HardState {
    #[prost(uint64, tag = "1")]
    term: u64,
    #[prost(uint64, tag = "2")]
    vote: u64,
    #[prost(uint64, tag = "3")]
    commit: u64,
}

#[derive(Clone, PartialEq, Message)]
struct InternalRaftRequest {
    #[prost(message, optional, tag = "4")]
    put: Option<PutRequest>,
    #[prost(message, optional, tag = "5")]
    delete_range: Option<DeleteRangeRequest>,
    #[prost(message, optional, tag = "6")]
    txn: Option<TxnRequest>,
    #[prost(message, optional, tag = "7")]
    compaction: Option<CompactionRequest>,
}

#[derive(Clone, PartialEq, Message)]
struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct TxnRequest {
    #[prost(message, repeated, tag = "2")]
    success: Vec<RequestOp>,
    #[prost(message, repeated, tag = "3")]
    failure: Vec<RequestOp>,
}

#[derive(Clone, PartialEq, Message)]
struct RequestOp {
    #[prost(message, optional, tag = "2")]
    request_put: Option<PutRequest>,
    #[prost(message, optional, tag = "3")]
    request_delete_range: Option<DeleteRangeRequest>,
}

#[derive(Clone, PartialEq, Message)]
struct CompactionRequest {
    #[prost(int64, tag = "1")]
    revision: i64,
}

/// One member's log: its entries by index and its last commit index.
#[derive(Debug, Clone, Default, PartialEq)]
struct MemberLog {
    commit: u64,
    entries: Vec<Entry>,
}

/// The persisted writes of a report folder; `None` when it holds no member
/// folder with a WAL (then etcd's validation resolves nothing either).
pub fn read_persisted(report: &Path) -> Result<Option<Persisted>, WalError> {
    let error = |message: String| WalError {
        file: report.to_path_buf(),
        message,
    };
    let mut members = vec![];
    let entries =
        fs::read_dir(report).map_err(|e| error(format!("cannot read the folder: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| error(format!("cannot read the folder: {e}")))?;
        let is_server = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(SERVER_DIR_PREFIX));
        let wal = WAL_DIR.iter().fold(entry.path(), |p, d| p.join(d));
        if is_server && wal.is_dir() {
            members.push(entry.path());
        }
    }
    if members.is_empty() {
        return Ok(None);
    }
    members.sort();
    let mut persisted = Persisted::default();
    let mut logs = vec![];
    for member in members {
        let wal = WAL_DIR.iter().fold(member.clone(), |p, d| p.join(d));
        match read_member(&wal) {
            Ok(log) => {
                logs.push(log);
                persisted.members.push(member);
            }
            // etcd's validation logs the member and goes on without it.
            Err(e) => {
                tracing::warn!(error = %e, "WAL not read");
                persisted.unreadable.push(e.to_string());
            }
        }
    }
    if logs.is_empty() {
        return Ok(Some(persisted));
    }
    let merged = merge(&logs).map_err(error)?;
    for entry in merged.iter().filter(|e| e.kind == 0) {
        persisted.writes.extend(writes_of(entry));
    }
    Ok(Some(persisted))
}

/// A member's WAL folder: its `.wal` files in name order, one record
/// stream with one running crc.
fn read_member(dir: &Path) -> Result<MemberLog, WalError> {
    let error = |file: &Path, message: String| WalError {
        file: file.to_path_buf(),
        message,
    };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| error(dir, format!("cannot read the folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(error(dir, "no .wal file".into()));
    }
    let mut log = MemberLog::default();
    let mut crc: u32 = 0;
    for file in &files {
        let bytes = read_bounded(file).map_err(|m| error(file, m))?;
        let torn = decode_file(&bytes, &mut crc, &mut log).map_err(|m| error(file, m))?;
        if torn {
            // etcd repairs a torn tail by cutting it; nothing after it counts.
            break;
        }
    }
    Ok(log)
}

fn read_bounded(file: &Path) -> Result<Vec<u8>, String> {
    let f = fs::File::open(file).map_err(|e| format!("cannot read the file: {e}"))?;
    let size = f
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    if size > MAX_WAL_FILE_BYTES {
        return Err(format!(
            "the file has {size} bytes, more than the {MAX_WAL_FILE_BYTES} read"
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(MAX_WAL_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}

/// Decodes one file's records into `log`, carrying the running crc. Returns
/// whether the file ended in a torn (cut short) record.
fn decode_file(bytes: &[u8], crc: &mut u32, log: &mut MemberLog) -> Result<bool, String> {
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let frame = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        if frame == 0 {
            // The preallocated, never written end of the file.
            return Ok(false);
        }
        let length = frame & !(0xff << 56);
        let padding = if frame >> 63 == 1 {
            (frame >> 56) & 0x7
        } else {
            0
        };
        if length >= MAX_RECORD_BYTES {
            return Err(format!(
                "byte {at}: a record of {length} bytes, more than etcd's limit of {MAX_RECORD_BYTES}"
            ));
        }
        let start = at + 8;
        let end = start + (length + padding) as usize;
        if end > bytes.len() {
            return Ok(true);
        }
        let record = Record::decode(&bytes[start..start + length as usize])
            .map_err(|e| format!("byte {at}: expected a WAL record (walpb.Record): {e}"))?;
        if record.kind == CRC_RECORD {
            if *crc != 0 && record.crc != *crc {
                return Err(format!(
                    "byte {at}: the file carries crc {:#010x} over, the previous records end at {crc:#010x}",
                    record.crc
                ));
            }
            *crc = record.crc;
        } else {
            *crc = crc32c::crc32c_append(*crc, &record.data);
            if record.crc != *crc {
                return Err(format!(
                    "byte {at}: crc mismatch (record {:#010x}, data {crc:#010x})",
                    record.crc
                ));
            }
        }
        match record.kind {
            ENTRY_RECORD => {
                let entry = Entry::decode(record.data.as_slice())
                    .map_err(|e| format!("byte {at}: expected a raft entry: {e}"))?;
                // A rewritten index replaces that entry and all after it.
                let keep = log.entries.partition_point(|e| e.index < entry.index);
                log.entries.truncate(keep);
                log.entries.push(entry);
            }
            STATE_RECORD => {
                let state = HardState::decode(record.data.as_slice())
                    .map_err(|e| format!("byte {at}: expected a raft hard state: {e}"))?;
                log.commit = state.commit;
            }
            METADATA_RECORD | CRC_RECORD | SNAPSHOT_RECORD => {}
            other => return Err(format!("byte {at}: unknown WAL record type {other}")),
        }
        at = end;
    }
    // Bytes left that cannot hold a frame: a torn frame header, unless zero.
    Ok(bytes[at..].iter().any(|b| *b != 0))
}

fn same(a: &Entry, b: &Entry) -> bool {
    a.index == b.index && a.term == b.term && a.kind == b.kind && a.data == b.data
}

/// etcd's `mergeMembersEntries`: per raft index from 1, the entry most
/// members agree on; past the lowest commit index a disagreement of terms
/// goes to the higher term, anything else is an error.
fn merge(logs: &[MemberLog]) -> Result<Vec<Entry>, String> {
    for log in logs {
        if log.entries.windows(2).any(|w| w[1].index <= w[0].index) {
            return Err("a member's raft indexes do not increase".into());
        }
    }
    let min_commit = logs.iter().map(|l| l.commit).min().unwrap_or(0);
    let mut next = vec![0usize; logs.len()];
    let mut merged = vec![];
    let mut index = 0u64;
    loop {
        index += 1;
        let mut left = false;
        for (i, log) in logs.iter().enumerate() {
            while next[i] < log.entries.len() && log.entries[next[i]].index < index {
                next[i] += 1;
            }
            left |= next[i] < log.entries.len();
        }
        if !left {
            break;
        }
        let at: Vec<Option<&Entry>> = logs
            .iter()
            .zip(&next)
            .map(|(l, &n)| l.entries.get(n).filter(|e| e.index == index))
            .collect();
        let votes: Vec<usize> = at
            .iter()
            .map(|a| match a {
                Some(a) => at.iter().flatten().filter(|b| same(a, b)).count(),
                None => 0,
            })
            .collect();
        let top = votes.iter().copied().max().unwrap_or(0);
        if top == 0 {
            return Err(format!("no member holds raft index {index}"));
        }
        let mut chosen: Option<&Entry> = None;
        for (entry, _) in at.iter().zip(&votes).filter(|(_, v)| **v == top) {
            let entry = entry.expect("voted entries exist");
            match chosen {
                None => chosen = Some(entry),
                Some(c) if c.term != entry.term && entry.index > min_commit => {
                    if entry.term > c.term {
                        chosen = Some(entry);
                    }
                }
                Some(c) if !same(c, entry) => {
                    return Err(format!("members disagree on raft index {index}"));
                }
                Some(_) => {}
            }
        }
        merged.push(chosen.expect("top > 0").clone());
    }
    if merged.is_empty() {
        return Err("no WAL entries".into());
    }
    Ok(merged)
}

/// The writes of a normal entry. Entries that are no `InternalRaftRequest`
/// (etcd 3.4 and 3.5 bootstrap with v2 requests) hold none, as for etcd.
fn writes_of(entry: &Entry) -> Vec<PersistedWrite> {
    let Ok(request) = InternalRaftRequest::decode(entry.data.as_slice()) else {
        return vec![];
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let put = |p: &PutRequest| PersistedWrite::Put {
        key: text(&p.key),
        value: value::as_recorded(&text(&p.value)),
    };
    let delete = |d: &DeleteRangeRequest| PersistedWrite::Delete { key: text(&d.key) };
    let mut writes = vec![];
    if let Some(p) = &request.put {
        writes.push(put(p));
    }
    if let Some(d) = &request.delete_range {
        writes.push(delete(d));
    }
    if let Some(t) = &request.txn {
        for op in t.success.iter().chain(&t.failure) {
            writes.extend(op.request_put.as_ref().map(put));
            writes.extend(op.request_delete_range.as_ref().map(delete));
        }
    }
    if let Some(c) = &request.compaction {
        writes.push(PersistedWrite::Compact {
            revision: c.revision,
        });
    }
    writes
}

/// How often each write was persisted.
pub fn counts(writes: &[PersistedWrite]) -> HashMap<&PersistedWrite, usize> {
    let mut counts = HashMap::new();
    for w in writes {
        *counts.entry(w).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(record: &Record) -> Vec<u8> {
        let data = record.encode_to_vec();
        let pad = (8 - data.len() % 8) % 8;
        let mut frame = data.len() as u64;
        if pad > 0 {
            frame |= (0x80 | pad as u64) << 56;
        }
        let mut out = frame.to_le_bytes().to_vec();
        out.extend(&data);
        out.extend(std::iter::repeat_n(0, pad));
        out
    }

    fn entry_record(crc: &mut u32, entry: &Entry) -> Record {
        let data = entry.encode_to_vec();
        *crc = crc32c::crc32c_append(*crc, &data);
        Record {
            kind: ENTRY_RECORD,
            crc: *crc,
            data,
        }
    }

    fn put_entry(index: u64, term: u64, key: &str, value: &str) -> Entry {
        let request = InternalRaftRequest {
            put: Some(PutRequest {
                key: key.into(),
                value: value.into(),
            }),
            delete_range: None,
            txn: None,
            compaction: None,
        };
        Entry {
            term,
            index,
            kind: 0,
            data: request.encode_to_vec(),
        }
    }

    #[test]
    fn a_bad_crc_is_refused_and_a_torn_tail_dropped() {
        let mut crc = 0;
        let mut bytes = frame(&entry_record(&mut crc, &put_entry(1, 1, "a", "1")));
        let second = frame(&entry_record(&mut crc, &put_entry(2, 1, "b", "2")));
        bytes.extend(&second[..second.len() - 3]);
        let mut log = MemberLog::default();
        let mut running = 0;
        assert_eq!(decode_file(&bytes, &mut running, &mut log), Ok(true));
        assert_eq!(log.entries.len(), 1);

        let mut broken = frame(&entry_record(&mut 0, &put_entry(1, 1, "a", "1")));
        let last = broken.len() - 1;
        broken[last - 2] ^= 1; // a data byte (the record is not padded to it)
        let mut log = MemberLog::default();
        let err = decode_file(&broken, &mut 0, &mut log).unwrap_err();
        assert!(
            err.contains("crc mismatch") || err.contains("expected"),
            "{err}"
        );
    }

    #[test]
    fn a_rewritten_index_replaces_the_tail() {
        let mut crc = 0;
        let mut bytes = vec![];
        for e in [
            put_entry(1, 1, "a", "1"),
            put_entry(2, 1, "b", "2"),
            put_entry(3, 1, "c", "3"),
            put_entry(2, 2, "d", "4"),
        ] {
            bytes.extend(frame(&entry_record(&mut crc, &e)));
        }
        let mut log = MemberLog::default();
        decode_file(&bytes, &mut 0, &mut log).unwrap();
        let keys: Vec<_> = log.entries.iter().flat_map(writes_of).collect();
        assert_eq!(
            keys,
            vec![
                PersistedWrite::Put {
                    key: "a".into(),
                    value: "1".into()
                },
                PersistedWrite::Put {
                    key: "d".into(),
                    value: "4".into()
                },
            ]
        );
    }

    #[test]
    fn members_merge_by_majority_and_higher_term_past_the_commit() {
        let log = |commit, entries: Vec<Entry>| MemberLog { commit, entries };
        let a1 = put_entry(1, 1, "a", "1");
        let b2 = put_entry(2, 1, "b", "2");
        let c2 = put_entry(2, 2, "c", "3");
        // Two members hold b at index 2, one c: the majority wins.
        let merged = merge(&[
            log(2, vec![a1.clone(), b2.clone()]),
            log(2, vec![a1.clone(), b2.clone()]),
            log(1, vec![a1.clone(), c2.clone()]),
        ])
        .unwrap();
        assert_eq!(merged[1], b2);
        // A tie past the lowest commit index goes to the higher term.
        let merged = merge(&[
            log(1, vec![a1.clone(), b2.clone()]),
            log(1, vec![a1.clone(), c2.clone()]),
        ])
        .unwrap();
        assert_eq!(merged[1], c2);
        // A gap no member fills is an error.
        assert!(merge(&[log(1, vec![a1, c2.clone()]), log(1, vec![c2])]).is_ok());
        assert!(merge(&[log(0, vec![put_entry(2, 1, "x", "y")])]).is_err());
    }

    fn real_wal() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/etcd-robustness/wal-resolves/server-m0/member/wal/",
            "0000000000000000-0000000000000000.wal"
        );
        std::fs::read(path).expect("the fixture WAL")
    }

    /// Decodes, merges and reads the writes of `bytes` as one member's WAL.
    fn read_all(bytes: &[u8]) {
        let mut log = MemberLog::default();
        if decode_file(bytes, &mut 0, &mut log).is_ok()
            && let Ok(merged) = merge(&[log])
        {
            for e in &merged {
                writes_of(e);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            read_all(&bytes);
        }

        #[test]
        fn an_edited_or_cut_real_wal_never_panics(
            at in 0usize..1184,
            byte in proptest::prelude::any::<u8>(),
            cut in 0usize..1184,
        ) {
            let mut bytes = real_wal();
            bytes[at] = byte;
            read_all(&bytes);
            read_all(&bytes[..cut]);
        }
    }
}
