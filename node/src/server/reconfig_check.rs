//! etcd's strict reconfiguration check (`--strict-reconfig-check`, on by
//! default): the member asked refuses a membership change that would leave
//! the cluster without an active quorum, judged by how long its own peer
//! connections have been up (`mayAddMember` and `mayRemoveMember` in
//! etcdserver's server.go, with `numConnectedSince` in util.go). A member
//! whose connection with a peer has not been up for [`HEALTH_INTERVAL`]
//! counts that peer as down.
//!
//! - Adding a member (voter or learner): 3.5 and 3.6 want every voter
//!   connected; 3.7 wants the voters connected to be a quorum of the
//!   configuration with the new member counted as down (a single voter
//!   may always add).
//! - Removing a voter: allowed when its connection is down (it is not part
//!   of the active quorum); otherwise the connected voters less the one
//!   removed must be a quorum of the configuration without it.
//! - Removing a learner: always allowed.
//!
//! Not modelled: etcd's "not enough started members" refusals
//! (`IsReadyToAddVotingMember` and kin) count the members that have
//! published their name through raft; this store has no publish step, so
//! every member counts as started.

use super::MemberState;
use crate::version::Version;
use crate::wire::api::{ErrorCode, ErrorResponse};
use std::time::Duration;

/// etcd's `HealthInterval`: how long a peer connection must have been up
/// for the peer to count as active.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// etcd's ErrUnhealthy.
pub const UNHEALTHY: &str = "etcdserver: unhealthy cluster";

/// The configuration as the member asked sees it.
struct View<'a> {
    me: u64,
    voters: Vec<u64>,
    connected_for: &'a dyn Fn(u64) -> Option<Duration>,
}

impl View<'_> {
    /// etcd's numConnectedSince: the voters connected for longer than the
    /// health interval, this member (a voter) always among them.
    fn connected_voters(&self) -> usize {
        self.voters
            .iter()
            .filter(|&&v| {
                v == self.me || (self.connected_for)(v).is_some_and(|d| d > HEALTH_INTERVAL)
            })
            .count()
    }

    fn may_add(&self, version: Version) -> bool {
        let connected = self.connected_voters();
        if version >= Version::V3_7 {
            self.voters.len() == 1 || connected >= quorum(self.voters.len() + 1)
        } else {
            connected == self.voters.len()
        }
    }

    fn may_remove(&self, id: u64, is_learner: bool) -> bool {
        if is_learner {
            return true;
        }
        if id != self.me && (self.connected_for)(id).is_none() {
            return true;
        }
        // etcd refuses when `active - 1 < 1 + (len - 1) / 2`: the
        // connected voters left are no quorum of the configuration
        // without the one removed.
        let left = self.connected_voters().saturating_sub(1);
        left > self.voters.len().saturating_sub(1) / 2
    }
}

fn quorum(members: usize) -> usize {
    members / 2 + 1
}

/// Whether `state` may propose adding a member now.
pub(crate) fn may_add(state: &MemberState) -> Result<(), ErrorResponse> {
    check(state, |view| view.may_add(state.config.version))
}

/// Whether `state` may propose removing member `id` now.
pub(crate) fn may_remove(state: &MemberState, id: u64) -> Result<(), ErrorResponse> {
    let is_learner = state
        .cluster
        .lock()
        .members
        .get(&id)
        .is_some_and(|m| m.is_learner);
    check(state, |view| view.may_remove(id, is_learner))
}

fn check(
    state: &MemberState,
    allowed: impl FnOnce(&View<'_>) -> bool,
) -> Result<(), ErrorResponse> {
    let voters = state
        .cluster
        .lock()
        .members
        .values()
        .filter(|m| !m.is_learner)
        .map(|m| m.id)
        .collect();
    let connected_for = |peer| state.env.peer_connected_for(peer);
    let view = View {
        me: state.id(),
        voters,
        connected_for: &connected_for,
    };
    if allowed(&view) {
        Ok(())
    } else {
        state
            .env
            .reach(crate::coverage::Point::ReconfigRefusedUnhealthy);
        tracing::warn!(
            member = state.id(),
            "membership change refused: unhealthy cluster"
        );
        Err(super::error(ErrorCode::Unhealthy, UNHEALTHY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const UP_LONG: Option<Duration> = Some(Duration::from_secs(60));
    const UP_SHORT: Option<Duration> = Some(Duration::from_secs(2));

    /// Member 1 asks; `links` gives its connection with each peer.
    fn with<R>(
        voters: &[u64],
        links: &[(u64, Option<Duration>)],
        f: impl FnOnce(&View<'_>) -> R,
    ) -> R {
        let links: BTreeMap<u64, Option<Duration>> = links.iter().copied().collect();
        let connected_for = |peer| links.get(&peer).copied().flatten();
        f(&View {
            me: 1,
            voters: voters.to_vec(),
            connected_for: &connected_for,
        })
    }

    #[test]
    fn a_voter_is_removed_only_if_the_connected_rest_keeps_a_quorum() {
        let healthy = [(2, UP_LONG), (3, UP_LONG)];
        assert!(with(&[1, 2, 3], &healthy, |v| v.may_remove(3, false)));
        assert!(
            with(&[1, 2, 3], &healthy, |v| v.may_remove(1, false)),
            "itself"
        );
        // Member 3 down: removing 2 would leave 1 alone of {1, 3}.
        let one_down = [(2, UP_LONG), (3, None)];
        assert!(!with(&[1, 2, 3], &one_down, |v| v.may_remove(2, false)));
        assert!(!with(&[1, 2, 3], &one_down, |v| v.may_remove(1, false)));
        // The member down itself may go: it is not in the active quorum.
        assert!(with(&[1, 2, 3], &one_down, |v| v.may_remove(3, false)));
        // Connected for less than the health interval counts as down.
        let fresh = [(2, UP_SHORT), (3, UP_LONG)];
        assert!(!with(&[1, 2, 3], &fresh, |v| v.may_remove(3, false)));
        // A learner never matters to the quorum.
        assert!(with(&[1, 2, 3], &one_down, |v| v.may_remove(4, true)));
    }

    #[test]
    fn adding_wants_every_voter_before_3_7_and_a_quorum_with_the_newcomer_after() {
        // Five voters, one down: 4 of the 6 after the add is a quorum.
        let one_down = [(2, UP_LONG), (3, UP_LONG), (4, UP_LONG), (5, None)];
        let five = [1, 2, 3, 4, 5];
        assert!(!with(&five, &one_down, |v| v.may_add(Version::V3_6)));
        assert!(with(&five, &one_down, |v| v.may_add(Version::V3_7)));
        // Three voters, one down: 2 of 4 is not.
        let one_down = [(2, UP_LONG), (3, None)];
        assert!(!with(&[1, 2, 3], &one_down, |v| v.may_add(Version::V3_7)));
        let healthy = [(2, UP_LONG), (3, UP_LONG)];
        assert!(with(&[1, 2, 3], &healthy, |v| v.may_add(Version::V3_5)));
        // Two voters, one down: 1 of 3 after the add is no quorum.
        assert!(!with(&[1, 2], &[(2, None)], |v| v.may_add(Version::V3_7)));
        assert!(
            with(&[1], &[], |v| v.may_add(Version::V3_7)),
            "a single voter"
        );
        assert!(
            with(&[1], &[], |v| v.may_add(Version::V3_5)),
            "a single voter"
        );
    }
}
