//! The engine: `run(scenario, seed, bugs)` builds the world, starts the
//! members, runs traffic and the fault plan, quiesces (heals everything,
//! waits for the cluster to answer, reads everything back, collects each
//! member's HashKV), then checks the history. Everything derives from the
//! seed.

use crate::cluster;
use crate::faults::{self, Fault, Target};
use crate::operator;
use crate::recorder::{Recorder, RecordingClient, now_ns};
use crate::schema::{FaultStep, Profile, Scenario};
use crate::swarm;
use crate::traffic::{self, TrafficContext};
use checker::history::{EndState, HashKv, History, MemberEndState};
use checker::options::CheckOptions;
use checker::report::{Overall, PropertyResult, Report, Verdict, Violation};
use checker::rules;
use node::bugs::BugSet;
use node::client::Client;
use node::client::ClientError;
use node::config::{MemberConfig, Peer, StoreKnobs};
use node::host::ExitReason;
use node::version::Version;
use node::wire::api::{
    CompactionRequest, DefragmentRequest, DowngradeAction, DowngradeRequest, ErrorCode,
    HashKvRequest, MemberAddRequest, MemberRemoveRequest, RangeRequest, client_request,
    client_response,
};
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{MemberStatus, World, member_ip};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The engine node's client id (other clients count from 1).
const ENGINE_CLIENT: u64 = 0;
/// The client id the quiesce phase records its reads under.
const QUIESCE_CLIENT: u64 = 999;
const CLUSTER_ID: u64 = 0x0fa1_7e11;

/// Statistics of one run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunStats {
    pub ops: usize,
    pub failed_ops: usize,
    pub watch_events: usize,
    pub faults: usize,
    pub sim_ms: u64,
    pub wall_ms: u64,
    pub check_ms: u64,
    /// Network messages the simulator delivered.
    pub messages: u64,
}

/// Everything one run produced.
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub bugs: BugSet,
    pub report: Report,
    pub history: History,
    pub end_state: EndState,
    pub trace: sim::Trace,
    pub trace_hash: String,
    pub stats: RunStats,
    pub faults_applied: Vec<String>,
    /// Steps of the plan that could not be applied, each with why.
    pub not_applied: Vec<String>,
    pub failpoints_reached: BTreeMap<String, u64>,
    /// The scenario as run (after swarm mode drew its variant).
    pub effective: Scenario,
    /// Each member's files, when asked for.
    pub member_files: Vec<(u64, MemberFiles)>,
}

impl RunResult {
    pub fn overall(&self) -> Overall {
        self.report.overall()
    }

    pub fn verdict_word(&self) -> &'static str {
        match self.overall() {
            Overall::Pass => "pass",
            Overall::Fail => "fail",
            Overall::Unknown => "unknown",
        }
    }

    /// The one-line summary printed for every run.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "seed={} scenario={} verdict={} trace={} ops={} failed_ops={} faults={} sim_ms={} wall_ms={}",
            self.seed,
            self.scenario,
            self.verdict_word(),
            self.trace_hash,
            self.stats.ops,
            self.stats.failed_ops,
            self.stats.faults,
            self.stats.sim_ms,
            self.stats.wall_ms
        );
        if !self.bugs.is_empty() {
            line.push_str(&format!(" bugs={}", self.bugs));
        }
        if !self.not_applied.is_empty() {
            line.push_str(&format!(" not_applied={}", self.not_applied.len()));
        }
        let failed = self.failed_rules();
        if !failed.is_empty() {
            line.push_str(&format!(" rules={}", failed.join(",")));
        }
        line
    }

    pub fn failed_rules(&self) -> Vec<String> {
        self.report
            .failed_rules()
            .into_iter()
            .map(String::from)
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub bugs: BugSet,
    pub check: CheckOptions,
    /// Keep every member's files at the end of the run (`--dump-data`).
    pub collect_files: bool,
}

/// One member's files at the end of a run: path -> content.
pub type MemberFiles = BTreeMap<String, Vec<u8>>;

/// What the simulation hands back for checking.
struct SimOutput {
    history: History,
    end_state: EndState,
    trace: sim::Trace,
    faults_applied: Vec<String>,
    failpoints_reached: BTreeMap<String, u64>,
    unexpected_exits: Vec<sim::FatalExit>,
    not_applied: Vec<String>,
    engine_violations: Vec<(String, String)>,
    messages: u64,
    member_files: Vec<(u64, MemberFiles)>,
}

/// Shared state of the engine's tasks during one run.
struct Control {
    world: Arc<World>,
    rng: Mutex<ChaCha8Rng>,
    recorder: Arc<Recorder>,
    quiescing: AtomicBool,
    knobs: StoreKnobs,
    /// Members with a disk fault active now (the supervisor leaves them down).
    disk_fault_active: Mutex<BTreeSet<u64>>,
    /// Refusals the plan expected: (member, message), not failures.
    expected_refusals: Mutex<Vec<(u64, String)>>,
    /// Violations the engine itself found (rule, explanation).
    violations: Mutex<Vec<(String, String)>>,
    /// Members removed from the cluster.
    removed: Mutex<BTreeSet<u64>>,
    faults_applied: Mutex<Vec<String>>,
    /// Steps of the plan that could not be applied, each with why.
    not_applied: Mutex<Vec<String>>,
    next_member_id: Mutex<u64>,
    timeout: Duration,
}

impl Control {
    fn quiescing(&self) -> bool {
        self.quiescing.load(Ordering::Relaxed)
    }

    fn members(&self) -> Vec<u64> {
        let removed = self.removed.lock().clone();
        self.world
            .member_ids()
            .into_iter()
            .filter(|m| !removed.contains(m))
            .collect()
    }

    fn running(&self) -> Vec<u64> {
        self.members()
            .into_iter()
            .filter(|m| self.world.status(*m) == Some(MemberStatus::Running))
            .collect()
    }

    fn pick(&self, from: &[u64]) -> Option<u64> {
        from.choose(&mut *self.rng.lock()).copied()
    }

    /// The members a step hits; none is a step that was not applied.
    async fn targets(&self, kind: &str, target: Target) -> Vec<u64> {
        let members = self.resolve(target).await;
        if members.is_empty() {
            self.not_applied(kind, &format!("no member matches target {target:?} now"));
        }
        members
    }

    async fn resolve(&self, target: Target) -> Vec<u64> {
        let members = self.members();
        let running = self.running();
        match target {
            Target::All => members,
            Target::Member(m) => members.into_iter().filter(|x| *x == m).collect(),
            Target::Random => self.pick(&running).into_iter().collect(),
            Target::Leader => match cluster::leader(&self.world, &running).await {
                Some(l) => vec![l],
                None => self.pick(&running).into_iter().collect(),
            },
            Target::Follower => {
                let leader = cluster::leader(&self.world, &running).await;
                let followers: Vec<u64> =
                    running.into_iter().filter(|m| Some(*m) != leader).collect();
                self.pick(&followers).into_iter().collect()
            }
        }
    }

    fn note(&self, kind: &str, detail: String) {
        self.world
            .trace
            .record("engine", "fault", format!("{kind} {detail}"));
        self.recorder
            .annotate(now_ns(), None, "fault", format!("{kind} {detail}"));
        self.faults_applied.lock().push(kind.to_string());
    }

    fn healed(&self, kind: &str, detail: String) {
        self.world
            .trace
            .record("engine", "heal", format!("{kind} {detail}"));
        self.recorder.close_annotation("fault", kind, now_ns());
    }

    /// Sleeps unless the run is quiescing (then returns at once).
    async fn hold(&self, d: Duration) {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() && !self.quiescing() {
            let s = left.min(step);
            madsim::time::sleep(s).await;
            left = left.saturating_sub(s);
        }
    }

    async fn admin(
        &self,
        member: u64,
        body: client_request::Body,
    ) -> Result<client_response::Body, node::client::ClientError> {
        cluster::admin(member_ip(member), member, body, self.timeout).await
    }

    /// Sends a request to the leader (or any running member).
    async fn to_leader(
        &self,
        body: client_request::Body,
    ) -> Result<client_response::Body, node::client::ClientError> {
        let running = self.running();
        let target = cluster::leader(&self.world, &running)
            .await
            .or_else(|| running.first().copied());
        match target {
            Some(m) => self.admin(m, body).await,
            None => Err(node::client::ClientError::Unavailable(
                "no running member".into(),
            )),
        }
    }

    /// The id the next member added to the cluster gets.
    fn next_member_id(&self) -> u64 {
        let mut next = self.next_member_id.lock();
        let id = *next;
        *next += 1;
        id
    }

    /// Adds member `id` through the leader and, once the cluster accepted
    /// it, starts it joining from `template` (a member's configuration, with
    /// the id, the peers and the join flag replaced). Whether it started.
    async fn add_member(&self, id: u64, template: Option<MemberConfig>) -> bool {
        let add = MemberAddRequest {
            id,
            ip: member_ip(id).to_string(),
            is_learner: false,
        };
        let outcome = operator::request(
            &self.world.trace,
            "member",
            ErrorCode::MemberExists,
            || async {
                self.to_leader(client_request::Body::MemberAdd(add.clone()))
                    .await
                    .map(drop)
            },
        )
        .await;
        let accepted = self.settle(&format!("member add m{id}"), &outcome);
        let Some(mut config) = template.filter(|_| accepted) else {
            return false;
        };
        config.id = id;
        config.join_existing = true;
        config.peers = self
            .members()
            .into_iter()
            .chain([id])
            .map(|id| Peer {
                id,
                ip: member_ip(id),
            })
            .collect();
        self.world.start_member(config);
        true
    }

    /// Removes member `m` through the leader; whether it is out.
    async fn remove_member(&self, m: u64) -> bool {
        let outcome = operator::request(
            &self.world.trace,
            "member",
            ErrorCode::MemberNotFound,
            || async move {
                self.to_leader(client_request::Body::MemberRemove(MemberRemoveRequest {
                    id: m,
                }))
                .await
                .map(drop)
            },
        )
        .await;
        self.settle(&format!("member remove m{m}"), &outcome)
    }

    /// What an operator request's outcome means for the run: a refusal is
    /// an `operator.accepted` violation, no answer a step not applied.
    /// Whether the request took effect.
    fn settle(&self, step: &str, outcome: &operator::Outcome) -> bool {
        match outcome {
            operator::Outcome::Applied | operator::Outcome::AppliedEarlier => true,
            operator::Outcome::Refused(e) => {
                self.refused(step, e);
                false
            }
            operator::Outcome::NoAnswer(e) => {
                self.not_applied(step, &format!("no answer ({e})"));
                false
            }
        }
    }

    /// A step of the plan that could not be applied: a trace event, a
    /// fault annotation, and a count in the run's results.
    fn not_applied(&self, step: &str, why: &str) {
        self.world
            .trace
            .record("engine", "not-applied", format!("{step}: {why}"));
        self.recorder
            .annotate(now_ns(), None, "not-applied", format!("{step}: {why}"));
        self.not_applied.lock().push(format!("{step}: {why}"));
    }

    /// An operator request the correct store must accept was refused: the
    /// step is not applied, and that is a violation.
    fn refused(&self, step: &str, e: &ClientError) {
        self.not_applied(step, &format!("refused ({e})"));
        self.violations.lock().push((
            rules::OPERATOR_ACCEPTED.into(),
            format!("{step}: a correct cluster accepts this request, but it was refused: {e}"),
        ));
    }
}

/// Waits (up to a bound) until member `m` reports its storage at `version`,
/// restarting it with its current binary if it is down.
async fn storage_reached(ctl: &Control, m: u64, version: Version) -> bool {
    const WAIT: Duration = Duration::from_secs(15);
    let deadline = madsim::time::Instant::now() + WAIT;
    while madsim::time::Instant::now() < deadline && !ctl.quiescing() {
        restart_if_down(ctl, m);
        if cluster::status(&ctl.world, m)
            .await
            .is_some_and(|s| s.storage_version == version.to_string())
        {
            return true;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The operator's downgrade: validate, then enable, as etcdctl does,
/// through [`operator::request`] ("already in progress" after an attempt
/// whose answer was lost means that attempt took effect). A definite
/// refusal of a downgrade the plan asks for is a violation.
async fn downgrade_enable(ctl: &Control, version: Version) -> String {
    let request = |action: DowngradeAction| {
        client_request::Body::Downgrade(DowngradeRequest {
            action: action as i32,
            version: version.to_string(),
        })
    };
    let outcome = operator::request(
        &ctl.world.trace,
        "downgrade",
        ErrorCode::DowngradeInProgress,
        || async {
            ctl.to_leader(request(DowngradeAction::Validate)).await?;
            ctl.to_leader(request(DowngradeAction::Enable)).await?;
            Ok(())
        },
    )
    .await;
    ctl.settle(&format!("downgrade_enable to {version}"), &outcome);
    match outcome {
        operator::Outcome::Applied => "enabled".to_string(),
        operator::Outcome::AppliedEarlier => {
            "enabled (by an earlier attempt whose answer was lost)".to_string()
        }
        operator::Outcome::Refused(e) | operator::Outcome::NoAnswer(e) => format!("refused: {e}"),
    }
}

/// Runs one scenario with one seed, then checks it.
pub fn run(scenario: &Scenario, seed: u64, opts: &RunOptions) -> RunResult {
    let effective = swarm::variant(scenario, seed);
    let started = Instant::now();
    let sc = effective.clone();
    let bugs = opts.bugs.clone();
    let collect = opts.collect_files;
    let outcome = sim::run_seed(seed, move |world| simulate(world, sc, seed, bugs, collect));
    let sim_wall = started.elapsed();
    let check_started = Instant::now();
    let (output, info) = match outcome {
        Ok(pair) => pair,
        Err(panic) => return panicked(scenario, &effective, seed, opts, panic, sim_wall),
    };
    let mut report = checker::check_run(&output.history, &output.end_state, &opts.check);
    report
        .results
        .push(exits_property(&output.unexpected_exits));
    report.results.push(PropertyResult {
        property: rules::RUN_NO_PANIC.into(),
        verdict: Verdict::Pass,
    });
    for rule in [
        rules::VERSION_EXPECTED_REFUSAL,
        rules::VERSION_DOWNGRADED_FIELDS,
        rules::PLAN_REQUIRED_STEP,
        rules::OPERATOR_ACCEPTED,
    ] {
        report
            .results
            .push(engine_property(rule, &output.engine_violations));
    }
    let check_ms = check_started.elapsed().as_millis() as u64;
    let stats = RunStats {
        ops: output.history.operations.len(),
        failed_ops: output
            .history
            .operations
            .iter()
            .filter(|o| !matches!(o.result, checker::history::OpResult::Ok(_)))
            .count(),
        watch_events: output
            .history
            .watches
            .iter()
            .flat_map(|w| &w.responses)
            .map(|r| r.events.len())
            .sum(),
        faults: output.faults_applied.len(),
        sim_ms: info.sim_time.as_millis() as u64,
        wall_ms: (sim_wall.as_millis() as u64) + check_ms,
        check_ms,
        messages: output.messages,
    };
    let trace_hash = output.trace.hash();
    RunResult {
        scenario: scenario.name.clone(),
        seed,
        bugs: opts.bugs.clone(),
        report,
        history: output.history,
        end_state: output.end_state,
        trace: output.trace,
        trace_hash,
        stats,
        faults_applied: output.faults_applied,
        not_applied: output.not_applied,
        failpoints_reached: output.failpoints_reached,
        effective,
        member_files: output.member_files,
    }
}

fn exits_property(exits: &[sim::FatalExit]) -> PropertyResult {
    let verdict = match exits.first() {
        None => Verdict::Pass,
        Some(exit) => Verdict::Fail(Violation {
            rule: rules::MEMBER_NO_UNEXPECTED_EXIT.into(),
            explanation: format!(
                "member {} stopped on an error no injected fault explains: {}",
                exit.member, exit.message
            ),
            details: serde_json::json!({ "exits": exits.iter().map(|e| serde_json::json!({"member": e.member, "error": e.message})).collect::<Vec<_>>() }),
            ..Default::default()
        }),
    };
    PropertyResult {
        property: rules::MEMBER_NO_UNEXPECTED_EXIT.into(),
        verdict,
    }
}

/// The exits no injected fault explains: not one a disk fault handed to
/// that very process, nor a refusal the plan expected.
fn unexpected_exits(
    exits: Vec<sim::FatalExit>,
    expected_refusals: &[(u64, String)],
) -> Vec<sim::FatalExit> {
    exits
        .into_iter()
        .filter(|e| !e.disk_fault_delivered)
        .filter(|e| {
            !expected_refusals
                .iter()
                .any(|(m, msg)| *m == e.member && *msg == e.message)
        })
        .collect()
}

/// A property the engine itself checks, from the violations it recorded.
fn engine_property(rule: &str, violations: &[(String, String)]) -> PropertyResult {
    let found: Vec<&(String, String)> = violations.iter().filter(|(r, _)| r == rule).collect();
    let verdict = match found.first() {
        None => Verdict::Pass,
        Some((_, explanation)) => Verdict::Fail(Violation {
            rule: rule.into(),
            explanation: explanation.clone(),
            ..Default::default()
        }),
    };
    PropertyResult {
        property: rule.into(),
        verdict,
    }
}

fn panicked(
    scenario: &Scenario,
    effective: &Scenario,
    seed: u64,
    opts: &RunOptions,
    panic: sim::RunPanic,
    wall: Duration,
) -> RunResult {
    let report = Report {
        results: vec![PropertyResult {
            property: rules::RUN_NO_PANIC.into(),
            verdict: Verdict::Fail(Violation {
                rule: rules::RUN_NO_PANIC.into(),
                explanation: format!("the simulation panicked: {}", panic.message),
                ..Default::default()
            }),
        }],
        stats: None,
    };
    let mut trace = sim::Trace::default();
    trace.push(Duration::ZERO, "engine", "panic", panic.message.clone());
    let trace_hash = trace.hash();
    RunResult {
        scenario: scenario.name.clone(),
        seed,
        bugs: opts.bugs.clone(),
        report,
        history: History::default(),
        end_state: EndState::default(),
        trace,
        trace_hash,
        stats: RunStats {
            wall_ms: wall.as_millis() as u64,
            ..Default::default()
        },
        faults_applied: Vec::new(),
        not_applied: Vec::new(),
        failpoints_reached: BTreeMap::new(),
        effective: effective.clone(),
        member_files: Vec::new(),
    }
}

fn member_configs(scenario: &Scenario, bugs: &BugSet) -> Vec<MemberConfig> {
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

async fn simulate(
    world: Arc<World>,
    scenario: Scenario,
    seed: u64,
    bugs: BugSet,
    collect_files: bool,
) -> SimOutput {
    let recorder = Recorder::with_trace(world.trace.clone());
    for config in member_configs(&scenario, &bugs) {
        world.start_member(config);
    }
    let ctl = Arc::new(Control {
        world: world.clone(),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17)),
        recorder: recorder.clone(),
        quiescing: AtomicBool::new(false),
        knobs: scenario.cluster.knobs.clone(),
        disk_fault_active: Mutex::new(BTreeSet::new()),
        expected_refusals: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        removed: Mutex::new(BTreeSet::new()),
        faults_applied: Mutex::new(Vec::new()),
        not_applied: Mutex::new(Vec::new()),
        next_member_id: Mutex::new(scenario.cluster.size as u64 + 1),
        timeout: Duration::from_millis(scenario.cluster.client_timeout_ms),
    });

    // Traffic.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    let mut next_client = 1u64;
    for spec in &scenario.traffic {
        let ctx = TrafficContext {
            recorder: recorder.clone(),
            stop: stop.clone(),
            endpoints: world.endpoints(),
            client_timeout: ctl.timeout,
            keys: spec.keys,
            rate: spec.rate,
            clients: spec.clients,
            weights: spec.weights.clone(),
            key_ttl_s: spec.key_ttl_s,
            key_prefix: spec.key_prefix.clone(),
            until: spec.until_s.map(Duration::from_secs_f64),
            watches_per_stream: spec.watches_per_stream,
        };
        for index in 0..spec.clients {
            let id = next_client;
            next_client += 1;
            let rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id);
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

    // Faults and the supervisor run on the engine's node.
    let plan: Vec<(usize, FaultStep, Fault)> = scenario
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, s)| faults::parse(s).ok().map(|f| (i, s.clone(), f)))
        .collect();
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
    let failpoints_reached = world
        .failpoints_reached()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let faults_applied = ctl.faults_applied.lock().clone();
    let not_applied = ctl.not_applied.lock().clone();
    SimOutput {
        not_applied,
        history: recorder.history(),
        end_state,
        trace: world.trace.take(),
        faults_applied,
        failpoints_reached,
        unexpected_exits,
        engine_violations,
        messages: world.net.messages(),
        member_files: if collect_files {
            world
                .member_nodes()
                .into_iter()
                .map(|(m, node)| (m, world.disk.files(node)))
                .collect()
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
                if !ctl.quiescing() && matches!(ctl.world.status(m), Some(MemberStatus::Exited(_)))
                {
                    ctl.world.restart(m);
                }
            }
        }
    }
}

/// Applies the plan's steps in time order; each fault heals itself.
async fn drive_faults(ctl: Arc<Control>, mut plan: Vec<(usize, FaultStep, Fault)>) {
    plan.sort_by(|a, b| {
        a.1.at_s
            .unwrap_or(0.0)
            .partial_cmp(&b.1.at_s.unwrap_or(0.0))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    let start = madsim::time::Instant::now();
    let mut tasks = Vec::new();
    for (_, step, fault) in plan {
        let at = Duration::from_secs_f64(step.at_s.unwrap_or(0.0).max(0.0));
        let now = start.elapsed();
        if at > now {
            ctl.hold(at - now).await;
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
            if step.required.unwrap_or(false) {
                ctl.violations.lock().push((
                    rules::PLAN_REQUIRED_STEP.into(),
                    format!(
                        "the {} step (when {:?}) never ran: its condition did not hold before the run ended",
                        step.kind,
                        step.when.as_deref().unwrap_or("-")
                    ),
                ));
            }
            continue;
        }
        let ctl2 = ctl.clone();
        tasks.push(madsim::task::spawn(async move { apply(ctl2, fault).await }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn nodes(world: &World, members: &[u64]) -> Vec<madsim::task::NodeId> {
    members
        .iter()
        .filter_map(|m| world.member_node(*m))
        .collect()
}

/// Applies one fault and heals it when its time is up.
async fn apply(ctl: Arc<Control>, fault: Fault) {
    let world = ctl.world.clone();
    let kind = fault.kind();
    match fault {
        Fault::Crash {
            target,
            restart_after,
        }
        | Fault::TornWriteCrash {
            target,
            restart_after,
        } => {
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
        Fault::Pause { target, duration } => {
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
        Fault::GracefulRestart { target, down_for } => {
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
        Fault::Isolate { target, duration } => {
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
        Fault::PartitionMinority { duration } | Fault::PartitionMajority { duration } => {
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
        Fault::OneWayOut { target, duration } | Fault::OneWayIn { target, duration } => {
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
        Fault::Flapping {
            target,
            period,
            duration,
        } => {
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
        Fault::PacketLoss { rate, duration } => {
            ctl.note(kind, format!("rate={rate}"));
            world.net.set_packet_loss(rate);
            ctl.hold(duration).await;
            world.net.reset_quality();
            ctl.healed(kind, format!("rate={rate}"));
        }
        Fault::Latency { min, max, duration } => {
            ctl.note(kind, format!("{}..{}ms", min.as_millis(), max.as_millis()));
            world.net.set_latency(min..max);
            ctl.hold(duration).await;
            world.net.reset_quality();
            ctl.healed(kind, String::new());
        }
        Fault::FsyncEio {
            target,
            count,
            restart_after,
        } => {
            for m in ctl.targets(kind, target).await {
                disk_fault(&ctl, m, |f| f.fsync_failures = count);
                ctl.note(kind, format!("m{m} count={count}"));
                // The member dies on the failed fsync, as etcd does.
                let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
                while world.status(m).is_some_and(|s| s.is_up())
                    && madsim::time::Instant::now() < deadline
                    && !ctl.quiescing()
                {
                    madsim::time::sleep(Duration::from_millis(20)).await;
                }
                clear_disk_fault(&ctl, m);
                ctl.hold(restart_after).await;
                restart_if_down(&ctl, m);
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::Enospc {
            target,
            quota_kb,
            duration,
        } => {
            for m in ctl.targets(kind, target).await {
                let used = world
                    .member_node(m)
                    .map(|n| world.disk.used_bytes(n))
                    .unwrap_or(0);
                let quota = used + quota_kb * 1024;
                disk_fault(&ctl, m, |f| f.quota_bytes = Some(quota));
                ctl.note(kind, format!("m{m} quota={quota}"));
                ctl.hold(duration).await;
                clear_disk_fault(&ctl, m);
                restart_if_down(&ctl, m);
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::SlowDisk {
            target,
            min,
            max,
            duration,
        } => {
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
        Fault::BitFlip {
            target,
            rate,
            duration,
        } => {
            for m in ctl.targets(kind, target).await {
                disk_fault(&ctl, m, |f| f.bit_flip_rate = rate);
                ctl.note(kind, format!("m{m} rate={rate}"));
                // Reads happen at start: restart the member while flips are on.
                world.kill(m);
                world.restart(m);
                ctl.hold(duration).await;
                clear_disk_fault(&ctl, m);
                restart_if_down(&ctl, m);
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::ClockSkew {
            target,
            drift_ppm,
            offset_ms,
            duration,
        } => {
            for m in ctl.targets(kind, target).await {
                ctl.note(
                    kind,
                    format!("m{m} drift={drift_ppm}ppm offset={offset_ms}ms"),
                );
                world.clocks.set_drift(m, drift_ppm);
                world.clocks.set_offset(
                    m,
                    Duration::from_millis(offset_ms.unsigned_abs()),
                    offset_ms >= 0,
                );
                world.trace.record(
                    format!("m{m}"),
                    "clock",
                    format!("drift={drift_ppm}ppm offset={offset_ms}ms"),
                );
                ctl.hold(duration).await;
                world.clocks.reset(m);
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::Failpoint {
            target,
            name,
            action,
            times,
            offset,
        } => {
            let ms = ctl.targets(kind, target).await;
            for &m in &ms {
                match world
                    .failpoints(m)
                    .map(|fp| fp.arm(&name, action, Some(times)))
                {
                    Some(Ok(())) => ctl.note(kind, format!("m{m} {name} {action:?} x{times}")),
                    Some(Err(e)) => ctl.not_applied(kind, &format!("m{m} {name}: {e}")),
                    None => ctl.not_applied(kind, &format!("m{m} has no process")),
                }
            }
            // Some points are only reached when something asks for it.
            if name.starts_with("compact") {
                compact(&ctl, offset).await;
            } else if name.starts_with("defrag") {
                for &m in &ms {
                    let _ = ctl
                        .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                        .await;
                }
            }
        }
        Fault::PartitionUntilSnapshot { target, timeout } => {
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
                        Some(l) => cluster::status(&world, l).await.is_some_and(|s| {
                            s.snapshot_index > applied + ctl.knobs.catchup_entries
                        }),
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
        Fault::MemberReplace { target } => {
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
        Fault::Compact { offset } => compact(&ctl, offset).await,
        Fault::Defrag { target } => {
            for m in ctl.targets(kind, target).await {
                ctl.note(kind, format!("m{m}"));
                let _ = ctl
                    .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                    .await;
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::SwapVersion {
            target,
            version,
            expect_refusal,
        } => {
            for m in ctl.targets(kind, target).await {
                let Some(previous) = world.version(m) else {
                    continue;
                };
                ctl.note(kind, format!("m{m} {previous} -> {version}"));
                world.stop(m);
                wait_down(&world, m).await;
                world.reconfigure(m, |c| c.version = version);
                world.restart(m);
                if expect_refusal && refused(&ctl, m, &format!("m{m} started as {version}")).await {
                    // The operator's way out: the previous binary again.
                    world.reconfigure(m, |c| c.version = previous);
                    world.restart(m);
                }
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::RollingUpgrade { version } | Fault::RollingDowngrade { version } => {
            ctl.note(kind, format!("to {version}"));
            let running = ctl.running();
            let leader = cluster::leader(&world, &running).await;
            let mut order: Vec<u64> = ctl
                .members()
                .into_iter()
                .filter(|m| Some(*m) != leader)
                .collect();
            order.extend(leader);
            let downgrade = kind == "rolling_downgrade";
            for m in order {
                if ctl.quiescing() {
                    break;
                }
                // The operator swaps a member's binary down only once its
                // storage is at the target (an older binary refuses newer
                // data); a member that is down is started again first.
                if downgrade && !storage_reached(&ctl, m, version).await {
                    world.trace.record(
                        "engine",
                        "downgrade",
                        format!("m{m} storage never reached {version}; left on its version"),
                    );
                    continue;
                }
                world.stop(m);
                wait_down(&world, m).await;
                world.reconfigure(m, |c| c.version = version);
                world.restart(m);
                ctl.hold(Duration::from_millis(700)).await;
            }
            ctl.healed(kind, format!("to {version}"));
        }
        Fault::JoinMember {
            version,
            expect_refusal,
        } => {
            let new_id = ctl.next_member_id();
            ctl.note(kind, format!("m{new_id} version {version}"));
            let template = ctl
                .members()
                .first()
                .and_then(|m| world.config(*m))
                .map(|config| MemberConfig { version, ..config });
            if ctl.add_member(new_id, template).await
                && expect_refusal
                && refused(&ctl, new_id, &format!("m{new_id} joined as {version}")).await
            {
                // The operator removes the member that cannot serve.
                let _ = ctl
                    .to_leader(client_request::Body::MemberRemove(MemberRemoveRequest {
                        id: new_id,
                    }))
                    .await;
                ctl.removed.lock().insert(new_id);
            }
            ctl.healed(kind, format!("m{new_id}"));
        }
        Fault::DowngradeEnable { version } => {
            ctl.note(kind, format!("to {version}"));
            let detail = downgrade_enable(&ctl, version).await;
            world.trace.record("engine", "downgrade", detail);
            ctl.healed(kind, format!("to {version}"));
        }
        Fault::OfflineMigrate {
            target,
            version,
            force,
            expect_refusal,
        } => {
            for m in ctl.targets(kind, target).await {
                let (Some(node), Some(previous)) = (world.member_node(m), world.version(m)) else {
                    continue;
                };
                ctl.note(kind, format!("m{m} to {version} force={force}"));
                world.stop(m);
                wait_down(&world, m).await;
                let disk: node::disk::DiskRef = Arc::new(world.disk.disk_for(node));
                let outcome = node::migrate::migrate(disk.clone(), version, force).await;
                let detail = match &outcome {
                    Ok(mig) => format!(
                        "m{m} migrated {} -> {} steps={:?} forced={}",
                        mig.from, mig.to, mig.steps, mig.forced
                    ),
                    Err(e) => format!("m{m} refused: {e}"),
                };
                world.trace.record("engine", "migrate", detail);
                match outcome {
                    // The operator starts the member as the version its data is now.
                    Ok(_) => {
                        world.reconfigure(m, |c| c.version = version);
                        world.restart(m);
                        if expect_refusal
                            && refused(
                                &ctl,
                                m,
                                &format!("m{m} started as {version} after migrating"),
                            )
                            .await
                        {
                            // Undo: migrate back and start the previous binary.
                            let back = node::migrate::migrate(disk, previous, true).await;
                            world.trace.record(
                                "engine",
                                "migrate",
                                format!("m{m} back to {previous}: {:?}", back.map(|b| b.steps)),
                            );
                            world.reconfigure(m, |c| c.version = previous);
                            world.restart(m);
                        }
                    }
                    Err(e) => {
                        if !expect_refusal {
                            ctl.violations.lock().push((
                                rules::VERSION_EXPECTED_REFUSAL.into(),
                                format!("offline migration of m{m} to {version} was refused unexpectedly: {e}"),
                            ));
                        }
                        world.restart(m);
                    }
                }
                ctl.healed(kind, format!("m{m}"));
            }
        }
        Fault::DowngradeCancel => {
            ctl.note(kind, String::new());
            let cancel = DowngradeRequest {
                action: DowngradeAction::Cancel as i32,
                version: String::new(),
            };
            let detail = match ctl.to_leader(client_request::Body::Downgrade(cancel)).await {
                Ok(_) => "cancelled".to_string(),
                Err(e) => format!("refused: {e}"),
            };
            world.trace.record("engine", "downgrade", detail);
            ctl.healed(kind, String::new());
        }
    }
}

/// Messages of a member refusing to run on data or in a cluster it is too
/// old for.
const REFUSALS: &[&str] = &[
    "failed to validate schema",
    "invalid downgrade",
    "cannot downgrade storage",
];

/// Waits for the member to refuse to start, as the plan expects. A refusal
/// is recorded as expected; no refusal is a violation.
async fn refused(ctl: &Control, m: u64, what: &str) -> bool {
    let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
    while madsim::time::Instant::now() < deadline {
        if let Some(MemberStatus::Exited(ExitReason::Fatal(msg))) = ctl.world.status(m) {
            if REFUSALS.iter().any(|r| msg.contains(r)) {
                ctl.expected_refusals.lock().push((m, msg));
                return true;
            }
            ctl.violations.lock().push((
                rules::VERSION_EXPECTED_REFUSAL.into(),
                format!("{what}: expected a clean refusal, got: {msg}"),
            ));
            return false;
        }
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
    ctl.violations.lock().push((
        rules::VERSION_EXPECTED_REFUSAL.into(),
        format!("{what}: the member should have refused to start, but it runs"),
    ));
    false
}

async fn wait_down(world: &World, m: u64) {
    let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
    while world.status(m).is_some_and(|s| s.is_up()) && madsim::time::Instant::now() < deadline {
        madsim::time::sleep(Duration::from_millis(20)).await;
    }
    if world.status(m).is_some_and(|s| s.is_up()) {
        world.kill(m);
    }
}

fn set_torn(world: &World, m: u64, on: bool) {
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

fn restart_if_down(ctl: &Control, m: u64) {
    if !ctl.quiescing()
        && !ctl.world.status(m).is_some_and(|s| s.is_up())
        && !ctl.removed.lock().contains(&m)
    {
        ctl.world.restart(m);
    }
}

/// Compacts history at a recent revision, like an operator or the
/// Kubernetes compactor would.
async fn compact(ctl: &Control, offset: Option<i64>) {
    let running = ctl.running();
    let Some(leader) = cluster::leader(&ctl.world, &running).await else {
        return;
    };
    let Some(status) = cluster::status(&ctl.world, leader).await else {
        return;
    };
    let rev = status.header.map(|h| h.revision).unwrap_or(0);
    let back = offset.unwrap_or_else(|| ctl.rng.lock().gen_range(0..5));
    let target = (rev - back).max(1);
    if target <= status.compact_revision {
        return;
    }
    ctl.note("compact", format!("revision={target}"));
    // The compaction is a client request like any other: it goes into the
    // history, since it changes what reads at old revisions may return.
    let mut client = RecordingClient::new(
        ENGINE_CLIENT,
        Client::new(vec![(leader, member_ip(leader))], 0, ctl.timeout),
        ctl.recorder.clone(),
    );
    let request = client_request::Body::Compaction(CompactionRequest {
        revision: target,
        physical: false,
    });
    let _ = client.call(request, None).await;
}

/// Data of a cluster below 3.7 carries no per-key TTL: a downgrade removes
/// it (downgrade-keeps-fields left it in place).
async fn check_downgraded_fields(
    ctl: &Control,
    final_read: Option<&node::wire::api::RangeResponse>,
) {
    let Some(read) = final_read else { return };
    let statuses = cluster::statuses(&ctl.world, &ctl.members()).await;
    let below_3_7 = statuses
        .iter()
        .filter_map(|(_, s)| s.cluster_version.parse::<node::version::Version>().ok())
        .any(|v| v < node::version::Version::V3_7);
    if !below_3_7 {
        return;
    }
    if let Some(kv) = read.kvs.iter().find(|kv| kv.ttl != 0) {
        ctl.violations.lock().push((
            rules::VERSION_DOWNGRADED_FIELDS.into(),
            format!(
                "key {:?} still carries a per-key TTL of {} s although the cluster version is below 3.7",
                String::from_utf8_lossy(&kv.key),
                kv.ttl
            ),
        ));
    }
}

/// Heals everything, waits for the cluster to answer, reads everything
/// back into the history and collects each member's HashKV.
async fn quiesce(ctl: Arc<Control>, scenario: Scenario) -> EndState {
    let world = ctl.world.clone();
    world
        .trace
        .record("engine", "quiesce", "healing every fault");
    world.net.heal();
    world.net.reset_quality();
    for m in ctl.members() {
        world.clocks.reset(m);
        if let Some(node) = world.member_node(m) {
            world.disk.set_faults(node, Default::default());
            world.disk.set_latency(node, Default::default());
        }
        if let Some(fp) = world.failpoints(m) {
            fp.disarm_all();
        }
        match world.status(m) {
            Some(MemberStatus::Paused) => world.resume(m),
            Some(MemberStatus::Running) | None => {}
            Some(_) => world.restart(m),
        }
    }
    ctl.disk_fault_active.lock().clear();
    let heal_time = now_ns();
    let bound = Duration::from_secs_f64(scenario.quiesce.liveness_bound_s);
    let endpoints: Vec<_> = world
        .endpoints()
        .into_iter()
        .filter(|(m, _)| ctl.members().contains(m))
        .collect();
    let mut client = RecordingClient::new(
        QUIESCE_CLIENT,
        Client::new(endpoints, 0, ctl.timeout),
        ctl.recorder.clone(),
    );
    // Liveness: the healed cluster must answer a linearizable read.
    let mut first_success = None;
    let deadline = madsim::time::Instant::now() + bound;
    while madsim::time::Instant::now() < deadline {
        let probe = client_request::Body::Range(RangeRequest {
            key: b"key0".to_vec(),
            ..Default::default()
        });
        if client.call(probe, None).await.is_ok() {
            first_success = Some(now_ns());
            break;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    // Convergence: every member applied what the leader committed.
    let members = ctl.members();
    let deadline =
        madsim::time::Instant::now() + Duration::from_secs_f64(scenario.quiesce.converge_timeout_s);
    loop {
        let st = cluster::statuses(&world, &members).await;
        let commit = st.iter().map(|(_, s)| s.raft_index).max().unwrap_or(0);
        let converged =
            st.len() == members.len() && st.iter().all(|(_, s)| s.raft_applied_index >= commit);
        if converged || madsim::time::Instant::now() >= deadline {
            break;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    // Read everything back, linearizably.
    let mut final_read = None;
    for _ in 0..20 {
        let all = client_request::Body::Range(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        });
        if let Ok(client_response::Body::Range(r)) = client.call(all, None).await {
            final_read = Some(r);
            break;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    check_downgraded_fields(&ctl, final_read.as_ref()).await;
    world.trace.record(
        "engine",
        "quiesce",
        format!("operations={}", ctl.recorder.op_count()),
    );
    // HashKV of every member at one revision they all reached.
    let st = cluster::statuses(&world, &members).await;
    let rev = st
        .iter()
        .filter_map(|(_, s)| s.header.as_ref().map(|h| h.revision))
        .min()
        .unwrap_or(0);
    let mut end = EndState {
        members: Vec::new(),
        heal_time: Some(heal_time),
        first_success_after_heal: first_success,
        liveness_bound: bound.as_nanos() as u64,
    };
    for &m in &members {
        let alive = world.status(m) == Some(MemberStatus::Running);
        let hash_kv = if alive && rev > 0 {
            match ctl
                .admin(
                    m,
                    client_request::Body::HashKv(HashKvRequest { revision: rev }),
                )
                .await
            {
                Ok(client_response::Body::HashKv(h)) => Some(HashKv {
                    revision: h.hash_revision,
                    compact_revision: h.compact_revision,
                    hash: h.hash,
                }),
                _ => None,
            }
        } else {
            None
        };
        if let Some(h) = &hash_kv {
            world.trace.record(
                format!("m{m}"),
                "hashkv",
                format!("revision={} hash={:08x}", h.revision, h.hash),
            );
        }
        end.members.push(MemberEndState {
            member: m,
            alive,
            hash_kv,
        });
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(member: u64, message: &str, disk_fault_delivered: bool) -> sim::FatalExit {
        sim::FatalExit {
            member,
            message: message.into(),
            disk_fault_delivered,
        }
    }

    #[test]
    fn only_exits_a_disk_fault_reached_or_the_plan_expected_are_excused() {
        let exits = vec![
            exit(1, "WAL write failed: EIO", true),
            exit(1, "failpoint raftBeforeSave returned an error", false),
            exit(2, "invalid downgrade", false),
            exit(3, "invalid downgrade", false),
        ];
        let expected = vec![(2, "invalid downgrade".to_string())];
        let left = unexpected_exits(exits, &expected);
        assert_eq!(
            left,
            vec![
                exit(1, "failpoint raftBeforeSave returned an error", false),
                exit(3, "invalid downgrade", false),
            ]
        );
        let property = exits_property(&left);
        assert!(matches!(property.verdict, Verdict::Fail(_)));
        assert_eq!(property.property, rules::MEMBER_NO_UNEXPECTED_EXIT);
    }
}
