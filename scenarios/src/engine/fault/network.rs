//! Network faults: isolation, minority and majority partitions, one-way
//! cuts, a flapping member, packet loss, latency, and a partition held
//! until the others compacted their log past the cut-off member.

use super::super::control::{Control, nodes};
use crate::cluster;
use crate::faults::Target;
use rand::seq::SliceRandom;
use std::time::Duration;

/// Cuts each target off from every other member for `duration`.
pub(super) async fn isolate(ctl: &Control, kind: &'static str, target: Target, duration: Duration) {
    let world = ctl.world.clone();
    let ms = ctl.targets(kind, target).await;
    let all = ctl.members();
    for m in ms {
        let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
        ctl.note(kind, format!("m{m}"));
        let links = world
            .net
            .partition(&[nodes(&world, &[m]), nodes(&world, &others)]);
        ctl.hold(duration).await;
        world.net.heal_links(&links);
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Splits the cluster in two, the leader in the minority (`partition_minority`) or the majority.
pub(super) async fn partition(ctl: &Control, kind: &'static str, duration: Duration) {
    let world = ctl.world.clone();
    let running = ctl.running();
    let all = ctl.members();
    let leader = cluster::leader(&world, &running).await;
    let mut others: Vec<u64> = all.iter().copied().filter(|m| Some(*m) != leader).collect();
    others.shuffle(&mut *ctl.rng.lock());
    let minority_size = (all.len().saturating_sub(1)) / 2;
    let minority: Vec<u64> = if kind == "partition_minority" {
        leader
            .into_iter()
            .chain(others.iter().copied().take(minority_size.saturating_sub(1)))
            .collect()
    } else {
        others.iter().copied().take(minority_size.max(1)).collect()
    };
    let majority: Vec<u64> = all
        .iter()
        .copied()
        .filter(|m| !minority.contains(m))
        .collect();
    ctl.note(kind, format!("{minority:?} | {majority:?}"));
    let links = world
        .net
        .partition(&[nodes(&world, &minority), nodes(&world, &majority)]);
    ctl.hold(duration).await;
    world.net.heal_links(&links);
    ctl.healed(kind, format!("{minority:?} | {majority:?}"));
}

/// Cuts each target's outgoing (`one_way_out`) or incoming links.
pub(super) async fn one_way(ctl: &Control, kind: &'static str, target: Target, duration: Duration) {
    let world = ctl.world.clone();
    let all = ctl.members();
    for m in ctl.targets(kind, target).await {
        let Some(node) = world.member_node(m) else {
            continue;
        };
        let others = nodes(
            &world,
            &all.iter().copied().filter(|x| *x != m).collect::<Vec<_>>(),
        );
        let links = others
            .into_iter()
            .map(|o| {
                if kind == "one_way_out" {
                    (node, o)
                } else {
                    (o, node)
                }
            })
            .collect();
        ctl.note(kind, format!("m{m}"));
        let links = world.net.cut_links(links);
        ctl.hold(duration).await;
        world.net.heal_links(&links);
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Cuts and heals each target every `period` for `duration`.
pub(super) async fn flapping(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    period: Duration,
    duration: Duration,
) {
    let world = ctl.world.clone();
    let all = ctl.members();
    for m in ctl.targets(kind, target).await {
        let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
        ctl.note(kind, format!("m{m} every {}ms", period.as_millis()));
        let end = madsim::time::Instant::now() + duration;
        while madsim::time::Instant::now() < end && !ctl.quiescing() {
            let links = world
                .net
                .partition(&[nodes(&world, &[m]), nodes(&world, &others)]);
            ctl.hold(period).await;
            world.net.heal_links(&links);
            ctl.hold(period).await;
        }
        ctl.healed(kind, format!("m{m}"));
    }
}

/// Drops messages with probability `rate`.
pub(super) async fn packet_loss(ctl: &Control, kind: &'static str, rate: f64, duration: Duration) {
    let world = ctl.world.clone();
    ctl.note(kind, format!("rate={rate}"));
    world.net.set_packet_loss(rate);
    ctl.hold(duration).await;
    world.net.reset_quality();
    ctl.healed(kind, format!("rate={rate}"));
}

/// Delays every message by `min..max`.
pub(super) async fn latency(
    ctl: &Control,
    kind: &'static str,
    min: Duration,
    max: Duration,
    duration: Duration,
) {
    let world = ctl.world.clone();
    ctl.note(kind, format!("{}..{}ms", min.as_millis(), max.as_millis()));
    world.net.set_latency(min..max);
    ctl.hold(duration).await;
    world.net.reset_quality();
    ctl.healed(kind, String::new());
}

/// Isolates each target until the leader's snapshot is past it (or `timeout`).
pub(super) async fn partition_until_snapshot(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    timeout: Duration,
) {
    let world = ctl.world.clone();
    let all = ctl.members();
    for m in ctl.targets(kind, target).await {
        let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
        ctl.note(kind, format!("m{m}"));
        let applied = cluster::status(&world, m)
            .await
            .map(|s| s.raft_applied_index)
            .unwrap_or(0);
        let links = world
            .net
            .partition(&[nodes(&world, &[m]), nodes(&world, &others)]);
        let deadline = madsim::time::Instant::now() + timeout;
        while madsim::time::Instant::now() < deadline && !ctl.quiescing() {
            let running: Vec<u64> = others
                .iter()
                .copied()
                .filter(|x| ctl.running().contains(x))
                .collect();
            let compacted = match cluster::leader(&world, &running).await {
                Some(l) => cluster::status(&world, l)
                    .await
                    .is_some_and(|s| s.snapshot_index > applied + ctl.knobs.catchup_entries),
                None => false,
            };
            if compacted {
                break;
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
        world.net.heal_links(&links);
        ctl.healed(kind, format!("m{m}"));
    }
}
