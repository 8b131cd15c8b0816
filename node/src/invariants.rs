//! Invariants the store asserts while it runs, at the places they can
//! break (TigerBeetle's habit: assertions everywhere). A broken invariant
//! does not stop the member: it is reported to the host
//! ([`crate::host::NodeEvent::InvariantBroken`]) with the values that broke
//! it, and the run that saw it fails rule `store.invariant`. The unit
//! tests' host panics on one.

use std::fmt;

macro_rules! invariants {
    ($( $variant:ident $name:literal $reason:literal; )*) => {
        /// One invariant: its name in reports, and why it must hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Invariant {
            $($variant),*
        }

        impl Invariant {
            pub const ALL: &'static [Invariant] = &[$(Invariant::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Invariant::$variant => $name),*
                }
            }

            /// Why it must hold, in one line.
            pub fn reason(self) -> &'static str {
                match self {
                    $(Invariant::$variant => $reason),*
                }
            }
        }
    };
}

invariants! {
    RaftTermNeverDecreases "raft.term-never-decreases"
        "a member's term only grows: a lower term would let it vote twice in a term";
    CommitNeverDecreases "raft.commit-never-decreases"
        "a committed entry stays committed: the commit index only grows";
    CommitNotPastLastIndex "raft.commit-not-past-last-index"
        "a member cannot know an entry is committed before it has the entry";
    LogReadableFromFirstIndex "raft.log-readable-from-first-index"
        "raft reads the log from the first index its storage reports: the term before it, and that entry while the log holds any, must be there, or raft takes entries it needs for compacted";
    WalAppendConnects "raft.wal-append-connects"
        "entries written to the WAL follow on from its log, consecutive, so a restart reads one unbroken log";
    OneVoterAppliesOnlyDurable "raft.one-voter-applies-only-durable"
        "with one voter, its own WAL is the quorum: an entry is applied only once it is in that WAL";
    EntriesAppliedInOrder "apply.entries-in-order"
        "entries are applied one after another, none skipped and none twice";
    ReplicasAgreeOnEntry "apply.replicas-agree"
        "applying a log is deterministic: every member that applies entry i holds the same revision after it; a different one means an entry applied differently, twice or not at all";
    RecoveredStateAgrees "recovery.state-agrees"
        "a restarted member's backend holds, at its consistent index, the revision every member had after that entry: index and data are committed together";
    SnapshotNewerThanApplied "apply.snapshot-newer-than-applied"
        "a snapshot replaces the state only with a newer one: an older one would undo applied entries";
    SnapshotTakenAtApplied "apply.snapshot-at-applied"
        "a snapshot is taken at the entry applied last (or being applied), of a backend that holds at least that entry";
    MergedSnapshotIncludesRecipient "apply.snapshot-names-its-recipient"
        "raft drops a snapshot whose configuration does not name the member it is sent to";
    ConsistentIndexNeverDecreases "apply.consistent-index-never-decreases"
        "the index of the last applied entry only grows; a lower one would apply entries twice after a restart";
    WriteTxnsDoNotOverlap "mvcc.write-txns-do-not-overlap"
        "write transactions run one at a time, each one revision after the last";
    EventsAtTxnRevision "mvcc.events-at-txn-revision"
        "every change of one write transaction carries that transaction's revision";
    PutRevisionsOrdered "mvcc.put-revisions-ordered"
        "a written key was created no later than it was modified, at version one or more";
    CompactNotPastCurrent "mvcc.compact-not-past-current"
        "history can only be compacted up to the current revision";
    CompactionLeavesOnlyKept "mvcc.compaction-leaves-only-kept"
        "a finished compaction leaves, at or below its revision, only the versions it planned to keep: one left behind is read by no one, yet counted by HashKV and the database size, and a batch that skipped a range never comes back to it";
    RevisionNeverDecreasesOnRestore "mvcc.restore-never-goes-back"
        "restoring from a snapshot moves the store forward, never to an older revision";
    WatcherRevisionNeverDecreases "watch.next-revision-never-decreases"
        "a watcher's next revision only grows: going back would send events twice";
    WatchResponseAscends "watch.response-ascends"
        "the events of one watch response are in revision order, from the watcher's next revision";
    VictimsWaitOnlyForRoom "watch.victims-wait-only-for-room"
        "a victim is retried at every victim tick, so after one it still holds responses only if its stream has no room: one left waiting with room stalls its watch while nothing holds it back (etcd's syncVictimsLoop)";
    ProgressOnlyForDelivered "watch.progress-only-for-delivered"
        "a progress notification at R tells the client every event up to R was delivered: the watcher's next revision is past R";
    OnlyLeaderRevokesExpired "lease.only-leader-revokes-expired"
        "only the leader decides a lease expired: followers' clocks do not count";
    GrantedTtlAtLeastMinimum "lease.ttl-at-least-minimum"
        "a granted lease lives at least the minimum TTL, so a leader change cannot expire it at once";
    StorageVersionNotPastServer "version.storage-not-past-server"
        "a member serves only data whose storage version its binary understands";
    ClusterVersionNotPastServer "version.cluster-not-past-server"
        "a member never runs in a cluster whose version is newer than its binary";
    PendingWithinBatchLimit "backend.pending-within-batch-limit"
        "the backend commits once a batch holds its limit of writes";
    ReadServedAfterApplyingIndex "read.served-after-applying-index"
        "a linearizable read is served only once the member applied the index the leader confirmed";
    PersistedConsistentIndexNeverDecreases "backend.persisted-consistent-index-never-decreases"
        "the consistent index a commit persists only grows: a lower one would apply entries twice after a restart";
    LearnerNeverCampaigns "raft.learner-never-campaigns"
        "a learner has no vote: it never becomes a pre-candidate, a candidate or the leader";
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn invariants_are_many_named_once_and_explained() {
        assert!(Invariant::ALL.len() >= 25);
        let names: BTreeSet<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        assert_eq!(names.len(), Invariant::ALL.len());
        for i in Invariant::ALL {
            assert!(i.name().contains('.'), "{i}: area.what");
            assert!(i.reason().len() > 30, "{i}: say why");
        }
    }

    /// Every listed invariant is asserted somewhere in the store's code.
    #[test]
    fn every_invariant_is_checked_somewhere() {
        let code = crate::source_scan::store_code(&["invariants.rs", "host.rs"]);
        for i in Invariant::ALL {
            let site = format!("Invariant::{i:?}");
            assert!(code.contains(&site), "{i} is never checked ({site})");
        }
    }
}
