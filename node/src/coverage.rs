//! Coverage points: rare and dangerous states the store should *sometimes*
//! reach (Antithesis' "sometimes" assertions). Reaching one is not a
//! verdict; a point no campaign reaches is a gap in the catalog, the
//! traffic or the knobs, and tells what was not tested. The store reports
//! each reach to its host ([`crate::host::Host::reached`]); the world
//! counts them per run.

use std::fmt;

macro_rules! points {
    ($( $variant:ident $name:literal $what:literal; )*) => {
        /// One coverage point: its name in reports, and the state it marks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Point {
            $($variant),*
        }

        impl Point {
            pub const ALL: &'static [Point] = &[$(Point::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Point::$variant => $name),*
                }
            }

            /// The state it marks, in one line.
            pub fn what(self) -> &'static str {
                match self {
                    $(Point::$variant => $what),*
                }
            }

            /// The point named `name`, if there is one.
            pub fn parse(name: &str) -> Option<Point> {
                Point::ALL.iter().copied().find(|p| p.name() == name)
            }

            /// Its position in [`Point::ALL`] (for counters indexed by point).
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

points! {
    WatchVictim "watch.victim"
        "a watcher's stream was full, so it moved to the victims with its response pending";
    WatchVictimRecovered "watch.victim-recovered"
        "a victim's pending responses all went out and it rejoined the synced or unsynced group";
    WatchUnsyncedCaughtUp "watch.unsynced-caught-up"
        "an unsynced watcher caught up from history and became synced";
    WatchCaughtUpAfterCompaction "watch.caught-up-after-compaction"
        "an unsynced watcher caught up from history that a compaction had already cut";
    WatchCatchUpBatchCut "watch.catch-up-batch-cut"
        "catching an unsynced watcher up was cut at the batch limit of revisions";
    WatchCanceledCompacted "watch.canceled-compacted"
        "a watcher's next revision was compacted: it was cancelled with the compact revision";
    WatchFutureStart "watch.future-start"
        "a watch started at a revision the store has not reached yet";
    WatchRestoreWithWatchers "watch.restore-with-watchers"
        "a snapshot replaced the store while watchers were open: they all became unsynced";
    ReadIndexRetried "read-index.retried"
        "a linearizable read's ReadIndex got no answer in time and was sent again";
    LeaseExpiredRevoked "lease.expired-revoked"
        "the leader found a lease past its deadline and proposed its revoke";
    LeasePromotedWithLeases "lease.promoted-with-leases"
        "a member became leader while leases existed: their deadlines restarted, extended";
    LeaseCheckpointed "lease.checkpointed"
        "the leader checkpointed remaining lease TTLs through raft";
    KeyTtlExpired "key.ttl-expired"
        "the leader found a key past its per-key TTL and proposed its expiry";
    CompactionSeveralBatches "compaction.several-batches"
        "a compaction removed old revisions over more than one batch, committing between them";
    CompactionStoppedBySnapshot "compaction.stopped-by-snapshot"
        "a compaction planned before a snapshot install stopped (its keep set was the old store's)";
    CompactionResumed "compaction.resumed-at-start"
        "a member started with a compaction scheduled but not finished, and resumed it";
    CompactionRefusedRead "range.compacted"
        "a read at a revision below the compaction was refused";
    ReadAtPastRevision "range.past-revision"
        "a read was served at a past revision that was not compacted";
    BackendCommitBatchFull "backend.commit-batch-full"
        "a write filled the backend's batch, which committed at once instead of on its interval";
    BackendDefragmented "backend.defragmented"
        "the backend was defragmented";
    WalSegmentCut "wal.segment-cut"
        "the WAL's segment reached its size and a new segment was started";
    WalSeveralSegmentsRead "wal.several-segments-read"
        "a restart read the WAL back from more than one segment";
    WalTornTailDropped "wal.torn-tail-dropped"
        "a restart found a record cut short at the WAL's end and dropped it";
    SnapshotSaved "snapshot.saved"
        "the member saved a snapshot of its applied state";
    SnapshotReceivedApplied "snapshot.received-applied"
        "a member behind the leader replaced its state with a snapshot it received";
    SnapshotSent "snapshot.sent"
        "the leader sent a snapshot to a member that fell behind its log";
    EntryReplayedSkipped "apply.entry-already-applied"
        "a restarted member skipped an entry its backend already held (consistent index)";
    BootstrapMembersRecovered "bootstrap.members-recovered"
        "a member killed while bootstrapping a new cluster found its WAL but no members, and recorded them again";
    ConfChangeApplied "apply.conf-change"
        "a membership change was applied";
    MemberRemovedItself "member.removed-itself"
        "a member applied the membership change that removed it";
    PeerHeardFromNonMember "peer.heard-from-non-member"
        "a member took a pipelined message from a sender it did not know as a member, and answers it as a remote";
    ReconfigRefusedUnhealthy "member.reconfig-refused-unhealthy"
        "a membership change was refused: it would leave no active quorum (strict reconfiguration check)";
    ReadIndexLeaderChanged "read-index.leader-changed"
        "the leader changed while a linearizable read waited for its ReadIndex";
    WatchProgressDeferred "watch.progress-deferred"
        "a progress request found a stream with watchers still catching up and was held back";
    WatchProgressHeldForFutureStart "watch.progress-held-for-future-start"
        "a progress notification was held back: a watch waits for a revision the store has not reached";
    WatchCanceledNoLeader "watch.canceled-no-leader"
        "the member lost its leader and ended the watches that require one";
    LeaseKeepAliveOnExpired "lease.keepalive-on-expired"
        "a keep-alive reached the leader for a lease already past its deadline";
    RangeFutureRevision "range.future-revision"
        "a read asked for a revision the store has not reached and was refused";
    ReadOnlyTxnOverRange "txn.read-only-over-range"
        "a Txn without writes read a key range (served like a read, at one revision)";
    RangeReshapedCut "range.reshaped-cut"
        "a read pruned by revision or sorted read its whole range, then cut the rest to its limit";
    WalSegmentsReleased "wal.segments-released"
        "after a snapshot, WAL segments older than it were removed";
    SnapshotFilesPurged "snapshot.purged"
        "snapshot files beyond the ones kept were removed";
    ClusterVersionLowered "version.cluster-lowered"
        "the cluster version was lowered (a downgrade): a snapshot is forced";
    DowngradeEnabled "version.downgrade-enabled"
        "a downgrade was enabled, with its target version";
    StorageVersionMigrated "version.storage-migrated"
        "the leader moved the storage version to the cluster version";
    AlarmRaised "alarm.raised"
        "an alarm (NOSPACE or CORRUPT) was raised and applied: writes are refused until it is disarmed";
    AlarmDisarmed "alarm.disarmed"
        "an active alarm was disarmed and applied: the member serves writes again";
    LearnerPromoted "membership.learner-promoted"
        "a learner that had caught up with the leader was promoted to a voter and the change applied";
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn points_are_named_once_and_explained() {
        let names: BTreeSet<&str> = Point::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Point::ALL.len());
        assert_eq!(Point::parse("no.such-point"), None);
        for (i, p) in Point::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Point::parse(p.name()), Some(*p));
            assert!(p.name().contains('.'), "{p}: area.what");
            assert!(p.what().len() > 25, "{p}: say what state it marks");
        }
    }

    /// Every listed point is reached from somewhere in the store's code.
    #[test]
    fn every_point_is_placed_somewhere() {
        let code = crate::source_scan::store_code(&["coverage.rs"]);
        for p in Point::ALL {
            let site = format!("Point::{p:?}");
            assert!(code.contains(&site), "{p} is never reached ({site})");
        }
    }
}
