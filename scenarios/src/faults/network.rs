//! Network faults: isolation, minority and majority partitions, one-way
//! cuts, a flapping member, packet loss, latency, and a partition held
//! until the others compacted their log past the cut-off member.

use super::{FaultKind, Fields, Inject};
use crate::cluster;
use crate::control::Control;
use crate::target::Target;
use rand::seq::SliceRandom;
use std::time::Duration;

/// `isolate`: cut the target off from every other member.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolate {
    pub target: Target,
    pub duration: Duration,
}

impl Inject for Isolate {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Isolate {
            target: f.target()?,
            duration: f.duration(2.0),
        })
    }

    /// Cuts each target off from every other member for `duration`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Isolate { target, duration } = self;
        let world = ctl.world.clone();
        let ms = ctl.targets(kind, target).await;
        let all = ctl.members();
        for m in ms {
            let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
            ctl.note(kind, format!("m{m}"));
            let links = world.partition(&[&[m], &others]);
            ctl.hold(duration).await;
            world.heal_links(&links);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `partition_minority` and `partition_majority`: split the members with
/// the leader in the minority or the majority.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub duration: Duration,
}

impl Inject for Partition {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Partition {
            duration: f.duration(2.0),
        })
    }

    /// Splits the cluster in two, the leader in the minority (`partition_minority`) or the majority.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Partition { duration } = self;
        let world = ctl.world.clone();
        let running = ctl.running();
        let all = ctl.members();
        let leader = cluster::leader(&world, &running).await;
        let mut others: Vec<u64> = all.iter().copied().filter(|m| Some(*m) != leader).collect();
        others.shuffle(&mut *ctl.rng.lock());
        let minority_size = (all.len().saturating_sub(1)) / 2;
        let minority: Vec<u64> = if kind == FaultKind::PartitionMinority {
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
        let links = world.partition(&[&minority, &majority]);
        ctl.hold(duration).await;
        world.heal_links(&links);
        ctl.healed(kind, format!("{minority:?} | {majority:?}"));
    }
}

/// `one_way_out` and `one_way_in`: the target cannot send to (or receive
/// from) the other members.
#[derive(Debug, Clone, PartialEq)]
pub struct OneWay {
    pub target: Target,
    pub duration: Duration,
}

impl Inject for OneWay {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(OneWay {
            target: f.target()?,
            duration: f.duration(2.0),
        })
    }

    /// Cuts each target's outgoing (`one_way_out`) or incoming links.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let OneWay { target, duration } = self;
        let world = ctl.world.clone();
        let all = ctl.members();
        for m in ctl.targets(kind, target).await {
            if world.member_node(m).is_none() {
                ctl.not_applied(kind.name(), &format!("m{m} has no process"));
                continue;
            }
            let links: Vec<(u64, u64)> = all
                .iter()
                .copied()
                .filter(|o| *o != m)
                .map(|o| {
                    if kind == FaultKind::OneWayOut {
                        (m, o)
                    } else {
                        (o, m)
                    }
                })
                .collect();
            ctl.note(kind, format!("m{m}"));
            let links = world.cut_links(&links);
            ctl.hold(duration).await;
            world.heal_links(&links);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `flapping`: isolate and heal the target every `period`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flapping {
    pub target: Target,
    pub period: Duration,
    pub duration: Duration,
}

impl Inject for Flapping {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Flapping {
            target: f.target()?,
            period: f.period(0.5),
            duration: f.duration(2.0),
        })
    }

    /// Cuts and heals each target every `period` for `duration`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Flapping {
            target,
            period,
            duration,
        } = self;
        let world = ctl.world.clone();
        let all = ctl.members();
        for m in ctl.targets(kind, target).await {
            let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
            ctl.note(kind, format!("m{m} every {}ms", period.as_millis()));
            let end = madsim::time::Instant::now() + duration;
            while madsim::time::Instant::now() < end && !ctl.quiescing() {
                let links = world.partition(&[&[m], &others]);
                ctl.hold(period).await;
                world.heal_links(&links);
                ctl.hold(period).await;
            }
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `packet_loss`: drop messages with probability `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketLoss {
    pub rate: f64,
    pub duration: Duration,
}

impl Inject for PacketLoss {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(PacketLoss {
            rate: f.rate(0.2)?,
            duration: f.duration(2.0),
        })
    }

    /// Drops messages with probability `rate`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let PacketLoss { rate, duration } = self;
        let world = ctl.world.clone();
        ctl.note(kind, format!("rate={rate}"));
        world.set_packet_loss(rate);
        ctl.hold(duration).await;
        world.reset_network_quality();
        ctl.healed(kind, format!("rate={rate}"));
    }
}

/// `latency`: delay every message by `min..max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub min: Duration,
    pub max: Duration,
    pub duration: Duration,
}

impl Inject for Latency {
    fn parse(f: &Fields) -> Result<Self, String> {
        let (min, max) = f.latency([20, 200])?;
        Ok(Latency {
            min,
            max,
            duration: f.duration(2.0),
        })
    }

    /// Delays every message by `min..max`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Latency { min, max, duration } = self;
        let world = ctl.world.clone();
        ctl.note(kind, format!("{}..{}ms", min.as_millis(), max.as_millis()));
        world.set_network_latency(min..max);
        ctl.hold(duration).await;
        world.reset_network_quality();
        ctl.healed(kind, String::new());
    }
}

/// `partition_until_snapshot`: isolate the target until the others
/// compacted their log past it (or `timeout`).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionUntilSnapshot {
    pub target: Target,
    pub timeout: Duration,
}

impl Inject for PartitionUntilSnapshot {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(PartitionUntilSnapshot {
            target: f.target()?,
            timeout: f.duration(30.0),
        })
    }

    /// Isolates each target until the leader's snapshot is past it (or `timeout`).
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let PartitionUntilSnapshot { target, timeout } = self;
        let world = ctl.world.clone();
        let all = ctl.members();
        for m in ctl.targets(kind, target).await {
            let others: Vec<u64> = all.iter().copied().filter(|x| *x != m).collect();
            ctl.note(kind, format!("m{m}"));
            let applied = cluster::status(&world, m)
                .await
                .map(|s| s.raft_applied_index)
                .unwrap_or(0);
            let links = world.partition(&[&[m], &others]);
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
            world.heal_links(&links);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{
        assert_applied_and_healed, sample_during, times_traced, traced, with_cluster,
    };

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn an_isolated_leader_is_replaced_and_rejoins_after_the_heal() {
        let ((old, during, after), trace) = with_cluster(3, 1, |ctl| async move {
            let old = cluster::leader(&ctl.world, &ctl.running()).await.unwrap();
            let others: Vec<u64> = ctl.running().into_iter().filter(|m| *m != old).collect();
            let isolate = Fault::Isolate(Isolate {
                target: Target::Leader,
                duration: MS(3000),
            });
            let during = sample_during(&ctl, isolate, MS(2500), async |c| {
                cluster::leader(&c.world, &others).await
            })
            .await;
            madsim::time::sleep(MS(2000)).await;
            let after = cluster::status(&ctl.world, old).await.map(|s| s.leader);
            (old, during, after)
        });
        let during = during.expect("the majority elects a leader");
        assert_ne!(during, old, "the isolated leader was replaced");
        assert_eq!(after, Some(during), "the old leader follows the new one");
        assert!(traced(&trace, "net", "partition", &format!("m{old} |")));
        assert!(traced(&trace, "net", "heal", ""));
        assert_applied_and_healed(&trace, FaultKind::Isolate, &format!("m{old}"));
    }

    #[test]
    fn a_minority_partition_puts_the_leader_on_the_small_side() {
        let ((old, during), trace) = with_cluster(5, 2, |ctl| async move {
            let old = cluster::leader(&ctl.world, &ctl.running()).await.unwrap();
            let partition = Fault::PartitionMinority(Partition { duration: MS(3000) });
            let during = sample_during(&ctl, partition, MS(2500), async |c| {
                let majority: Vec<u64> = c.running().into_iter().filter(|m| *m != old).collect();
                // The leader the members other than the old one agree on.
                cluster::leader(&c.world, &majority).await
            })
            .await;
            (old, during)
        });
        let new = during.expect("the majority side elects a leader");
        assert_ne!(new, old);
        assert!(traced(
            &trace,
            "engine",
            "fault",
            &format!("partition_minority [{old}")
        ));
    }

    #[test]
    fn a_one_way_cut_traces_the_directed_links_and_heals_them() {
        let (_, trace) = with_cluster(3, 3, |ctl| async move {
            let cut = Fault::OneWayOut(OneWay {
                target: Target::Member(2),
                duration: MS(500),
            });
            cut.inject(&ctl).await;
        });
        assert!(traced(&trace, "net", "cut", "m2->m1 m2->m3"));
        assert!(traced(&trace, "net", "heal", "2 links"));
        assert_applied_and_healed(&trace, FaultKind::OneWayOut, "m2");
    }

    #[test]
    fn packet_loss_and_latency_are_set_then_reset() {
        let (_, trace) = with_cluster(3, 4, |ctl| async move {
            Fault::PacketLoss(PacketLoss {
                rate: 0.3,
                duration: MS(300),
            })
            .inject(&ctl)
            .await;
            Fault::Latency(Latency {
                min: MS(20),
                max: MS(30),
                duration: MS(300),
            })
            .inject(&ctl)
            .await;
        });
        assert!(traced(&trace, "net", "loss", "rate=0.3"));
        assert!(traced(&trace, "net", "latency", "20ms..30ms"));
        let resets = times_traced(&trace, "net", "quality", "");
        assert_eq!(resets, 2, "each fault resets the network's quality");
    }
}
