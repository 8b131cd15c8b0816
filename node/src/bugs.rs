//! Historical etcd bugs that can be switched back on by name. With none on,
//! the store must pass every scenario. Each mechanism lives in the real code
//! path it broke in etcd (see `shared/reference/bug-catalog.md`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One catalogued bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Bug {
    Etcd13766,
    Etcd14370,
    Etcd14685,
    Etcd15220,
    Etcd15271,
    Etcd17247,
    Etcd17529,
    Etcd17780,
    Etcd18055,
    Etcd18089,
    Etcd19179,
    Etcd20221,
    Etcd20418,
    StaleLocalRead,
    DowngradeNoSnapshot,
    DowngradeKeepsFields,
}

/// Name, mechanism, trigger and the check expected to fire, per bug.
pub struct BugInfo {
    pub bug: Bug,
    pub name: &'static str,
    pub mechanism: &'static str,
    pub trigger: &'static str,
    pub caught_by: &'static str,
}

pub const CATALOG: &[BugInfo] = &[
    BugInfo {
        bug: Bug::Etcd13766,
        name: "etcd-13766",
        mechanism: "the consistent index is set before the entry's data is applied, so a backend commit in between persists an index whose entry is missing",
        trigger: "crash under high write load, 3 members",
        caught_by: "end.hashkv, linearizability",
    },
    BugInfo {
        bug: Bug::Etcd14370,
        name: "etcd-14370",
        mechanism: "a single-member cluster applies and answers a write before its WAL entry is fsynced",
        trigger: "crash at raftBeforeSave, 1 member",
        caught_by: "linearizability, durability",
    },
    BugInfo {
        bug: Bug::Etcd14685,
        name: "etcd-14685",
        mechanism: "defragmentation commits data without the matching consistent index; restart re-applies entries",
        trigger: "crash at defragBeforeCopy / defragBeforeRename",
        caught_by: "linearizability, end.hashkv",
    },
    BugInfo {
        bug: Bug::Etcd15220,
        name: "etcd-15220",
        mechanism: "a requested progress notification is sent out of band and can overtake pending events of an unsynced watcher",
        trigger: "RequestProgress under load with a slow watcher",
        caught_by: "watch.bookmarkable",
    },
    BugInfo {
        bug: Bug::Etcd15271,
        name: "etcd-15271",
        mechanism: "on snapshot restore synced watchers move to unsynced with a stale minimum revision and old events are sent again",
        trigger: "partition a member until it needs a snapshot",
        caught_by: "watch.ordered, watch.unique",
    },
    BugInfo {
        bug: Bug::Etcd17247,
        name: "etcd-17247",
        mechanism: "the write-back buffer duplicates an entry when merging into an empty read buffer, so a watch sees an event twice",
        trigger: "crash after snapshot save, member replace",
        caught_by: "watch.unique",
    },
    BugInfo {
        bug: Bug::Etcd17529,
        name: "etcd-17529",
        mechanism: "a compaction-cancel response that could not be sent is dropped while the watcher's minimum revision still advances",
        trigger: "slow watch sending and compaction",
        caught_by: "watch.reliable",
    },
    BugInfo {
        bug: Bug::Etcd17780,
        name: "etcd-17780",
        mechanism: "compaction removes the newest tombstone; a crash before the finished compact revision is persisted makes the restarted store compute a lower current revision",
        trigger: "crash at compactBeforeSetFinishedCompact",
        caught_by: "linearizability (revision decreases)",
    },
    BugInfo {
        bug: Bug::Etcd18055,
        name: "etcd-18055",
        mechanism: "cleanup of older snapshot files deletes the one still being applied",
        trigger: "two snapshots in quick succession to a lagging member",
        caught_by: "member failure (panic) reported as a failure",
    },
    BugInfo {
        bug: Bug::Etcd18089,
        name: "etcd-18089",
        mechanism: "compaction deletes a tombstone whose revision equals the compact revision",
        trigger: "delete-heavy traffic, frequent compaction, watch at the compact revision",
        caught_by: "watch.resumable, watch.reliable",
    },
    BugInfo {
        bug: Bug::Etcd19179,
        name: "etcd-19179",
        mechanism: "index restore skips keys whose only surviving revision is a tombstone; resumed batched compaction drops it",
        trigger: "crash in the middle of a batched compaction",
        caught_by: "watch.reliable, watch.resumable",
    },
    BugInfo {
        bug: Bug::Etcd20221,
        name: "etcd-20221",
        mechanism: "a lagging member sends a progress notification below a future watch's start revision; a resumed watch then gets old events",
        trigger: "partition until snapshot, watches on future revisions",
        caught_by: "watch.reliable, watch.ordered",
    },
    BugInfo {
        bug: Bug::Etcd20418,
        name: "etcd-20418",
        mechanism: "a ReadIndex answer for an earlier request is accepted for a retried one (request id reused)",
        trigger: "pause the leader during reads",
        caught_by: "linearizability (stale read)",
    },
    BugInfo {
        bug: Bug::StaleLocalRead,
        name: "stale-local-read",
        mechanism: "linearizable reads are served from local state without ReadIndex (etcd 2's quorum=false)",
        trigger: "partition the leader",
        caught_by: "linearizability",
    },
    BugInfo {
        bug: Bug::DowngradeNoSnapshot,
        name: "downgrade-no-snapshot",
        mechanism: "lowering the cluster version does not force a snapshot, so a downgraded member replays entries it cannot decode",
        trigger: "downgrade under traffic",
        caught_by: "member failure, liveness",
    },
    BugInfo {
        bug: Bug::DowngradeKeepsFields,
        name: "downgrade-keeps-fields",
        mechanism: "storage downgrade leaves the newer version's fields in place",
        trigger: "downgrade 3.7 to 3.6 with per-key TTLs in use",
        caught_by: "end.hashkv, linearizability",
    },
];

impl Bug {
    pub fn info(self) -> &'static BugInfo {
        CATALOG
            .iter()
            .find(|info| info.bug == self)
            .unwrap_or(&CATALOG[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bug {0:?} (see `faultline list bugs`)")]
pub struct UnknownBug(pub String);

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CATALOG
            .iter()
            .find(|info| info.name == s)
            .map(|info| info.bug)
            .ok_or_else(|| UnknownBug(s.to_string()))
    }
}

impl TryFrom<String> for Bug {
    type Error = UnknownBug;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Bug> for String {
    fn from(b: Bug) -> String {
        b.name().to_string()
    }
}

/// The bugs switched on for a member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BugSet(BTreeSet<Bug>);

impl BugSet {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn from_bugs(bugs: impl IntoIterator<Item = Bug>) -> Self {
        BugSet(bugs.into_iter().collect())
    }

    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Bug> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for BugSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|b| b.name()).collect();
        f.write_str(&names.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bug_has_one_catalog_entry_and_parses_back() {
        let all = [
            Bug::Etcd13766,
            Bug::Etcd14370,
            Bug::Etcd14685,
            Bug::Etcd15220,
            Bug::Etcd15271,
            Bug::Etcd17247,
            Bug::Etcd17529,
            Bug::Etcd17780,
            Bug::Etcd18055,
            Bug::Etcd18089,
            Bug::Etcd19179,
            Bug::Etcd20221,
            Bug::Etcd20418,
            Bug::StaleLocalRead,
            Bug::DowngradeNoSnapshot,
            Bug::DowngradeKeepsFields,
        ];
        assert_eq!(all.len(), CATALOG.len());
        for bug in all {
            assert_eq!(CATALOG.iter().filter(|i| i.bug == bug).count(), 1);
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
        }
        assert!("etcd-1".parse::<Bug>().is_err());
    }
}
