//! A scenario as a real etcd cluster runs it: the plan `faultline run
//! --target etcd` hands `faultline-etcd` (`realplan`). The scenario is
//! parsed as for a simulation (its fault steps through [`crate::plan`], so
//! every default is the simulation's), then each part is translated into
//! what real processes, the peer proxy and the etcd API can do, or refused
//! with the first part that cannot run for real (one line naming the file
//! and the step). Nothing is silently dropped: a part of a scenario that a
//! real cluster cannot do refuses the whole scenario.

pub mod known;
pub mod versions;

pub use versions::Binaries;

use crate::faults::{Fault, FaultKind};
use crate::plan::Plan;
use crate::schema::{Compactor, Profile, Scenario, TrafficSpec};
use crate::seeds::Streams;
use crate::target::Target;
use crate::traffic::compactor::DRAWN_PERIODS_MS;
use crate::traffic::etcd::{OPS, Op};
use rand::Rng;
use realplan::{Fault as RealFault, Op as RealOp, Profile as RealProfile, Target as RealTarget};
use std::time::Duration;

/// Why a scenario cannot run against a real cluster: the part (`faults[2]
/// (clock_skew)`, `traffic[1]`, `cluster.versions`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {reason}")]
pub struct Refusal {
    pub part: String,
    pub reason: String,
}

fn refuse(part: impl Into<String>, reason: impl Into<String>) -> Refusal {
    Refusal {
        part: part.into(),
        reason: reason.into(),
    }
}

/// The plan of `scenario`'s run under `seed` against a real cluster with
/// `binaries` (the old one only for version changes, `versions`).
pub fn plan(scenario: &Scenario, seed: u64, binaries: Binaries) -> Result<realplan::Plan, Refusal> {
    // A swarm scenario's seed draws its steps (and a general one its store
    // knobs, which a real etcd does not have: it runs with its own flags).
    let effective = crate::swarm::variant(scenario, seed);
    let cluster = &effective.cluster;
    if ![1, 3, 5].contains(&cluster.size) {
        return Err(refuse(
            "cluster.size",
            format!("a real cluster has 1, 3 or 5 members, not {}", cluster.size),
        ));
    }
    let mut versions = versions::Mapping::of(cluster, binaries)?;
    let traffic = effective
        .traffic
        .iter()
        .enumerate()
        .map(|(i, t)| traffic(i, t, seed))
        .collect::<Result<Vec<_>, _>>()?;
    let mut steps = steps(&effective, seed, &mut versions)?;
    let member_binaries = versions.finish(cluster, &mut steps);
    let waits_for_snapshot = steps
        .iter()
        .any(|s| matches!(s.fault, RealFault::PartitionUntilSnapshot { .. }));
    Ok(realplan::Plan {
        scenario: effective.name.clone(),
        seed,
        members: cluster.size,
        binaries: member_binaries,
        duration_ms: millis(Duration::from_secs_f64(effective.duration_s.max(0.0))),
        client_timeout_ms: cluster.client_timeout_ms,
        liveness_bound_ms: millis(Duration::from_secs_f64(
            effective.quiesce.liveness_bound_s.max(0.0),
        )),
        snapshot_count: waits_for_snapshot.then_some(SNAPSHOT_COUNT),
        traffic,
        steps,
    })
}

/// Every member's `--snapshot-count` in a run that waits for a snapshot
/// (`partition_until_snapshot`). etcd 3.4 snapshots every this many
/// applied entries plus one and then keeps only the 5000 entries before
/// the snapshot (its `SnapshotCatchUpEntries`, not a flag), so a member
/// cut off must miss more than 5000 and at most 5000 + 101 entries before
/// the leader no longer holds what it needs. etcd's default, 100,000,
/// would need 100,000 more; the scenario's `snapshot_count` knob is the
/// simulated store's, sized for its own catch-up entries, and does not
/// carry over.
pub const SNAPSHOT_COUNT: u64 = 100;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One traffic profile: the etcd mix with the simulation's weights and
/// compactor period (drawn per seed as the simulation draws it, from the
/// same periods), or refused.
fn traffic(index: usize, t: &TrafficSpec, seed: u64) -> Result<realplan::Traffic, Refusal> {
    let part = format!("traffic[{index}]");
    let profile = match t.profile {
        Profile::Etcd => {
            let mut mix = Vec::new();
            for (i, (op, default)) in OPS.iter().enumerate() {
                let weight = match &t.weights {
                    Some(w) => w.get(i).copied().unwrap_or(0),
                    None => *default,
                };
                if weight == 0 {
                    continue;
                }
                let real = real_op(*op).map_err(|why| {
                    refuse(
                        format!("{part}.weights[{i}]"),
                        format!("{why}; give it weight 0 to run the rest for real"),
                    )
                })?;
                mix.push((real, weight));
            }
            let compact_period_ms = match t.compactor() {
                Compactor::Off => None,
                Compactor::Every(period) => Some(millis(period)),
                Compactor::Drawn => {
                    // Its own stream, apart from the simulation's: a real
                    // run does not replay, only its choices follow the seed.
                    let mut rng = Streams::of(seed).client(u64::MAX - index as u64);
                    Some(DRAWN_PERIODS_MS[rng.gen_range(0..DRAWN_PERIODS_MS.len())])
                }
            };
            RealProfile::Etcd {
                mix,
                compact_period_ms,
            }
        }
        Profile::Watch => RealProfile::Watch {
            watches_per_stream: t.watches_per_stream,
        },
        Profile::Kubernetes | Profile::Lease => {
            return Err(refuse(
                part,
                format!(
                    "the {:?} profile does not run against a real cluster (the etcd profile does)",
                    t.profile
                )
                .to_lowercase(),
            ));
        }
    };
    Ok(realplan::Traffic {
        profile,
        clients: t.clients,
        rate: t.rate,
        keys: t.keys,
        key_prefix: t.key_prefix.clone(),
        until_ms: t
            .until_s
            .map(|s| millis(Duration::from_secs_f64(s.max(0.0)))),
    })
}

/// The etcd profile's operations a real 3.4 cluster is sent.
fn real_op(op: Op) -> Result<RealOp, &'static str> {
    Ok(match op {
        Op::Get => RealOp::Get,
        Op::List => RealOp::List,
        Op::StaleGet => RealOp::StaleGet,
        Op::StaleList => RealOp::StaleList,
        Op::Put => RealOp::Put,
        Op::Delete => RealOp::Delete,
        Op::MultiOpTxn => RealOp::MultiOpTxn,
        Op::CompareAndSet => RealOp::CompareAndSet,
        Op::PutWithLease => RealOp::PutWithLease,
        Op::LeaseRevoke => RealOp::LeaseRevoke,
        Op::PutWithTtl => return Err("put_with_ttl needs per-key TTLs, which etcd has not"),
        Op::RangeTxn | Op::Rewrite | Op::RewriteKeepingLease | Op::FilteredList => {
            return Err(
                "range Txns, rewrites and filtered lists are not sent to a real cluster yet",
            );
        }
    })
}

/// Every fault step, earliest first, or the first that cannot run for real.
/// A version step's binary is settled once every version is known
/// (`versions::Mapping::finish`).
fn steps(
    scenario: &Scenario,
    seed: u64,
    versions: &mut versions::Mapping,
) -> Result<Vec<realplan::Step>, Refusal> {
    let plan = Plan::of(&scenario.faults).map_err(|e| refuse("faults", e.to_string()))?;
    // Latency draws each link's delay from the seed's own stream.
    let mut rng = Streams::of(seed).engine();
    plan.steps
        .iter()
        .map(|step| {
            let kind = step.fault.kind();
            let part = format!("faults[{}] ({kind})", step.index);
            if step.when.is_some() {
                return Err(refuse(
                    part,
                    "`when` conditions are not watched on a real cluster; give at_s alone",
                ));
            }
            let target =
                |t: Target| real_target(t, scenario.cluster.size).map_err(|r| refuse(&part, r));
            let ms = millis;
            let fault = match &step.fault {
                Fault::Crash(c) if kind == FaultKind::Crash => RealFault::Crash {
                    target: target(c.target)?,
                    restart_after_ms: ms(c.restart_after),
                },
                Fault::Pause(p) => RealFault::Pause {
                    target: target(p.target)?,
                    duration_ms: ms(p.duration),
                },
                Fault::GracefulRestart(g) => RealFault::GracefulRestart {
                    target: target(g.target)?,
                    down_for_ms: ms(g.down_for),
                },
                Fault::Isolate(i) => RealFault::Isolate {
                    target: target(i.target)?,
                    duration_ms: ms(i.duration),
                },
                Fault::PartitionUntilSnapshot(p) => RealFault::PartitionUntilSnapshot {
                    target: target(p.target)?,
                    timeout_ms: ms(p.timeout),
                },
                Fault::PartitionMinority(p) | Fault::PartitionMajority(p) => RealFault::Partition {
                    leader_in_minority: kind == FaultKind::PartitionMinority,
                    duration_ms: ms(p.duration),
                },
                Fault::OneWayOut(o) | Fault::OneWayIn(o) => RealFault::OneWay {
                    target: target(o.target)?,
                    outgoing: kind == FaultKind::OneWayOut,
                    duration_ms: ms(o.duration),
                },
                Fault::Flapping(f) => RealFault::Flapping {
                    target: target(f.target)?,
                    period_ms: ms(f.period).max(1),
                    duration_ms: ms(f.duration),
                },
                Fault::Latency(l) => {
                    // Drawn here so that the plan file shows the seed's
                    // draw; the companion draws each link's delay in it.
                    let _ = rng.r#gen::<u64>();
                    RealFault::Latency {
                        min_ms: ms(l.min),
                        max_ms: ms(l.max),
                        duration_ms: ms(l.duration),
                    }
                }
                Fault::Compact(c) => RealFault::Compact { offset: c.offset },
                Fault::Defrag(d) => RealFault::Defrag {
                    target: target(d.target)?,
                },
                Fault::MemberReplace(m) => RealFault::MemberReplace {
                    target: target(m.target)?,
                },
                Fault::SwapVersion(v) => {
                    if v.expect_refusal {
                        return Err(refuse(
                            part,
                            "expect_refusal: a member refusing to start is not watched on a real cluster",
                        ));
                    }
                    RealFault::Swap {
                        target: target(v.target)?,
                        binary: versions.step(&part, v.version)?,
                    }
                }
                Fault::RollingUpgrade(r) | Fault::RollingDowngrade(r) => RealFault::Rolling {
                    binary: versions.step(&part, r.version)?,
                },
                _ => return Err(refuse(part, why_not(kind))),
            };
            Ok(realplan::Step {
                index: step.index,
                kind: kind.name().to_string(),
                at_ms: ms(step.at),
                fault,
            })
        })
        .collect()
}

/// Why a kind cannot run against real processes.
fn why_not(kind: FaultKind) -> &'static str {
    use FaultKind::*;
    match kind {
        TornWriteCrash => "a real SIGKILL cannot choose which unsynced bytes survive (crash can)",
        PacketLoss => {
            "the peer proxy carries TCP byte streams: dropping a share of the bytes tears a stream instead of losing messages"
        }
        FsyncEio | Enospc | SlowDisk | BitFlip => {
            "disk faults need the simulated disk; a real etcd writes to the machine's"
        }
        ClockSkew => "a real member's clock is the machine's",
        Failpoint => "failpoints are the simulated store's; Debian's etcd is built without gofail",
        JoinMember => {
            "a member beyond the cluster's size needs a peer proxy the real cluster does not have (swap_version and the rolling kinds run)"
        }
        DowngradeEnable | DowngradeCancel => {
            "etcd's downgrade API (Maintenance.Downgrade) is etcd 3.5's, and not sent to a real cluster: Debian's 3.4.23 has not got it"
        }
        OfflineMigrate => {
            "offline migration rewrites the simulated store's files; a real etcd's data is its own"
        }
        CorruptBackend => {
            "the corruption rewrites the simulated store's key records; a real etcd's bbolt file is not opened"
        }
        _ => "not run against a real cluster",
    }
}

/// m1..m5 are the scenario's members, 1-based; the plan's are 0-based.
fn real_target(t: Target, size: usize) -> Result<RealTarget, String> {
    Ok(match t {
        Target::Leader => RealTarget::Leader,
        Target::Follower => RealTarget::Follower,
        Target::Random => RealTarget::Random,
        Target::All => RealTarget::All,
        Target::Member(m) => {
            let index = usize::try_from(m)
                .ok()
                .filter(|m| (1..=size).contains(m))
                .ok_or_else(|| format!("target m{m}: the cluster has m1..m{size}"))?;
            RealTarget::Member(index - 1)
        }
    })
}

/// How many seeds (0, 1, ...) a scenario is tried under to say whether
/// it runs against a real cluster: what `list scenarios --target etcd`
/// shows and what `soak --target etcd` runs by default. Each seed of a
/// swarm scenario draws its own steps.
pub const TRIED_SEEDS: u64 = 20;

/// Whether a scenario runs against a real cluster under each of the
/// [`TRIED_SEEDS`], or the first refusal.
pub fn runs_for_real(scenario: &Scenario, binaries: Binaries) -> Result<(), (u64, Refusal)> {
    let seeds: Vec<u64> = (0..TRIED_SEEDS).collect();
    applies(scenario, &seeds, binaries)
}

/// Whether a scenario runs against a real cluster under every seed in
/// `seeds` (a swarm scenario draws its steps per seed), or the first
/// refusal.
pub fn applies(
    scenario: &Scenario,
    seeds: &[u64],
    binaries: Binaries,
) -> Result<(), (u64, Refusal)> {
    for &seed in seeds {
        plan(scenario, seed, binaries).map_err(|r| (seed, r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn etcd_only(mut s: Scenario) -> Scenario {
        s.traffic.retain(|t| t.profile == Profile::Etcd);
        s
    }

    #[test]
    fn partitions_become_a_typed_plan_with_the_simulation_s_parameters() {
        let s = catalog::load("partitions").expect("catalog");
        let p = plan(&s, 3, Binaries::One).expect("partitions runs for real");
        assert_eq!(p.members, 3);
        assert_eq!(p.duration_ms, 12_000);
        assert_eq!(p.client_timeout_ms, 2000);
        let kinds: Vec<&str> = p.steps.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "partition_minority",
                "partition_majority",
                "one_way_out",
                "one_way_in",
                "flapping"
            ]
        );
        assert_eq!(
            p.steps[0].fault,
            RealFault::Partition {
                leader_in_minority: true,
                duration_ms: 1500
            }
        );
        assert_eq!(
            p.steps[2].fault,
            RealFault::OneWay {
                target: RealTarget::Leader,
                outgoing: true,
                duration_ms: 1000
            }
        );
        assert_eq!(
            p.steps[4].fault,
            RealFault::Flapping {
                target: RealTarget::Random,
                period_ms: 300,
                duration_ms: 2000
            }
        );
        // The etcd profile's default mix, every weight as the simulation's.
        let RealProfile::Etcd {
            mix,
            compact_period_ms,
        } = &p.traffic[0].profile
        else {
            panic!("the etcd profile first: {:?}", p.traffic[0]);
        };
        let weights: Vec<u32> = mix.iter().map(|(_, w)| *w).collect();
        assert_eq!(weights, [15, 15, 10, 10, 23, 5, 5, 7, 5, 5]);
        assert!(DRAWN_PERIODS_MS.contains(&compact_period_ms.expect("drawn")));
        assert_eq!(p.traffic[0].rate, 50.0);
        // The default traffic's two watching clients, at the simulation's rate.
        assert_eq!(
            p.traffic[1].profile,
            RealProfile::Watch {
                watches_per_stream: None
            }
        );
        assert_eq!((p.traffic[1].clients, p.traffic[1].rate), (2, 10.0));
        // The plan file reads back as the companion reads it.
        assert_eq!(realplan::Plan::from_json(&p.to_json()).expect("valid"), p);
    }

    #[test]
    fn what_a_real_cluster_cannot_do_is_refused_naming_the_step() {
        let s = etcd_only(catalog::load("clock-skew").expect("catalog"));
        let e = plan(&s, 0, Binaries::One).expect_err("clock skew");
        assert!(e.part.ends_with("(clock_skew)"), "{e}");
        assert!(e.part.starts_with("faults["), "{e}");

        let s = etcd_only(catalog::load("disk-faults").expect("catalog"));
        let e = plan(&s, 0, Binaries::One).expect_err("torn writes");
        assert!(e.part.ends_with("(torn_write_crash)"), "{e}");
        let s = etcd_only(catalog::load("slow-follower").expect("catalog"));
        let e = plan(&s, 0, Binaries::One).expect_err("slow disk");
        assert!(e.reason.contains("disk"), "{e}");

        let s = catalog::load("failpoints").expect("catalog");
        assert!(plan(&etcd_only(s), 0, Binaries::One).is_err());

        let mut s = etcd_only(catalog::load("default").expect("catalog"));
        s.cluster.size = 4;
        assert_eq!(
            plan(&s, 0, Binaries::One).expect_err("4 members").part,
            "cluster.size"
        );

        let mut s = etcd_only(catalog::load("default").expect("catalog"));
        s.traffic[0].weights = Some(vec![1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        let e = plan(&s, 0, Binaries::One).expect_err("per-key TTL");
        assert_eq!(e.part, "traffic[0].weights[10]");

        let mut s = etcd_only(catalog::load("default").expect("catalog"));
        s.faults[0].target = Some("m3".into());
        s.cluster.size = 1;
        let e = plan(&s, 0, Binaries::One).expect_err("no m3 of 1");
        assert!(e.reason.contains("m1..m1"), "{e}");
    }

    #[test]
    fn a_snapshot_wait_runs_with_a_small_snapshot_count_and_only_it_does() {
        let s = catalog::load("snapshot-catchup").expect("catalog");
        let p = plan(&s, 0, Binaries::One).expect("snapshot-catchup runs for real");
        assert_eq!(p.snapshot_count, Some(SNAPSHOT_COUNT));
        assert_eq!(
            p.steps[0].fault,
            RealFault::PartitionUntilSnapshot {
                target: RealTarget::Follower,
                timeout_ms: 30_000
            }
        );
        assert_eq!(p.steps[1].fault.target(), Some(RealTarget::Leader));
        // Without such a step, members keep etcd's own snapshot count.
        let s = catalog::load("partitions").expect("catalog");
        assert_eq!(
            plan(&s, 0, Binaries::One).expect("runs").snapshot_count,
            None
        );
    }

    #[test]
    fn crash_and_replace_targets_are_zero_based() {
        let mut s = etcd_only(catalog::load("default").expect("catalog"));
        s.faults[0].target = Some("m2".into());
        let p = plan(&s, 0, Binaries::One).expect("valid");
        assert_eq!(p.steps[0].fault.target(), Some(RealTarget::Member(1)));
    }
}
