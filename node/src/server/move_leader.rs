//! MoveLeader, as etcd's `EtcdServer.MoveLeader`: only the leader takes
//! it, and only towards a voting member; it asks raft to transfer
//! leadership and answers once the target leads (looking once a tick), or
//! with etcd's timeout error when the transfer takes longer than a request
//! may. The answer thus says the transfer happened, never merely that it
//! was asked for.

use super::{MemberState, RaftRequest, error};
use crate::wire::api::{ErrorCode, ErrorResponse, MoveLeaderRequest, MoveLeaderResponse};
use std::time::Duration;

/// etcd's ErrGRPCBadLeaderTransferee.
pub const BAD_TRANSFEREE: &str = "etcdserver: bad leader transferee";
/// etcd's ErrGRPCTimeoutLeaderTransfer.
pub const TRANSFER_TIMED_OUT: &str = "etcdserver: request timed out, leader transfer took too long";

/// Transfers leadership from this member (the leader) to the request's
/// target. The caller has checked that this member leads.
pub(super) async fn transfer(
    state: &MemberState,
    m: &MoveLeaderRequest,
) -> Result<MoveLeaderResponse, ErrorResponse> {
    let voter = state
        .cluster
        .lock()
        .members
        .get(&m.target_id)
        .is_some_and(|member| !member.is_learner);
    if !voter {
        return Err(error(ErrorCode::BadLeaderTransferee, BAD_TRANSFEREE));
    }
    let _ = state
        .to_raft
        .send(RaftRequest::TransferLeader { to: m.target_id });
    let tick = Duration::from_millis(state.config.knobs.tick_ms.max(1));
    let deadline =
        madsim::time::Instant::now() + Duration::from_millis(state.config.knobs.request_timeout_ms);
    while state.raft.lock().leader != m.target_id {
        if madsim::time::Instant::now() >= deadline {
            return Err(error(ErrorCode::Timeout, TRANSFER_TIMED_OUT));
        }
        madsim::time::sleep(tick).await;
    }
    Ok(MoveLeaderResponse {
        header: Some(state.header(state.mvcc.current_revision())),
    })
}
