//! Process faults: a crash (with torn tails or not), a pause, a graceful
//! restart, and replacing a member with a fresh one.

use super::super::control::Control;
use super::disk::set_torn;
use crate::faults::Target;
use sim::MemberStatus;
use std::time::Duration;

/// Kills the targets (torn tails on for `torn_write_crash`), restarting each after `restart_after`.
pub(super) async fn crash(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    restart_after: Duration,
) {
    let world = ctl.world.clone();
    let torn = kind == "torn_write_crash";
    for m in ctl.targets(kind, target).await {
        if torn {
            set_torn(&world, m, true);
        }
        ctl.note(kind, format!("m{m}"));
        world.kill(m);
        if torn {
            set_torn(&world, m, false);
        }
        ctl.hold(restart_after).await;
        if !ctl.quiescing() && world.status(m) == Some(MemberStatus::Crashed) {
            world.restart(m);
        }
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Pauses the targets for `duration`.
pub(super) async fn pause(ctl: &Control, kind: &'static str, target: Target, duration: Duration) {
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

/// Stops the targets cleanly, then starts them again.
pub(super) async fn graceful_restart(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    down_for: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        ctl.note(kind, format!("m{m}"));
        world.stop(m);
        let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
        while world.status(m).is_some_and(|s| s.is_up()) && madsim::time::Instant::now() < deadline
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

/// Removes each target from the cluster, wipes it, and adds a fresh member.
pub(super) async fn member_replace(ctl: &Control, kind: &'static str, target: Target) {
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
