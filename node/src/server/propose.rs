//! Proposing a request through raft and waiting until this member applied
//! it: what the client service, the lease loop, the version monitor and
//! the downgrade handler share.

use super::{ApplyResult, MemberState, RaftRequest, error};
use crate::wire::api::ErrorCode;
use crate::wire::internal::{InternalRequest, RequestHeader, internal_request};
use prost::Message as _;
use std::time::Duration;
use tokio::sync::oneshot;

/// etcd's ErrGRPCRequestTooLarge.
pub const REQUEST_TOO_LARGE: &str = "etcdserver: request is too large";

/// Proposes a request and waits for its result.
pub(crate) async fn propose(
    state: &MemberState,
    request: internal_request::Request,
) -> ApplyResult {
    let id = state.next_request_id();
    let req = InternalRequest {
        header: Some(RequestHeader {
            id,
            member: state.id(),
        }),
        request: Some(request),
    };
    let data = req.encode_to_vec();
    // As etcd's processInternalRaftRequestOnce: the encoded request
    // against --max-request-bytes, before anything waits for it.
    if data.len() > state.config.knobs.max_request_bytes {
        return Err(error(ErrorCode::InvalidArgument, REQUEST_TOO_LARGE));
    }
    let applied = state.wait.register(id);
    let (done, proposed) = oneshot::channel();
    let _ = state.to_raft.send(RaftRequest::Propose { data, done });
    match proposed.await {
        Ok(Ok(())) => {}
        Ok(Err(code)) => {
            state.wait.cancel(id);
            return Err(error(code, "etcdserver: no leader"));
        }
        Err(_) => return Err(error(ErrorCode::Stopped, "etcdserver: server stopped")),
    }
    wait_result(state, id, applied).await
}

pub(super) async fn wait_result(
    state: &MemberState,
    id: u64,
    applied: oneshot::Receiver<ApplyResult>,
) -> ApplyResult {
    let timeout = Duration::from_millis(state.config.knobs.request_timeout_ms);
    match madsim::time::timeout(timeout, applied).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(error(ErrorCode::Stopped, "etcdserver: server stopped")),
        Err(_) => {
            state.wait.cancel(id);
            Err(error(ErrorCode::Timeout, "etcdserver: request timed out"))
        }
    }
}
