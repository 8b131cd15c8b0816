//! What a member's files say of etcd's raft snapshots: the snapshots it
//! took (`member/snap/<term>-<index>.snap` in its data directory, both
//! numbers as 16 hex digits, etcd's `snap.Snapshotter` naming), and, from
//! its log, the snapshots it sent to a peer and the ones it received and
//! applied in place of the log entries it missed.
//!
//! Why the index of a snapshot matters: after each snapshot at index `s`,
//! etcd 3.4 compacts its in-memory raft log up to `s - 5000`
//! (`SnapshotCatchUpEntries`, not a flag in 3.4), and a leader sends a
//! snapshot to a follower whose next entry it no longer holds. So a
//! member behind at index `a` is caught up by a snapshot once the
//! leader's snapshot index is past `a + 5000`.
//!
//! The log lines are those of etcd 3.4's default logger (capnslog), which
//! the cluster's members run with.

use super::Cluster;
use std::path::Path;

/// etcd 3.4's `DefaultSnapshotCatchUpEntries`: the raft entries a member
/// keeps before its newest snapshot for followers that lag.
pub const CATCH_UP_ENTRIES: u64 = 5000;

/// A snapshot file's name, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapFile {
    pub term: u64,
    pub index: u64,
}

impl SnapFile {
    /// `0000000000000002-0000000000001388.snap`: term 2, index 5000. Any
    /// other name (a `.snap.db`, a `.broken` file etcd set aside) is none.
    pub fn parse(name: &str) -> Option<SnapFile> {
        let (term, index) = name.strip_suffix(".snap")?.split_once('-')?;
        let hex = |s: &str| {
            (s.len() == 16)
                .then(|| u64::from_str_radix(s, 16).ok())
                .flatten()
        };
        Some(SnapFile {
            term: hex(term)?,
            index: hex(index)?,
        })
    }
}

/// The newest snapshot file in a data directory, if it has any.
pub fn newest_in(data_dir: &Path) -> Option<SnapFile> {
    std::fs::read_dir(data_dir.join("member").join("snap"))
        .ok()?
        .flatten()
        .filter_map(|e| SnapFile::parse(e.file_name().to_str()?))
        .max_by_key(|s| s.index)
}

/// The indexes of the snapshots a log says were received from a peer and
/// applied (etcd 3.4, `EtcdServer.applySnapshot`: "finished applying
/// incoming snapshot at index N").
pub fn applied_in(log: &str) -> Vec<u64> {
    numbers_after(log, "finished applying incoming snapshot at index ")
}

/// The indexes of the snapshots a log says were sent to a peer (etcd 3.4,
/// rafthttp's `snapshotSender`: "database snapshot [index: N, to: ID]
/// sent out successfully").
pub fn sent_in(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("] sent out successfully"))
        .flat_map(|l| numbers_after(l, "database snapshot [index: "))
        .collect()
}

/// The decimal number after each `marker` in `text`.
fn numbers_after(text: &str, marker: &str) -> Vec<u64> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

impl Cluster {
    /// The newest snapshot member `i` has taken (or received).
    pub fn newest_snapshot(&self, i: usize) -> Option<SnapFile> {
        newest_in(&self.members[i].data_dir())
    }

    /// The snapshots member `i` received from a peer and applied, by index.
    pub fn snapshots_applied(&self, i: usize) -> Vec<u64> {
        applied_in(&self.log(i))
    }

    /// The snapshots member `i` sent to a peer, by index.
    pub fn snapshots_sent(&self, i: usize) -> Vec<u64> {
        sent_in(&self.log(i))
    }

    /// Member `i`'s whole log (every start of it appends).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.members[i].log()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_file_names_are_etcd_s_hex_pairs() {
        assert_eq!(
            SnapFile::parse("0000000000000002-0000000000001388.snap"),
            Some(SnapFile {
                term: 2,
                index: 5000
            })
        );
        for other in [
            "0000000000001388.snap.db",
            "0000000000000002-0000000000001388.snap.broken",
            "2-1388.snap",
            "000000000000000g-0000000000001388.snap",
            "db",
        ] {
            assert_eq!(SnapFile::parse(other), None, "{other}");
        }
    }

    #[test]
    fn the_newest_snapshot_is_the_highest_index_not_the_last_name() {
        let dir = tempfile::tempdir().expect("a folder");
        assert_eq!(newest_in(dir.path()), None);
        let snap = dir.path().join("member").join("snap");
        std::fs::create_dir_all(&snap).expect("snap folder");
        for name in [
            "0000000000000003-0000000000000065.snap",
            "0000000000000002-00000000000000ca.snap",
            "00000000000000ca.snap.db",
        ] {
            std::fs::write(snap.join(name), b"").expect("a file");
        }
        assert_eq!(
            newest_in(dir.path()),
            Some(SnapFile {
                term: 2,
                index: 0xca
            })
        );
    }

    #[test]
    fn sent_and_applied_snapshots_are_read_from_capnslog_lines() {
        let log = "\
2026-12-06 19:00:01.000001 I | rafthttp: start to send database snapshot [index: 6205, to 8e9e05c52164694d, size 25 kB]...
2026-12-06 19:00:01.200000 I | rafthttp: database snapshot [index: 6205, to: 8e9e05c52164694d] sent out successfully
2026-12-06 19:00:01.300000 I | etcdserver: applying snapshot at index 100...
2026-12-06 19:00:01.400000 I | etcdserver: finished applying incoming snapshot at index 6205
2026-12-06 19:00:02.000000 I | etcdserver: saved snapshot at index 6306
";
        assert_eq!(sent_in(log), [6205]);
        assert_eq!(applied_in(log), [6205]);
        assert!(sent_in("saved snapshot at index 5").is_empty());
        assert!(applied_in("applying snapshot at index 5...").is_empty());
    }
}
