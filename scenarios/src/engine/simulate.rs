//! The simulated run: members start, traffic and the fault plan run, the
//! supervisor restarts what ended by itself, and the run quiesces.

use super::quiesce::quiesce;
use super::*;
use crate::control::*;
use crate::plan::Plan;
use crate::recorder::Recorder;
use crate::schema::{Compactor, Profile, Scenario, TrafficSpec};
use crate::seeds::Streams;
use crate::traffic::{self, TrafficContext};
use checker::rules;
use node::bugs::BugSet;
use node::config::{MemberConfig, Peer};
use node::host::ExitReason;
use sim::{MemberStatus, World, member_ip};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) fn member_configs(scenario: &Scenario, bugs: &BugSet) -> Vec<MemberConfig> {
    let size = scenario.cluster.size as u64;
    let peers: Vec<Peer> = (1..=size)
        .map(|id| Peer {
            id,
            ip: member_ip(id),
        })
        .collect();
    (1..=size)
        .map(|id| MemberConfig {
            id,
            version: scenario.cluster.version_of(id as usize - 1),
            cluster_id: CLUSTER_ID,
            peers: peers.clone(),
            join_existing: false,
            knobs: scenario.cluster.knobs.clone(),
            bugs: bugs.clone(),
        })
        .collect()
}

/// Starts every traffic client, each with its own stream from the seed.
fn start_traffic(
    world: &World,
    scenario: &Scenario,
    recorder: &Arc<Recorder>,
    stop: &Arc<AtomicBool>,
    client_timeout: Duration,
    seed: u64,
) -> Vec<madsim::task::JoinHandle<()>> {
    let context = |spec: &TrafficSpec| TrafficContext {
        recorder: recorder.clone(),
        stop: stop.clone(),
        endpoints: world.endpoints(),
        client_timeout,
        keys: spec.keys,
        rate: spec.rate,
        clients: spec.clients,
        weights: spec.weights.clone(),
        key_ttl_s: spec.key_ttl_s,
        key_prefix: spec.key_prefix.clone(),
        until: spec.until_s.map(Duration::from_secs_f64),
        watches_per_stream: spec.watches_per_stream,
    };
    let mut clients = Vec::new();
    let mut next_client = 1u64;
    for spec in &scenario.traffic {
        let ctx = context(spec);
        for index in 0..spec.clients {
            let id = next_client;
            next_client += 1;
            let rng = Streams::of(seed).client(id);
            let task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
                match spec.profile {
                    Profile::Etcd => Box::pin(traffic::etcd::run(ctx.clone(), id, rng)),
                    Profile::Kubernetes => {
                        Box::pin(traffic::kubernetes::run(ctx.clone(), id, index, rng))
                    }
                    Profile::Watch => Box::pin(traffic::watch::run(ctx.clone(), id, rng)),
                    Profile::Lease => Box::pin(traffic::lease::run(ctx.clone(), id, rng)),
                };
            clients.push(world.spawn_client(id, task));
        }
    }
    // Compactors come after every client, so adding one leaves the
    // clients' ids and random streams as they were.
    for spec in &scenario.traffic {
        let period = match spec.compactor() {
            Compactor::Off => continue,
            Compactor::Every(period) => Some(period),
            Compactor::Drawn => None,
        };
        let id = next_client;
        next_client += 1;
        let rng = Streams::of(seed).client(id);
        let compactor = traffic::compactor::run(context(spec), id, period, rng);
        clients.push(world.spawn_client(id, Box::pin(compactor)));
    }
    clients
}

/// Whether every member keeps the per-key TTL its puts asked for the whole
/// run: none starts, is restarted as, or is downgraded to a version below
/// the one that introduced it (such a member drops the field, as it must,
/// so its key-values do not record it).
fn key_ttls_kept(scenario: &Scenario, plan: &Plan) -> bool {
    (0..scenario.cluster.size)
        .map(|i| scenario.cluster.version_of(i))
        .chain(plan.steps.iter().filter_map(|s| s.fault.version()))
        .all(|v| v >= node::schema::KEY_TTL_SINCE)
}

pub(super) async fn simulate(
    world: Arc<World>,
    scenario: Scenario,
    plan: Plan,
    seed: u64,
    bugs: BugSet,
    collect_files: bool,
) -> SimOutput {
    let streams = Streams::of(seed);
    streams.log(scenario.traffic.iter().map(|t| t.clients as u64).sum());
    let recorder = Recorder::with_trace(world.trace().clone());
    for config in member_configs(&scenario, &bugs) {
        world.start_member(config);
    }
    let ctl = Arc::new(Control::new(
        world.clone(),
        recorder.clone(),
        &scenario,
        streams.engine(),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_traffic(&world, &scenario, &recorder, &stop, ctl.timeout, seed);

    // Faults and the supervisor run on the engine's node.
    let key_ttl = key_ttls_kept(&scenario, &plan);
    let driver = world.spawn_client(ENGINE_CLIENT, drive_faults(ctl.clone(), plan));
    let supervisor = world.spawn_client(ENGINE_CLIENT, supervise(ctl.clone()));

    madsim::time::sleep(Duration::from_secs_f64(scenario.duration_s)).await;
    stop.store(true, Ordering::Relaxed);
    ctl.quiescing.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let _ = driver.await;
    let _ = supervisor.await;

    let end_state = world
        .spawn_client(ENGINE_CLIENT, quiesce(ctl.clone(), scenario.clone()))
        .await
        .unwrap_or_default();

    let unexpected_exits = unexpected_exits(world.fatal_exits(), &ctl.expected_refusals.lock());
    let engine_violations = ctl.violations.lock().clone();
    let failpoints_reached = world.failpoints_reached();
    let faults_applied = ctl.faults_applied.lock().clone();
    let not_applied = ctl.not_applied.lock().clone();
    let mut history = recorder.take_history();
    history.recorded.key_ttl = key_ttl;
    SimOutput {
        not_applied,
        history,
        end_state,
        trace: world.trace().take(),
        faults_applied,
        failpoints_reached,
        points_reached: world.points_reached(),
        points_under_faults: world
            .points_under_faults()
            .into_iter()
            .filter_map(|(point, tag)| Some((point, FaultKind::from_tag(tag)?)))
            .collect(),
        unexpected_exits,
        broken_invariants: world.broken_invariants(),
        engine_violations,
        messages: world.messages(),
        member_files: if collect_files {
            world.member_files()
        } else {
            Vec::new()
        },
    }
}

/// Restarts members whose process ended by itself (failpoint crash or a
/// fatal error), as an operator's process manager would.
async fn supervise(ctl: Arc<Control>) {
    while !ctl.quiescing() {
        madsim::time::sleep(Duration::from_millis(200)).await;
        for m in ctl.members() {
            let exited = matches!(
                ctl.world.status(m),
                Some(MemberStatus::Exited(
                    ExitReason::Failpoint(_) | ExitReason::Fatal(_)
                ))
            );
            if exited && !ctl.disk_fault_active.lock().contains(&m) {
                ctl.hold(Duration::from_secs(1)).await;
                // A step may have removed (and wiped) it meanwhile: started
                // on an empty disk, it would bootstrap from the initial
                // members and vote with an empty log.
                if !ctl.quiescing()
                    && !ctl.is_removed(m)
                    && matches!(ctl.world.status(m), Some(MemberStatus::Exited(_)))
                {
                    ctl.world.restart(m);
                }
            }
        }
    }
}

/// Applies the plan's steps in time order; each fault heals itself. A
/// procedure step (`FaultKind::is_procedure`) also waits for the procedure
/// step before it to end: a swap whose condition came late must not run
/// alongside the downgrade cancel planned after it.
async fn drive_faults(ctl: Arc<Control>, plan: Plan) {
    let start = madsim::time::Instant::now();
    let mut tasks = Vec::new();
    let mut procedure: Option<madsim::task::JoinHandle<()>> = None;
    for step in plan.steps {
        let now = start.elapsed();
        if step.at > now {
            ctl.hold(step.at - now).await;
        }
        if let Some(cond) = &step.when {
            while !ctl.quiescing()
                && !crate::conditions::holds(&ctl.world, &ctl.members(), cond).await
            {
                madsim::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if ctl.quiescing() {
            // Steps that had to happen but did not: a violation each.
            if step.required {
                let when = step
                    .when
                    .as_ref()
                    .map_or("-".to_string(), |c| c.to_string());
                ctl.violations.lock().push((
                    rules::PLAN_REQUIRED_STEP.into(),
                    format!(
                        "the {} step (when {when:?}) never ran: its condition did not hold before the run ended",
                        step.fault.kind(),
                    ),
                ));
            }
            continue;
        }
        let ctl2 = ctl.clone();
        let fault = step.fault;
        if fault.kind().is_procedure() {
            let before = procedure.take();
            procedure = Some(madsim::task::spawn(async move {
                if let Some(before) = before {
                    let _ = before.await;
                }
                fault.inject(&ctl2).await;
            }));
        } else {
            tasks.push(madsim::task::spawn(
                async move { fault.inject(&ctl2).await },
            ));
        }
    }
    tasks.extend(procedure);
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions_of(text: &str) -> (Scenario, Plan) {
        let scenario = crate::catalog::parse("t.toml", text).expect("parses");
        let plan = Plan::of(&scenario.faults).expect("plans");
        (scenario, plan)
    }

    #[test]
    fn key_ttls_are_compared_only_while_every_member_keeps_them() {
        let all_37 = "name = \"t\"\n[cluster]\nversions = [\"3.7\"]\n";
        let (s, v) = versions_of(all_37);
        assert!(key_ttls_kept(&s, &v));
        let (s, v) =
            versions_of("name = \"t\"\n[cluster]\nversions = [\"3.7\", \"3.7\", \"3.6\"]\n");
        assert!(!key_ttls_kept(&s, &v), "a 3.6 member drops the field");
        let downgraded = format!(
            "{all_37}[[faults]]\nkind = \"downgrade_enable\"\nat_s = 1.0\nversion = \"3.6\"\n"
        );
        let (s, v) = versions_of(&downgraded);
        assert!(!key_ttls_kept(&s, &v), "a downgrade to 3.6 drops the field");
    }
}
