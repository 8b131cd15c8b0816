//! The engine: `run(scenario, seed, bugs)` builds the world, starts the
//! members, runs traffic and the fault plan, quiesces (heals everything,
//! waits for the cluster to answer, reads everything back, collects each
//! member's HashKV), then checks the history. Everything derives from the
//! seed.

mod drain;
mod quiesce;
mod simulate;

use crate::faults::FaultKind;
use crate::plan::Plan;
use crate::schema::Scenario;
use crate::swarm;
use checker::history::{EndState, History};
use checker::options::CheckOptions;
use checker::report::{Overall, PropertyResult, Report, Verdict, Violation};
use checker::rules;
use node::bugs::BugSet;
#[cfg(test)]
pub(crate) use simulate::member_configs;
use simulate::simulate;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

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
    pub failpoints_reached: BTreeMap<node::failpoint::Failpoint, u64>,
    /// The store's coverage points reached, with how often.
    pub points_reached: BTreeMap<node::coverage::Point, u64>,
    /// Points reached while a fault of that kind was on or had just begun
    /// (`sim::AFTERGLOW`): what an explorer calls a new combination.
    pub points_under_faults: BTreeSet<(node::coverage::Point, FaultKind)>,
    /// The scenario as run (after swarm mode drew its variant).
    pub effective: Scenario,
    /// Each member's files, when asked for.
    pub member_files: Vec<(u64, MemberFiles)>,
}

impl RunResult {
    pub fn overall(&self) -> Overall {
        self.report.overall()
    }

    /// Client requests answered with a success (watches not counted).
    pub fn served_requests(&self) -> usize {
        self.history
            .operations
            .iter()
            .filter(|op| matches!(op.result, checker::history::OpResult::Ok(_)))
            .count()
    }

    /// Requests answered with success that were sent in the first
    /// `window_ns` of the run (the scenario's traffic), not by the checks
    /// after it: what "requests served per second" counts.
    pub fn served_requests_within(&self, window_ns: u64) -> usize {
        self.history
            .operations
            .iter()
            .filter(|op| op.call < window_ns)
            .filter(|op| matches!(op.result, checker::history::OpResult::Ok(_)))
            .count()
    }

    /// How long each acknowledged write took, call to answer, in
    /// simulated nanoseconds.
    pub fn write_latencies_ns(&self) -> Vec<u64> {
        self.acknowledged_write_ops()
            .filter_map(|op| op.ret.map(|ret| ret.saturating_sub(op.call)))
            .collect()
    }

    /// Client writes the store acknowledged (each took a revision).
    pub fn acknowledged_writes(&self) -> usize {
        self.acknowledged_write_ops().count()
    }

    fn acknowledged_write_ops(&self) -> impl Iterator<Item = &checker::history::Operation> {
        self.history
            .operations
            .iter()
            .filter(|op| match &op.result {
                checker::history::OpResult::Ok(resp) => {
                    checker::models::etcd::bumps_revision(&op.request, resp)
                }
                _ => false,
            })
    }

    /// The one-line summary printed for every run.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "seed={} scenario={} verdict={} trace={} ops={} failed_ops={} faults={} sim_ms={} wall_ms={}",
            self.seed,
            self.scenario,
            self.overall().word(),
            self.trace_hash,
            self.stats.ops,
            self.stats.failed_ops,
            self.stats.faults,
            self.stats.sim_ms,
            self.stats.wall_ms
        );
        if let Some(requests) = &self.report.requests {
            line.push_str(&format!(
                " failed_without_fault={}",
                requests.fault_free_failed_ratio()
            ));
        }
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
    failpoints_reached: BTreeMap<node::failpoint::Failpoint, u64>,
    points_reached: BTreeMap<node::coverage::Point, u64>,
    points_under_faults: BTreeSet<(node::coverage::Point, FaultKind)>,
    unexpected_exits: Vec<sim::FatalExit>,
    broken_invariants: Vec<sim::BrokenInvariant>,
    not_applied: Vec<String>,
    engine_violations: Vec<(String, String)>,
    messages: u64,
    member_files: Vec<(u64, MemberFiles)>,
}

/// Runs one scenario with one seed, then checks it.
pub fn run(scenario: &Scenario, seed: u64, opts: &RunOptions) -> RunResult {
    let effective = swarm::variant(scenario, seed);
    let started = Instant::now();
    // A loaded scenario's steps all parse, and swarm draws only valid ones:
    // a plan that does not is the engine's bug, reported as a run that
    // could not be simulated rather than steps silently left out.
    let plan = match Plan::of(&effective.faults) {
        Ok(plan) => plan,
        Err(e) => {
            let panic = sim::RunPanic {
                seed,
                message: format!("the fault plan does not parse: {e}"),
            };
            return panicked(scenario, &effective, seed, opts, panic, started.elapsed());
        }
    };
    let sc = effective.clone();
    let bugs = opts.bugs.clone();
    let collect = opts.collect_files;
    let outcome = sim::run_seed(seed, move |world| {
        simulate(world, sc, plan, seed, bugs, collect)
    });
    let sim_wall = started.elapsed();
    let check_started = Instant::now();
    let (output, info) = match outcome {
        Ok(pair) => pair,
        Err(panic) => return panicked(scenario, &effective, seed, opts, panic, sim_wall),
    };
    // The checker judges "request is too large" refusals against the
    // limit this run's members were given.
    let options = CheckOptions {
        max_request_bytes: effective.cluster.knobs.max_request_bytes,
        ..opts.check.clone()
    };
    let report = check(&output, &options);
    let check_ms = check_started.elapsed().as_millis() as u64;
    let stats = RunStats {
        sim_ms: info.sim_time.as_millis() as u64,
        wall_ms: (sim_wall.as_millis() as u64) + check_ms,
        check_ms,
        ..stats_of(&output)
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
        points_reached: output.points_reached,
        points_under_faults: output.points_under_faults,
        effective,
        member_files: output.member_files,
    }
}

/// The checker's verdicts on the history and end state, then the engine's
/// own rules (member exits, no panic, version, plan and operator rules).
fn check(output: &SimOutput, options: &CheckOptions) -> Report {
    let mut report = checker::check_run(&output.history, &output.end_state, options);
    report
        .results
        .push(exits_property(&output.unexpected_exits));
    report
        .results
        .push(invariants_property(&output.broken_invariants));
    report.results.push(PropertyResult {
        property: rules::RUN_NO_PANIC.into(),
        verdict: Verdict::Pass,
    });
    for rule in [
        rules::END_LEASES_EXPIRE,
        rules::END_COMPACTION_FINISHES,
        rules::END_WATCHERS_CATCH_UP,
        rules::VERSION_EXPECTED_REFUSAL,
        rules::VERSION_DOWNGRADED_FIELDS,
        rules::PLAN_REQUIRED_STEP,
        rules::OPERATOR_ACCEPTED,
        rules::OPERATOR_UNSAFE_DECLINED,
        rules::OPERATOR_ALARM_CLEARED,
    ] {
        report
            .results
            .push(engine_property(rule, &output.engine_violations));
    }
    report
}

/// What the run did, counted (times are the caller's).
fn stats_of(output: &SimOutput) -> RunStats {
    let operations = &output.history.operations;
    RunStats {
        ops: operations.len(),
        failed_ops: operations
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
        messages: output.messages,
        ..Default::default()
    }
}

/// A simulated duration since the run began, in the history's nanoseconds.
fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A rule's result: passed, or failed with `violation`.
fn decided(rule: &str, violation: Option<Violation>) -> PropertyResult {
    PropertyResult {
        property: rule.into(),
        verdict: violation.map_or(Verdict::Pass, Verdict::Fail),
    }
}

fn exits_property(exits: &[sim::FatalExit]) -> PropertyResult {
    let violation = exits.first().map(|exit| Violation {
            rule: rules::MEMBER_NO_UNEXPECTED_EXIT.into(),
            explanation: format!(
                "member {} stopped on an error no injected fault explains: {}",
                exit.member, exit.message
            ),
            details: serde_json::json!({ "exits": exits.iter().map(|e| serde_json::json!({"member": e.member, "error": e.message})).collect::<Vec<_>>() }),
            at: Some(nanos(exit.at)),
            ..Default::default()
        }
        .at_site(checker::signature::exit_site(&exit.message)));
    decided(rules::MEMBER_NO_UNEXPECTED_EXIT, violation)
}

fn invariants_property(broken: &[sim::BrokenInvariant]) -> PropertyResult {
    let violation = broken.first().map(|b| {
        Violation {
            rule: rules::STORE_INVARIANT.into(),
            explanation: format!(
                "member {} broke invariant {} at {:.3} s: {} (it must hold because {}){}",
                b.member,
                b.invariant,
                b.at.as_secs_f64(),
                b.detail,
                b.invariant.reason(),
                match broken.len() {
                    1 => String::new(),
                    n => format!("; {} more broken after it", n - 1),
                }
            ),
            details: serde_json::json!({ "broken": broken.iter().map(|b| serde_json::json!({
                "member": b.member,
                "invariant": b.invariant.name(),
                "at_s": b.at.as_secs_f64(),
                "detail": b.detail,
            })).collect::<Vec<_>>() }),
            at: Some(nanos(b.at)),
            ..Default::default()
        }
        .at_site(b.invariant.name())
    });
    decided(rules::STORE_INVARIANT, violation)
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
    let violation = violations
        .iter()
        .find(|(r, _)| r == rule)
        .map(|(_, explanation)| Violation {
            rule: rule.into(),
            explanation: explanation.clone(),
            ..Default::default()
        });
    decided(rule, violation)
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
        requests: None,
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
        points_reached: BTreeMap::new(),
        points_under_faults: BTreeSet::new(),
        effective: effective.clone(),
        member_files: Vec::new(),
    }
}

/// Results made by hand, for the tests of what reads them.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A passing run of an empty scenario that reached nothing.
    pub(crate) fn empty_result() -> RunResult {
        let scenario: Scenario = toml::from_str("name = \"empty\"").expect("minimal scenario");
        RunResult {
            scenario: scenario.name.clone(),
            seed: 0,
            bugs: BugSet::none(),
            report: Report::default(),
            history: History::default(),
            end_state: EndState::default(),
            trace: sim::Trace::default(),
            trace_hash: String::new(),
            stats: RunStats::default(),
            faults_applied: Vec::new(),
            not_applied: Vec::new(),
            failpoints_reached: BTreeMap::new(),
            points_reached: BTreeMap::new(),
            points_under_faults: BTreeSet::new(),
            effective: scenario,
            member_files: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(member: u64, message: &str, disk_fault_delivered: bool) -> sim::FatalExit {
        sim::FatalExit {
            member,
            message: message.into(),
            disk_fault_delivered,
            at: std::time::Duration::ZERO,
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
