//! MemberPromote as etcd's EtcdServer.promoteMember: only the leader knows
//! how far a learner got, so only the leader promotes; the learner must
//! be a learner and hold at least 90% of the leader's log (etcd's
//! readyPercentThreshold), then an AddNode conf change makes it a voter.

use super::{MemberState, Progress, RaftRequest, error};
use crate::client::{Client, ClientError};
use crate::wire::api::{ErrorCode, ErrorResponse, Member, client_request, client_response};
use std::time::Duration;
use tokio::sync::oneshot;

/// etcd's readyPercentThreshold: the share of the leader's match index a
/// learner must have to be promoted.
pub const READY_PERCENT: f64 = 0.9;

/// etcd's ErrGRPCMemberNotLearner.
pub const NOT_LEARNER: &str = "etcdserver: can only promote a learner member";
/// etcd's ErrGRPCLearnerNotReady.
pub const NOT_READY: &str =
    "etcdserver: can only promote a learner member which is in sync with leader";

/// The member to add as a voter, or why not.
pub(crate) async fn check(state: &MemberState, id: u64) -> Result<Member, ErrorResponse> {
    let member = state.cluster.lock().members.get(&id).cloned();
    let Some(member) = member else {
        return Err(error(
            ErrorCode::MemberNotFound,
            "etcdserver: member not found",
        ));
    };
    if !member.is_learner {
        return Err(error(ErrorCode::MemberNotLearner, NOT_LEARNER));
    }
    let (done, answer) = oneshot::channel();
    let _ = state.to_raft.send(RaftRequest::Progress { done });
    let Ok(Some(progress)) = answer.await else {
        let mut e = error(ErrorCode::NoLeader, "etcdserver: not leader");
        e.leader_hint = state.raft.lock().leader;
        return Err(e);
    };
    match ready(&progress, id) {
        Some(true) => Ok(Member {
            is_learner: false,
            ..member
        }),
        Some(false) => Err(error(ErrorCode::LearnerNotReady, NOT_READY)),
        None => Err(error(
            ErrorCode::MemberNotFound,
            "etcdserver: member not found",
        )),
    }
}

/// A promote sent to a follower, handed to the leader it knows (etcd's
/// promoteMemberHTTP to the leader's peer URL); "not leader" when it
/// knows none or the leader does not answer.
pub(crate) async fn forward(
    state: &MemberState,
    request: client_request::Body,
) -> client_response::Body {
    let leader_hint = state.raft.lock().leader;
    let not_leader = || {
        let mut e = error(ErrorCode::NoLeader, "etcdserver: not leader");
        e.leader_hint = leader_hint;
        client_response::Body::Error(e)
    };
    let Some((leader, ip)) = state.leader_address() else {
        return not_leader();
    };
    let timeout = Duration::from_millis(state.config.knobs.request_timeout_ms);
    match Client::new(vec![(leader, ip)], 0, timeout)
        .request(request)
        .await
    {
        Ok(body) => body,
        // The leader's answer was lost: the promotion may have happened.
        Err(e) if e.outcome_unknown() && !matches!(e, ClientError::Server { .. }) => {
            client_response::Body::Error(error(ErrorCode::Timeout, "etcdserver: request timed out"))
        }
        Err(e) => match e.into_response() {
            Some(answer) => client_response::Body::Error(answer),
            None => not_leader(),
        },
    }
}

/// Whether the learner holds enough of the leader's log (None: raft does
/// not track it).
fn ready(progress: &Progress, learner: u64) -> Option<bool> {
    let learner_match = *progress.matched.get(&learner)?;
    let leader_match = progress.matched.get(&progress.leader).copied().unwrap_or(0);
    Some(learner_match as f64 >= leader_match as f64 * READY_PERCENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learner_is_ready_at_ninety_percent_of_the_leaders_log() {
        let progress = |learner| Progress {
            leader: 1,
            matched: [(1, 100), (2, 100), (4, learner)].into_iter().collect(),
        };
        assert_eq!(ready(&progress(89), 4), Some(false));
        assert_eq!(ready(&progress(90), 4), Some(true));
        assert_eq!(ready(&progress(100), 4), Some(true));
        assert_eq!(ready(&progress(0), 4), Some(false));
        assert_eq!(ready(&progress(90), 9), None);
    }
}
