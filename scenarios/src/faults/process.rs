//! Process faults: a crash (with torn tails or not), a pause, a graceful
//! restart, and replacing a member with a fresh one.

use super::{FaultKind, Fields, Inject};
use crate::control::{Control, restart_if_down};
use crate::target::Target;
use sim::MemberStatus;
use std::time::Duration;

/// `crash` and `torn_write_crash`: kill, restart after `restart_after`.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    pub target: Target,
    pub restart_after: Duration,
}

impl Inject for Crash {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Crash {
            target: f.target()?,
            restart_after: f.restart_after(),
        })
    }

    /// Kills the targets (torn tails on for `torn_write_crash`), restarting each after `restart_after`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Crash {
            target,
            restart_after,
        } = self;
        let world = ctl.world.clone();
        let torn = kind == FaultKind::TornWriteCrash;
        for m in ctl.targets(kind, target).await {
            if torn {
                world.set_torn_tails(m, true);
            }
            ctl.note(kind, format!("m{m}"));
            world.kill(m);
            if torn {
                world.set_torn_tails(m, false);
            }
            ctl.hold(restart_after).await;
            // A member another step removed meanwhile stays down: the
            // operator does not start a member the cluster no longer has.
            if !ctl.quiescing()
                && world.status(m) == Some(MemberStatus::Crashed)
                && !ctl.is_removed(m)
            {
                world.restart(m);
            }
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `pause`: stop the process (a stalled process), resume it later.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub target: Target,
    pub duration: Duration,
}

impl Inject for Pause {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Pause {
            target: f.target()?,
            duration: f.duration(2.0),
        })
    }

    /// Pauses the targets for `duration`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Pause { target, duration } = self;
        let world = ctl.world.clone();
        let mut ms = Vec::new();
        for m in ctl.targets(kind, target).await {
            // A member down at this moment has no process to stall.
            if world.status(m) != Some(MemberStatus::Running) {
                ctl.not_applied(kind.name(), &format!("m{m} is not running"));
                continue;
            }
            ctl.note(kind, format!("m{m}"));
            world.pause(m);
            ms.push(m);
        }
        ctl.hold(duration).await;
        for &m in &ms {
            world.resume(m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `graceful_restart`: stop cleanly, start again after `down_for`.
#[derive(Debug, Clone, PartialEq)]
pub struct GracefulRestart {
    pub target: Target,
    pub down_for: Duration,
}

impl Inject for GracefulRestart {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(GracefulRestart {
            target: f.target()?,
            down_for: f.restart_after(),
        })
    }

    /// Stops the targets cleanly, then starts them again.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let GracefulRestart { target, down_for } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            ctl.note(kind, format!("m{m}"));
            world.stop(m);
            let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
            while world.status(m).is_some_and(|s| s.is_up())
                && madsim::time::Instant::now() < deadline
            {
                madsim::time::sleep(Duration::from_millis(20)).await;
            }
            ctl.hold(down_for).await;
            // Not a member another step removed meanwhile (as for crashes).
            restart_if_down(ctl, m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `member_replace`: remove the target, wipe it, add it back as a new member.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberReplace {
    pub target: Target,
}

impl Inject for MemberReplace {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(MemberReplace {
            target: f.target()?,
        })
    }

    /// Removes each target from the cluster, wipes it, and adds a fresh
    /// member; `member_replace_learner` adds the new member as a learner
    /// first, promotes it once it caught up, then removes the old one.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let MemberReplace { target } = self;
        for m in ctl.targets(kind, target).await {
            if !claim_replacement(ctl, kind, m) {
                continue;
            }
            if kind == FaultKind::MemberReplaceLearner {
                replace_through_learner(ctl, kind, m).await;
            } else {
                replace(ctl, kind, m).await;
            }
            ctl.release_replacement(m);
        }
    }
}

/// Whether `m` may be replaced now, claiming it if so (the caller
/// releases it); why not is a step not applied.
pub(super) fn claim_replacement(ctl: &Control, kind: FaultKind, m: u64) -> bool {
    let why_not = if ctl.members().len() < 2 {
        format!("m{m} is the only member left")
    } else if !ctl.clients_reach_a_member_without(m) {
        format!("m{m} is the last member the clients were given: replaced, they could reach none")
    } else if !ctl.claim_replacement(m) {
        format!("m{m} is being replaced already")
    } else {
        return true;
    };
    ctl.not_applied(kind.name(), &why_not);
    false
}

async fn replace(ctl: &Control, kind: FaultKind, m: u64) {
    ctl.note(kind, format!("m{m}"));
    match remove_wipe_add(ctl, m).await {
        Some(new_id) => ctl.healed(kind, format!("m{m} -> m{new_id}")),
        None => ctl.healed(kind, format!("m{m} (remove failed)")),
    }
}

/// Removes `m` from the cluster, wipes its data and adds a fresh member
/// in its place (etcd's documented way to replace a member); the new
/// member's id, or None when the removal failed.
pub(super) async fn remove_wipe_add(ctl: &Control, m: u64) -> Option<u64> {
    if !ctl.remove_member(m).await {
        return None;
    }
    ctl.removed.lock().insert(m);
    ctl.world.wipe(m);
    let new_id = ctl.next_member_id();
    ctl.add_member(new_id, || ctl.replacement_template(m)).await;
    Some(new_id)
}

/// How long a learner has to catch up before its promotion is given up.
const PROMOTE_WAIT: Duration = Duration::from_secs(10);

/// etcd's recommended replacement: the new member joins as a learner
/// (no vote, so the quorum is untouched while it catches up), is promoted
/// once in sync, and only then is the old member removed and wiped.
async fn replace_through_learner(ctl: &Control, kind: FaultKind, m: u64) {
    let world = ctl.world.clone();
    ctl.note(kind, format!("m{m}"));
    let new_id = ctl.next_member_id();
    // The learner is this step's until it is promoted: another replace
    // step must not remove it under it.
    ctl.claim_replacement(new_id);
    let replaced = replace_with_learner(ctl, kind, m, new_id).await;
    ctl.release_replacement(new_id);
    if replaced {
        ctl.removed.lock().insert(m);
        world.wipe(m);
        ctl.healed(kind, format!("m{m} -> m{new_id} through a learner"));
    }
}

/// Adds `new_id` as a learner, promotes it and removes `m`; false (the
/// step healed with why) when one of them does not happen.
async fn replace_with_learner(ctl: &Control, kind: FaultKind, m: u64, new_id: u64) -> bool {
    if !ctl
        .add_member_as(new_id, || ctl.replacement_template(m), true)
        .await
    {
        ctl.healed(kind, format!("m{m} (learner add failed)"));
        return false;
    }
    if !ctl.promote_member(new_id, PROMOTE_WAIT).await {
        ctl.healed(kind, format!("m{m} (learner m{new_id} not promoted)"));
        return false;
    }
    if !ctl.remove_member(m).await {
        ctl.healed(kind, format!("m{m} -> m{new_id} (remove failed)"));
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{assert_applied_and_healed, sample_during, traced, with_cluster};

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_crash_kills_the_member_and_restarts_it() {
        let ((during, after), trace) = with_cluster(3, 1, |ctl| async move {
            let crash = Fault::Crash(Crash {
                target: Target::Member(2),
                restart_after: MS(500),
            });
            let during = sample_during(&ctl, crash, MS(200), async |c| c.world.status(2)).await;
            (during, ctl.world.status(2))
        });
        assert_eq!(during, Some(MemberStatus::Crashed));
        assert_eq!(after, Some(MemberStatus::Running));
        assert_applied_and_healed(&trace, FaultKind::Crash, "m2");
    }

    #[test]
    fn a_pause_stalls_the_member_until_it_is_resumed() {
        let ((during, after), trace) = with_cluster(3, 2, |ctl| async move {
            let pause = Fault::Pause(Pause {
                target: Target::Member(3),
                duration: MS(800),
            });
            let during = sample_during(&ctl, pause, MS(300), async |c| c.world.status(3)).await;
            (during, ctl.world.status(3))
        });
        assert_eq!(during, Some(MemberStatus::Paused));
        assert_eq!(after, Some(MemberStatus::Running));
        assert_applied_and_healed(&trace, FaultKind::Pause, "m3");
    }

    #[test]
    fn a_graceful_restart_stops_the_member_and_starts_it_again() {
        let ((during, after), trace) = with_cluster(3, 3, |ctl| async move {
            let restart = Fault::GracefulRestart(GracefulRestart {
                target: Target::Member(1),
                down_for: MS(1000),
            });
            let during = sample_during(&ctl, restart, MS(500), async |c| {
                c.world.status(1).is_some_and(|s| s.is_up())
            })
            .await;
            (during, ctl.world.status(1))
        });
        assert!(!during, "m1 is down while it restarts");
        assert_eq!(after, Some(MemberStatus::Running));
        assert_applied_and_healed(&trace, FaultKind::GracefulRestart, "m1");
    }

    #[test]
    fn a_member_replace_removes_the_member_and_adds_a_fresh_one() {
        let (members, trace) = with_cluster(3, 4, |ctl| async move {
            let replace = Fault::MemberReplace(MemberReplace {
                target: Target::Member(2),
            });
            replace.inject(&ctl).await;
            ctl.members()
        });
        assert_eq!(members, vec![1, 3, 4]);
        assert!(traced(&trace, "engine", "heal", "member_replace m2 -> m4"));
    }

    #[test]
    fn a_replace_through_a_learner_promotes_it_before_the_old_member_goes() {
        use node::wire::api::{MemberListRequest, client_request, client_response};
        let ((members, learners, violations), trace) = with_cluster(3, 6, |ctl| async move {
            let replace = Fault::MemberReplaceLearner(MemberReplace {
                target: Target::Member(2),
            });
            replace.inject(&ctl).await;
            let list = ctl
                .to_leader(client_request::Body::MemberList(MemberListRequest {
                    linearizable: false,
                }))
                .await;
            let learners = match list {
                Ok(client_response::Body::MemberList(l)) => {
                    l.members.iter().filter(|m| m.is_learner).count()
                }
                other => panic!("{other:?}"),
            };
            (ctl.members(), learners, ctl.violations.lock().clone())
        });
        assert_eq!(members, vec![1, 3, 4]);
        assert_eq!(learners, 0, "the learner was promoted");
        assert!(violations.is_empty(), "{violations:?}");
        assert!(traced(
            &trace,
            "engine",
            "heal",
            "member_replace_learner m2 -> m4 through a learner"
        ));
    }

    /// Replaced members come back under new addresses the traffic clients
    /// never learn: replacing the last member they were given would leave
    /// every request unanswered (swarm seed 100173 replaced all three
    /// through learners, and `errors.kind-answered` failed on the engine's
    /// doing), so that step is not applied.
    #[test]
    fn replacing_the_last_member_the_clients_know_is_not_applied() {
        let ((members, not_applied), _) = with_cluster(3, 7, |ctl| async move {
            for m in 1..=3 {
                let replace = Fault::MemberReplaceLearner(MemberReplace {
                    target: Target::Member(m),
                });
                replace.inject(&ctl).await;
            }
            (ctl.members(), ctl.not_applied.lock().clone())
        });
        assert_eq!(members, vec![3, 4, 5]);
        assert_eq!(not_applied.len(), 1, "{not_applied:?}");
        assert!(
            not_applied[0].contains("m3 is the last member the clients were given"),
            "{not_applied:?}"
        );
    }

    #[test]
    fn a_member_replace_of_the_last_member_is_not_applied() {
        let ((members, not_applied), _) = with_cluster(1, 5, |ctl| async move {
            let replace = Fault::MemberReplace(MemberReplace {
                target: Target::Member(1),
            });
            replace.inject(&ctl).await;
            (ctl.members(), ctl.not_applied.lock().clone())
        });
        assert_eq!(members, vec![1]);
        assert_eq!(not_applied.len(), 1, "{not_applied:?}");
    }
}
