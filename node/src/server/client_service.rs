//! The client service: accepts client connections and serves their
//! requests. Writes are proposed through raft and answered once applied
//! (or with a timeout, when the outcome is unknown); linearizable reads
//! pass the ReadIndex barrier first; serializable reads are local.

use super::propose::{propose, wait_result};
use super::{MemberState, RaftRequest, error};
use crate::bugs::Bug;
use crate::config::CLIENT_PORT;
use crate::mvcc::RangeOptions;
use crate::wire::api::{
    ClientRequest, ClientResponse, DefragmentResponse, ErrorCode, ErrorResponse, HashKvResponse,
    LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse, Member,
    MemberListResponse, MemberPromoteResponse, RangeRequest, StatusResponse, TxnRequest,
    client_request, client_response,
};
use crate::wire::internal::{ConfChangeContext, internal_request};
use madsim::net::{Endpoint, Sender};
use prost::Message as _;
use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub(crate) async fn serve(state: Arc<MemberState>) {
    let ip = state
        .config
        .peer(state.id())
        .map(|p| p.ip)
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let endpoint = match Endpoint::bind(SocketAddr::new(ip, CLIENT_PORT)).await {
        Ok(ep) => ep,
        Err(e) => {
            state
                .fatal(format!("cannot bind the client port: {e}"))
                .await
        }
    };
    loop {
        let Ok((tx, rx, _from)) = endpoint.accept1().await else {
            return;
        };
        madsim::task::spawn(connection(state.clone(), tx, rx));
    }
}

async fn connection(state: Arc<MemberState>, tx: Sender, mut rx: madsim::net::Receiver) {
    let tx = Arc::new(tx);
    while let Ok(payload) = rx.recv().await {
        let Ok(req) = payload.downcast::<ClientRequest>() else {
            tracing::warn!(
                member = state.id(),
                "dropping a client message of unknown form"
            );
            continue;
        };
        let (state, tx) = (state.clone(), tx.clone());
        madsim::task::spawn(async move {
            let body = match req.body {
                Some(body) => dispatch(&state, body, req.from_peer).await,
                None => {
                    client_response::Body::Error(error(ErrorCode::InvalidArgument, "empty request"))
                }
            };
            let resp = ClientResponse {
                id: req.id,
                body: Some(body),
            };
            let _ = tx.send(Box::new(resp)).await;
        });
    }
}

fn err_body(e: crate::wire::api::ErrorResponse) -> client_response::Body {
    client_response::Body::Error(e)
}

fn reply(result: super::ApplyResult) -> client_response::Body {
    result.unwrap_or_else(err_body)
}

/// Brings this member's view of the membership up to the leader's commit
/// index (a ReadIndex barrier) before a member add or remove is checked
/// against it. etcd validates a membership change when it applies it, in
/// log order; this store checks before proposing, and a member that lags
/// (cut off for a while, say) would otherwise refuse to remove a member
/// the cluster added meanwhile ("member not found"). Not switched off by
/// the stale-local-read bug, which is about reads.
async fn membership_view(state: &MemberState) -> Result<(), crate::wire::api::ErrorResponse> {
    read_index_barrier(state).await
}

/// The ReadIndex barrier, unless switched off by the stale-local-read bug.
async fn linearizable_barrier(state: &MemberState) -> Result<(), crate::wire::api::ErrorResponse> {
    if state.config.bugs.has(Bug::StaleLocalRead) {
        return Ok(());
    }
    read_index_barrier(state).await
}

/// Waits until this member has applied the leader's commit index as of now.
async fn read_index_barrier(state: &MemberState) -> Result<(), crate::wire::api::ErrorResponse> {
    state.reads.barrier().await.map(|_| ()).map_err(|code| {
        let msg = match code {
            ErrorCode::NoLeader => "etcdserver: no leader",
            ErrorCode::Timeout => "etcdserver: request timed out",
            _ => "etcdserver: read index failed",
        };
        error(code, msg)
    })
}

fn range_local(
    state: &MemberState,
    r: &RangeRequest,
) -> Result<client_response::Body, super::txn::ApplyError> {
    let res = state.mvcc.range(&RangeOptions {
        key: r.key.clone(),
        range_end: r.range_end.clone(),
        revision: r.revision,
        limit: super::txn::read_limit(r),
        count_only: r.count_only,
    })?;
    let header = state.header(state.mvcc.current_revision().max(res.revision));
    let resp = super::txn::range_response(res.kvs, res.count, r, header);
    if resp.more && super::txn::reads_whole_range(r) {
        state.env.reach(crate::coverage::Point::RangeReshapedCut);
    }
    Ok(client_response::Body::Range(resp))
}

/// A read's answer, or the member's end when the read found the store's
/// own data broken (as etcd, which ends the process there).
async fn served(
    state: &MemberState,
    read: Result<client_response::Body, super::txn::ApplyError>,
) -> client_response::Body {
    match read {
        Ok(body) => body,
        Err(e) if e.fatal => state.fatal(e.message).await,
        Err(e) => err_body(to_error(e)),
    }
}

fn to_error(e: super::txn::ApplyError) -> crate::wire::api::ErrorResponse {
    crate::wire::api::ErrorResponse {
        code: e.code as i32,
        message: e.message,
        compact_revision: e.compact_revision,
        leader_hint: 0,
    }
}

/// A Txn without writes, served like a read at one revision.
fn read_only_txn(
    state: &MemberState,
    txn: &TxnRequest,
) -> Result<client_response::Body, super::txn::ApplyError> {
    let over_range = |op: &crate::wire::api::RequestOp| matches!(&op.request, Some(crate::wire::api::request_op::Request::Range(r)) if !r.range_end.is_empty());
    if txn.success.iter().chain(&txn.failure).any(over_range) {
        state
            .env
            .reach(crate::coverage::Point::ReadOnlyTxnOverRange);
    }
    let rev = state.mvcc.current_revision();
    let header = state.header(rev);
    super::txn::read_only_txn(&state.mvcc, txn, rev, &header).map(client_response::Body::Txn)
}

fn not_leader(state: &MemberState) -> client_response::Body {
    let leader = state.raft.lock().leader;
    let mut e = error(ErrorCode::NoLeader, "etcdserver: not leader");
    e.leader_hint = leader;
    err_body(e)
}

/// The refusal a synthetic answer-only bug gives instead of serving the
/// request (none unless one is switched on): every Txn as too big, every
/// Put naming a lease as if the lease were gone, every DeleteRange as if
/// the member were overloaded. Nothing else changes.
fn answer_only_refusal(state: &MemberState, body: &client_request::Body) -> Option<ErrorResponse> {
    use client_request::Body as B;
    let bugs = &state.config.bugs;
    match body {
        B::Txn(_) if bugs.has(Bug::TxnRefused) => Some(error(
            ErrorCode::InvalidArgument,
            super::request_check::TOO_MANY_OPS,
        )),
        B::Put(p) if p.lease != 0 && bugs.has(Bug::LeasePutRefused) => Some(error(
            ErrorCode::LeaseNotFound,
            crate::lease::LeaseError::NotFound.to_string(),
        )),
        B::DeleteRange(_) if bugs.has(Bug::DeleteRefused) => Some(error(
            ErrorCode::TooManyRequests,
            "etcdserver: too many requests",
        )),
        _ => None,
    }
}

/// How the duplicate-key check reads a from-key delete: as reaching the
/// end of the keyspace, unless etcd's own check is switched back on (by
/// etcd-22445, or by etcd-22376, whose Txn shape needs it).
fn from_key_deletes(state: &MemberState) -> super::request_check::FromKeyDeletes {
    use super::request_check::FromKeyDeletes;
    let bugs = &state.config.bugs;
    if bugs.has(Bug::Etcd22445) || bugs.has(Bug::Etcd22376) {
        FromKeyDeletes::MeetNothing
    } else {
        FromKeyDeletes::ReachTheEnd
    }
}

async fn dispatch(
    state: &Arc<MemberState>,
    body: client_request::Body,
    from_peer: bool,
) -> client_response::Body {
    use client_request::Body as B;
    use internal_request::Request as R;
    if let Some(refusal) = answer_only_refusal(state, &body) {
        return err_body(refusal);
    }
    if !served_by_learner(&body) && state.is_learner() {
        return err_body(error(
            ErrorCode::NotSupportedForLearner,
            NOT_SUPPORTED_FOR_LEARNER,
        ));
    }
    match body {
        B::Range(r) if let Err(e) = super::request_check::check_key(&r.key) => {
            err_body(to_error(e))
        }
        B::Range(r) => {
            if !r.serializable
                && let Err(e) = linearizable_barrier(state).await
            {
                return err_body(e);
            }
            served(state, range_local(state, &r)).await
        }
        // As etcd's gRPC layer: a Txn's shape is checked before anything.
        B::Txn(t) if let Err(e) = super::request_check::check_txn(&t, from_key_deletes(state)) => {
            err_body(to_error(e))
        }
        B::Txn(t) if super::txn::txn_is_read_only(&t) => {
            if let Err(e) = linearizable_barrier(state).await {
                return err_body(e);
            }
            served(state, read_only_txn(state, &t)).await
        }
        B::Put(p) if p.ttl != 0 && !ttl_allowed(state) => err_body(error(
            ErrorCode::Unsupported,
            "etcdserver: per-key TTL needs cluster version 3.7",
        )),
        // etcd's quota layer (v3rpc quotaKVServer): a write that would grow
        // a backend with no room left is refused before it is proposed, and
        // the member raises its NOSPACE alarm.
        B::Put(_) | B::LeaseGrant(_) if state.backend.no_space() => no_space(state),
        B::Txn(t) if super::apply::txn_puts(&t) && state.backend.no_space() => no_space(state),
        B::Put(p) => match super::request_check::check_put(&p) {
            Ok(()) => reply(propose(state, R::Put(p)).await),
            Err(e) => err_body(to_error(e)),
        },
        B::DeleteRange(d) => match super::request_check::check_key(&d.key) {
            Ok(()) => reply(propose(state, R::DeleteRange(d)).await),
            Err(e) => err_body(to_error(e)),
        },
        B::Txn(t) => reply(propose(state, R::Txn(t)).await),
        B::Compaction(c) => reply(propose(state, R::Compaction(c)).await),
        B::LeaseGrant(mut g) => {
            if g.id == 0 {
                // Like etcd, the member picks the id before proposing:
                // its next request id, kept positive.
                g.id = (state.next_request_id() & i64::MAX as u64) as i64;
            }
            reply(propose(state, R::LeaseGrant(g)).await)
        }
        B::LeaseRevoke(r) => reply(propose(state, R::LeaseRevoke(r)).await),
        B::LeaseKeepAlive(k) => {
            let leader_only = B::LeaseKeepAlive(k.clone());
            if let Some(answer) = on_leader(state, leader_only, from_peer).await {
                return answer;
            }
            keep_alive(state, k.id).await
        }
        B::LeaseTimeToLive(t) => {
            let leader_only = B::LeaseTimeToLive(t.clone());
            if let Some(answer) = on_leader(state, leader_only, from_peer).await {
                return answer;
            }
            match state.lessor.time_to_live(t.id, state.env.clock.now()) {
                Ok(st) => client_response::Body::LeaseTimeToLive(LeaseTimeToLiveResponse {
                    header: Some(state.header(state.mvcc.current_revision())),
                    id: st.id,
                    ttl: st.ttl,
                    granted_ttl: st.granted_ttl,
                    keys: if t.keys { st.keys } else { Vec::new() },
                }),
                // As etcd: an unknown lease has TTL -1, not an error.
                Err(crate::lease::LeaseError::NotFound) => {
                    client_response::Body::LeaseTimeToLive(LeaseTimeToLiveResponse {
                        header: Some(state.header(state.mvcc.current_revision())),
                        id: t.id,
                        ttl: -1,
                        granted_ttl: 0,
                        keys: Vec::new(),
                    })
                }
                Err(e) => err_body(error(ErrorCode::LeaseNotFound, e.to_string())),
            }
        }
        B::LeaseLeases(_) => client_response::Body::LeaseLeases(LeaseLeasesResponse {
            header: Some(state.header(state.mvcc.current_revision())),
            leases: state.lessor.ids(),
        }),
        B::HashKv(h) => match state.mvcc.hash_kv(h.revision) {
            Ok(hk) => client_response::Body::HashKv(HashKvResponse {
                header: Some(state.header(state.mvcc.current_revision())),
                hash: hk.hash,
                compact_revision: hk.compact_revision,
                hash_revision: hk.hash_revision,
                strict_hash: hk.strict_hash,
            }),
            Err(e) => err_body(to_error(e.into())),
        },
        B::Status(_) => client_response::Body::Status(status(state)),
        B::MemberList(l) => {
            if l.linearizable
                && let Err(e) = linearizable_barrier(state).await
            {
                return err_body(e);
            }
            client_response::Body::MemberList(MemberListResponse {
                header: Some(state.header(state.mvcc.current_revision())),
                members: state.cluster.lock().member_list(),
            })
        }
        B::MemberAdd(a) => {
            let member = Member {
                id: a.id,
                ip: a.ip.clone(),
                is_learner: a.is_learner,
            };
            if a.id == 0 || a.ip.parse::<std::net::IpAddr>().is_err() {
                return err_body(error(
                    ErrorCode::InvalidArgument,
                    "member add needs an id and an IP",
                ));
            }
            if let Err(e) = membership_view(state).await {
                return err_body(e);
            }
            if state.cluster.lock().members.contains_key(&a.id) {
                return err_body(error(
                    ErrorCode::MemberExists,
                    "etcdserver: member ID already exist",
                ));
            }
            if let Err(e) = super::reconfig_check::may_add(state) {
                return err_body(e);
            }
            let kind = if a.is_learner {
                ConfChangeType::AddLearnerNode
            } else {
                ConfChangeType::AddNode
            };
            match conf_change(state, kind, a.id, Some(member)).await {
                Ok(client_response::Body::MemberList(l)) => {
                    client_response::Body::MemberAdd(crate::wire::api::MemberAddResponse {
                        header: l.header,
                        member: l.members.iter().find(|m| m.id == a.id).cloned(),
                        members: l.members,
                    })
                }
                Ok(other) => other,
                Err(e) => err_body(e),
            }
        }
        // As etcd's PromoteMember: only the leader knows how far the
        // learner got, so a follower hands the request to the leader.
        B::MemberPromote(p) if !state.is_leader() => {
            super::promote::forward(state, B::MemberPromote(p)).await
        }
        B::MemberPromote(p) => {
            let member = match super::promote::check(state, p.id).await {
                Ok(m) => m,
                Err(e) => return err_body(e),
            };
            match conf_change(state, ConfChangeType::AddNode, p.id, Some(member)).await {
                Ok(client_response::Body::MemberList(l)) => {
                    client_response::Body::MemberPromote(MemberPromoteResponse {
                        header: l.header,
                        members: l.members,
                    })
                }
                Ok(other) => other,
                Err(e) => err_body(e),
            }
        }
        B::MemberRemove(r) => {
            if let Err(e) = membership_view(state).await {
                return err_body(e);
            }
            if !state.cluster.lock().members.contains_key(&r.id) {
                return err_body(error(
                    ErrorCode::MemberNotFound,
                    "etcdserver: member not found",
                ));
            }
            if let Err(e) = super::reconfig_check::may_remove(state, r.id) {
                return err_body(e);
            }
            match conf_change(state, ConfChangeType::RemoveNode, r.id, None).await {
                Ok(client_response::Body::MemberList(l)) => {
                    client_response::Body::MemberRemove(crate::wire::api::MemberRemoveResponse {
                        header: l.header,
                        members: l.members,
                    })
                }
                Ok(other) => other,
                Err(e) => err_body(e),
            }
        }
        B::Defragment(_) => {
            let run_hook = !state.config.bugs.has(Bug::Etcd14685);
            match state.backend.defrag(run_hook).await {
                Ok(()) => {
                    state.env.reach(crate::coverage::Point::BackendDefragmented);
                    state.env.emit(crate::host::NodeEvent::Defragmented);
                    client_response::Body::Defragment(DefragmentResponse {
                        header: Some(state.header(state.mvcc.current_revision())),
                    })
                }
                Err(e) => state.fatal(format!("defragmentation failed: {e}")).await,
            }
        }
        B::Downgrade(d) => super::downgrade::handle(state, d).await,
        // As etcd's Maintenance.Alarm: every action, Get included, goes
        // through raft.
        B::Alarm(a) => reply(propose(state, R::Alarm(a)).await),
        B::MoveLeader(m) => {
            if !state.is_leader() {
                return not_leader(state);
            }
            match super::move_leader::transfer(state, &m).await {
                Ok(answer) => client_response::Body::MoveLeader(answer),
                Err(e) => err_body(e),
            }
        }
    }
}

/// etcd's ErrGRPCNotSupportedForLearner.
pub const NOT_SUPPORTED_FOR_LEARNER: &str = "etcdserver: rpc not supported for learner";

/// What a learner serves, as etcd's isRPCSupportedForLearner: Status and
/// serializable reads, nothing else (its data may lag the leader's).
fn served_by_learner(body: &client_request::Body) -> bool {
    match body {
        client_request::Body::Status(_) => true,
        client_request::Body::Range(r) => r.serializable,
        _ => false,
    }
}

/// A write refused by the quota layer: the backend has no room.
fn no_space(state: &Arc<MemberState>) -> client_response::Body {
    super::alarm_loop::after_commit(state);
    err_body(error(ErrorCode::NoSpace, crate::alarm::NO_SPACE))
}

/// Per-key TTLs are a 3.7 feature: refused until the whole cluster runs
/// 3.7, and again as soon as a downgrade lowers the cluster version.
fn ttl_allowed(state: &MemberState) -> bool {
    state.has_feature(crate::version::Version::V3_7)
}

/// etcd's LeaseRenew and LeaseTimeToLive away from the leader: they do
/// not go through raft, so a follower asks the leader itself (etcd's
/// leasehttp, over the peer port), following the leader as it changes,
/// until the request timeout. None when this member is the leader, has
/// applied every entry it knew committed (etcd's waitAppliedIndex) and
/// answers itself; a request another member passed on is never passed on
/// again (the leader it thought this was has moved: it says so).
async fn on_leader(
    state: &MemberState,
    body: client_request::Body,
    from_peer: bool,
) -> Option<client_response::Body> {
    let deadline =
        madsim::time::Instant::now() + Duration::from_millis(state.config.knobs.request_timeout_ms);
    loop {
        if state.is_leader() {
            return wait_applied_index(state).await.err().map(err_body);
        }
        if from_peer {
            return Some(not_leader(state));
        }
        let leader = state.raft.lock().leader;
        let left = deadline.saturating_duration_since(madsim::time::Instant::now());
        if left.is_zero() {
            // As etcd: no leader all along, or one that never answered.
            return Some(err_body(if leader == 0 {
                error(ErrorCode::NoLeader, "etcdserver: no leader")
            } else {
                error(ErrorCode::Timeout, "etcdserver: request timed out")
            }));
        }
        if let Some((leader, ip)) = state.leader_address() {
            let mut peer = crate::client::Client::new(vec![(leader, ip)], 0, left).from_peer();
            match peer.request(body.clone()).await {
                Ok(answer) => return Some(answer),
                // Not the leader after all, or not reached: look again.
                Err(crate::client::ClientError::Server {
                    code: ErrorCode::NoLeader | ErrorCode::Stopped,
                    ..
                })
                | Err(
                    crate::client::ClientError::Unavailable(_)
                    | crate::client::ClientError::ConnectionLost(_)
                    | crate::client::ClientError::Timeout,
                ) => {}
                Err(e) => {
                    let internal = error(ErrorCode::Internal, e.to_string());
                    return Some(err_body(e.into_response().unwrap_or(internal)));
                }
            }
        }
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
}

/// etcd's waitAppliedIndex, before the leader answers a renewal or a
/// time-to-live from its lessor: every entry it knew committed is applied
/// first, or a lease granted and committed but not applied yet would read
/// as missing. One second at most (etcd's applyTimeout).
async fn wait_applied_index(state: &MemberState) -> Result<(), crate::wire::api::ErrorResponse> {
    let committed = state.raft.lock().commit;
    madsim::time::timeout(Duration::from_secs(1), state.wait_applied(committed))
        .await
        .map_err(|_| {
            error(
                ErrorCode::Timeout,
                "etcdserver: timeout waiting for applied index",
            )
        })
}

/// A keepalive on the leader. An expired lease is only reported gone once
/// its revoke was applied (as etcd waits for it), so the answer never
/// contradicts what reads see.
async fn keep_alive(state: &MemberState, id: i64) -> client_response::Body {
    let deadline =
        madsim::time::Instant::now() + Duration::from_millis(state.config.knobs.request_timeout_ms);
    loop {
        if !state.is_leader() {
            return not_leader(state);
        }
        match state.lessor.renew(id, state.env.clock.now()) {
            Ok(ttl) => {
                return client_response::Body::LeaseKeepAlive(LeaseKeepAliveResponse {
                    header: Some(state.header(state.mvcc.current_revision())),
                    id,
                    ttl,
                });
            }
            Err(crate::lease::LeaseError::Expired) if madsim::time::Instant::now() < deadline => {
                state
                    .env
                    .reach(crate::coverage::Point::LeaseKeepAliveOnExpired);
                madsim::time::sleep(Duration::from_millis(20)).await;
            }
            Err(crate::lease::LeaseError::Expired) => {
                return err_body(error(ErrorCode::Timeout, "etcdserver: request timed out"));
            }
            // etcd's keep-alive stream answers an unknown lease with TTL 0,
            // not an error (v3rpc lease.go); clients read that as not found.
            Err(crate::lease::LeaseError::NotFound) => {
                return client_response::Body::LeaseKeepAlive(LeaseKeepAliveResponse {
                    header: Some(state.header(state.mvcc.current_revision())),
                    id,
                    ttl: 0,
                });
            }
            Err(e) => return err_body(error(ErrorCode::LeaseNotFound, e.to_string())),
        }
    }
}

async fn conf_change(
    state: &MemberState,
    kind: ConfChangeType,
    node: u64,
    member: Option<Member>,
) -> super::ApplyResult {
    let id = state.next_request_id();
    let ctx = ConfChangeContext {
        id,
        proposer: state.id(),
        member,
    };
    let mut single = ConfChangeSingle::default();
    single.set_change_type(kind);
    single.node_id = node;
    let mut change = ConfChangeV2::default();
    change.mut_changes().push(single);
    change.context = ctx.encode_to_vec().into();
    let applied = state.wait.register(id);
    let (done, proposed) = oneshot::channel();
    let _ = state
        .to_raft
        .send(RaftRequest::ProposeConfChange { change, done });
    match proposed.await {
        Ok(Ok(())) => {}
        Ok(Err(code)) => {
            state.wait.cancel(id);
            return Err(error(
                code,
                "etcdserver: membership change refused (no leader or one in progress)",
            ));
        }
        Err(_) => return Err(error(ErrorCode::Stopped, "etcdserver: server stopped")),
    }
    wait_result(state, id, applied).await
}

pub(crate) fn status(state: &MemberState) -> StatusResponse {
    let raft = state.raft.lock().clone();
    let (db_size, in_use) = state.backend.size();
    let cluster = state.cluster.lock().clone();
    StatusResponse {
        header: Some(state.header(state.mvcc.current_revision())),
        version: state.config.version.to_string(),
        db_size: db_size as i64,
        leader: raft.leader,
        raft_index: raft.commit,
        raft_term: raft.term,
        raft_applied_index: state.applied_index(),
        // As etcd's Status: each active alarm in its errors.
        errors: state
            .alarms
            .lock()
            .get(crate::wire::api::AlarmType::None)
            .iter()
            .map(|a| a.status_text())
            .collect(),
        db_size_in_use: in_use as i64,
        is_learner: cluster
            .members
            .get(&state.id())
            .is_some_and(|m| m.is_learner),
        // Read from the backend each time, as etcd's StorageVersion() does:
        // a snapshot from the leader replaces the backend, storage version
        // included.
        storage_version: crate::storage_version::detect(&state.backend)
            .ok()
            .flatten()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        cluster_version: cluster
            .cluster_version
            .map(|v| v.to_string())
            .unwrap_or_default(),
        compact_revision: state.mvcc.compact_revision(),
        downgrade_enabled: cluster.downgrade.enabled,
        downgrade_target: cluster
            .downgrade
            .target
            .map(|v| v.to_string())
            .unwrap_or_default(),
        snapshot_index: state.raft_log.snapshot_index(),
    }
}
