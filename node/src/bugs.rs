//! Bugs that can be switched back on by name: historical etcd bugs, each in
//! the code path its etcd fix changed, and a few synthetic ones (among them
//! store changes that only alter answers: refusals a correct store never
//! gives). With none
//! on, the store must pass every scenario. The catalog that says what each
//! one is lives in `scenarios::bug_table`.

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
    Etcd18667,
    Etcd19179,
    Etcd20221,
    Etcd20221Restore,
    Etcd20418,
    Etcd22376,
    Etcd22445,
    StaleLocalRead,
    DowngradeNoSnapshot,
    DowngradeKeepsFields,
    TxnRefused,
    LeasePutRefused,
    DeleteRefused,
}

/// Every switch with its name, in catalog order. What each one is (the etcd
/// issue, the fix it reverts, its trigger and the rules expected to fire)
/// is the bug table's (`scenarios::bug_table`); the store only needs the
/// switch.
pub const ALL: &[(Bug, &str)] = &[
    (Bug::Etcd13766, "etcd-13766"),
    (Bug::Etcd14370, "etcd-14370"),
    (Bug::Etcd14685, "etcd-14685"),
    (Bug::Etcd15220, "etcd-15220"),
    (Bug::Etcd15271, "etcd-15271"),
    (Bug::Etcd17247, "etcd-17247"),
    (Bug::Etcd17529, "etcd-17529"),
    (Bug::Etcd17780, "etcd-17780"),
    (Bug::Etcd18055, "etcd-18055"),
    (Bug::Etcd18089, "etcd-18089"),
    (Bug::Etcd18667, "etcd-18667"),
    (Bug::Etcd19179, "etcd-19179"),
    (Bug::Etcd20221, "etcd-20221"),
    (Bug::Etcd20221Restore, "etcd-20221-restore"),
    (Bug::Etcd20418, "etcd-20418"),
    (Bug::Etcd22376, "etcd-22376"),
    (Bug::Etcd22445, "etcd-22445"),
    (Bug::StaleLocalRead, "stale-local-read"),
    (Bug::DowngradeNoSnapshot, "downgrade-no-snapshot"),
    (Bug::DowngradeKeepsFields, "downgrade-keeps-fields"),
    (Bug::TxnRefused, "txn-refused"),
    (Bug::LeasePutRefused, "lease-put-refused"),
    (Bug::DeleteRefused, "delete-refused"),
];

impl Bug {
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(bug, _)| *bug == self)
            .map_or("unknown-bug", |(_, name)| name)
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
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(bug, _)| *bug)
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
            Bug::Etcd18667,
            Bug::Etcd19179,
            Bug::Etcd20221,
            Bug::Etcd20221Restore,
            Bug::Etcd20418,
            Bug::Etcd22376,
            Bug::Etcd22445,
            Bug::StaleLocalRead,
            Bug::DowngradeNoSnapshot,
            Bug::DowngradeKeepsFields,
            Bug::TxnRefused,
            Bug::LeasePutRefused,
            Bug::DeleteRefused,
        ];
        assert_eq!(all.len(), ALL.len());
        for bug in all {
            assert_eq!(ALL.iter().filter(|(b, _)| *b == bug).count(), 1);
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
        }
        assert!("etcd-1".parse::<Bug>().is_err());
    }
}
