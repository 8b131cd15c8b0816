//! Ends the watches that require a leader once the member has known none
//! for a while, as etcd's `monitorLeader` (v3rpc) does: it looks once per
//! election timeout and cancels the streams that asked for a leader after
//! `MAX_NO_LEADER` looks in a row found none. etcd waits that long because
//! reconnecting a stream costs more than refusing new ones, which it does
//! at once (here `WatchableStore::watch` refuses them while no leader is
//! known). Counted in the raft loop's ticks rather than by a timer task of
//! its own, so a run with no such watch is scheduled exactly as before.

/// etcd's maxNoLeaderCnt.
const MAX_NO_LEADER: usize = 3;

pub(crate) struct LeaderMonitor {
    election_ticks: usize,
    ticks_without_leader: usize,
}

impl LeaderMonitor {
    pub fn new(election_ticks: usize) -> Self {
        LeaderMonitor {
            election_ticks: election_ticks.max(1),
            ticks_without_leader: 0,
        }
    }

    /// One tick, with the leader the member knows (0: none). True when the
    /// watches requiring a leader must end now: at every election timeout
    /// from the `MAX_NO_LEADER`th without a leader on.
    pub fn tick(&mut self, leader: u64) -> bool {
        if leader != 0 {
            self.ticks_without_leader = 0;
            return false;
        }
        self.ticks_without_leader += 1;
        self.ticks_without_leader >= MAX_NO_LEADER * self.election_ticks
            && self
                .ticks_without_leader
                .is_multiple_of(self.election_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_watches_after_three_election_timeouts_without_a_leader_and_then_each_timeout() {
        let mut m = LeaderMonitor::new(10);
        let at: Vec<usize> = (1..=50).filter(|_| m.tick(0)).collect();
        assert_eq!(at, vec![30, 40, 50]);
    }

    #[test]
    fn a_leader_seen_starts_the_count_again() {
        let mut m = LeaderMonitor::new(10);
        for _ in 0..29 {
            assert!(!m.tick(0));
        }
        assert!(!m.tick(7));
        for _ in 0..29 {
            assert!(!m.tick(0));
        }
        assert!(m.tick(0));
    }
}
