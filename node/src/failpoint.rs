//! Named failpoints at the places etcd has them. The world arms a point with
//! an action (crash, sleep or error); the store calls [`Failpoints::hit`]
//! when it passes the point. Every pass is counted, armed or not, so campaigns
//! can report which points their traffic reached.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::time::Duration;

/// Every failpoint the store has, with where it sits.
pub const FAILPOINTS: &[(&str, &str)] = &[
    (
        "raftBeforeSave",
        "raft loop: before the WAL write of a ready's entries and hard state",
    ),
    (
        "raftAfterSave",
        "raft loop: after the WAL fsync, before messages that depend on it are sent",
    ),
    (
        "raftBeforeSaveSnap",
        "raft loop: before a received snapshot is written to the snap directory",
    ),
    (
        "raftAfterSaveSnap",
        "raft loop: after a received snapshot is written, before it is applied",
    ),
    (
        "raftBeforeApplySnap",
        "apply: before a snapshot replaces the backend",
    ),
    (
        "raftAfterApplySnap",
        "apply: after a snapshot replaced the backend",
    ),
    (
        "raftAfterWALRelease",
        "raft loop: after WAL segments older than a snapshot were released",
    ),
    (
        "raftBeforeLeaderSend",
        "raft loop: before the leader sends its messages",
    ),
    (
        "raftBeforeFollowerSend",
        "raft loop: before a follower sends its messages",
    ),
    (
        "raftBeforeAdvance",
        "raft loop: before the ready is acknowledged to raft",
    ),
    (
        "beforeApplyOneConfChange",
        "apply: before a membership change is applied",
    ),
    (
        "beforeCommit",
        "backend: before a batch is written and fsynced",
    ),
    ("afterCommit", "backend: after a batch was fsynced"),
    (
        "defragBeforeCopy",
        "backend defragmentation: before the live data is copied to a new file",
    ),
    (
        "defragBeforeRename",
        "backend defragmentation: after the copy is fsynced, before the rename",
    ),
    (
        "compactBeforeCommitScheduledCompact",
        "compaction: before the scheduled compact revision is committed",
    ),
    (
        "compactAfterCommitScheduledCompact",
        "compaction: after the scheduled compact revision is committed",
    ),
    (
        "compactBeforeCommitBatch",
        "compaction: before a batch of removed revisions is committed",
    ),
    (
        "compactAfterCommitBatch",
        "compaction: after a batch of removed revisions is committed",
    ),
    (
        "compactBeforeSetFinishedCompact",
        "compaction: before the finished compact revision is written",
    ),
    (
        "compactAfterSetFinishedCompact",
        "compaction: after the finished compact revision is written",
    ),
    (
        "beforeSendWatchResponse",
        "watch: before a watch response is put on the stream",
    ),
    (
        "beforeSyncWatchers",
        "watch: before unsynced watchers catch up from history",
    ),
    (
        "beforeMoveVictims",
        "watch: before blocked (victim) watchers are retried",
    ),
    (
        "beforeProgressIfSync",
        "watch: before a requested progress notification is answered",
    ),
    (
        "beforeLeaseCheckpoint",
        "lease: before remaining TTLs are proposed as a checkpoint",
    ),
    (
        "beforeLeaseRevokeExpired",
        "lease: before the leader proposes revoking expired leases",
    ),
    (
        "beforeSnapshotSend",
        "raft: before a snapshot is sent to a lagging member",
    ),
    (
        "beforeStorageMigrate",
        "versions: before the storage version is migrated to the cluster version",
    ),
    (
        "applyBeforeForcedSnapshot",
        "versions: after a lowered cluster version is applied, before the snapshot it forces",
    ),
];

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
    #[error("unknown failpoint {0:?} (see `faultline list failpoints`)")]
    Unknown(String),
    #[error("failpoint {0} returned an error")]
    Injected(&'static str),
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
#[derive(Default)]
pub struct Failpoints {
    armed: Mutex<BTreeMap<&'static str, Armed>>,
    reached: Mutex<BTreeMap<&'static str, u64>>,
}

pub fn lookup(name: &str) -> Option<&'static str> {
    FAILPOINTS.iter().map(|(n, _)| *n).find(|n| *n == name)
}

impl Failpoints {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `name`; it fires on the next `times` passes (every pass if None).
    pub fn arm(
        &self,
        name: &str,
        action: FailAction,
        times: Option<u32>,
    ) -> Result<(), FailpointError> {
        let name = lookup(name).ok_or_else(|| FailpointError::Unknown(name.to_string()))?;
        self.armed.lock().insert(
            name,
            Armed {
                action,
                remaining: times,
            },
        );
        Ok(())
    }

    pub fn disarm(&self, name: &str) {
        self.armed.lock().retain(|n, _| *n != name);
    }

    pub fn disarm_all(&self) {
        self.armed.lock().clear();
    }

    pub fn is_armed(&self, name: &str) -> bool {
        self.armed.lock().contains_key(name)
    }

    /// Counts the pass and says what the armed action (if any) asks for.
    pub fn pass(&self, name: &'static str) -> Passed {
        *self.reached.lock().entry(name).or_default() += 1;
        let mut armed = self.armed.lock();
        let Some(point) = armed.get_mut(name) else {
            return Passed::Continue;
        };
        let action = point.action;
        if let Some(remaining) = point.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                armed.remove(name);
            }
        }
        match action {
            FailAction::Crash => Passed::Crash,
            FailAction::Sleep(d) => Passed::Sleep(d),
            FailAction::Error => Passed::Error,
        }
    }

    /// How often each point was passed so far.
    pub fn reached(&self) -> BTreeMap<&'static str, u64> {
        self.reached.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arming_fires_the_given_number_of_times() {
        let fp = Failpoints::new();
        assert_eq!(fp.pass("beforeCommit"), Passed::Continue);
        fp.arm("beforeCommit", FailAction::Error, Some(2))
            .expect("known point");
        assert_eq!(fp.pass("beforeCommit"), Passed::Error);
        assert_eq!(fp.pass("beforeCommit"), Passed::Error);
        assert_eq!(fp.pass("beforeCommit"), Passed::Continue);
        assert_eq!(fp.reached()["beforeCommit"], 4);
    }

    #[test]
    fn unknown_names_are_refused() {
        let fp = Failpoints::new();
        assert_eq!(
            fp.arm("noSuchPoint", FailAction::Crash, None),
            Err(FailpointError::Unknown("noSuchPoint".into()))
        );
    }

    #[test]
    fn every_pass_fires_when_unbounded() {
        let fp = Failpoints::new();
        fp.arm(
            "afterCommit",
            FailAction::Sleep(Duration::from_millis(5)),
            None,
        )
        .expect("known point");
        for _ in 0..10 {
            assert_eq!(
                fp.pass("afterCommit"),
                Passed::Sleep(Duration::from_millis(5))
            );
        }
        fp.disarm("afterCommit");
        assert_eq!(fp.pass("afterCommit"), Passed::Continue);
    }
}
