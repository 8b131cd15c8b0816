//! Starting a member: recover (or create) the WAL, the newest valid
//! snapshot and the backend, rebuild the state machine, and wire up the
//! loops.

use super::raft_loop::RaftLoop;
use super::restore::{RestoreError, restore_lessor};
use super::transport::Transport;
use super::{ConsistentIndex, MemberState, RaftRequest, new_state, snap};
use crate::backend::{Backend, BackendError, Bucket, keys};
use crate::bugs::Bug;
use crate::cluster::{ClusterDataError, ClusterState};
use crate::config::MemberConfig;
use crate::host::{HowReached, MemberEnv, NodeEvent};
use crate::invariants::Invariant;
use crate::lease::{LeaseError, Lessor};
use crate::mvcc::{AtCompactRevision, Mvcc, MvccError, MvccOptions};
use crate::raft_log::RaftLog;
use crate::wal::{SnapshotMarker, Wal, WalError, WalMetadata};
use crate::wire::api::Member;
use crate::wire::internal::ConfChangeContext;
use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Snapshot};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error(transparent)]
    Snap(#[from] snap::SnapError),
    #[error(transparent)]
    Cluster(#[from] ClusterDataError),
    #[error(transparent)]
    Alarms(#[from] crate::alarm::AlarmDataError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("cannot bind: {0}")]
    Bind(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("{0}")]
    Refused(String),
    /// The WAL does not continue from the snapshot the member restarts
    /// from: it fell back to an older snapshot (the newest one did not read
    /// back whole) whose entries were already released. etcd cannot start
    /// on such a data directory either.
    #[error(
        "WAL entries after snapshot {snapshot} are not contiguous: expected index {expected}, found {found}"
    )]
    WalGap {
        snapshot: u64,
        expected: u64,
        found: u64,
    },
}

/// The entries a member replays must follow its snapshot without a gap.
fn check_continuity(snapshot: u64, entries: &[Entry]) -> Result<(), StartError> {
    for (expected, e) in (snapshot + 1..).zip(entries) {
        if e.index != expected {
            return Err(StartError::WalGap {
                snapshot,
                expected,
                found: e.index,
            });
        }
    }
    Ok(())
}

/// A member that recovered and is ready to run its loops.
pub(crate) struct Started {
    state: Arc<MemberState>,
    raft: RaftLoop,
    inbound: mpsc::UnboundedReceiver<super::transport::Inbound>,
    requests: mpsc::UnboundedReceiver<RaftRequest>,
    compactions: mpsc::UnboundedReceiver<super::CompactionTask>,
    resumed_compaction: Option<crate::mvcc::CompactionJob>,
}

pub(crate) async fn start(config: MemberConfig, env: MemberEnv) -> Result<Started, StartError> {
    let disk = env.disk.clone();
    let knobs = config.knobs.clone();
    let fresh = !Wal::exists(&disk).await?;

    // The WAL: recovered, or created for a new member.
    let (mut wal, contents) = if fresh {
        let voters = if config.join_existing {
            Vec::new()
        } else {
            config.peers.iter().map(|p| p.id).collect()
        };
        let meta = WalMetadata {
            member_id: config.id,
            cluster_id: config.cluster_id,
            bootstrap_voters: voters,
        };
        let wal = Wal::create(disk.clone(), meta, knobs.wal_segment_bytes).await?;
        (wal, None)
    } else {
        let (wal, contents) = Wal::open(disk.clone(), knobs.wal_segment_bytes).await?;
        if contents.truncated_bytes > 0 {
            env.reach(crate::coverage::Point::WalTornTailDropped);
        }
        if wal.segment_count() > 1 {
            env.reach(crate::coverage::Point::WalSeveralSegmentsRead);
        }
        if contents.metadata.member_id != config.id {
            return Err(StartError::Refused(format!(
                "data directory belongs to member {}, not {}",
                contents.metadata.member_id, config.id
            )));
        }
        (wal, Some(contents))
    };
    let bootstrap_log = start_log(&config, &mut wal, contents.as_ref()).await?;

    snap::remove_leftovers(&disk).await?;

    // The newest snapshot the WAL knows about and that reads back whole.
    let mut snapshot: Option<Snapshot> = None;
    if let Some(contents) = &contents {
        let markers: Vec<SnapshotMarker> = contents.snapshots.clone();
        for (index, term, path) in snap::list(&disk).await? {
            if index > contents.hard_state.commit
                || !markers.contains(&SnapshotMarker { index, term })
            {
                continue;
            }
            match snap::load(&disk, &path).await {
                Ok(s) => {
                    snapshot = Some(s);
                    break;
                }
                Err(e) => tracing::warn!(member = config.id, "skipping snapshot: {e}"),
            }
        }
    }

    // The backend; if it is older than the snapshot, the snapshot wins.
    let backend = Backend::open(
        env.clone(),
        knobs.backend_batch_limit,
        config.bugs.has(Bug::Etcd17247),
    )
    .await?;
    if let Some(s) = &snapshot {
        let (ci, _) = backend.consistent_index();
        if ci < s.get_metadata().index {
            tracing::info!(
                member = config.id,
                ci,
                snapshot = s.get_metadata().index,
                "restoring backend from snapshot"
            );
            backend.restore_image(&s.data).await?;
        }
    }
    let ci = ConsistentIndex::default();
    let (index, term) = backend.consistent_index();
    ci.set(index, term);
    let hook_ci = ci.clone();
    let hook_env = env.clone();
    let persisted = std::sync::atomic::AtomicU64::new(ci.get().0);
    backend.set_pre_commit_hook(Box::new(move || {
        let (index, term) = hook_ci.get();
        let before = persisted.swap(index, std::sync::atomic::Ordering::SeqCst);
        hook_env.check(
            Invariant::PersistedConsistentIndexNeverDecreases,
            index >= before,
            || format!("persisting consistent index {index} over {before}"),
        );
        vec![
            (
                Bucket::Meta,
                keys::CONSISTENT_INDEX.to_vec(),
                index.to_be_bytes().to_vec(),
            ),
            (
                Bucket::Meta,
                keys::TERM.to_vec(),
                term.to_be_bytes().to_vec(),
            ),
        ]
    }));

    // A member that bootstrapped a new cluster records its initial members
    // (etcd applies them from the first raft entries). Not only on the
    // first start: killed between creating the WAL and committing them, it
    // finds its WAL on restart and would otherwise run with no members.
    let bootstrap_voters = match &contents {
        Some(c) => c.metadata.bootstrap_voters.clone(),
        None => wal.metadata().bootstrap_voters.clone(),
    };
    let mut cluster = ClusterState::load(&backend)?;
    let alarms = crate::alarm::Alarms::load(&backend)?;
    if !bootstrap_voters.is_empty() && cluster.members.is_empty() && snapshot.is_none() {
        if !fresh {
            env.reach(crate::coverage::Point::BootstrapMembersRecovered);
        }
        let mut tx = backend.batch_tx().await;
        for p in config
            .peers
            .iter()
            .filter(|p| bootstrap_voters.contains(&p.id))
        {
            cluster.add_member(
                &mut tx,
                Member {
                    id: p.id,
                    ip: p.ip.to_string(),
                    is_learner: false,
                },
            );
        }
        tx.commit_now(true).await?;
    }

    // A binary older than the cluster version must not run on this data,
    // unless a downgrade to exactly its version is under way.
    if let Some(cv) = cluster.cluster_version {
        let allowed = cluster.downgrade.enabled && cluster.downgrade.target == Some(config.version);
        if config.version < cv && !allowed {
            return Err(StartError::Refused(format!(
                "invalid downgrade; server version {} is lower than determined cluster version {cv}",
                config.version
            )));
        }
    }

    // Strict: a binary never runs on data newer than itself.
    crate::storage_version::detect(&backend)
        .and_then(|sv| crate::storage_version::check_start(sv, config.version))
        .map_err(|e| StartError::Refused(e.to_string()))?;

    // The state machine.
    let opts = MvccOptions {
        compaction_batch_limit: knobs.compaction_batch_limit,
        compaction_sleep: Duration::from_millis(knobs.compaction_sleep_interval_ms),
        // etcd before PR 18274 (18089) never met 22376, which that PR
        // brought: with both on, the older code is what runs.
        at_compact_revision: if config.bugs.has(Bug::Etcd18089) {
            AtCompactRevision::DropTombstone
        } else if config.bugs.has(Bug::Etcd22376) {
            AtCompactRevision::KeepTombstoneOverValue
        } else {
            AtCompactRevision::KeepTombstone
        },
        bug_lower_revision_after_compaction: config.bugs.has(Bug::Etcd17780),
        bug_skip_tombstone_only_keys: config.bugs.has(Bug::Etcd19179),
    };
    let (mvcc, resumed_compaction) = Mvcc::open(backend.clone(), env.clone(), opts)?;
    if resumed_compaction.is_some() {
        env.reach(crate::coverage::Point::CompactionResumed);
    }
    let lessor = Lessor::new(knobs.min_lease_ttl_s);
    restore_lessor(&lessor, &backend, &mvcc, env.clock.now())?;

    // The raft log raft-rs reads.
    let raft_log = RaftLog::new();
    let mut applied = 0;
    match &snapshot {
        Some(s) => {
            applied = s.get_metadata().index;
            raft_log.apply_snapshot(s.clone());
        }
        None => {
            let voters = contents
                .as_ref()
                .map(|c| c.metadata.bootstrap_voters.clone())
                .unwrap_or_else(|| wal.metadata().bootstrap_voters.clone());
            raft_log.set_conf_state(ConfState {
                voters,
                ..Default::default()
            });
        }
    }
    if let Some((entries, hard_state)) = bootstrap_log {
        raft_log.append(&entries);
        raft_log.set_hard_state(hard_state);
    }
    if let Some(contents) = &contents {
        let entries = contents.entries_after(applied);
        check_continuity(applied, &entries)?;
        raft_log.append(&entries);
        let mut hs = contents.hard_state.clone();
        // A commit index beyond what the log holds cannot be trusted.
        hs.commit = hs.commit.min(raft_log.last_index()).max(applied);
        raft_log.set_hard_state(hs);
    }

    let (transport, inbound) = Transport::bind(&config, env.host.clone())
        .await
        .map_err(|e| StartError::Bind(e.to_string()))?;
    for m in cluster.members.values() {
        if let Ok(ip) = m.ip.parse() {
            transport.set_peer(m.id, ip);
        }
    }
    let (to_raft, requests) = mpsc::unbounded_channel();
    let (compactor, compactions) = mpsc::unbounded_channel();
    let raft = RaftLoop::new(
        &config,
        raft_log.clone(),
        applied,
        wal,
        snapshot.as_ref().map(|s| s.get_metadata().index),
    )
    .map_err(|e| StartError::Raft(e.to_string()))?;
    let state = new_state(
        config, env, backend, mvcc, lessor, cluster, applied, ci, to_raft, compactor, transport,
        raft_log,
    );
    *state.alarms.lock() = alarms;
    Ok(Started {
        state,
        raft,
        inbound,
        requests,
        compactions,
        resumed_compaction,
    })
}

impl Started {
    pub async fn run(self) {
        let Started {
            state,
            raft,
            inbound,
            requests,
            compactions,
            resumed_compaction,
        } = self;
        let (apply_tx, apply_rx) = mpsc::unbounded_channel();
        let (read_states_tx, read_states_rx) = mpsc::unbounded_channel();
        madsim::task::spawn(super::apply::run(
            state.clone(),
            apply_rx,
            raft.conf_state(),
        ));
        madsim::task::spawn(backend_committer(state.clone()));
        madsim::task::spawn(compactor(state.clone(), compactions));
        if let Some(job) = resumed_compaction {
            let _ = state
                .compactor
                .send(super::CompactionTask { job, done: None });
        }
        madsim::task::spawn(super::read_index::run(state.clone(), read_states_rx));
        madsim::task::spawn(super::client_service::serve(state.clone()));
        madsim::task::spawn(graceful_stop(state.clone()));
        madsim::task::spawn(state.watch.clone().run_loops());
        madsim::task::spawn(serve_watches(state.clone()));
        madsim::task::spawn(super::lease_loop::run(state.clone()));
        madsim::task::spawn(purge_snapshots(state.clone()));
        madsim::task::spawn(super::version_monitor::run(state.clone()));
        if state.config.knobs.corrupt_check_interval_ms > 0 {
            madsim::task::spawn(super::alarm_loop::corruption_check(state.clone()));
        }
        let storage = crate::storage_version::detect(&state.backend)
            .ok()
            .flatten();
        state.env.check(
            Invariant::StorageVersionNotPastServer,
            storage.is_none_or(|sv| sv <= state.config.version),
            || format!("serving {:?} data as {}", storage, state.config.version),
        );
        let member = Arc::downgrade(&state);
        *state.env.backlog.lock() = Some(Arc::new(move || {
            member.upgrade().map(|s| s.backlog()).unwrap_or_default()
        }));
        // What the recovered backend holds must be what every member held
        // after the same entry (etcd-13766 and 14685 recover something else).
        super::agreement::check(
            &state.env,
            state.ci.get().0,
            state.mvcc.current_revision(),
            HowReached::Recovered,
        );
        state.env.emit(NodeEvent::Started {
            version: state.config.version,
            applied_index: state.applied_index(),
            revision: state.mvcc.current_revision(),
        });
        raft.run(state, inbound, requests, apply_tx, read_states_tx)
            .await;
    }
}

/// Keeps the newest snapshot files and removes older ones, as etcd's
/// purge loop does, never one the apply loop has still to apply (etcd's
/// purge only removes metadata files, never a received database).
async fn purge_snapshots(state: Arc<MemberState>) {
    loop {
        madsim::time::sleep(Duration::from_millis(100)).await;
        let pending = state.snaps_pending.lock().clone();
        let keep = state.config.knobs.max_snapshot_files;
        match snap::purge(&state.env.disk, keep, &pending).await {
            Ok(0) => {}
            Ok(_) => state.env.reach(crate::coverage::Point::SnapshotFilesPurged),
            Err(e) => state.fatal(format!("purging snapshots: {e}")).await,
        }
    }
}

/// Accepts watch streams on the watch port.
async fn serve_watches(state: Arc<MemberState>) {
    let ip = state
        .config
        .peer(state.id())
        .map(|p| p.ip)
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let endpoint =
        match madsim::net::Endpoint::bind(std::net::SocketAddr::new(ip, crate::config::WATCH_PORT))
            .await
        {
            Ok(ep) => ep,
            Err(e) => {
                state
                    .fatal(format!("cannot bind the watch port: {e}"))
                    .await
            }
        };
    let header_state = state.clone();
    let header: Arc<dyn Fn(i64) -> crate::wire::api::ResponseHeader + Send + Sync> =
        Arc::new(move |rev| header_state.header(rev));
    loop {
        let Ok((tx, rx, _from)) = endpoint.accept1().await else {
            return;
        };
        madsim::task::spawn(crate::watch::serve_stream(
            state.watch.clone(),
            state.mvcc.clone(),
            state.env.clone(),
            state.config.knobs.watch_stream_buffer,
            tx,
            rx,
            header.clone(),
        ));
    }
}

/// Waits for a stop request, lets the apply loop finish the batch it is
/// applying, flushes the backend, and exits.
async fn graceful_stop(state: Arc<MemberState>) {
    state.env.stop.notified().await;
    // Held until the exit: no batch starts after the last commit.
    let _no_more_batches = state.apply_gate.lock().await;
    if let Err(e) = state.backend.commit().await {
        state
            .fatal(format!("backend commit failed while stopping: {e}"))
            .await;
    }
    state.env.exit(crate::host::ExitReason::Stopped).await;
}

/// Commits the backend's batch every interval (etcd's batch interval).
async fn backend_committer(state: Arc<MemberState>) {
    let interval = Duration::from_millis(state.config.knobs.backend_batch_interval_ms);
    loop {
        madsim::time::sleep(interval).await;
        if let Err(e) = state.backend.commit().await {
            state.fatal(format!("backend commit failed: {e}")).await;
        }
        super::alarm_loop::after_commit(&state);
    }
}

/// Runs compactions one at a time, in order (etcd's FIFO scheduler).
async fn compactor(
    state: Arc<MemberState>,
    mut jobs: mpsc::UnboundedReceiver<super::CompactionTask>,
) {
    while let Some(task) = jobs.recv().await {
        if let Err(e) = task.job.run().await {
            state.fatal(format!("compaction failed: {e}")).await;
        }
        if let Some(done) = task.done {
            let _ = done.send(());
        }
    }
}

/// etcd's raft bootstrap (RawNode.Bootstrap): a member starting a new
/// cluster begins its log with one AddNode conf change per initial member,
/// at term 1 and committed, and campaigns from term 1. Members that join
/// later learn the voters from these entries. Also finishes a bootstrap
/// cut short (the WAL created, the entries not yet written).
async fn start_log(
    config: &MemberConfig,
    wal: &mut Wal,
    contents: Option<&crate::wal::WalContents>,
) -> Result<Option<(Vec<Entry>, HardState)>, StartError> {
    let voters = wal.metadata().bootstrap_voters.clone();
    let untouched = contents.is_none_or(|c| {
        c.entries.is_empty() && c.snapshots.is_empty() && c.hard_state == HardState::default()
    });
    if voters.is_empty() || !untouched {
        return Ok(None);
    }
    let entries: Vec<Entry> = config
        .peers
        .iter()
        .filter(|p| voters.contains(&p.id))
        .zip(1..)
        .map(|(peer, index)| {
            let context = ConfChangeContext {
                id: 0,
                proposer: 0,
                member: Some(Member {
                    id: peer.id,
                    ip: peer.ip.to_string(),
                    is_learner: false,
                }),
            };
            let mut change = ConfChange::default();
            change.set_change_type(ConfChangeType::AddNode);
            change.node_id = peer.id;
            change.context = prost::Message::encode_to_vec(&context).into();
            let mut entry = Entry::default();
            entry.set_entry_type(EntryType::EntryConfChange);
            entry.term = 1;
            entry.index = index;
            entry.data = change.write_to_bytes().unwrap_or_default().into();
            entry
        })
        .collect();
    let hard_state = HardState {
        term: 1,
        vote: 0,
        commit: entries.len() as u64,
        ..Default::default()
    };
    wal.save(&entries, Some(&hard_state)).await?;
    Ok(Some((entries, hard_state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(indexes: &[u64]) -> Vec<Entry> {
        indexes
            .iter()
            .map(|&index| Entry {
                index,
                term: 1,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn replayed_entries_must_follow_the_snapshot_without_a_gap() {
        assert!(check_continuity(80, &entries(&[81, 82, 83])).is_ok());
        assert!(check_continuity(80, &[]).is_ok());
        assert!(check_continuity(0, &entries(&[1, 2])).is_ok());
        // Fell back to snapshot 80 after segments up to 155 were released.
        assert!(matches!(
            check_continuity(80, &entries(&[156, 157])),
            Err(StartError::WalGap {
                snapshot: 80,
                expected: 81,
                found: 156
            })
        ));
        assert!(matches!(
            check_continuity(80, &entries(&[81, 90])),
            Err(StartError::WalGap { expected: 82, .. })
        ));
    }
}
