//! Disk faults: failed fsyncs, a full disk, a slow disk, bit flips on
//! read, and the torn tails a crash may leave. A member with a disk fault
//! on is left down by the supervisor until the fault is cleared.

use super::super::control::{Control, restart_if_down};
use crate::faults::Target;
use sim::World;
use std::time::Duration;

/// Fails the next `count` fsyncs of each target; the member dies on it, as etcd does.
pub(super) async fn fsync_eio(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    count: u32,
    restart_after: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        disk_fault(ctl, m, |f| f.fsync_failures = count);
        ctl.note(kind, format!("m{m} count={count}"));
        // The member dies on the failed fsync, as etcd does.
        let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
        while world.status(m).is_some_and(|s| s.is_up())
            && madsim::time::Instant::now() < deadline
            && !ctl.quiescing()
        {
            madsim::time::sleep(Duration::from_millis(20)).await;
        }
        clear_disk_fault(ctl, m);
        ctl.hold(restart_after).await;
        restart_if_down(ctl, m);
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Lets each target's disk take only `quota_kb` more.
pub(super) async fn enospc(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    quota_kb: u64,
    duration: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        let used = world
            .member_node(m)
            .map(|n| world.disk.used_bytes(n))
            .unwrap_or(0);
        let quota = used + quota_kb * 1024;
        disk_fault(ctl, m, |f| f.quota_bytes = Some(quota));
        ctl.note(kind, format!("m{m} quota={quota}"));
        ctl.hold(duration).await;
        clear_disk_fault(ctl, m);
        restart_if_down(ctl, m);
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Adds `min..max` to every disk operation of each target.
pub(super) async fn slow_disk(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    min: Duration,
    max: Duration,
    duration: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        let Some(node) = world.member_node(m) else {
            continue;
        };
        ctl.note(
            kind,
            format!("m{m} {}..{}ms", min.as_millis(), max.as_millis()),
        );
        world.disk.set_latency(
            node,
            sim::disk::DiskLatency {
                op: (min, max),
                ..Default::default()
            },
        );
        ctl.hold(duration).await;
        world
            .disk
            .set_latency(node, sim::disk::DiskLatency::default());
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Flips bits in reads with probability `rate`, restarting each target so its start reads them.
pub(super) async fn bit_flip(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    rate: f64,
    duration: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        disk_fault(ctl, m, |f| f.bit_flip_rate = rate);
        ctl.note(kind, format!("m{m} rate={rate}"));
        // Reads happen at start: restart the member while flips are on.
        world.kill(m);
        world.restart(m);
        ctl.hold(duration).await;
        clear_disk_fault(ctl, m);
        restart_if_down(ctl, m);
        ctl.healed(kind, format!("m{m}"));
    }
}

pub(super) fn set_torn(world: &World, m: u64, on: bool) {
    if let Some(node) = world.member_node(m) {
        let mut f = world.disk.faults(node);
        f.torn_tail = on;
        world.disk.set_faults(node, f);
    }
}

fn disk_fault(ctl: &Control, m: u64, f: impl FnOnce(&mut sim::disk::model::DiskFaults)) {
    if let Some(node) = ctl.world.member_node(m) {
        let mut faults = ctl.world.disk.faults(node);
        f(&mut faults);
        ctl.world.set_disk_faults(m, faults);
        ctl.disk_fault_active.lock().insert(m);
    }
}

fn clear_disk_fault(ctl: &Control, m: u64) {
    if let Some(node) = ctl.world.member_node(m) {
        ctl.world.disk.set_faults(node, Default::default());
    }
    ctl.disk_fault_active.lock().remove(&m);
}
