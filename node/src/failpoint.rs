//! Named failpoints at the places etcd has them. The world arms a point with
//! an action (crash, sleep or error); the store calls [`Failpoints::pass`]
//! (through `MemberEnv::failpoint`) when it passes the point. Every pass is
//! counted, armed or not, so campaigns can report which points their
//! traffic reached.
//!
//! A point is a [`Failpoint`]: the store, the world and the fault library
//! name points by variant; the etcd name (`beforeCommit`) is what prints
//! (traces, `results.csv`, `coverage.jsonl`, repro files) and what a
//! scenario file gives, parsed once where it is read.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

macro_rules! failpoints {
    ($( $variant:ident $name:literal $what:literal; )*) => {
        /// One failpoint of the store: its etcd name, and where it sits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Failpoint {
            $($variant),*
        }

        impl Failpoint {
            /// Every failpoint, in a fixed order: swarm mode draws a point
            /// by its position here, so a recorded seed replays only while
            /// this order stays (append new points at the end).
            pub const ALL: &'static [Failpoint] = &[$(Failpoint::$variant),*];

            /// Its etcd name, as traces, result files and scenarios spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Failpoint::$variant => $name),*
                }
            }

            /// Where it sits, in one line.
            pub fn what(self) -> &'static str {
                match self {
                    $(Failpoint::$variant => $what),*
                }
            }

            /// Its position in [`Failpoint::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

failpoints! {
    RaftBeforeSave "raftBeforeSave"
        "raft loop: before the WAL write of a ready's entries and hard state";
    RaftAfterSave "raftAfterSave"
        "raft loop: after the WAL fsync, before messages that depend on it are sent";
    RaftBeforeSaveSnap "raftBeforeSaveSnap"
        "raft loop: before a received snapshot is written to the snap directory";
    RaftAfterSaveSnap "raftAfterSaveSnap"
        "raft loop: after a received snapshot is written, before it is applied";
    RaftBeforeApplySnap "raftBeforeApplySnap"
        "apply: before a snapshot replaces the backend";
    RaftAfterApplySnap "raftAfterApplySnap"
        "apply: after a snapshot replaced the backend";
    RaftAfterWalRelease "raftAfterWALRelease"
        "raft loop: after WAL segments older than a snapshot were released";
    RaftBeforeLeaderSend "raftBeforeLeaderSend"
        "raft loop: before the leader sends its messages";
    RaftBeforeFollowerSend "raftBeforeFollowerSend"
        "raft loop: before a follower sends its messages";
    RaftBeforeAdvance "raftBeforeAdvance"
        "raft loop: before the ready is acknowledged to raft";
    BeforeApplyOneConfChange "beforeApplyOneConfChange"
        "apply: before a membership change is applied";
    BeforeCommit "beforeCommit"
        "backend: before a batch is written and fsynced";
    AfterCommit "afterCommit"
        "backend: after a batch was fsynced";
    DefragBeforeCopy "defragBeforeCopy"
        "backend defragmentation: before the live data is copied to a new file";
    DefragBeforeRename "defragBeforeRename"
        "backend defragmentation: after the copy is fsynced, before the rename";
    CompactBeforeCommitScheduledCompact "compactBeforeCommitScheduledCompact"
        "compaction: before the scheduled compact revision is committed";
    CompactAfterCommitScheduledCompact "compactAfterCommitScheduledCompact"
        "compaction: after the scheduled compact revision is committed";
    CompactBeforeCommitBatch "compactBeforeCommitBatch"
        "compaction: before a batch of removed revisions is committed";
    CompactAfterCommitBatch "compactAfterCommitBatch"
        "compaction: after a batch of removed revisions is committed";
    CompactBeforeSetFinishedCompact "compactBeforeSetFinishedCompact"
        "compaction: before the finished compact revision is written";
    CompactAfterSetFinishedCompact "compactAfterSetFinishedCompact"
        "compaction: after the finished compact revision is written";
    BeforeSendWatchResponse "beforeSendWatchResponse"
        "watch: before a watch response is put on the stream";
    BeforeSyncWatchers "beforeSyncWatchers"
        "watch: before unsynced watchers catch up from history";
    BeforeMoveVictims "beforeMoveVictims"
        "watch: before blocked (victim) watchers are retried";
    BeforeProgressIfSync "beforeProgressIfSync"
        "watch: before a requested progress notification is answered";
    BeforeLeaseCheckpoint "beforeLeaseCheckpoint"
        "lease: before remaining TTLs are proposed as a checkpoint";
    BeforeLeaseRevokeExpired "beforeLeaseRevokeExpired"
        "lease: before the leader proposes revoking expired leases";
    BeforeSnapshotSend "beforeSnapshotSend"
        "raft: before a snapshot is sent to a lagging member";
    BeforeStorageMigrate "beforeStorageMigrate"
        "versions: before the storage version is migrated to the cluster version";
    ApplyBeforeForcedSnapshot "applyBeforeForcedSnapshot"
        "versions: after a lowered cluster version is applied, before the snapshot it forces";
}

impl Failpoint {
    /// The point with this etcd name, if there is one.
    pub fn parse(name: &str) -> Option<Failpoint> {
        Failpoint::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// A point of the compaction job: reached only once something asks
    /// for a compaction.
    pub fn is_compaction(self) -> bool {
        matches!(
            self,
            Failpoint::CompactBeforeCommitScheduledCompact
                | Failpoint::CompactAfterCommitScheduledCompact
                | Failpoint::CompactBeforeCommitBatch
                | Failpoint::CompactAfterCommitBatch
                | Failpoint::CompactBeforeSetFinishedCompact
                | Failpoint::CompactAfterSetFinishedCompact
        )
    }

    /// A point of defragmentation: reached only once something asks for
    /// a defragmentation.
    pub fn is_defrag(self) -> bool {
        matches!(
            self,
            Failpoint::DefragBeforeCopy | Failpoint::DefragBeforeRename
        )
    }
}

impl fmt::Display for Failpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Failpoint {
    type Err = FailpointError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Failpoint::parse(name).ok_or_else(|| FailpointError::Unknown(name.to_string()))
    }
}

/// What an armed failpoint does when reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// The process dies on the spot, as with etcd's `panic` action.
    Crash,
    /// The task stops for this long (makes slow watchers, slow commits...).
    Sleep(Duration),
    /// The operation at the point fails with an error.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailpointError {
    /// A name that is no failpoint's (where a name is read: a scenario
    /// file, a test's argument).
    #[error("unknown failpoint {0:?} (see `faultline list failpoints`)")]
    Unknown(String),
    #[error("failpoint {0} returned an error")]
    Injected(Failpoint),
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    action: FailAction,
    /// How many more passes fire; `None` fires on every pass.
    remaining: Option<u32>,
}

/// The outcome of passing a failpoint, for the caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    Continue,
    Crash,
    Sleep(Duration),
    Error,
}

/// The armed failpoints of one member and the count of passes per point.
pub struct Failpoints {
    armed: Mutex<BTreeMap<Failpoint, Armed>>,
    /// Passes per point, at the point's [`Failpoint::index`]: every pass
    /// counts, and the store passes points all the time.
    reached: Mutex<[u64; Failpoint::ALL.len()]>,
}

impl Default for Failpoints {
    fn default() -> Self {
        Failpoints {
            armed: Mutex::default(),
            reached: Mutex::new([0; Failpoint::ALL.len()]),
        }
    }
}

impl Failpoints {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `point`; it fires on the next `times` passes (every pass if None).
    pub fn arm(&self, point: Failpoint, action: FailAction, times: Option<u32>) {
        self.armed.lock().insert(
            point,
            Armed {
                action,
                remaining: times,
            },
        );
    }

    pub fn disarm(&self, point: Failpoint) {
        self.armed.lock().remove(&point);
    }

    pub fn disarm_all(&self) {
        self.armed.lock().clear();
    }

    pub fn is_armed(&self, point: Failpoint) -> bool {
        self.armed.lock().contains_key(&point)
    }

    /// Counts the pass and says what the armed action (if any) asks for.
    pub fn pass(&self, point: Failpoint) -> Passed {
        self.reached.lock()[point.index()] += 1;
        let mut armed = self.armed.lock();
        let Some(armed_point) = armed.get_mut(&point) else {
            return Passed::Continue;
        };
        let action = armed_point.action;
        if let Some(remaining) = armed_point.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                armed.remove(&point);
            }
        }
        match action {
            FailAction::Crash => Passed::Crash,
            FailAction::Sleep(d) => Passed::Sleep(d),
            FailAction::Error => Passed::Error,
        }
    }

    /// How often each point was passed so far (points never passed are
    /// absent).
    pub fn reached(&self) -> BTreeMap<Failpoint, u64> {
        let reached = self.reached.lock();
        Failpoint::ALL
            .iter()
            .map(|point| (*point, reached[point.index()]))
            .filter(|(_, passes)| *passes > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn arming_fires_the_given_number_of_times() {
        let fp = Failpoints::new();
        assert_eq!(fp.pass(Failpoint::BeforeCommit), Passed::Continue);
        fp.arm(Failpoint::BeforeCommit, FailAction::Error, Some(2));
        assert!(fp.is_armed(Failpoint::BeforeCommit));
        assert_eq!(fp.pass(Failpoint::BeforeCommit), Passed::Error);
        assert_eq!(fp.pass(Failpoint::BeforeCommit), Passed::Error);
        assert!(!fp.is_armed(Failpoint::BeforeCommit));
        assert_eq!(fp.pass(Failpoint::BeforeCommit), Passed::Continue);
        assert_eq!(fp.reached()[&Failpoint::BeforeCommit], 4);
        assert!(!fp.reached().contains_key(&Failpoint::AfterCommit));
    }

    #[test]
    fn passes_are_counted_per_point() {
        let fp = Failpoints::new();
        let passed = |i: usize| if i.is_multiple_of(3) { 0 } else { i as u64 };
        for (i, point) in Failpoint::ALL.iter().enumerate() {
            for _ in 0..passed(i) {
                fp.pass(*point);
            }
        }
        let want: BTreeMap<Failpoint, u64> = Failpoint::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| passed(*i) > 0)
            .map(|(i, point)| (*point, passed(i)))
            .collect();
        assert_eq!(fp.reached(), want);
    }

    #[test]
    fn every_pass_fires_when_unbounded() {
        let fp = Failpoints::new();
        fp.arm(
            Failpoint::AfterCommit,
            FailAction::Sleep(Duration::from_millis(5)),
            None,
        );
        for _ in 0..10 {
            assert_eq!(
                fp.pass(Failpoint::AfterCommit),
                Passed::Sleep(Duration::from_millis(5))
            );
        }
        fp.disarm(Failpoint::AfterCommit);
        assert_eq!(fp.pass(Failpoint::AfterCommit), Passed::Continue);
    }

    #[test]
    fn every_name_parses_back_to_its_point() {
        let names: BTreeSet<&str> = Failpoint::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Failpoint::ALL.len(), "names are unique");
        for (i, p) in Failpoint::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Failpoint::parse(p.name()), Some(*p));
            assert_eq!(p.name().parse::<Failpoint>(), Ok(*p));
            assert_eq!(p.to_string(), p.name(), "prints its etcd name");
            assert!(p.what().contains(": "), "{p}: say where it sits");
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in [
            "noSuchPoint",
            "",
            "BeforeCommit",
            "beforecommit",
            " beforeCommit",
        ] {
            assert_eq!(Failpoint::parse(name), None);
            assert_eq!(
                name.parse::<Failpoint>(),
                Err(FailpointError::Unknown(name.into()))
            );
        }
        assert_eq!(
            "noSuchPoint".parse::<Failpoint>().unwrap_err().to_string(),
            "unknown failpoint \"noSuchPoint\" (see `faultline list failpoints`)"
        );
    }

    /// Swarm mode draws a failpoint by its position in `ALL`, and traces
    /// print the names: neither the order nor a name may change without
    /// every recorded seed replaying differently.
    #[test]
    fn the_order_and_names_are_the_recorded_ones() {
        let names: Vec<&str> = Failpoint::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "raftBeforeSave",
                "raftAfterSave",
                "raftBeforeSaveSnap",
                "raftAfterSaveSnap",
                "raftBeforeApplySnap",
                "raftAfterApplySnap",
                "raftAfterWALRelease",
                "raftBeforeLeaderSend",
                "raftBeforeFollowerSend",
                "raftBeforeAdvance",
                "beforeApplyOneConfChange",
                "beforeCommit",
                "afterCommit",
                "defragBeforeCopy",
                "defragBeforeRename",
                "compactBeforeCommitScheduledCompact",
                "compactAfterCommitScheduledCompact",
                "compactBeforeCommitBatch",
                "compactAfterCommitBatch",
                "compactBeforeSetFinishedCompact",
                "compactAfterSetFinishedCompact",
                "beforeSendWatchResponse",
                "beforeSyncWatchers",
                "beforeMoveVictims",
                "beforeProgressIfSync",
                "beforeLeaseCheckpoint",
                "beforeLeaseRevokeExpired",
                "beforeSnapshotSend",
                "beforeStorageMigrate",
                "applyBeforeForcedSnapshot",
            ]
        );
    }

    /// The compaction and defragmentation points are the ones named so in
    /// etcd: the fault library asks for a compaction or a defragmentation
    /// when one of them is armed.
    #[test]
    fn compaction_and_defrag_points_are_the_ones_named_so() {
        for p in Failpoint::ALL {
            assert_eq!(p.is_compaction(), p.name().starts_with("compact"), "{p}");
            assert_eq!(p.is_defrag(), p.name().starts_with("defrag"), "{p}");
        }
    }

    /// Every failpoint is passed somewhere in the store's code.
    #[test]
    fn every_failpoint_is_placed_somewhere() {
        let code = crate::source_scan::store_code(&["failpoint.rs"]);
        for p in Failpoint::ALL {
            let site = format!("Failpoint::{p:?}");
            assert!(code.contains(&site), "{p} is never passed ({site})");
        }
    }
}
