//! The plan's fault steps on a real cluster, each at its time: process
//! signals (crash, pause, graceful restart, member replace), the peer
//! proxy's links (isolate, partitions, one-way cuts, flapping, delay,
//! isolation until a snapshot must catch the member up) and
//! API requests (compact, defrag), and restarts into the other etcd
//! binary (swap, rolling restart: the annotation names each member's
//! binary before and after, with its version). Each step is an annotation of the
//! history from its start to its heal; a step that cannot be applied when
//! it fires (no leader to put in the minority, a target with no process)
//! is annotated as not applied, as the simulation does. A member that
//! does not come back after a crash or restart fails the run.

use super::Shared;
use super::send::send;
use crate::cluster::snapshots::CATCH_UP_ENTRIES;
use crate::cluster::{Cluster, ClusterError};
use crate::proxy::Link;
use checker::history::{OpResult, Request, Response};
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use realplan::{Fault, Plan, Step, Target};
use std::time::Duration;

/// Fires every step at its time, then waits for the run's end; returns
/// what each step did.
pub async fn run_all(
    cluster: &mut Cluster,
    plan: &Plan,
    shared: &Shared,
    operator: u64,
) -> Result<Vec<String>, super::ScenarioError> {
    // The steps' draws (targets, delays): the seed's own stream.
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x5eed_fa17);
    let mut done = Vec::new();
    for step in &plan.steps {
        until(shared, Duration::from_millis(step.at_ms)).await;
        let start = shared.recorder.now();
        let text = match apply(cluster, step, &mut rng, shared, operator).await {
            Ok(Applied::Done(what)) => what,
            Ok(Applied::Not(why)) => format!("not applied: {why}"),
            Err(source) => {
                shared.recorder.annotate(
                    start,
                    Some(shared.recorder.now()),
                    format!("faults[{}] {}: failed: {source}", step.index, step.kind),
                );
                cluster.heal();
                return Err(super::ScenarioError::Step {
                    index: step.index,
                    kind: step.kind.clone(),
                    error: source,
                });
            }
        };
        let text = format!("faults[{}] {}: {text}", step.index, step.kind);
        shared
            .recorder
            .annotate(start, Some(shared.recorder.now()), text.clone());
        done.push(text);
    }
    until(shared, Duration::from_millis(plan.duration_ms)).await;
    Ok(done)
}

async fn until(shared: &Shared, t: Duration) {
    let wait = (t.as_nanos() as u64).saturating_sub(shared.recorder.now());
    tokio::time::sleep(Duration::from_nanos(wait)).await;
}

enum Applied {
    Done(String),
    Not(String),
}

/// Members whose process runs and is not paused.
fn running(cluster: &Cluster) -> Vec<usize> {
    (0..cluster.size())
        .filter(|&i| cluster.pid(i).is_some() && !cluster.is_paused(i))
        .collect()
}

/// Who `target` names now; empty when nobody fits.
async fn resolve(cluster: &mut Cluster, target: Target, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let up = running(cluster);
    let pick = |rng: &mut ChaCha8Rng, from: &[usize]| from.choose(rng).copied();
    match target {
        Target::All => (0..cluster.size())
            .filter(|&i| cluster.pid(i).is_some())
            .collect(),
        Target::Member(i) => vec![i],
        Target::Random => pick(rng, &up).into_iter().collect(),
        Target::Leader => match cluster.leader().await {
            Some(l) => vec![l],
            None => pick(rng, &up).into_iter().collect(),
        },
        Target::Follower => {
            let leader = cluster.leader().await;
            let followers: Vec<usize> = up.iter().copied().filter(|&i| Some(i) != leader).collect();
            pick(rng, &followers).into_iter().collect()
        }
    }
}

/// `m1 new (3.4.23) -> old (3.4.23) (stopped), ...`: who moved to which
/// binary, in the order they moved.
fn describe(cluster: &Cluster, moved: &[crate::cluster::Swapped]) -> String {
    let binaries = cluster.binaries();
    moved
        .iter()
        .map(|s| {
            let how = match s.clean {
                Some(true) => "SIGTERM, stopped",
                Some(false) => "SIGTERM, killed after the stop wait",
                None => "was down, started",
            };
            let leader = if s.was_leader { ", was leader" } else { "" };
            format!(
                "{} {} -> {} ({how}{leader})",
                cluster.name(s.member),
                binaries.describe(s.from),
                binaries.describe(s.to)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(cluster: &Cluster, members: &[usize]) -> String {
    members
        .iter()
        .map(|&i| cluster.name(i).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Isolates member `i` until every other running member has taken a
/// snapshot more than etcd's catch-up entries past the index `i` holds
/// (after which each compacts its raft log past it, so `i` can only be
/// caught up by a snapshot), or until `timeout`; then heals. Returns what
/// happened.
///
/// Every other member, not only the leader of the moment: etcd 3.4 runs
/// without pre-vote, so `i`, having campaigned alone, comes back with a
/// higher term and forces an election when healed, and whichever member
/// wins then must hold no entries `i` lacks. Waiting on the leader alone
/// once healed into a new leader whose own snapshot lagged below the
/// bound, which sent `i` entries instead (`realetcd/tests/real_snapshot.rs`
/// failed so).
///
/// `i`'s index is its committed index (Status `raftIndex`), read once it
/// is cut off, so that nothing reaches it after. What a leader weighs
/// is `i`'s last log entry, which may be a few uncommitted entries past
/// that: a snapshot landing within those few entries of the bound would
/// heal without one being needed (`realetcd/tests/real_snapshot.rs`
/// checks from the logs that one was sent). A member compacts its log
/// right after it saves the snapshot file (etcd's `EtcdServer.snapshot`),
/// before the healed member's first answer can reach it.
async fn until_snapshot(cluster: &mut Cluster, i: usize, timeout: Duration) -> String {
    let started = std::time::Instant::now();
    cluster.isolate(i);
    let name = cluster.name(i).to_string();
    let (behind, known) = match cluster.status(i).await {
        Some(s) => (s.raft_index.max(s.raft_applied_index), ""),
        // As the simulation does: a member that does not say is taken to
        // hold nothing, so any snapshot past the catch-up entries will do.
        None => (0, " (it did not answer Status)"),
    };
    let needed = behind + CATCH_UP_ENTRIES;
    let others: Vec<usize> = running(cluster).into_iter().filter(|&o| o != i).collect();
    let newest = |cluster: &Cluster| -> Vec<(usize, Option<u64>)> {
        others
            .iter()
            .map(|&o| (o, cluster.newest_snapshot(o).map(|s| s.index)))
            .collect()
    };
    let described = |cluster: &Cluster, snaps: &[(usize, Option<u64>)]| -> String {
        snaps
            .iter()
            .map(|&(o, s)| match s {
                Some(index) => format!("{} at {index}", cluster.name(o)),
                None => format!("{} none", cluster.name(o)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    loop {
        let snaps = newest(cluster);
        if !snaps.is_empty() && snaps.iter().all(|&(_, s)| s.is_some_and(|s| s > needed)) {
            cluster.heal();
            return format!(
                "isolate {name} until every other member's snapshot ({}) passed {name}'s index {behind}{known} + {CATCH_UP_ENTRIES}, after {} ms",
                described(cluster, &snaps),
                started.elapsed().as_millis()
            );
        }
        if started.elapsed() >= timeout {
            cluster.heal();
            return format!(
                "isolate {name} until the timeout, {} ms: newest snapshots {}, not all past {name}'s index {behind}{known} + {CATCH_UP_ENTRIES}",
                timeout.as_millis(),
                described(cluster, &snaps)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn apply(
    cluster: &mut Cluster,
    step: &Step,
    rng: &mut ChaCha8Rng,
    shared: &Shared,
    operator: u64,
) -> Result<Applied, ClusterError> {
    let ms = Duration::from_millis;
    let targets = match step.fault.target() {
        Some(t) => {
            let members = resolve(cluster, t, rng).await;
            if members.is_empty() {
                return Ok(Applied::Not(format!("no member is {t:?}").to_lowercase()));
            }
            members
        }
        None => Vec::new(),
    };
    let who = names(cluster, &targets);
    Ok(Applied::Done(match &step.fault {
        Fault::Crash {
            restart_after_ms, ..
        } => {
            let mut killed = Vec::new();
            for &i in &targets {
                if cluster.pid(i).is_some() {
                    cluster.kill(i)?;
                    killed.push(i);
                }
            }
            if killed.is_empty() {
                return Ok(Applied::Not(format!("{who} has no process")));
            }
            tokio::time::sleep(ms(*restart_after_ms)).await;
            for &i in &killed {
                cluster.start_member(i).await?;
            }
            format!(
                "SIGKILL {}, restarted after {restart_after_ms} ms",
                names(cluster, &killed)
            )
        }
        Fault::Pause { duration_ms, .. } => {
            for &i in &targets {
                cluster.pause(i)?;
            }
            tokio::time::sleep(ms(*duration_ms)).await;
            for &i in &targets {
                cluster.resume(i)?;
            }
            format!("SIGSTOP {who} for {duration_ms} ms, then SIGCONT")
        }
        Fault::GracefulRestart { down_for_ms, .. } => {
            let mut clean = true;
            for &i in &targets {
                clean &= cluster.stop(i).await?;
            }
            tokio::time::sleep(ms(*down_for_ms)).await;
            for &i in &targets {
                cluster.start_member(i).await?;
            }
            let how = if clean {
                "stopped"
            } else {
                "killed after the stop wait"
            };
            format!("SIGTERM {who} ({how}), started again after {down_for_ms} ms")
        }
        Fault::Isolate { duration_ms, .. } => {
            for &i in &targets {
                cluster.isolate(i);
            }
            tokio::time::sleep(ms(*duration_ms)).await;
            cluster.heal();
            format!("isolate {who} from every peer for {duration_ms} ms")
        }
        Fault::Partition {
            leader_in_minority,
            duration_ms,
        } => {
            let n = cluster.size();
            let minority_size = (n - 1) / 2;
            if minority_size == 0 {
                return Ok(Applied::Not("one member cannot be split".into()));
            }
            let leader = cluster.leader().await;
            let mut others: Vec<usize> = (0..n).filter(|&i| Some(i) != leader).collect();
            others.shuffle(rng);
            let minority: Vec<usize> = if *leader_in_minority {
                leader
                    .into_iter()
                    .chain(others.iter().copied())
                    .take(minority_size)
                    .collect()
            } else {
                others.iter().copied().take(minority_size).collect()
            };
            let majority: Vec<usize> = (0..n).filter(|i| !minority.contains(i)).collect();
            for &a in &minority {
                for &b in &majority {
                    cluster.network().set(a, b, Link::Drop);
                    cluster.network().set(b, a, Link::Drop);
                }
            }
            tokio::time::sleep(ms(*duration_ms)).await;
            cluster.heal();
            let leader = leader.map_or("unknown".to_string(), |l| cluster.name(l).to_string());
            format!(
                "split {} | {} (leader {leader}) for {duration_ms} ms",
                names(cluster, &minority),
                names(cluster, &majority)
            )
        }
        Fault::PartitionUntilSnapshot { timeout_ms, .. } => {
            let mut outcomes = Vec::new();
            for &i in &targets {
                outcomes.push(until_snapshot(cluster, i, ms(*timeout_ms)).await);
            }
            outcomes.join("; ")
        }
        Fault::OneWay {
            outgoing,
            duration_ms,
            ..
        } => {
            for &m in &targets {
                for other in (0..cluster.size()).filter(|&o| o != m) {
                    if *outgoing {
                        cluster.network().set(m, other, Link::Drop);
                    } else {
                        cluster.network().set(other, m, Link::Drop);
                    }
                }
            }
            tokio::time::sleep(ms(*duration_ms)).await;
            cluster.heal();
            let way = if *outgoing { "from" } else { "to" };
            format!("drop what goes {way} {who} for {duration_ms} ms")
        }
        Fault::Flapping {
            period_ms,
            duration_ms,
            ..
        } => {
            let end = shared.recorder.now() + ms(*duration_ms).as_nanos() as u64;
            let mut flaps = 0;
            while shared.recorder.now() < end {
                for &i in &targets {
                    cluster.isolate(i);
                }
                tokio::time::sleep(ms(*period_ms)).await;
                cluster.heal();
                flaps += 1;
                tokio::time::sleep(ms(*period_ms)).await;
            }
            format!("isolate and heal {who} every {period_ms} ms, {flaps} times")
        }
        Fault::Latency {
            min_ms,
            max_ms,
            duration_ms,
        } => {
            let n = cluster.size();
            let mut delays = Vec::new();
            for from in 0..n {
                for to in (0..n).filter(|&t| t != from) {
                    let d = rng.gen_range(*min_ms..=(*max_ms).max(*min_ms));
                    cluster.network().set(from, to, Link::Delay(ms(d)));
                    delays.push(d);
                }
            }
            tokio::time::sleep(ms(*duration_ms)).await;
            cluster.heal();
            format!("delay every peer link by {delays:?} ms for {duration_ms} ms")
        }
        Fault::Compact { offset } => {
            let offset = offset.unwrap_or_else(|| rng.gen_range(0..=4));
            let up = running(cluster);
            let Some(&member) = up.first() else {
                return Ok(Applied::Not("no running member".into()));
            };
            let Some(status) = cluster.status(member).await else {
                return Ok(Applied::Not(format!(
                    "{} did not answer",
                    cluster.name(member)
                )));
            };
            let current = status.header.map_or(1, |h| h.revision);
            let revision = (current - offset).max(1);
            let mut grpc = cluster.client(member).await?;
            let request = Request::Compact { revision };
            let call = shared.recorder.now();
            let result = send(&mut grpc, &request, shared.timeout).await;
            let what = match &result {
                OpResult::Ok(Response::Compact(_)) => format!("compacted at {revision}"),
                other => format!("compact at {revision}: {other:?}"),
            };
            shared.recorder.operation(operator, call, request, result);
            what
        }
        Fault::Defrag { .. } => {
            let mut outcomes = Vec::new();
            for &i in &targets {
                let outcome = match cluster.defragment(i, shared.timeout).await {
                    Ok(()) => "defragmented".to_string(),
                    Err(e) => format!("not defragmented ({e})"),
                };
                outcomes.push(format!("{} {outcome}", cluster.name(i)));
            }
            outcomes.join(", ")
        }
        Fault::MemberReplace { .. } => {
            for &i in &targets {
                cluster.replace(i).await?;
            }
            format!("removed {who}, wiped its data, added it back as a new member")
        }
        Fault::Swap { binary, .. } => {
            let mut moved = Vec::new();
            for &i in &targets {
                moved.push(cluster.swap(i, *binary).await?);
            }
            describe(cluster, &moved)
        }
        Fault::Rolling { binary } => {
            let moved = cluster.rolling(*binary).await?;
            format!(
                "rolling restart into {}, followers first: {}",
                cluster.binaries().describe(*binary),
                describe(cluster, &moved)
            )
        }
    }))
}
