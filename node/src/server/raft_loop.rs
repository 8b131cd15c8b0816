//! The raft loop: ticks, steps incoming messages, takes proposals, and
//! handles each `Ready` in the order raft requires: leader messages may go
//! out at once; entries and the hard state are fsynced to the WAL before
//! the messages that depend on them; committed entries go to the apply loop.

use super::leader_monitor::LeaderMonitor;
use super::transport::Inbound;
use super::{ApplyWork, MemberState, RaftRequest, ReadStates, ReceivedSnapshot, snap};
use crate::bugs::Bug;
use crate::config::MemberConfig;
use crate::failpoint::Failpoint;
use crate::host::{NodeEvent, Role};
use crate::invariants::Invariant;
use crate::raft_log::RaftLog;
use crate::wal::{SnapshotMarker, Wal};
use crate::wire::api::ErrorCode;
use raft::eraftpb::{ConfState, Entry, Message, MessageType};
use raft::{RawNode, ReadOnlyOption, StateRole};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Queued proposals (and, separately, messages) taken into one `Ready`, at
/// most.
const DRAIN_MAX: usize = 256;

pub(crate) struct RaftLoop {
    node: RawNode<RaftLog>,
    log: RaftLog,
    wal: Wal,
    /// etcd-14370: entries a single member applied before saving them.
    applied_early_to: u64,
    /// This member applied its own removal. etcd's server then stops
    /// ("the member has been permanently removed from the cluster"); here
    /// the raft node goes inert until the process ends: raft-rs, unlike
    /// etcd's raft, panics when a leader no longer in its own configuration
    /// handles an append response or a proposal.
    removed: bool,
}

fn role_of(state: StateRole) -> Role {
    match state {
        StateRole::Follower => Role::Follower,
        StateRole::PreCandidate => Role::PreCandidate,
        StateRole::Candidate => Role::Candidate,
        StateRole::Leader => Role::Leader,
    }
}

impl RaftLoop {
    pub fn new(
        config: &MemberConfig,
        log: RaftLog,
        applied: u64,
        wal: Wal,
        _snapshot_index: Option<u64>,
    ) -> raft::Result<RaftLoop> {
        let cfg = raft::Config {
            id: config.id,
            election_tick: config.knobs.election_ticks,
            heartbeat_tick: config.knobs.heartbeat_ticks,
            applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            read_only_option: ReadOnlyOption::Safe,
            ..Default::default()
        };
        cfg.validate()?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = RawNode::new(&cfg, log.clone(), &logger)?;
        Ok(RaftLoop {
            node,
            log,
            wal,
            applied_early_to: 0,
            removed: false,
        })
    }

    pub fn conf_state(&self) -> ConfState {
        self.log.conf_state()
    }

    pub async fn run(
        mut self,
        state: Arc<MemberState>,
        mut inbound: mpsc::UnboundedReceiver<Inbound>,
        mut requests: mpsc::UnboundedReceiver<RaftRequest>,
        apply: mpsc::UnboundedSender<ApplyWork>,
        read_states: ReadStates,
    ) {
        let mut ticker = madsim::time::interval(state.config.knobs.tick());
        let mut leader_monitor = LeaderMonitor::new(state.config.knobs.election_ticks);
        loop {
            tokio::select! {
                biased;
                _ = ticker.tick() => {
                    if !self.removed {
                        self.node.tick();
                    }
                    if leader_monitor.tick(self.node.raft.leader_id) {
                        state.watch.leader_lost();
                    }
                }
                Some(req) = requests.recv() => self.on_request(&state, req).await,
                Some(msg) = inbound.recv() => self.on_inbound(&state, msg).await,
                else => return,
            }
            self.drain_queued(&state, &mut requests, &mut inbound).await;
            // A member that applied its own removal handles no more
            // Readies, as etcd's server stops there: raft-rs would panic
            // persisting entries as a leader missing from its own
            // configuration (`on_persist_entries`).
            if !self.removed && self.node.has_ready() {
                self.handle_ready(&state, &apply, &read_states).await;
            }
        }
    }

    /// Takes every proposal and message that is already waiting before the
    /// next `Ready`, as etcd's raft node does between two Readies, so one
    /// WAL append and one fsync carry all of them (at most `DRAIN_MAX` of
    /// each, so a flood cannot hold off ticks).
    async fn drain_queued(
        &mut self,
        state: &MemberState,
        requests: &mut mpsc::UnboundedReceiver<RaftRequest>,
        inbound: &mut mpsc::UnboundedReceiver<Inbound>,
    ) {
        for _ in 0..DRAIN_MAX {
            let Ok(req) = requests.try_recv() else { break };
            self.on_request(state, req).await;
        }
        for _ in 0..DRAIN_MAX {
            let Ok(msg) = inbound.try_recv() else { break };
            self.on_inbound(state, msg).await;
        }
    }

    async fn on_request(&mut self, state: &MemberState, req: RaftRequest) {
        match req {
            RaftRequest::Propose { data, done } => {
                let result = if self.removed {
                    Err(ErrorCode::Stopped)
                } else if self.node.raft.leader_id == 0 {
                    Err(ErrorCode::NoLeader)
                } else {
                    self.node
                        .propose(vec![], data)
                        .map_err(|_| ErrorCode::NoLeader)
                };
                let _ = done.send(result);
            }
            RaftRequest::ProposeConfChange { change, done } => {
                let result = if self.removed {
                    Err(ErrorCode::Stopped)
                } else if self.node.raft.leader_id == 0 {
                    Err(ErrorCode::NoLeader)
                } else {
                    self.node
                        .propose_conf_change(vec![], change)
                        .map_err(|_| ErrorCode::TooManyRequests)
                };
                let _ = done.send(result);
            }
            RaftRequest::ApplyConfChange { change, done } => {
                let result = self
                    .node
                    .apply_conf_change(&change)
                    .map_err(|e| e.to_string());
                if let Ok(cs) = &result {
                    let id = state.id();
                    let member = |cs: &ConfState| {
                        cs.voters.contains(&id)
                            || cs.learners.contains(&id)
                            || cs.voters_outgoing.contains(&id)
                    };
                    // Removed once the configuration it was in drops it: a
                    // member joining without a snapshot replays the first
                    // members' AddNodes, which do not name it yet.
                    let was_member = member(&self.log.conf_state());
                    if was_member && !member(cs) {
                        self.removed = true;
                        state.env.reach(crate::coverage::Point::MemberRemovedItself);
                    }
                    self.log.set_conf_state(cs.clone());
                    state.env.reach(crate::coverage::Point::ConfChangeApplied);
                    state.env.emit(NodeEvent::MembershipChanged {
                        voters: cs.voters.clone(),
                    });
                }
                let _ = done.send(result);
            }
            RaftRequest::ReadIndex { .. } | RaftRequest::TransferLeader { .. } if self.removed => {}
            RaftRequest::ReadIndex { ctx } => self.node.read_index(ctx),
            RaftRequest::TransferLeader { to } => self.node.transfer_leader(to),
            RaftRequest::SnapshotTaken { snapshot } => {
                self.on_snapshot_taken(state, snapshot).await
            }
            RaftRequest::ReportSnapshot { to, status } => self.node.report_snapshot(to, status),
            RaftRequest::Progress { done } => {
                let progress =
                    (self.node.raft.state == StateRole::Leader).then(|| super::Progress {
                        leader: self.node.raft.id,
                        matched: self
                            .node
                            .raft
                            .prs()
                            .iter()
                            .map(|(id, p)| (*id, p.matched))
                            .collect(),
                    });
                let _ = done.send(progress);
            }
        }
    }

    /// The apply loop wrote a snapshot file: record it in the WAL, let
    /// raft send it to members that fell behind, and drop what it covers
    /// (keeping some entries for followers that are only a little behind).
    async fn on_snapshot_taken(&mut self, state: &MemberState, snapshot: raft::eraftpb::Snapshot) {
        let (index, term) = (snapshot.get_metadata().index, snapshot.get_metadata().term);
        if let Err(e) = self
            .wal
            .save_snapshot_marker(SnapshotMarker { index, term })
            .await
        {
            state.fatal(format!("WAL: {e}")).await;
        }
        self.log.set_snapshot(snapshot);
        let compact_to = index.saturating_sub(state.config.knobs.catchup_entries);
        if compact_to > self.log.first_index() {
            self.log.compact(compact_to);
            let keep = state.config.knobs.max_snapshot_files;
            match self.wal.release_to(compact_to, keep).await {
                Ok(0) => {}
                Ok(_) => state.env.reach(crate::coverage::Point::WalSegmentsReleased),
                Err(e) => state.fatal(format!("WAL release failed: {e}")).await,
            }
            self.failpoint_or_die(state, Failpoint::RaftAfterWalRelease)
                .await;
        }
        state.env.reach(crate::coverage::Point::SnapshotSaved);
        state.env.emit(NodeEvent::SnapshotSaved { index });
    }

    /// etcd-18055: etcd's raft loop, having saved a received snapshot,
    /// releases every older received snapshot database (ReleaseSnapDBs),
    /// including one the apply loop has not opened yet; the apply loop then
    /// cannot find it and the member panics. The fix etcd's issue
    /// discusses (PR 22046, open) keeps files until they are applied,
    /// which is what this store does without the switch: it releases
    /// nothing here, and the purge loop spares pending files.
    async fn release_older_snapshots(&mut self, state: &MemberState, newest: u64) {
        let older: Vec<u64> = state
            .snaps_pending
            .lock()
            .range(..newest)
            .copied()
            .collect();
        let files = match snap::list(&state.env.disk).await {
            Ok(files) => files,
            Err(e) => state.fatal(format!("releasing snapshots: {e}")).await,
        };
        for (index, _, path) in files.iter().filter(|(i, _, _)| older.contains(i)) {
            if let Err(e) = state.env.disk.remove(path).await {
                state
                    .fatal(format!("releasing snapshot {index}: {e}"))
                    .await;
            }
        }
    }

    async fn on_inbound(&mut self, state: &MemberState, msg: Inbound) {
        match msg {
            Inbound::Raft(_) if self.removed => {}
            Inbound::Raft(m) => {
                // Messages from members raft does not know are dropped by it.
                let _ = self.node.step(m);
            }
            Inbound::VersionQuery { from } => {
                state
                    .transport
                    .reply_version(from, state.config.version.to_string());
            }
            Inbound::VersionReply { from, version } => match version.parse() {
                Ok(v) => {
                    state
                        .peer_versions
                        .lock()
                        .insert(from, (v, madsim::time::Instant::now()));
                }
                Err(e) => tracing::warn!(member = state.id(), from, "bad version reply: {e}"),
            },
        }
    }

    /// Sends a ready's messages, passing the leader's or follower's
    /// before-send failpoint first.
    async fn send_from(
        &mut self,
        state: &MemberState,
        is_leader: bool,
        msgs: Vec<Message>,
        apply: &mpsc::UnboundedSender<ApplyWork>,
    ) {
        let point = if is_leader {
            Failpoint::RaftBeforeLeaderSend
        } else {
            Failpoint::RaftBeforeFollowerSend
        };
        if let Err(e) = state.env.failpoint(point).await {
            // An injected error drops this batch, as a failed send would.
            tracing::warn!(member = state.id(), "{e}");
            return;
        }
        self.send(state, msgs, apply);
    }

    /// Sends messages; snapshots go to the apply loop, which sends them
    /// with its applied state (see `ApplyWork::snapshot_messages`).
    fn send(
        &mut self,
        state: &MemberState,
        msgs: Vec<Message>,
        apply: &mpsc::UnboundedSender<ApplyWork>,
    ) {
        let mut snapshots = Vec::new();
        for m in msgs {
            if m.get_msg_type() == MessageType::MsgSnapshot {
                snapshots.push(m);
            } else {
                let to = m.to;
                if !state.transport.send_raft(m) {
                    self.node.report_unreachable(to);
                }
            }
        }
        if !snapshots.is_empty() {
            let _ = apply.send(ApplyWork {
                snapshot: None,
                entries: Vec::new(),
                snapshot_messages: snapshots,
            });
        }
    }

    async fn handle_ready(
        &mut self,
        state: &Arc<MemberState>,
        apply: &mpsc::UnboundedSender<ApplyWork>,
        read_states: &ReadStates,
    ) {
        let mut rd = self.node.ready();
        let is_leader = self.node.raft.state == StateRole::Leader;

        if let Some(ss) = rd.ss() {
            let role = role_of(ss.raft_state);
            let term = self.node.raft.term;
            let learner = self.log.conf_state().learners.contains(&state.id());
            state.env.check(
                crate::invariants::Invariant::LearnerNeverCampaigns,
                !learner || role == Role::Follower,
                || format!("a learner became {role:?} in term {term}"),
            );
            {
                let mut st = state.raft.lock();
                st.role = Some(role);
                st.leader = ss.leader_id;
                st.term = term;
            }
            state.watch.set_leader_known(ss.leader_id != 0);
            if role == Role::Leader {
                if !state.lessor.ids().is_empty() {
                    state
                        .env
                        .reach(crate::coverage::Point::LeasePromotedWithLeases);
                }
                state
                    .lessor
                    .promote(state.env.clock.now(), state.config.knobs.election_timeout());
            } else {
                state.lessor.demote();
            }
            state.env.emit(NodeEvent::Role {
                role,
                term,
                leader: ss.leader_id,
            });
        }

        if !rd.messages().is_empty() {
            let msgs = rd.take_messages();
            self.send_from(state, is_leader, msgs, apply).await;
        }

        let mut snapshot_work = None;
        let mut snapshot_persisted = None;
        if !rd.snapshot().is_empty() {
            let snapshot = rd.snapshot().clone();
            let (index, term) = (snapshot.get_metadata().index, snapshot.get_metadata().term);
            self.failpoint_or_die(state, Failpoint::RaftBeforeSaveSnap)
                .await;
            let path = match snap::save(&state.env.disk, &snapshot).await {
                Ok(p) => p,
                Err(e) => state.fatal(format!("saving received snapshot: {e}")).await,
            };
            if let Err(e) = self
                .wal
                .save_snapshot_marker(SnapshotMarker { index, term })
                .await
            {
                state.fatal(format!("WAL: {e}")).await;
            }
            self.failpoint_or_die(state, Failpoint::RaftAfterSaveSnap)
                .await;
            state.snaps_pending.lock().insert(index);
            self.log.apply_snapshot(snapshot);
            state.env.emit(NodeEvent::SnapshotSaved { index });
            if state.config.bugs.has(Bug::Etcd18055) {
                self.release_older_snapshots(state, index).await;
            }
            let (persisted_tx, persisted) = oneshot::channel();
            snapshot_persisted = Some(persisted_tx);
            snapshot_work = Some(ReceivedSnapshot {
                index,
                term,
                path,
                persisted,
            });
        }

        let mut committed = rd.take_committed_entries();

        // etcd-14370: a lone member applied (and answered) new entries
        // before its WAL write made them durable.
        let single = self.log.conf_state().voters.len() == 1;
        if state.config.bugs.has(Bug::Etcd14370) && single && is_leader && !rd.entries().is_empty()
        {
            let early: Vec<Entry> = rd
                .entries()
                .iter()
                .filter(|e| e.index > self.applied_early_to)
                .cloned()
                .collect();
            if let Some(last) = early.last() {
                self.applied_early_to = last.index;
            }
            committed.extend(early);
        }
        if single {
            self.check_durable_before_applied(state, &committed);
        }
        if snapshot_work.is_some() || !committed.is_empty() {
            let _ = apply.send(ApplyWork {
                snapshot: snapshot_work,
                entries: std::mem::take(&mut committed),
                snapshot_messages: Vec::new(),
            });
        }

        if !rd.entries().is_empty() || rd.hs().is_some() {
            self.check_append_connects(state, rd.entries());
            self.failpoint_or_die(state, Failpoint::RaftBeforeSave)
                .await;
            let segments = self.wal.segment_count();
            if let Err(e) = self.wal.save(rd.entries(), rd.hs()).await {
                state.fatal(format!("WAL write failed: {e}")).await;
            }
            if self.wal.segment_count() > segments {
                state.env.reach(crate::coverage::Point::WalSegmentCut);
            }
            self.failpoint_or_die(state, Failpoint::RaftAfterSave).await;
            self.log.append(rd.entries());
            if let Some(hs) = rd.hs() {
                self.log.set_hard_state(hs.clone());
            }
        }
        if let Some(persisted) = snapshot_persisted {
            // As etcd's raft loop: with a snapshot in the Ready, the hard
            // state is fsynced even when only its commit index moved, and
            // only then may the apply loop install the snapshot.
            if let Err(e) = self.wal.sync().await {
                state.fatal(format!("WAL sync failed: {e}")).await;
            }
            let _ = persisted.send(());
        }

        for rs in rd.take_read_states() {
            let _ = read_states.send(rs);
        }

        if !rd.persisted_messages().is_empty() {
            let msgs = rd.take_persisted_messages();
            self.send_from(state, is_leader, msgs, apply).await;
        }

        self.failpoint_or_die(state, Failpoint::RaftBeforeAdvance)
            .await;
        let mut light = self.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            let mut hs = self.log.hard_state();
            hs.commit = commit;
            // raft-rs leaves a commit index moved here out of the next
            // Ready's hard state; etcd's WAL has it in every hard state it
            // saves, and a restart trusts only the snapshots at or below
            // it (etcd's ValidSnapshotEntries). Written, not synced: only
            // the commit index moved.
            if let Err(e) = self.wal.save(&[], Some(&hs)).await {
                state.fatal(format!("WAL write failed: {e}")).await;
            }
            self.log.set_hard_state(hs);
        }
        let msgs = light.take_messages();
        self.send(state, msgs, apply);
        let mut more = light.take_committed_entries();
        if self.applied_early_to > 0 {
            more.retain(|e| e.index > self.applied_early_to);
        }
        if single {
            self.check_durable_before_applied(state, &more);
        }
        if !more.is_empty() {
            let _ = apply.send(ApplyWork {
                snapshot: None,
                entries: more,
                snapshot_messages: Vec::new(),
            });
        }
        self.node.advance_apply();

        let (commit, last_index, term) = (
            self.node.raft.raft_log.committed,
            self.node.raft.raft_log.last_index(),
            self.node.raft.term,
        );
        let mut st = state.raft.lock();
        let env = &state.env;
        env.check(Invariant::RaftTermNeverDecreases, term >= st.term, || {
            format!("term {} -> {term}", st.term)
        });
        env.check(Invariant::CommitNeverDecreases, commit >= st.commit, || {
            format!("commit index {} -> {commit}", st.commit)
        });
        env.check(
            Invariant::CommitNotPastLastIndex,
            commit <= last_index,
            || format!("commit index {commit}, last index {last_index}"),
        );
        let unreadable = self.log.unreadable_start();
        env.check(
            Invariant::LogReadableFromFirstIndex,
            unreadable.is_none(),
            || unreadable.unwrap_or_default(),
        );
        st.commit = commit;
        st.last_index = last_index;
        st.term = term;
    }

    /// Entries about to be written follow on from the persisted log.
    fn check_append_connects(&self, state: &MemberState, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        let last = self.log.last_index();
        let consecutive = entries.windows(2).all(|w| w[1].index == w[0].index + 1);
        state.env.check(
            Invariant::WalAppendConnects,
            first.index <= last + 1 && consecutive,
            || {
                let indexes: Vec<u64> = entries.iter().map(|e| e.index).collect();
                format!("log ends at {last}; appending entries {indexes:?}")
            },
        );
    }

    /// With one voter, entries handed to apply are already in the WAL
    /// (the persisted log is updated right after each WAL write).
    fn check_durable_before_applied(&self, state: &MemberState, entries: &[Entry]) {
        let Some(last_applied) = entries.last().map(|e| e.index) else {
            return;
        };
        let durable = self.log.last_index();
        state.env.check(
            Invariant::OneVoterAppliesOnlyDurable,
            last_applied <= durable,
            || format!("entry {last_applied} handed to apply, WAL holds up to {durable}"),
        );
    }

    /// Passes a failpoint where an injected error means the member cannot
    /// continue (etcd panics on such failures).
    async fn failpoint_or_die(&self, state: &MemberState, point: Failpoint) {
        if let Err(e) = state.env.failpoint(point).await {
            state.fatal(e).await;
        }
    }
}
