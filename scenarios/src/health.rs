//! When a correct store must accept a membership change: the cluster is
//! *whole*, every member running and connected with every other for
//! longer than etcd's health interval. etcd's strict reconfiguration
//! check (`mayAddMember`, `mayRemoveMember`) then allows any member add
//! (3.5 and 3.6 want every voter connected, 3.7 a quorum of them) and any
//! removal (the connected voters left are a quorum), so its "unhealthy
//! cluster" answer is a refusal nothing justifies.
//!
//! Judged from the world's connection table (what the members' checks
//! read) with etcd's rule written here, not taken from the store: a store
//! that declines wrongly cannot also mislead the judge. Every member the
//! engine knows counts as a voter, learners too, which only asks more.

use sim::{MemberStatus, World};
use std::time::Duration;

/// etcd's `HealthInterval`: a peer counts as active once its connection
/// has been up this long.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Time for the answer to come back after the member judged: a connection
/// must be up this much longer than the interval for the judgment to hold
/// whenever within the attempt the member made it.
const MARGIN: Duration = Duration::from_secs(1);

/// Whether `members` are whole now: each one running, and each one's
/// connection with every other up for longer than the health interval
/// and the margin.
pub(crate) fn is_whole(world: &World, members: &[u64]) -> bool {
    let up = |m: u64| world.status(m) == Some(MemberStatus::Running);
    let connected = |m: u64, peer: u64| {
        world
            .peer_connected_for(m, peer)
            .is_some_and(|d| d > HEALTH_INTERVAL + MARGIN)
    };
    !members.is_empty()
        && members.iter().all(|&m| up(m))
        && members
            .iter()
            .all(|&m| members.iter().all(|&p| p == m || connected(m, p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::testing::with_cluster;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_cluster_is_whole_only_once_connected_past_the_interval_and_margin() {
        let (judged, _) = with_cluster(3, 1, |ctl| async move {
            let members = ctl.members();
            // with_cluster starts the members and waits for a leader.
            let early = is_whole(&ctl.world, &members);
            madsim::time::sleep(S(7)).await;
            let later = is_whole(&ctl.world, &members);
            ctl.world.kill(2);
            let one_down = is_whole(&ctl.world, &members);
            ctl.world.restart(2);
            madsim::time::sleep(S(1)).await;
            let just_back = is_whole(&ctl.world, &members);
            madsim::time::sleep(S(6)).await;
            let back_long = is_whole(&ctl.world, &members);
            (early, later, one_down, just_back, back_long)
        });
        assert_eq!(judged, (false, true, false, false, true));
    }
}
