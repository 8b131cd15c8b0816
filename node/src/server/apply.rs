//! The apply loop: applies committed entries (and received snapshots) to
//! the state machine in log order, answers the proposers waiting on this
//! member, and takes a snapshot every `snapshot_count` entries.

use super::restore::{encode_conf_state, restore_lessor};
use super::txn::{ApplyError, TxnExecutor};
use super::{ApplyWork, CompactionTask, MemberState, RaftRequest, error, snap};
use crate::backend::{Bucket, keys};

use crate::bugs::Bug;
use crate::cluster::{ClusterState, DowngradeInfo};
use crate::failpoint::Failpoint;
use crate::host::{HowReached, NodeEvent};
use crate::invariants::Invariant;
use crate::mvcc::MvccError;
use crate::schema;
use crate::version::Version;
use crate::wire::api::{
    AlarmAction, AlarmResponse, AlarmType, CompactionResponse, ErrorCode, ErrorResponse,
    LeaseGrantResponse, LeaseRevokeResponse, Member, client_response,
};
use crate::wire::internal::{ConfChangeContext, InternalRequest, internal_request::Request};
use prost::Message as _;
use protobuf::Message as _;
use raft::SnapshotStatus;
use raft::eraftpb::{ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, SnapshotMetadata};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

struct Applier {
    state: Arc<MemberState>,
    conf_state: ConfState,
    last_snapshot_index: u64,
    /// Index and term of the last entry (or snapshot) applied.
    applied: (u64, u64),
}

pub(crate) async fn run(
    state: Arc<MemberState>,
    mut work: mpsc::UnboundedReceiver<ApplyWork>,
    conf_state: ConfState,
) {
    let last_snapshot_index = state.raft_log.snapshot_index().max(state.applied_index());
    // At start the applied state is the snapshot's (raft hands the entries
    // after it to this loop again).
    let applied = (state.applied_index(), state.raft_log.snapshot_term());
    let mut applier = Applier {
        state,
        conf_state,
        last_snapshot_index,
        applied,
    };
    while let Some(w) = work.recv().await {
        let state = applier.state.clone();
        let batch = state.apply_gate.lock().await;
        if let Some(snap) = w.snapshot {
            if snap.persisted.await.is_err() {
                // The raft loop ended before the snapshot was durable.
                return;
            }
            applier
                .apply_snapshot(snap.index, snap.term, &snap.path)
                .await;
        }
        for entry in w.entries {
            applier.apply_entry(entry).await;
        }
        drop(batch);
        for m in w.snapshot_messages {
            applier.send_merged_snapshot(m).await;
        }
    }
}

fn to_response(e: ApplyError) -> ErrorResponse {
    ErrorResponse {
        code: e.code as i32,
        message: e.message,
        compact_revision: e.compact_revision,
        leader_hint: 0,
    }
}

impl Applier {
    async fn fatal(&self, what: impl std::fmt::Display) -> ! {
        self.state.fatal(what).await
    }

    async fn apply_entry(&mut self, entry: Entry) {
        let state = self.state.clone();
        let (index, term) = (entry.index, entry.term);
        state.env.check(
            Invariant::EntriesAppliedInOrder,
            index == self.applied.0 + 1,
            || format!("entry {index} after entry {}", self.applied.0),
        );
        let early_ci = state.config.bugs.has(Bug::Etcd13766);
        let already_applied = index <= state.ci.get().0;
        if already_applied {
            state
                .env
                .reach(crate::coverage::Point::EntryReplayedSkipped);
        }
        if early_ci && !already_applied {
            // etcd-13766: the index was recorded before the entry's data.
            state.advance_ci(index, term);
        }
        // Let other tasks (commits, watchers, clients) run between entries.
        madsim::task::yield_now().await;

        match entry.get_entry_type() {
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                self.apply_conf_change(&entry, already_applied, early_ci)
                    .await;
            }
            EntryType::EntryNormal if entry.data.is_empty() || already_applied => {
                if entry.data.is_empty() {
                    // A leader's first entry of its term: as etcd, have the
                    // version monitor look at once.
                    state.version_check.notify_one();
                }
                if !already_applied {
                    let tx = state.backend.batch_tx().await;
                    state.advance_ci(index, term);
                    if let Err(e) = tx.end().await {
                        self.fatal(format!("backend: {e}")).await;
                    }
                }
            }
            EntryType::EntryNormal => {
                let mut req =
                    match crate::wire::api::decode::<InternalRequest>("raft entry", &entry.data) {
                        Ok(r) => r,
                        Err(e) => self.fatal(format!("entry {index}: {e}")).await,
                    };
                if let Err(e) = schema::restrict_to_version(&mut req, state.config.version) {
                    self.fatal(format!("cannot apply entry {index}: {e}")).await;
                }
                let header = req.header.clone().unwrap_or_default();
                let result = self.apply_request(index, term, req, early_ci).await;
                if header.member == state.id() {
                    state.wait.trigger(header.id, result);
                }
            }
        }
        if !already_applied {
            let revision = state.mvcc.current_revision();
            super::agreement::check(&state.env, index, revision, HowReached::Applied);
        }
        let _ = state.applied.send_replace(index);
        self.applied = (index, term);
        if index >= self.last_snapshot_index + state.config.knobs.snapshot_count {
            self.take_snapshot(index, term).await;
        }
    }

    /// Applies one request; the result goes to the proposer.
    async fn apply_request(
        &mut self,
        index: u64,
        term: u64,
        req: InternalRequest,
        ci_set: bool,
    ) -> super::ApplyResult {
        let state = self.state.clone();
        let proposer = req.header.as_ref().map_or(0, |h| h.member);
        let Some(mut request) = req.request else {
            return Err(error(ErrorCode::InvalidArgument, "empty request"));
        };
        // etcd-18667: a member nobody waits on for the answer drops the
        // Txn's reads, and with them their revision check (etcd's
        // removeNeedlessRangeReqs before PR 21432). The fixed store checks
        // every read on every member, so all of them refuse or apply alike.
        if let Request::Txn(t) = &mut request
            && proposer != state.id()
            && state.config.bugs.has(Bug::Etcd18667)
        {
            drop_range_ops(t);
        }
        let set_ci = |s: &MemberState| {
            if !ci_set {
                s.advance_ci(index, term);
            }
        };
        // As etcd's capped and corrupt appliers: an active alarm refuses
        // the request on every member alike (the alarms are applied state).
        let refusal = alarm_kind(&request).and_then(|kind| state.alarms.lock().refusal(kind));
        if let Some((code, message)) = refusal {
            self.touch_ci(index, term, ci_set).await;
            return Err(error(code, message));
        }
        match request {
            Request::Put(_) | Request::DeleteRange(_) | Request::Txn(_) => {
                let ttl_enabled = state
                    .cluster
                    .lock()
                    .cluster_version
                    .is_some_and(|v| v >= Version::V3_7);
                let mut txn = state.mvcc.write().await;
                set_ci(&state);
                let mut exec = TxnExecutor {
                    txn: &mut txn,
                    lessor: &state.lessor,
                    mvcc: &state.mvcc,
                    ttl_enabled,
                };
                let outcome: Result<client_response::Body, ApplyError> = match &request {
                    Request::Put(p) => exec
                        .check_put(p)
                        .and_then(|_| exec.put(p))
                        .map(client_response::Body::Put),
                    Request::DeleteRange(d) => {
                        exec.delete_range(d).map(client_response::Body::DeleteRange)
                    }
                    Request::Txn(t) => exec.txn(t).map(client_response::Body::Txn),
                    _ => unreachable!("matched above"),
                };
                if let Err(e) = &outcome
                    && e.fatal
                {
                    // The cause first: it names where the member ended.
                    self.fatal(format!("{} (entry {index})", e.message)).await;
                }
                let (rev, events, lease_changes) = match txn.end().await {
                    Ok(done) => done,
                    Err(e) => self.fatal(format!("backend: {e}")).await,
                };
                notify_watchers(&state, rev, events);
                for change in lease_changes {
                    if change.old_lease != 0 {
                        state.lessor.detach(change.old_lease, &change.key);
                    }
                    if change.new_lease != 0 {
                        state.lessor.attach(change.new_lease, &change.key);
                    }
                }
                let header = state.header(rev);
                match outcome {
                    Ok(mut body) => {
                        match &mut body {
                            client_response::Body::Put(p) => p.header = Some(header),
                            client_response::Body::DeleteRange(d) => d.header = Some(header),
                            client_response::Body::Txn(t) => t.header = Some(header),
                            _ => {}
                        }
                        Ok(body)
                    }
                    Err(e) => Err(to_response(e)),
                }
            }
            Request::Compaction(c) => {
                let compacted = state
                    .mvcc
                    .compact_inside(c.revision, || set_ci(&state))
                    .await;
                if compacted.is_err() {
                    // Refused (or failed before its transaction): the entry
                    // writes nothing but its index.
                    self.touch_ci(index, term, ci_set).await;
                }
                match compacted {
                    Ok(job) => {
                        let (done_tx, done_rx) = oneshot::channel();
                        let _ = state.compactor.send(CompactionTask {
                            job,
                            done: c.physical.then_some(done_tx),
                        });
                        if c.physical {
                            let _ = done_rx.await;
                        }
                        Ok(client_response::Body::Compaction(CompactionResponse {
                            header: Some(state.header(state.mvcc.current_revision())),
                        }))
                    }
                    Err(e @ (MvccError::Compacted { .. } | MvccError::FutureRevision)) => {
                        Err(to_response(e.into()))
                    }
                    // A failed commit of the scheduled revision (an fsync
                    // EIO drops the file's unsynced pages) leaves memory
                    // ahead of the disk: etcd's backend stops the process
                    // on a failed commit, and so does this member.
                    Err(e) => {
                        self.fatal(format!("compaction at {}: {e}", c.revision))
                            .await
                    }
                }
            }
            Request::LeaseGrant(g) => {
                let mut tx = state.backend.batch_tx().await;
                set_ci(&state);
                let result = state
                    .lessor
                    .grant(&mut tx, g.id, g.ttl, state.env.clock.now());
                if let Err(e) = tx.end().await {
                    self.fatal(format!("backend: {e}")).await;
                }
                if let Ok(ttl) = result {
                    let min = state.config.knobs.min_lease_ttl_s;
                    state
                        .env
                        .check(Invariant::GrantedTtlAtLeastMinimum, ttl >= min, || {
                            format!("lease {} granted for {ttl} s, minimum {min} s", g.id)
                        });
                }
                match result {
                    Ok(ttl) => Ok(client_response::Body::LeaseGrant(LeaseGrantResponse {
                        header: Some(state.header(state.mvcc.current_revision())),
                        id: g.id,
                        ttl,
                    })),
                    Err(e) => Err(lease_error(e)),
                }
            }
            Request::LeaseRevoke(r) => {
                let Some(attached) = state.lessor.keys(r.id) else {
                    self.touch_ci(index, term, ci_set).await;
                    return Err(error(
                        ErrorCode::LeaseNotFound,
                        crate::lease::LeaseError::NotFound.to_string(),
                    ));
                };
                let mut txn = state.mvcc.write().await;
                set_ci(&state);
                for key in &attached {
                    if let Err(e) = txn.delete_range(key, &[]) {
                        self.fatal(format!("lease revoke: {e}")).await;
                    }
                }
                let revoked = state.lessor.revoke(txn.backend_tx(), r.id);
                let (rev, events, _) = match txn.end().await {
                    Ok(done) => done,
                    Err(e) => self.fatal(format!("backend: {e}")).await,
                };
                notify_watchers(&state, rev, events);
                match revoked {
                    Ok(_) => Ok(client_response::Body::LeaseRevoke(LeaseRevokeResponse {
                        header: Some(state.header(rev)),
                    })),
                    Err(e) => Err(lease_error(e)),
                }
            }
            Request::LeaseCheckpoint(cp) => {
                let mut tx = state.backend.batch_tx().await;
                set_ci(&state);
                for c in &cp.checkpoints {
                    state
                        .lessor
                        .apply_checkpoint(&mut tx, c.id, c.remaining_ttl);
                }
                if let Err(e) = tx.end().await {
                    self.fatal(format!("backend: {e}")).await;
                }
                Err(error(ErrorCode::Unspecified, "internal request"))
            }
            Request::KeyExpire(k) => {
                let mut txn = state.mvcc.write().await;
                set_ci(&state);
                let current = txn.get(&k.key).ok().flatten();
                if current.is_some_and(|kv| kv.mod_revision == k.mod_revision)
                    && let Err(e) = txn.delete_range(&k.key, &[])
                {
                    self.fatal(format!("key expiry: {e}")).await;
                }
                match txn.end().await {
                    Ok((rev, events, _)) => notify_watchers(&state, rev, events),
                    Err(e) => self.fatal(format!("backend: {e}")).await,
                }
                Err(error(ErrorCode::Unspecified, "internal request"))
            }
            Request::ClusterVersionSet(set) => {
                let version: Version = match set.version.parse() {
                    Ok(v) => v,
                    Err(e) => self.fatal(format!("entry {index}: {e}")).await,
                };
                if version > state.config.version {
                    self.fatal(format!(
                        "invalid downgrade; server version {} is lower than determined cluster version {version}",
                        state.config.version
                    ))
                    .await;
                }
                let mut tx = state.backend.batch_tx().await;
                set_ci(&state);
                let previous = {
                    let mut cluster = state.cluster.lock();
                    let previous = cluster.cluster_version;
                    cluster.set_cluster_version(&mut tx, version);
                    previous
                };
                if let Err(e) = tx.end().await {
                    self.fatal(format!("backend: {e}")).await;
                }
                state.env.check(
                    Invariant::ClusterVersionNotPastServer,
                    version <= state.config.version,
                    || {
                        format!(
                            "cluster version {version} on a {} member",
                            state.config.version
                        )
                    },
                );
                state.env.emit(NodeEvent::ClusterVersion { version });
                // Lowering the cluster version forces a snapshot, so that
                // entries newer than the target need no replay.
                if previous.is_some_and(|p| version < p) {
                    state
                        .env
                        .reach(crate::coverage::Point::ClusterVersionLowered);
                }
                if previous.is_some_and(|p| version < p)
                    && !state.config.bugs.has(Bug::DowngradeNoSnapshot)
                {
                    if let Err(e) = state
                        .env
                        .failpoint(Failpoint::ApplyBeforeForcedSnapshot)
                        .await
                    {
                        self.fatal(e).await;
                    }
                    self.take_snapshot(index, term).await;
                }
                Ok(client_response::Body::Status(Default::default()))
            }
            Request::Alarm(a) => {
                let action = AlarmAction::try_from(a.action).unwrap_or(AlarmAction::Get);
                let alarm = AlarmType::try_from(a.alarm).unwrap_or(AlarmType::None);
                let mut tx = state.backend.batch_tx().await;
                set_ci(&state);
                let (alarms, point) = {
                    let mut set = state.alarms.lock();
                    match action {
                        AlarmAction::Get => (set.get(alarm), None),
                        AlarmAction::Activate => {
                            let newly = !set.has_for(a.member_id, alarm);
                            let raised = set.activate(&mut tx, a.member_id, alarm);
                            let point = (newly && raised.is_some())
                                .then_some(crate::coverage::Point::AlarmRaised);
                            (raised.into_iter().collect(), point)
                        }
                        AlarmAction::Deactivate => {
                            let cleared = set.deactivate(&mut tx, a.member_id, alarm);
                            let point = cleared
                                .is_some()
                                .then_some(crate::coverage::Point::AlarmDisarmed);
                            (cleared.into_iter().collect(), point)
                        }
                    }
                };
                if let Err(e) = tx.end().await {
                    self.fatal(format!("backend: {e}")).await;
                }
                if let Some(point) = point {
                    state.env.reach(point);
                }
                Ok(client_response::Body::Alarm(AlarmResponse {
                    header: Some(state.header(state.mvcc.current_revision())),
                    alarms,
                }))
            }
            Request::DowngradeInfoSet(d) => {
                let target = if d.version.is_empty() {
                    None
                } else {
                    d.version.parse().ok()
                };
                let mut tx = state.backend.batch_tx().await;
                set_ci(&state);
                let info = DowngradeInfo {
                    enabled: d.enabled,
                    target,
                };
                state.cluster.lock().set_downgrade(&mut tx, info);
                if let Err(e) = tx.end().await {
                    self.fatal(format!("backend: {e}")).await;
                }
                if info.enabled {
                    state.env.reach(crate::coverage::Point::DowngradeEnabled);
                }
                state.env.emit(NodeEvent::DowngradeInfo {
                    enabled: info.enabled,
                    target: info.target,
                });
                Ok(client_response::Body::Status(Default::default()))
            }
        }
    }

    /// Records the consistent index for an entry that writes nothing.
    async fn touch_ci(&self, index: u64, term: u64, already_set: bool) {
        if already_set {
            return;
        }
        let tx = self.state.backend.batch_tx().await;
        self.state.advance_ci(index, term);
        if let Err(e) = tx.end().await {
            self.fatal(format!("backend: {e}")).await;
        }
    }

    async fn apply_conf_change(&mut self, entry: &Entry, already_applied: bool, ci_set: bool) {
        let state = self.state.clone();
        let change = if entry.get_entry_type() == EntryType::EntryConfChangeV2 {
            ConfChangeV2::parse_from_bytes(&entry.data)
        } else {
            raft::eraftpb::ConfChange::parse_from_bytes(&entry.data).map(|cc| {
                let mut single = raft::eraftpb::ConfChangeSingle::default();
                single.set_change_type(cc.get_change_type());
                single.node_id = cc.node_id;
                let mut v2 = ConfChangeV2::default();
                v2.mut_changes().push(single);
                v2.context = cc.context;
                v2
            })
        };
        let change = match change {
            Ok(c) => c,
            Err(e) => {
                self.fatal(format!("entry {}: bad conf change: {e}", entry.index))
                    .await
            }
        };
        if let Err(e) = state
            .env
            .failpoint(Failpoint::BeforeApplyOneConfChange)
            .await
        {
            self.fatal(e).await;
        }
        let (done, rx) = oneshot::channel();
        let _ = state.to_raft.send(RaftRequest::ApplyConfChange {
            change: change.clone(),
            done,
        });
        let conf_state = match rx.await {
            Ok(Ok(cs)) => cs,
            Ok(Err(e)) => {
                tracing::warn!(
                    member = state.id(),
                    "conf change at {} rejected: {e}",
                    entry.index
                );
                self.conf_state.clone()
            }
            Err(_) => return,
        };
        self.conf_state = conf_state.clone();
        let context: Option<ConfChangeContext> = (!change.context.is_empty())
            .then(|| ConfChangeContext::decode(change.context.as_ref()).ok())
            .flatten();
        let member: Option<Member> = context.as_ref().and_then(|c| c.member.clone());
        // Keep addressing members raft knows, whatever the backend says.
        for single in &change.changes {
            match single.get_change_type() {
                ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                    if let Some(m) = member.as_ref().filter(|m| m.id == single.node_id)
                        && let Ok(ip) = m.ip.parse()
                    {
                        state.transport.set_peer(m.id, ip);
                    }
                }
                ConfChangeType::RemoveNode => {
                    if single.node_id != state.id() {
                        state.transport.remove_peer(single.node_id);
                    }
                }
            }
        }
        if already_applied {
            return;
        }
        let mut tx = state.backend.batch_tx().await;
        if !ci_set {
            state.advance_ci(entry.index, entry.term);
        }
        {
            let mut cluster = state.cluster.lock();
            for single in &change.changes {
                match single.get_change_type() {
                    ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                        if let Some(m) = member.clone().filter(|m| m.id == single.node_id) {
                            let learner =
                                single.get_change_type() == ConfChangeType::AddLearnerNode;
                            if !learner
                                && cluster.members.get(&m.id).is_some_and(|old| old.is_learner)
                            {
                                state.env.reach(crate::coverage::Point::LearnerPromoted);
                            }
                            cluster.add_member(
                                &mut tx,
                                Member {
                                    is_learner: learner,
                                    ..m
                                },
                            );
                        }
                    }
                    ConfChangeType::RemoveNode => cluster.remove_member(&mut tx, single.node_id),
                }
            }
        }
        tx.put(
            Bucket::Meta,
            keys::CONF_STATE,
            &encode_conf_state(&conf_state),
        );
        if let Err(e) = tx.end().await {
            self.fatal(format!("backend: {e}")).await;
        }
        if let Some(ctx) = &context
            && ctx.proposer == state.id()
        {
            state.wait.trigger(
                ctx.id,
                Ok(client_response::Body::MemberList(
                    crate::wire::api::MemberListResponse {
                        header: Some(state.header(state.mvcc.current_revision())),
                        members: state.cluster.lock().member_list(),
                    },
                )),
            );
        }
    }

    /// Writes a snapshot of the state machine at `index` and hands it to
    /// the raft loop.
    async fn take_snapshot(&mut self, index: u64, term: u64) {
        let state = self.state.clone();
        // A snapshot needs the backend committed: with the disk full it
        // waits for the next entry after a commit went through.
        if state.backend.no_space() {
            return;
        }
        let (ci, _) = state.ci.get();
        state.env.check(
            Invariant::SnapshotTakenAtApplied,
            // At the last applied entry, or at the one being applied (a
            // forced snapshot). A replay after a restart skips entries the
            // backend holds: its data may be past the index, never behind.
            (index == self.applied.0 || index == self.applied.0 + 1) && ci >= index,
            || {
                format!(
                    "snapshot at {index}, applied {}, consistent index {ci}",
                    self.applied.0
                )
            },
        );
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.conf_state.clone());
        let mut file = match snap::SnapFile::new(meta) {
            Ok(file) => file,
            Err(e) => self.fatal(format!("saving snapshot: {e}")).await,
        };
        // The image goes straight into the file; the snapshot raft keeps
        // shares those bytes.
        match state.backend.write_snapshot_image(file.data_mut()).await {
            Ok(()) => {}
            // The disk filled up at this very commit: as above, the
            // snapshot waits (the commit's batch is kept and the member
            // raises NOSPACE); any other failure ends the member.
            Err(crate::backend::BackendError::Disk(crate::disk::DiskError::NoSpace { .. })) => {
                return;
            }
            Err(e) => self.fatal(format!("snapshot: {e}")).await,
        }
        let (bytes, snapshot) = file.finish();
        if let Err(e) = snap::save_file(&state.env.disk, snapshot.get_metadata(), &bytes).await {
            self.fatal(format!("saving snapshot: {e}")).await;
        }
        let _ = state.to_raft.send(RaftRequest::SnapshotTaken { snapshot });
        self.last_snapshot_index = index;
    }

    /// Sends a snapshot raft asked for, holding the state as applied now
    /// (etcd's createMergedSnapshotMessage and sendMergedSnap): index,
    /// term and configuration of the last applied entry and the backend
    /// image, and tells raft how the send went.
    async fn send_merged_snapshot(&mut self, mut m: raft::eraftpb::Message) {
        let state = self.state.clone();
        let to = m.to;
        let status = if let Err(e) = state.env.failpoint(Failpoint::BeforeSnapshotSend).await {
            tracing::warn!(member = state.id(), "{e}");
            SnapshotStatus::Failure
        } else {
            let image = match state.backend.snapshot_image().await {
                Ok(i) => Some(i),
                // A full disk fails this send (raft retries later); any
                // other failure of the backend ends the member.
                Err(crate::backend::BackendError::Disk(crate::disk::DiskError::NoSpace {
                    ..
                })) => None,
                Err(e) => self.fatal(format!("snapshot for member {to}: {e}")).await,
            };
            let Some(image) = image else {
                let _ = state.to_raft.send(RaftRequest::ReportSnapshot {
                    to,
                    status: SnapshotStatus::Failure,
                });
                return;
            };
            let names_recipient = self.conf_state.voters.contains(&to)
                || self.conf_state.learners.contains(&to)
                || self.conf_state.voters_outgoing.contains(&to)
                || self.conf_state.learners_next.contains(&to);
            state.env.check(
                Invariant::MergedSnapshotIncludesRecipient,
                names_recipient,
                || format!("snapshot for m{to}, configuration {:?}", self.conf_state),
            );
            let snapshot = m.mut_snapshot();
            let meta = snapshot.mut_metadata();
            (meta.index, meta.term) = self.applied;
            meta.set_conf_state(self.conf_state.clone());
            snapshot.data = image.into();
            // Handed to the peer's writer is as far as this member can
            // tell (a datagram to a cut link vanishes); a full queue is a
            // failed send.
            if state.transport.send_raft(m) {
                state.env.reach(crate::coverage::Point::SnapshotSent);
                SnapshotStatus::Finish
            } else {
                SnapshotStatus::Failure
            }
        };
        let _ = state
            .to_raft
            .send(RaftRequest::ReportSnapshot { to, status });
    }

    /// Replaces the state machine with a snapshot from the leader.
    async fn apply_snapshot(&mut self, index: u64, term: u64, path: &str) {
        let state = self.state.clone();
        state.env.check(
            Invariant::SnapshotNewerThanApplied,
            index > self.applied.0,
            || format!("snapshot {index}, applied {}", self.applied.0),
        );
        if let Err(e) = state.env.failpoint(Failpoint::RaftBeforeApplySnap).await {
            self.fatal(e).await;
        }
        let snapshot = match snap::load(&state.env.disk, path).await {
            Ok(s) => s,
            Err(e) => self.fatal(format!("applying snapshot {index}: {e}")).await,
        };
        // Compactions planned on the old store stop before its data goes.
        state.mvcc.stop_compactions();
        if let Err(e) = state.backend.restore_image(&snapshot.data).await {
            self.fatal(format!("applying snapshot {index}: {e}")).await;
        }
        // As etcd's applySnapshot (consistIndex.SetBackend): the consistent
        // index is the one the received database holds. It may be past the
        // snapshot's own index: the sender's apply loop counts from its last
        // snapshot after a restart while its backend holds more. Entries up
        // to it are then skipped as applied; taking the snapshot's index
        // instead applied them a second time.
        let (held, held_term) = state.backend.consistent_index();
        // The sender commits before it images its backend, so the database
        // holds at least the snapshot's entry; one that does not is taken
        // at the snapshot's index, and said.
        state
            .env
            .check(Invariant::SnapshotTakenAtApplied, held >= index, || {
                format!("received snapshot {index} holds a database at consistent index {held}")
            });
        let (ci, ci_term) = if held >= index {
            (held, held_term)
        } else {
            (index, term)
        };
        state.advance_ci(ci, ci_term);
        match ClusterState::load(&state.backend) {
            Ok(cluster) => {
                for m in cluster.members.values() {
                    if let Ok(ip) = m.ip.parse() {
                        state.transport.set_peer(m.id, ip);
                    }
                }
                match crate::alarm::Alarms::load(&state.backend) {
                    Ok(alarms) => *state.alarms.lock() = alarms,
                    Err(e) => self.fatal(format!("applying snapshot {index}: {e}")).await,
                }
                let cv = cluster.cluster_version;
                let downgrading_to_us = cluster.downgrade.enabled
                    && cluster.downgrade.target == Some(state.config.version);
                *state.cluster.lock() = cluster;
                // A member too old for the cluster it joined must not serve.
                if let Some(cv) = cv
                    && cv > state.config.version
                    && !downgrading_to_us
                {
                    self.fatal(format!(
                        "invalid downgrade; server version {} is lower than determined cluster version {cv}",
                        state.config.version
                    ))
                    .await;
                }
            }
            Err(e) => self.fatal(format!("applying snapshot {index}: {e}")).await,
        }
        match state.mvcc.reload() {
            Ok(Some(job)) => {
                let _ = state.compactor.send(CompactionTask { job, done: None });
            }
            Ok(None) => {}
            Err(e) => self.fatal(format!("applying snapshot {index}: {e}")).await,
        }
        if let Err(e) = restore_lessor(
            &state.lessor,
            &state.backend,
            &state.mvcc,
            state.env.clock.now(),
        ) {
            self.fatal(format!("applying snapshot {index}: {e}")).await;
        }
        let revision = state.mvcc.current_revision();
        super::agreement::check(&state.env, ci, revision, HowReached::Applied);
        self.conf_state = snapshot.get_metadata().get_conf_state().clone();
        state.watch.restore();
        if let Err(e) = state.env.failpoint(Failpoint::RaftAfterApplySnap).await {
            self.fatal(e).await;
        }
        let _ = state.applied.send_replace(index);
        self.applied = (index, term);
        self.last_snapshot_index = index;
        state
            .env
            .reach(crate::coverage::Point::SnapshotReceivedApplied);
        state.env.emit(NodeEvent::SnapshotApplied { index });
        state.snaps_pending.lock().remove(&index);
    }
}

/// What an active alarm may refuse of a request, if anything (etcd's
/// capped applier caps Put, a Txn with a Put and LeaseGrant; its corrupt
/// applier refuses those and DeleteRange, Txn, Compaction, LeaseRevoke).
fn alarm_kind(request: &Request) -> Option<crate::alarm::Write> {
    use crate::alarm::Write;
    match request {
        Request::Put(_) | Request::LeaseGrant(_) => Some(Write::Grows),
        Request::Txn(t) if txn_puts(t) => Some(Write::Grows),
        Request::Txn(t) if super::txn::txn_is_read_only(t) => Some(Write::ReadOnlyTxn),
        Request::Txn(_) | Request::DeleteRange(_) | Request::Compaction(_) => Some(Write::Shrinks),
        Request::LeaseRevoke(_) => Some(Write::Shrinks),
        _ => None,
    }
}

/// Whether a Txn puts anything, in either branch or a nested Txn (etcd's
/// quota cost of a Txn: the sizes of its puts).
pub(super) fn txn_puts(t: &crate::wire::api::TxnRequest) -> bool {
    use crate::wire::api::request_op::Request as Op;
    t.success
        .iter()
        .chain(&t.failure)
        .any(|op| match &op.request {
            Some(Op::Put(_)) => true,
            Some(Op::Txn(nested)) => txn_puts(nested),
            _ => false,
        })
}

/// Hands a write's changes to the watchers.
fn notify_watchers(state: &MemberState, rev: i64, events: Vec<crate::mvcc::WrittenEvent>) {
    if events.is_empty() {
        return;
    }
    let changes: Vec<crate::watch::Change> = events
        .into_iter()
        .map(|e| crate::watch::Change {
            revision: rev,
            is_delete: e.is_delete,
            kv: e.kv,
        })
        .collect();
    state.watch.notify(rev, &changes);
}

fn lease_error(e: crate::lease::LeaseError) -> ErrorResponse {
    use crate::lease::LeaseError as L;
    let code = match e {
        L::NotFound | L::Expired => ErrorCode::LeaseNotFound,
        L::Exists => ErrorCode::LeaseExists,
        L::TtlOutOfRange => ErrorCode::InvalidArgument,
        L::Corrupt(_) => ErrorCode::Internal,
    };
    error(code, e.to_string())
}

/// The range operations of a Txn's two branches removed (nested Txns kept,
/// as etcd's removeNeedlessRangeReqs did): what a member that answers no
/// client applied before etcd PR 21432.
fn drop_range_ops(t: &mut crate::wire::api::TxnRequest) {
    use crate::wire::api::request_op;
    for ops in [&mut t.success, &mut t.failure] {
        ops.retain(|op| !matches!(op.request, Some(request_op::Request::Range(_))));
    }
}
