//! What a member needs from the world it runs in, besides the network and
//! time (which come from madsim): its disk, its clock, its failpoints, a
//! place to report notable events, and a way to die.

use crate::clock::ClockRef;
use crate::coverage::Point;
use crate::disk::DiskRef;
use crate::failpoint::{Failpoint, FailpointError, Failpoints, Passed};
use crate::invariants::Invariant;
use crate::version::Version;
use std::sync::Arc;

/// Something worth a line in the run's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// The member finished recovery and is serving.
    Started {
        version: Version,
        applied_index: u64,
        revision: i64,
    },
    /// Raft role or term changed.
    Role {
        role: Role,
        term: u64,
        leader: u64,
    },
    SnapshotSaved {
        index: u64,
    },
    SnapshotApplied {
        index: u64,
    },
    Compacted {
        revision: i64,
    },
    Defragmented,
    MembershipChanged {
        voters: Vec<u64>,
    },
    ClusterVersion {
        version: Version,
    },
    StorageVersion {
        version: Version,
    },
    DowngradeInfo {
        enabled: bool,
        target: Option<Version>,
    },
    FailpointFired {
        point: Failpoint,
        action: String,
    },
    /// Anything else a reader of the trace should see.
    Note {
        text: String,
    },
    /// An invariant did not hold: `detail` gives the values that broke it.
    InvariantBroken {
        invariant: Invariant,
        detail: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// Why a member process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// A graceful stop: everything was flushed first.
    Stopped,
    /// An armed failpoint with the crash action was reached.
    Failpoint(Failpoint),
    /// The store hit an error it cannot continue after (etcd would panic or
    /// exit): corruption, a failed fsync, data from a newer version...
    Fatal(String),
}

/// The world's side of a member.
pub trait Host: Send + Sync {
    fn emit(&self, member: u64, event: NodeEvent);
    /// Ends the member's process now. The world kills every task of the
    /// member; the caller must not run further (see [`MemberEnv::exit`]).
    fn exit(&self, member: u64, reason: ExitReason);
    /// The member reached a coverage point (counted, never traced: points
    /// on hot paths are reached thousands of times a run).
    fn reached(&self, _member: u64, _point: Point) {}
    /// The member holds `report.revision` having applied the log up to
    /// `index` (the store's replica agreement, `server::agreement`). A
    /// world that sees every member keeps the first report per index and
    /// returns it when this one differs; a host that sees one member has
    /// nothing to compare with (`None`).
    fn applied_to(&self, _report: AppliedTo, _index: u64) -> Option<AppliedTo> {
        None
    }
    /// For how long the member's peer connection with `peer` has been up
    /// (etcd's rafthttp `ActiveSince`, which its strict reconfiguration
    /// check reads); None while it is broken. A host that runs one member
    /// alone has no connections: None.
    fn peer_connected_for(&self, _member: u64, _peer: u64) -> Option<std::time::Duration> {
        None
    }
    /// The member reads `peer`'s stream from now on (`open`: it knows the
    /// peer as a member, and rafthttp's stream reader dials every such
    /// peer), or stopped reading it (the peer was removed). A new process
    /// reads nothing until it says so again.
    fn stream_reader(&self, _member: u64, _peer: u64, _open: bool) {}
    /// Whether the member's stream to `peer` carries messages: `peer`
    /// reads it and their connection is up. When it does not, messages go
    /// by pipeline, which any member takes (rafthttp's `peer.pick`). A host
    /// without connections has only streams: true.
    fn stream_working(&self, _member: u64, _peer: u64) -> bool {
        true
    }
}

/// How a member came to hold the state it reports for an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HowReached {
    /// It applied the entry (or installed a snapshot at that index).
    Applied,
    /// It restarted and recovered that state from its backend.
    Recovered,
}

/// One member's revision after the log up to some index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedTo {
    pub member: u64,
    pub revision: i64,
    pub how: HowReached,
}

/// Work a member still owes, as it reports it to the world: on a healthy
/// cluster every item drains within a bound (the run's eventual
/// properties). The world reads it between its own steps; the member never
/// reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// This member leads and its lessor is primary: only then do lease and
    /// per-key TTL deadlines run.
    pub primary: bool,
    /// Live leases and the milliseconds left before each one's deadline on
    /// the primary's clock (negative: past it).
    pub leases: Vec<(i64, i64)>,
    /// Keys with a per-key TTL the primary is counting down, with the
    /// milliseconds left (negative: past the deadline).
    pub ttl_keys: Vec<(Vec<u8>, i64)>,
    /// The compaction revision scheduled, and the one whose compaction
    /// finished (equal when no compaction is in flight).
    pub compaction_scheduled: i64,
    pub compaction_finished: i64,
    /// Compaction batches this process completed: advances while a long
    /// compaction makes progress.
    pub compaction_batches: u64,
    /// Watchers behind the store's revision (unsynced), and watchers whose
    /// stream was full (victims).
    pub unsynced_watchers: usize,
    pub victim_watchers: usize,
}

/// How the world asks a running member for its [`Backlog`].
pub type BacklogProbe = Arc<dyn Fn() -> Backlog + Send + Sync>;

/// Where a member process leaves its probe once it serves; a fresh slot
/// per process, so a dead process is never asked.
pub type BacklogSlot = Arc<parking_lot::Mutex<Option<BacklogProbe>>>;

/// Everything a member gets from outside, bundled.
#[derive(Clone)]
pub struct MemberEnv {
    pub member: u64,
    pub disk: DiskRef,
    pub clock: ClockRef,
    pub host: Arc<dyn Host>,
    pub failpoints: Arc<Failpoints>,
    /// Notified when the world asks the process to stop gracefully.
    pub stop: Arc<tokio::sync::Notify>,
    /// Where the process leaves its backlog probe.
    pub backlog: BacklogSlot,
}

impl MemberEnv {
    pub fn emit(&self, event: NodeEvent) {
        self.host.emit(self.member, event);
    }

    /// Asserts an invariant: when `holds` is false, reports it with the
    /// values `detail` gives (computed only then). The member goes on: a
    /// run reports every broken invariant, and what followed from it.
    pub fn check(&self, invariant: Invariant, holds: bool, detail: impl FnOnce() -> String) {
        if !holds {
            let detail = detail();
            tracing::error!(member = self.member, %invariant, %detail, "invariant broken");
            self.emit(NodeEvent::InvariantBroken { invariant, detail });
        }
    }

    /// For how long this member's connection with `peer` has been up
    /// (None: broken). See [`Host::peer_connected_for`].
    pub fn peer_connected_for(&self, peer: u64) -> Option<std::time::Duration> {
        self.host.peer_connected_for(self.member, peer)
    }

    /// Notes that the store reached a coverage point.
    pub fn reach(&self, point: Point) {
        self.host.reached(self.member, point);
    }

    /// Ends the process and never returns: the task suspends forever and the
    /// world drops it with every other task of the member.
    pub async fn exit(&self, reason: ExitReason) -> ! {
        tracing::warn!(member = self.member, ?reason, "member exits");
        self.host.exit(self.member, reason);
        std::future::pending::<()>().await;
        unreachable!("a pending future never completes")
    }

    /// Passes a failpoint: crashes, sleeps or returns an error as armed.
    pub async fn failpoint(&self, point: Failpoint) -> Result<(), FailpointError> {
        match self.failpoints.pass(point) {
            Passed::Continue => Ok(()),
            Passed::Sleep(d) => {
                self.emit(NodeEvent::FailpointFired {
                    point,
                    action: format!("sleep {}ms", d.as_millis()),
                });
                madsim::time::sleep(d).await;
                Ok(())
            }
            Passed::Error => {
                self.emit(NodeEvent::FailpointFired {
                    point,
                    action: "error".into(),
                });
                Err(FailpointError::Injected(point))
            }
            Passed::Crash => {
                self.emit(NodeEvent::FailpointFired {
                    point,
                    action: "crash".into(),
                });
                self.exit(ExitReason::Failpoint(point)).await
            }
        }
    }
}

/// A host for unit tests: events are dropped, and an exit or a broken
/// invariant panics (a unit test never expects either).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    struct TestHost {
        /// A test that switches a bug on expects invariants to break.
        bug_on: bool,
    }

    impl Host for TestHost {
        fn emit(&self, member: u64, event: NodeEvent) {
            if let NodeEvent::InvariantBroken { invariant, detail } = event
                && !self.bug_on
            {
                panic!("member {member} broke {invariant}: {detail}");
            }
        }
        fn exit(&self, member: u64, reason: ExitReason) {
            panic!("member {member} exited in a unit test: {reason:?}");
        }
    }

    /// A host that keeps every event a member emits, for tests that look
    /// at what the store reported (a broken invariant, say).
    #[derive(Default)]
    pub struct Recording(pub parking_lot::Mutex<Vec<NodeEvent>>);

    impl Host for Recording {
        fn emit(&self, _member: u64, event: NodeEvent) {
            self.0.lock().push(event);
        }
        fn exit(&self, _member: u64, _reason: ExitReason) {}
    }

    impl Recording {
        /// How many times `invariant` was reported broken so far.
        pub fn broken(&self, invariant: Invariant) -> usize {
            self.0
                .lock()
                .iter()
                .filter(|e| {
                    matches!(e, NodeEvent::InvariantBroken { invariant: i, .. } if *i == invariant)
                })
                .count()
        }
    }

    /// An environment over real files in `dir`.
    pub fn env_in(dir: &std::path::Path) -> MemberEnv {
        env_for(dir, false)
    }

    /// The same, for a test that switches a bug on: a broken invariant is
    /// then what the bug does, not a failure of the test.
    pub fn env_with_bug_in(dir: &std::path::Path) -> MemberEnv {
        env_for(dir, true)
    }

    fn env_for(dir: &std::path::Path, bug_on: bool) -> MemberEnv {
        MemberEnv {
            member: 1,
            disk: Arc::new(crate::real_disk::RealDisk::new(dir)),
            clock: Arc::new(crate::clock::SimTimeClock::new()),
            host: Arc::new(TestHost { bug_on }),
            failpoints: Arc::new(Failpoints::new()),
            stop: Arc::new(tokio::sync::Notify::new()),
            backlog: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Recording;
    use super::*;

    #[test]
    fn a_broken_invariant_is_reported_with_its_values_and_a_kept_one_is_not() {
        let host = Arc::new(Recording::default());
        let mut env = testing::env_in(std::path::Path::new("."));
        env.host = host.clone();
        env.check(Invariant::CommitNeverDecreases, true, || unreachable!());
        env.check(Invariant::CommitNeverDecreases, false, || {
            "commit 7 -> 5".into()
        });
        assert_eq!(
            *host.0.lock(),
            vec![NodeEvent::InvariantBroken {
                invariant: Invariant::CommitNeverDecreases,
                detail: "commit 7 -> 5".into(),
            }]
        );
    }

    #[test]
    #[should_panic(expected = "broke raft.commit-never-decreases: commit 7 -> 5")]
    fn the_unit_tests_host_panics_on_a_broken_invariant() {
        let env = testing::env_in(std::path::Path::new("."));
        env.check(Invariant::CommitNeverDecreases, false, || {
            "commit 7 -> 5".into()
        });
    }
}
