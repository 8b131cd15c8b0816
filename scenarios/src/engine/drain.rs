//! The eventual properties: once the cluster is healed and converged, what
//! its members still owe drains. A lease or per-key TTL past its deadline
//! is revoked, a scheduled compaction keeps going until it finishes, a
//! watcher behind the store's revision catches up. No history rule can see
//! these: each is a promise about what happens *after* the last request.

use crate::control::Control;
use checker::rules;
use node::host::Backlog;
use std::collections::BTreeMap;
use std::time::Duration;

/// How far past its deadline (on the leader's clock) a lease or per-key
/// TTL may still be alive. The leader looks for expired leases every
/// 200 ms and revokes at most 16 per look, each through raft (etcd looks
/// every 500 ms and rate-limits revokes): one second covers a look, the
/// proposal and its apply. A burst larger than that drains over several
/// looks, which the bound allows for: only what is still owed at the bound
/// is a violation.
const EXPIRY_SLACK_MS: i64 = 1_000;
/// Longest a compaction may go without finishing a batch. A batch is a
/// lock, a range, a backend commit and the configured pause
/// (`compaction_sleep_interval_ms`, milliseconds): seconds without one on a
/// healthy cluster mean the compaction stopped.
const COMPACTION_STALL: Duration = Duration::from_secs(2);
/// A compaction that keeps making progress is waited for up to this long:
/// with a small `compaction_batch_limit` a backlog of compactions takes
/// many seconds, as it would in etcd with the same setting.
const COMPACTION_PATIENCE: Duration = Duration::from_secs(60);
/// How often the members are asked.
const POLL: Duration = Duration::from_millis(100);

/// Waits until no member owes anything and no lease or per-key TTL
/// deadline is still ahead: leases, TTLs and watchers for up to `bound`,
/// a compaction for as long as it makes progress (up to
/// [`COMPACTION_PATIENCE`]). What is owed then becomes a violation of its
/// rule.
pub(super) async fn drain(ctl: &Control, members: &[u64], bound: Duration) {
    let start = madsim::time::Instant::now();
    let mut compactions = Compactions::default();
    loop {
        let backlogs: Vec<(u64, Backlog)> = members
            .iter()
            .filter_map(|&m| ctl.world.backlog(m).map(|b| (m, b)))
            .collect();
        let waited = start.elapsed();
        let left = bound.saturating_sub(waited).as_millis();
        let mut owed = Owed::of(&backlogs, i64::try_from(left).unwrap_or(i64::MAX));
        let compacting = compactions.observe(&backlogs, waited);
        let settled =
            owed.expired_alive.is_empty() && owed.watchers.is_empty() && !owed.deadlines_ahead;
        if (settled || waited >= bound) && (compacting.is_empty() || waited >= COMPACTION_PATIENCE)
        {
            if !compacting.is_empty() {
                // Still finishing batches: slow by configuration, not stuck,
                // so no violation, but a run that stopped watching says so.
                let members: Vec<String> = compacting.iter().map(|m| format!("m{m}")).collect();
                ctl.world.trace().record(
                    "engine",
                    "drain",
                    format!(
                        "compaction still running after {:.0} s on {}",
                        waited.as_secs_f64(),
                        members.join(", ")
                    ),
                );
            }
            owed.compactions = compactions.stalled.into_values().collect();
            owed.report(ctl, waited);
            return;
        }
        madsim::time::sleep(POLL).await;
    }
}

/// Each member's compaction progress: the batch count it last reported
/// and when that count last moved; and the compactions found stalled.
#[derive(Default)]
struct Compactions {
    progress: BTreeMap<u64, (u64, Duration)>,
    stalled: BTreeMap<u64, String>,
}

impl Compactions {
    /// Notes progress at `now`; a compaction that went longer than
    /// [`COMPACTION_STALL`] without a batch is stalled (once per member).
    /// The members whose compaction is still running.
    fn observe(&mut self, backlogs: &[(u64, Backlog)], now: Duration) -> Vec<u64> {
        let mut running = Vec::new();
        for (m, b) in backlogs {
            if b.compaction_finished >= b.compaction_scheduled {
                self.progress.remove(m);
                continue;
            }
            if self.stalled.contains_key(m) {
                continue;
            }
            let (batches, since) = self
                .progress
                .entry(*m)
                .or_insert((b.compaction_batches, now));
            if *batches != b.compaction_batches {
                (*batches, *since) = (b.compaction_batches, now);
            }
            let idle = now.saturating_sub(*since);
            if idle > COMPACTION_STALL {
                self.stalled.insert(
                    *m,
                    format!(
                        "m{m} scheduled a compaction at revision {} and finished only {}, with no batch done for {:.1} s",
                        b.compaction_scheduled,
                        b.compaction_finished,
                        idle.as_secs_f64()
                    ),
                );
            } else {
                running.push(*m);
            }
        }
        running
    }
}

/// What the members owe at one moment, one list per rule.
#[derive(Debug, Default, PartialEq)]
struct Owed {
    expired_alive: Vec<String>,
    compactions: Vec<String>,
    watchers: Vec<String>,
    /// A lease or per-key TTL has not reached its deadline plus the slack
    /// yet, and will before the bound: nothing is owed, but the drain waits
    /// to see it expire.
    deadlines_ahead: bool,
}

impl Owed {
    /// What `backlogs` owe, with `horizon_ms` left before the bound: a
    /// deadline further away than that is not waited for (a lease of ten
    /// minutes would only make every run wait out the bound).
    fn of(backlogs: &[(u64, Backlog)], horizon_ms: i64) -> Owed {
        let mut owed = Owed::default();
        for (m, b) in backlogs {
            if b.primary {
                let leases = b
                    .leases
                    .iter()
                    .map(|(id, left)| (format!("lease {id}"), *left));
                let keys = b.ttl_keys.iter().map(|(key, left)| {
                    (
                        format!("key {:?}'s TTL", String::from_utf8_lossy(key)),
                        *left,
                    )
                });
                for (what, left_ms) in leases.chain(keys) {
                    if left_ms < -EXPIRY_SLACK_MS {
                        owed.expired_alive.push(format!(
                            "{what} is alive {} ms past its deadline on leader m{m}",
                            -left_ms
                        ));
                    } else if left_ms.saturating_add(EXPIRY_SLACK_MS) <= horizon_ms {
                        owed.deadlines_ahead = true;
                    }
                }
            }
            if b.unsynced_watchers + b.victim_watchers > 0 {
                owed.watchers.push(format!(
                    "m{m} has {} unsynced and {} victim watchers",
                    b.unsynced_watchers, b.victim_watchers
                ));
            }
        }
        owed
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.expired_alive.is_empty() && self.compactions.is_empty() && self.watchers.is_empty()
    }

    fn report(self, ctl: &Control, waited: Duration) {
        let after = format!("{:.1} s after the cluster converged", waited.as_secs_f64());
        for (rule, found) in [
            (rules::END_LEASES_EXPIRE, self.expired_alive),
            (rules::END_COMPACTION_FINISHES, self.compactions),
            (rules::END_WATCHERS_CATCH_UP, self.watchers),
        ] {
            if let Some(first) = found.first() {
                let more = match found.len() {
                    1 => String::new(),
                    n => format!(" ({} more)", n - 1),
                };
                ctl.violations
                    .lock()
                    .push((rule.into(), format!("{after}, {first}{more}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HORIZON: i64 = 10_000;

    fn primary() -> Backlog {
        Backlog {
            primary: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_lease_within_its_slack_is_waited_for_and_one_past_it_is_owed() {
        let within = Backlog {
            leases: vec![(7, -EXPIRY_SLACK_MS)],
            ..primary()
        };
        let owed = Owed::of(&[(1, within)], HORIZON);
        assert!(owed.is_empty() && owed.deadlines_ahead);
        let past = Backlog {
            leases: vec![(7, -EXPIRY_SLACK_MS - 1)],
            ttl_keys: vec![(b"k".to_vec(), 5_000)],
            ..primary()
        };
        let owed = Owed::of(&[(1, past)], HORIZON);
        assert_eq!(
            owed.expired_alive,
            vec!["lease 7 is alive 1001 ms past its deadline on leader m1"]
        );
        assert!(owed.deadlines_ahead, "the key's TTL is still ahead");
    }

    #[test]
    fn a_deadline_beyond_the_bound_is_not_waited_for() {
        let far = Backlog {
            leases: vec![(7, 600_000)],
            ..primary()
        };
        let owed = Owed::of(&[(1, far)], HORIZON);
        assert!(owed.is_empty() && !owed.deadlines_ahead);
        let near = Backlog {
            leases: vec![(7, HORIZON - EXPIRY_SLACK_MS)],
            ..primary()
        };
        assert!(Owed::of(&[(1, near)], HORIZON).deadlines_ahead);
    }

    #[test]
    fn a_follower_s_leases_are_not_counted_down() {
        let follower = Backlog {
            leases: vec![(7, -60_000)],
            ..Default::default()
        };
        let owed = Owed::of(&[(2, follower)], HORIZON);
        assert!(owed.is_empty() && !owed.deadlines_ahead);
    }

    #[test]
    fn a_lagging_watcher_is_owed() {
        let b = Backlog {
            unsynced_watchers: 1,
            ..Default::default()
        };
        let owed = Owed::of(&[(3, b)], HORIZON);
        assert_eq!(
            owed.watchers,
            vec!["m3 has 1 unsynced and 0 victim watchers"]
        );
        assert!(!owed.deadlines_ahead);
    }

    #[test]
    fn a_compaction_is_owed_only_once_it_stops_making_progress() {
        let at = |batches| Backlog {
            compaction_scheduled: 40,
            compaction_finished: 30,
            compaction_batches: batches,
            ..Default::default()
        };
        let secs = Duration::from_secs;
        let mut c = Compactions::default();
        assert_eq!(c.observe(&[(3, at(5))], secs(0)), vec![3]);
        assert_eq!(c.observe(&[(3, at(9))], secs(2)), vec![3]);
        assert_eq!(
            c.observe(&[(3, at(9))], secs(4)),
            vec![3],
            "2 s without a batch is allowed"
        );
        assert!(c.stalled.is_empty());
        assert!(c.observe(&[(3, at(9))], secs(5)).is_empty());
        assert!(
            c.observe(&[(3, at(9))], secs(9)).is_empty(),
            "reported once"
        );
        assert_eq!(
            c.stalled.values().collect::<Vec<_>>(),
            vec![
                "m3 scheduled a compaction at revision 40 and finished only 30, with no batch done for 3.0 s"
            ]
        );
        let done = Backlog {
            compaction_scheduled: 40,
            compaction_finished: 40,
            ..Default::default()
        };
        let mut other = Compactions::default();
        assert!(other.observe(&[(3, done)], secs(6)).is_empty());
        assert!(other.stalled.is_empty());
    }

    #[test]
    fn nothing_owed_on_a_drained_cluster() {
        let b = Backlog {
            compaction_scheduled: 40,
            compaction_finished: 40,
            ..primary()
        };
        let owed = Owed::of(&[(1, b)], HORIZON);
        assert!(owed.is_empty() && !owed.deadlines_ahead);
    }
}
