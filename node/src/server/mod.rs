//! A member process: recovery from disk, the raft loop, the apply loop,
//! the client service and the background loops (backend commits,
//! compaction, linearizable reads, lease expiry).

mod agreement;
mod alarm_loop;
pub(crate) mod apply;
mod bootstrap;
mod client_service;
mod downgrade;
mod leader_monitor;
mod lease_loop;
mod move_leader;
pub mod promote;
mod propose;
mod raft_loop;
mod read_index;
pub mod reconfig_check;
mod request_check;
mod restore;
pub mod snap;
mod transport;
mod txn;
mod version_monitor;
mod wait;

pub use wait::ApplyResult;

use crate::backend::Backend;
use crate::cluster::ClusterState;
use crate::config::MemberConfig;
use crate::host::{ExitReason, MemberEnv, Role};
use crate::lease::Lessor;
use crate::mvcc::{CompactionJob, Mvcc};
use crate::version::Version;
use crate::wire::api::{ErrorCode, ErrorResponse, ResponseHeader};
use parking_lot::Mutex;
use raft::ReadState;
use raft::eraftpb::{ConfChangeV2, ConfState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot, watch};
use transport::Transport;
use wait::Wait;

/// What the rest of the member asks of the raft loop.
pub(crate) enum RaftRequest {
    Propose {
        data: Vec<u8>,
        done: oneshot::Sender<Result<(), ErrorCode>>,
    },
    ProposeConfChange {
        change: ConfChangeV2,
        done: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// From the apply loop: apply a committed configuration change to raft.
    ApplyConfChange {
        change: ConfChangeV2,
        done: oneshot::Sender<Result<ConfState, String>>,
    },
    ReadIndex {
        ctx: Vec<u8>,
    },
    TransferLeader {
        to: u64,
    },
    /// From the apply loop: a snapshot file was written.
    SnapshotTaken {
        snapshot: raft::eraftpb::Snapshot,
    },
    /// The leader's replication progress: its own match index and each
    /// peer's (None when this member does not lead).
    Progress {
        done: oneshot::Sender<Option<Progress>>,
    },
    /// From the apply loop: how sending a merged snapshot went.
    ReportSnapshot {
        to: u64,
        status: raft::SnapshotStatus,
    },
}

/// The leader's view of replication: the index each member is known to
/// hold (the leader's own included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub leader: u64,
    pub matched: std::collections::BTreeMap<u64, u64>,
}

/// What the raft loop knows, for everyone else to read.
#[derive(Debug, Clone, Default)]
pub struct RaftStatus {
    pub term: u64,
    pub leader: u64,
    pub role: Option<Role>,
    pub commit: u64,
    pub last_index: u64,
}

/// A snapshot received from the leader, saved at `path`, for the apply
/// loop to install once the raft loop has made it durable.
pub(crate) struct ReceivedSnapshot {
    pub index: u64,
    pub term: u64,
    pub path: String,
    /// Fires once the WAL holds the snapshot's marker and the hard state
    /// that commits it, fsynced (etcd's `notifyc`): installed earlier, a
    /// crash could leave a backend at the snapshot while the WAL's hard
    /// state still commits less, and the snapshot counts as invalid at
    /// restart (etcd #10219). Dropped unsent when the raft loop died.
    pub persisted: oneshot::Receiver<()>,
}

/// Work for the apply loop, in order.
pub(crate) struct ApplyWork {
    pub snapshot: Option<ReceivedSnapshot>,
    pub entries: Vec<raft::eraftpb::Entry>,
    /// Snapshot messages raft wants sent to members that fell behind. As
    /// etcd's server does (createMergedSnapshotMessage), the apply loop
    /// sends each with the state at its applied index, term and
    /// configuration, not the last snapshot file: a file taken before a
    /// member joined would not name it, and the joining member would drop
    /// it until the next periodic snapshot.
    pub snapshot_messages: Vec<raft::eraftpb::Message>,
}

/// A compaction for the compactor loop, with whoever waits for it.
pub(crate) struct CompactionTask {
    pub job: CompactionJob,
    pub done: Option<oneshot::Sender<()>>,
}

/// The consistent index: the last raft entry applied to the backend, and
/// its term. Set by the apply loop, persisted by the backend's pre-commit
/// hook.
#[derive(Clone, Default)]
pub(crate) struct ConsistentIndex(Arc<Mutex<(u64, u64)>>);

impl ConsistentIndex {
    pub fn get(&self) -> (u64, u64) {
        *self.0.lock()
    }

    pub fn set(&self, index: u64, term: u64) {
        *self.0.lock() = (index, term);
    }
}

/// Everything a member's tasks share.
pub(crate) struct MemberState {
    pub config: MemberConfig,
    pub env: MemberEnv,
    pub backend: Backend,
    pub mvcc: Mvcc,
    pub lessor: Lessor,
    pub cluster: Mutex<ClusterState>,
    pub raft: Arc<Mutex<RaftStatus>>,
    pub watch: crate::watch::WatchableStore,
    pub applied: watch::Sender<u64>,
    pub ci: ConsistentIndex,
    pub to_raft: mpsc::UnboundedSender<RaftRequest>,
    pub wait: Wait,
    pub reads: read_index::ReadWaiters,
    pub compactor: mpsc::UnboundedSender<CompactionTask>,
    pub transport: Transport,
    pub raft_log: crate::raft_log::RaftLog,
    /// Received snapshots saved by the raft loop and not yet applied by
    /// the apply loop: their files must stay until then.
    pub snaps_pending: Mutex<std::collections::BTreeSet<u64>>,
    /// Server versions other members reported, with when (leader's view).
    pub peer_versions: Mutex<std::collections::BTreeMap<u64, (Version, madsim::time::Instant)>>,
    /// Held by the apply loop while it applies one batch of committed
    /// entries; a graceful stop takes it before its last backend commit, so
    /// the stop never commits half of a batch (etcd's stop waits for the
    /// scheduler's running apply job before it closes the backend).
    pub apply_gate: tokio::sync::Mutex<()>,
    /// The leader's per-key TTL deadlines, by key and the revision that set
    /// the TTL (its own clock; a new leader starts counting afresh).
    pub key_ttl_deadlines: Mutex<std::collections::BTreeMap<(Vec<u8>, i64), std::time::Duration>>,
    /// Wakes the version monitor before its next round: the apply loop
    /// applied a term's empty entry (etcd 3.4's `forceVersionC`, 3.5's
    /// `FirstCommitInTermNotify`), so a new leader decides the cluster
    /// version at once.
    pub version_check: tokio::sync::Notify,
    /// The active alarms, as applied (see [`crate::alarm`]).
    pub alarms: Mutex<crate::alarm::Alarms>,
    /// A NOSPACE alarm for this member is being proposed.
    pub raising_no_space: std::sync::atomic::AtomicBool,
    next_id: AtomicU64,
}

impl MemberState {
    pub fn id(&self) -> u64 {
        self.config.id
    }

    /// A request id no other member and no earlier incarnation of this
    /// one used, as etcd's idutil.Generator makes them: the member id's low
    /// 16 bits, then 48 bits that start at the start time in ms shifted
    /// past an 8-bit counter, and count up (carrying into the time).
    pub fn next_request_id(&self) -> u64 {
        request_id(
            self.config.id,
            self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
        )
    }

    /// Whether this member may start what version `since` brought (propose
    /// its entries, take its requests): its own binary and the cluster must
    /// both have it. The cluster version alone is not enough: during a
    /// downgrade it stays above the members already swapped to the older
    /// binary while a member is down (no version can be decided), and a
    /// 3.5 leader of a cluster still at 3.6 has no 3.6 code to propose with.
    pub fn has_feature(&self, since: Version) -> bool {
        self.config.version >= since
            && self
                .cluster
                .lock()
                .cluster_version
                .is_some_and(|v| v >= since)
    }

    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.config.cluster_id,
            member_id: self.config.id,
            revision,
            raft_term: self.raft.lock().term,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.raft.lock().role == Some(Role::Leader)
    }

    /// The leader this member knows, and where it is, when that is another
    /// member (requests only the leader serves are handed to it there).
    pub fn leader_address(&self) -> Option<(u64, std::net::IpAddr)> {
        let leader = self.raft.lock().leader;
        if leader == 0 || leader == self.id() {
            return None;
        }
        let ip = self.cluster.lock().members.get(&leader)?.ip.parse().ok()?;
        Some((leader, ip))
    }

    /// Whether this member is in the cluster as a learner (etcd's
    /// IsMemberExist && IsLearner).
    pub fn is_learner(&self) -> bool {
        self.cluster
            .lock()
            .members
            .get(&self.id())
            .is_some_and(|m| m.is_learner)
    }

    /// What this member still owes, for the world's eventual checks.
    pub fn backlog(&self) -> crate::host::Backlog {
        let now = self.env.clock.now();
        let primary = self.is_leader() && self.lessor.is_primary();
        let (_, unsynced_watchers, victim_watchers) = self.watch.group_sizes();
        crate::host::Backlog {
            primary,
            leases: if primary {
                self.lessor.deadlines(now)
            } else {
                Vec::new()
            },
            ttl_keys: if primary {
                self.key_ttl_deadlines
                    .lock()
                    .iter()
                    .map(|((key, _), deadline)| {
                        (key.clone(), crate::lease::signed_ms(*deadline, now))
                    })
                    .collect()
            } else {
                Vec::new()
            },
            compaction_scheduled: self.mvcc.compact_revision(),
            compaction_finished: self.mvcc.finished_compact_revision(),
            compaction_batches: self.mvcc.compaction_batches(),
            unsynced_watchers,
            victim_watchers,
        }
    }

    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Records `index` as the last entry applied to the backend (what
    /// its pre-commit hook persists next).
    pub fn advance_ci(&self, index: u64, term: u64) {
        let (before, _) = self.ci.get();
        self.env.check(
            crate::invariants::Invariant::ConsistentIndexNeverDecreases,
            index >= before,
            || format!("consistent index {before} -> {index}"),
        );
        self.ci.set(index, term);
    }

    /// Waits until the apply loop has applied `index`.
    pub async fn wait_applied(&self, index: u64) {
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|applied| *applied >= index).await;
    }

    /// Ends the process over an unrecoverable error.
    pub async fn fatal(&self, what: impl std::fmt::Display) -> ! {
        self.env.exit(ExitReason::Fatal(what.to_string())).await
    }
}

pub fn error(code: ErrorCode, message: impl Into<String>) -> ErrorResponse {
    ErrorResponse {
        code: code as i32,
        message: message.into(),
        compact_revision: 0,
        leader_hint: 0,
    }
}

/// Runs a member until the world kills it. Recovery failures end the
/// process with the error, as etcd exits on them.
pub async fn run_member(config: MemberConfig, env: MemberEnv) {
    if let Err(msg) = config.knobs.validate() {
        env.exit(ExitReason::Fatal(format!("invalid configuration: {msg}")))
            .await;
    }
    let started = match bootstrap::start(config, env.clone()).await {
        Ok(started) => started,
        Err(e) => env.exit(ExitReason::Fatal(e.to_string())).await,
    };
    started.run().await;
}

/// etcd's idutil.Generator.Next: the member id's low 16 bits above the
/// low 48 bits of the counter.
fn request_id(member: u64, counter: u64) -> u64 {
    const SUFFIX_BITS: u32 = 48;
    ((member & 0xffff) << SUFFIX_BITS) | (counter & ((1 << SUFFIX_BITS) - 1))
}

/// Where this incarnation's request ids start counting (etcd's
/// idutil.NewGenerator): the start time in ms, its low 40 bits, above an
/// 8-bit counter, so a restarted member never reuses an id it sent before.
fn request_id_base() -> u64 {
    const TIME_BITS: u32 = 40;
    const COUNTER_BITS: u32 = 8;
    let ms = madsim::time::TimeHandle::try_current()
        .map(|t| t.elapsed().as_millis() as u64)
        .unwrap_or(0);
    ((ms + 1) & ((1 << TIME_BITS) - 1)) << COUNTER_BITS
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_state(
    config: MemberConfig,
    env: MemberEnv,
    backend: Backend,
    mvcc: Mvcc,
    lessor: Lessor,
    cluster: ClusterState,
    applied: u64,
    ci: ConsistentIndex,
    to_raft: mpsc::UnboundedSender<RaftRequest>,
    compactor: mpsc::UnboundedSender<CompactionTask>,
    transport: Transport,
    raft_log: crate::raft_log::RaftLog,
) -> Arc<MemberState> {
    let (applied_tx, _) = watch::channel(applied);
    let raft = Arc::new(Mutex::new(RaftStatus::default()));
    let (cluster_id, member_id, header_raft) = (config.cluster_id, config.id, raft.clone());
    let header = move |revision| ResponseHeader {
        cluster_id,
        member_id,
        revision,
        raft_term: header_raft.lock().term,
    };
    let knobs = &config.knobs;
    let bugs = &config.bugs;
    let watch_opts = crate::watch::WatchOptions {
        batch_max_revs: knobs.watch_batch_max_revs,
        progress_interval: std::time::Duration::from_millis(knobs.progress_notify_interval_ms),
        bug_progress_out_of_band: bugs.has(crate::bugs::Bug::Etcd15220),
        bug_stale_restore_rev: bugs.has(crate::bugs::Bug::Etcd15271),
        bug_drop_compaction_cancel: bugs.has(crate::bugs::Bug::Etcd17529),
        bug_progress_below_start: bugs.has(crate::bugs::Bug::Etcd20221),
        bug_lower_future_watch_rev: bugs.has(crate::bugs::Bug::Etcd20221Restore),
        ..Default::default()
    };
    let watch =
        crate::watch::WatchableStore::new(mvcc.clone(), env.clone(), Box::new(header), watch_opts);
    Arc::new(MemberState {
        config,
        env,
        backend,
        mvcc,
        lessor,
        cluster: Mutex::new(cluster),
        raft,
        watch,
        applied: applied_tx,
        ci,
        to_raft,
        wait: Wait::default(),
        reads: read_index::ReadWaiters::default(),
        compactor,
        transport,
        raft_log,
        peer_versions: Mutex::new(Default::default()),
        snaps_pending: Mutex::new(std::collections::BTreeSet::new()),
        apply_gate: tokio::sync::Mutex::new(()),
        key_ttl_deadlines: Mutex::new(Default::default()),
        version_check: tokio::sync::Notify::new(),
        alarms: Mutex::new(Default::default()),
        raising_no_space: std::sync::atomic::AtomicBool::new(false),
        next_id: AtomicU64::new(request_id_base()),
    })
}

/// Delivers read states from the raft loop to the read-index loop.
pub(crate) type ReadStates = mpsc::UnboundedSender<ReadState>;

#[cfg(test)]
mod request_id_tests {
    use super::request_id;

    #[test]
    fn members_started_together_never_share_a_request_id() {
        // Three members started in the same millisecond count from the
        // same suffix: the member bits keep their ids apart.
        let start = 1 << 8;
        let ids: std::collections::BTreeSet<u64> = (1..=3u64)
            .flat_map(|m| (0..1000).map(move |n| request_id(m, start + n)))
            .collect();
        assert_eq!(ids.len(), 3000);
        // Only the low 16 bits of the member id count, as in etcd.
        assert_eq!(request_id(0x1_0001, 5), request_id(1, 5));
        // A later start (a restart) counts from above the earlier ids.
        assert!(request_id(1, 2 << 8) > request_id(1, (1 << 8) + 255));
    }
}
