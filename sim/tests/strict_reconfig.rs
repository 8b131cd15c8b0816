//! etcd's strict reconfiguration check (`--strict-reconfig-check`, on by
//! default): the member asked refuses a membership change that would leave
//! no active quorum, judging by its peer connections, and says "unhealthy
//! cluster". Without the check, the removal below leaves the leader and a
//! dead member as the configuration: no quorum, for good.

mod common;

use common::{client_on, on_three_members, wait_for_leader};
use node::client::ClientError;
use node::server::reconfig_check::{HEALTH_INTERVAL, UNHEALTHY};
use node::wire::api::{ErrorCode, MemberAddRequest, MemberRemoveRequest, client_request};
use sim::member_ip;
use std::time::Duration;

fn unhealthy<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> bool {
    matches!(r, Err(ClientError::Server { code: ErrorCode::Unhealthy, message, .. }) if message == UNHEALTHY)
}

fn remove(id: u64) -> client_request::Body {
    client_request::Body::MemberRemove(MemberRemoveRequest { id })
}

#[test]
fn a_membership_change_that_would_leave_no_active_quorum_is_refused() {
    on_three_members(0..3, |seed, endpoints, world| async move {
        let leader = wait_for_leader(&endpoints).await;
        let mut on_leader = client_on(&endpoints, leader);
        // Connected for less than the health interval: every peer counts
        // as down, so even a learner is refused.
        let add = client_request::Body::MemberAdd(MemberAddRequest {
            id: 4,
            ip: member_ip(4).to_string(),
            is_learner: true,
        });
        let early = on_leader.request(add).await;
        assert!(unhealthy(&early), "seed {seed}: an early add: {early:?}");

        madsim::time::sleep(HEALTH_INTERVAL + Duration::from_secs(1)).await;
        let mut followers = endpoints.iter().map(|e| e.0).filter(|m| *m != leader);
        let (up, down) = (followers.next().unwrap(), followers.next().unwrap());
        world.kill(down);
        // Removing the follower that is up would leave the leader alone
        // of two voters.
        let refused = on_leader.request(remove(up)).await;
        assert!(
            unhealthy(&refused),
            "seed {seed}: removing m{up}: {refused:?}"
        );
        // The member down is not in the active quorum: it may go.
        let removed = on_leader.request(remove(down)).await;
        assert!(
            removed.is_ok(),
            "seed {seed}: removing m{down}: {removed:?}"
        );
    });
}
