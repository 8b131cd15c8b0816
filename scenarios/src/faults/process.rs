//! Process faults: a crash (with torn tails or not), a pause, a graceful
//! restart, and replacing a member with a fresh one.

use super::{FaultKind, Fields, Inject};
use crate::control::Control;
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
            if !ctl.quiescing() && world.status(m) == Some(MemberStatus::Crashed) {
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
        let ms = ctl.targets(kind, target).await;
        for &m in &ms {
            ctl.note(kind, format!("m{m}"));
            world.pause(m);
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
            if !ctl.quiescing() && !world.status(m).is_some_and(|s| s.is_up()) {
                world.restart(m);
            }
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

    /// Removes each target from the cluster, wipes it, and adds a fresh member.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let MemberReplace { target } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            if ctl.members().len() < 2 {
                continue;
            }
            ctl.note(kind, format!("m{m}"));
            if !ctl.remove_member(m).await {
                ctl.healed(kind, format!("m{m} (remove failed)"));
                continue;
            }
            ctl.removed.lock().insert(m);
            world.wipe(m);
            let new_id = ctl.next_member_id();
            ctl.add_member(new_id, world.config(m)).await;
            ctl.healed(kind, format!("m{m} -> m{new_id}"));
        }
    }
}
