//! When a correct store must accept a membership change: the cluster is
//! *whole*, every member running and connected with every other for
//! longer than etcd's health interval. etcd's strict reconfiguration
//! check (`mayAddMember`, `mayRemoveMember`) then allows any member add
//! (3.5 and 3.6 want every voter connected, 3.7 a quorum of them) and any
//! removal (the connected voters left are a quorum), so its "unhealthy
//! cluster" answer is a refusal nothing justifies.
//!
//! 3.7 asks less of an add: the voters connected to the member asked
//! (itself among them) must be a quorum of the configuration with the
//! new member counted as down. When every running member runs 3.7, an add
//! that rule allows from every running member's view must be accepted
//! too, with a voter down ([`add_allowed_on_3_7`]).
//!
//! The other way round, a removal etcd must decline: removing a voter
//! that is connected to the member asked, when the voters that member
//! counts active, less the one removed, are no quorum of the configuration
//! without it ([`remove_must_be_declined`]). Accepting it leaves a
//! cluster that one more fault stops.
//!
//! Judged from the world's connection table (what the members' checks
//! read) with etcd's rule written here, not taken from the store: a store
//! that declines wrongly cannot also mislead the judge. For a whole
//! cluster every member the engine knows counts as a voter, learners too,
//! which only asks more; the 3.7 rule needs the voters themselves.

use node::version::Version;
use sim::{MemberStatus, World};
use std::time::Duration;

/// etcd's `HealthInterval`: a peer counts as active once its connection
/// has been up this long.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Time for the answer to come back after the member judged: a connection
/// must be up this much longer than the interval for the judgment to hold
/// whenever within the attempt the member made it.
const MARGIN: Duration = Duration::from_secs(1);

/// Whether `m`'s connection with `peer` has been up for longer than `than`.
fn connected_longer(world: &World, m: u64, peer: u64, than: Duration) -> bool {
    world.peer_connected_for(m, peer).is_some_and(|d| d > than)
}

/// Whether `m` counts `peer` as active, whenever within the attempt it
/// judged: their connection up for longer than the interval and margin.
fn active(world: &World, m: u64, peer: u64) -> bool {
    connected_longer(world, m, peer, HEALTH_INTERVAL + MARGIN)
}

/// Those of `members` running now.
fn running(world: &World, members: &[u64]) -> Vec<u64> {
    members
        .iter()
        .copied()
        .filter(|&m| world.status(m) == Some(MemberStatus::Running))
        .collect()
}

/// Whether `members` are whole now: each one running, and each one's
/// connection with every other up for longer than the health interval
/// and the margin.
pub(crate) fn is_whole(world: &World, members: &[u64]) -> bool {
    !members.is_empty()
        && running(world, members).len() == members.len()
        && members
            .iter()
            .all(|&m| members.iter().all(|&p| p == m || active(world, m, p)))
}

/// Whether etcd 3.7's strict reconfiguration check must allow adding a
/// member to the configuration `voters` (learners left out) now: every
/// running member (any may be the one asked) runs 3.7 or newer and sees,
/// itself among them if a voter, a quorum of `voters` plus the newcomer
/// connected for longer than the interval and the margin.
pub(crate) fn add_allowed_on_3_7(world: &World, members: &[u64], voters: &[u64]) -> bool {
    let running = running(world, members);
    let with_newcomer = voters.len() + 1;
    let quorum_with_newcomer = with_newcomer / 2 + 1;
    let active_seen_by = |m: u64| {
        voters
            .iter()
            .filter(|&&v| v == m || active(world, m, v))
            .count()
    };
    !running.is_empty()
        && running
            .iter()
            .all(|&m| world.version(m).is_some_and(|v| v >= Version::V3_7))
        && running
            .iter()
            .all(|&m| active_seen_by(m) >= quorum_with_newcomer)
}

/// Whether etcd's strict reconfiguration check (`mayRemoveMember`) must
/// decline removing voter `x` from `voters` (learners left out), judged
/// `since` after the request was sent (zero: as it is sent). Whichever
/// running voter is asked: `x` is connected to it on a connection older
/// than the request (a voter down is safe to remove), and the voters it
/// may count active (itself, and each peer connected for at least the
/// interval less the margin when the request was sent) less one are no
/// quorum of the configuration without `x`. An answer that came more
/// than the margin after the send is not judged: a peer that was short of
/// the interval at the send may have reached it by the time the member
/// judged.
pub(crate) fn remove_must_be_declined(
    world: &World,
    voters: &[u64],
    x: u64,
    since: Duration,
) -> bool {
    let running = running(world, voters);
    let may_count_active = |m: u64, v: u64| {
        v == m
            || connected_longer(
                world,
                m,
                v,
                (HEALTH_INTERVAL - MARGIN).saturating_sub(since),
            )
    };
    let quorum_without_x = (voters.len() - 1) / 2 + 1;
    since <= MARGIN
        && voters.contains(&x)
        && !running.is_empty()
        && running.iter().all(|&m| {
            let counted = voters.iter().filter(|&&v| may_count_active(m, v)).count();
            (m == x || connected_longer(world, m, x, since)) && counted - 1 < quorum_without_x
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::testing::{with_cluster, with_cluster_of};

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

    #[test]
    fn removing_a_connected_voter_must_be_declined_once_the_rest_are_no_quorum() {
        let (judged, _) = with_cluster(3, 6, |ctl| async move {
            let voters = ctl.members();
            let must =
                |x: u64, since: Duration| remove_must_be_declined(&ctl.world, &voters, x, since);
            madsim::time::sleep(S(7)).await;
            // Whole: the two left are a quorum of two.
            let whole = must(2, Duration::ZERO);
            ctl.world.kill(3);
            // m3 just went down: m1 and m2 still connected to each other,
            // but of 3 voters only they count, and less m2 one is left.
            let one_down = must(2, Duration::ZERO);
            // A voter down is safe to remove.
            let the_down_one = must(3, Duration::ZERO);
            // An answer long after the send is not judged.
            let late = must(2, S(2));
            // Back for less than the interval: still not counted.
            ctl.world.restart(3);
            madsim::time::sleep(S(2)).await;
            let just_back = must(2, Duration::ZERO);
            madsim::time::sleep(S(6)).await;
            let back_long = must(2, Duration::ZERO);
            (whole, one_down, the_down_one, late, just_back, back_long)
        });
        assert_eq!(judged, (false, true, false, false, true, false));
    }

    #[test]
    fn on_3_7_an_add_is_allowed_with_a_voter_down_while_a_quorum_is_connected() {
        let judge = |versions: &'static str| {
            let cluster = format!("size = 5\nversions = [{versions}]\n");
            with_cluster_of(&cluster, 2, |ctl| async move {
                let members = ctl.members();
                madsim::time::sleep(S(7)).await;
                ctl.world.kill(5);
                let one_down = add_allowed_on_3_7(&ctl.world, &members, &members);
                ctl.world.kill(4);
                let two_down = add_allowed_on_3_7(&ctl.world, &members, &members);
                let fewer_voters = add_allowed_on_3_7(&ctl.world, &members, &members[..3]);
                (one_down, two_down, fewer_voters)
            })
            .0
        };
        // Of 5 voters plus the newcomer, 4 must be connected: one may be
        // down, not two; of 3 voters plus the newcomer, 3.
        assert_eq!(judge("\"3.7\""), (true, false, true));
        // A running 3.6 member may be the one asked, with its stricter rule.
        let m1_on_3_6 = "\"3.6\", \"3.7\", \"3.7\", \"3.7\", \"3.7\"";
        assert_eq!(judge(m1_on_3_6), (false, false, false));
    }
}
