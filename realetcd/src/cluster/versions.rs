//! Version changes on a real cluster: the run's two etcd binaries (the new
//! one, and the old one a user has for upgrade and downgrade runs), and
//! restarts of members into the other one. A restart is graceful (SIGTERM,
//! wait for the stop) and starts the other binary on the same data
//! directory, with the same flags; a rolling restart does every member,
//! followers first and the leader last, each answering and the cluster
//! agreeing on a leader before the next is stopped.

use super::{Cluster, ClusterError, MEMBER_WAIT};
use crate::harness::{self, HarnessError};
use realplan::Binary;
use std::path::{Path, PathBuf};

/// One etcd binary and what it says its version is.
#[derive(Debug, Clone)]
pub struct Etcd {
    pub path: PathBuf,
    pub version: String,
}

impl Etcd {
    pub fn new(path: &Path) -> Result<Etcd, ClusterError> {
        let version = harness::version(path).map_err(|e| match e {
            HarnessError::Spawn { binary, source } => ClusterError::Spawn { binary, source },
            other => ClusterError::Io(std::io::Error::other(other.to_string())),
        })?;
        Ok(Etcd {
            path: path.to_path_buf(),
            version,
        })
    }
}

/// The binaries a cluster's members run.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub new: Etcd,
    pub old: Option<Etcd>,
}

impl Binaries {
    /// Both binaries, each asked its version.
    pub fn new(new: &Path, old: Option<&Path>) -> Result<Binaries, ClusterError> {
        Ok(Binaries {
            new: Etcd::new(new)?,
            old: old.map(Etcd::new).transpose()?,
        })
    }

    pub fn get(&self, binary: Binary) -> Option<&Etcd> {
        match binary {
            Binary::New => Some(&self.new),
            Binary::Old => self.old.as_ref(),
        }
    }

    /// `old (3.4.23)`: the role and its version, for annotations.
    pub fn describe(&self, binary: Binary) -> String {
        match self.get(binary) {
            Some(etcd) => format!("{} ({})", binary.name(), etcd.version),
            None => format!("{} (none given)", binary.name()),
        }
    }
}

/// One member restarted into a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    pub member: usize,
    pub from: Binary,
    pub to: Binary,
    /// Whether it stopped on its own after SIGTERM (else it was killed
    /// after the stop wait); None: it was not running, and was only started.
    pub clean: Option<bool>,
    /// Whether it led the cluster when it was stopped.
    pub was_leader: bool,
}

impl Cluster {
    /// The binaries this cluster's members run.
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// Which binary member `i` runs (or starts with next, while down).
    pub fn binary_of(&self, i: usize) -> Binary {
        self.members[i].binary
    }

    /// Restarts member `i` with `binary`: SIGTERM, wait for the stop,
    /// start the other binary on the same data directory, then wait until
    /// it answers with a leader and the running members agree on one. A
    /// member that was down is only started with `binary`.
    pub async fn swap(&mut self, i: usize, binary: Binary) -> Result<Swapped, ClusterError> {
        let member = self.members.get(i).ok_or(ClusterError::NoMember(i))?;
        if self.binaries.get(binary).is_none() {
            return Err(ClusterError::NoOldBinary(member.name.clone()));
        }
        let from = member.binary;
        let running = member.process.is_some();
        let was_leader = running && self.leader().await == Some(i);
        let clean = if running {
            Some(self.stop(i).await?)
        } else {
            None
        };
        self.members[i].binary = binary;
        self.start_member(i).await?;
        self.wait_leader(MEMBER_WAIT).await?;
        Ok(Swapped {
            member: i,
            from,
            to: binary,
            clean,
            was_leader,
        })
    }

    /// Restarts every member with `binary`, one after another: each time
    /// a member that does not lead now, the leader last (who leads is
    /// asked again before each, as a restart can move leadership).
    pub async fn rolling(&mut self, binary: Binary) -> Result<Vec<Swapped>, ClusterError> {
        let mut left: Vec<usize> = (0..self.size()).collect();
        let mut done = Vec::new();
        while !left.is_empty() {
            let leader = self.leader().await;
            let next = left.iter().position(|&m| Some(m) != leader).unwrap_or(0);
            let i = left.remove(next);
            done.push(self.swap(i, binary).await?);
        }
        Ok(done)
    }
}
