//! A finished run as the reports crate keeps it: the repro file, the run
//! folder, the results row and the coverage row. Also the way back: a repro
//! file to the scenario, seed and bugs that replay it.

use crate::catalog::{self, ScenarioError};
use crate::engine::RunResult;
use crate::knobs::DrawnKnob;
use crate::schema::Scenario;
use node::bugs::{Bug, BugSet};
use node::version::Version;
use reports::{CoverageRow, Repro, ResultRow, RunArtefacts, TraceLine};
use std::collections::BTreeSet;

/// The scenario as a TOML file that [`catalog::parse`] reads back equal.
pub fn scenario_toml(scenario: &Scenario) -> String {
    // Every field of a scenario is a TOML value; this cannot fail for a
    // scenario that was itself read from TOML or built by the engine.
    let mut value = match toml::Value::try_from(scenario) {
        Ok(v) => v,
        Err(e) => return format!("# cannot encode the scenario: {e}\n"),
    };
    // A drawable knob the scenario leaves open is left out: written down,
    // it would be pinned when the file is read back, and the seed would no
    // longer draw it.
    if let Some(knobs) = value
        .get_mut("cluster")
        .and_then(|c| c.get_mut("knobs"))
        .and_then(|k| k.as_table_mut())
    {
        for knob in DrawnKnob::ALL {
            if !scenario.cluster.pinned_knobs.contains(&knob) {
                knobs.remove(knob.field());
            }
        }
    }
    toml::to_string(&value).unwrap_or_else(|e| format!("# cannot encode the scenario: {e}\n"))
}

/// The bug names of a set, in catalog order.
pub fn bug_names(bugs: &BugSet) -> Vec<String> {
    bugs.iter().map(|b| b.name().to_string()).collect()
}

/// Every version a member ran or was asked to move to, ascending.
pub fn versions_of(effective: &Scenario) -> Vec<String> {
    let mut versions: BTreeSet<Version> = (0..effective.cluster.size)
        .map(|i| effective.cluster.version_of(i))
        .collect();
    versions.extend(effective.faults.iter().filter_map(|f| f.version));
    versions.into_iter().map(|v| v.to_string()).collect()
}

/// The repro of a run of `scenario` (as given, before any swarm draw: the
/// seed draws the same variant again).
pub fn repro_of(scenario: &Scenario, r: &RunResult) -> Repro {
    Repro {
        scenario_name: scenario.name.clone(),
        scenario_toml: scenario_toml(scenario),
        seed: r.seed,
        bugs: bug_names(&r.bugs),
        versions: versions_of(&r.effective),
        trace_hash: r.trace_hash.clone(),
        real: None,
    }
}

/// The command that replays a run: by catalog name when the catalog holds
/// this very scenario, else from the repro file `repro_path`.
pub fn replay_command(scenario: &Scenario, r: &RunResult, repro_path: &str) -> String {
    let in_catalog = catalog::builtin().iter().any(|s| s == scenario);
    if !in_catalog {
        return format!("faultline replay {repro_path}");
    }
    let mut cmd = format!(
        "faultline replay --scenario {} --seed {}",
        scenario.name, r.seed
    );
    for bug in bug_names(&r.bugs) {
        cmd.push_str(&format!(" --bug {bug}"));
    }
    cmd
}

/// Everything the run's folder holds.
pub fn run_artefacts(scenario: &Scenario, r: &RunResult, repro_path: &str) -> RunArtefacts {
    RunArtefacts {
        repro: repro_of(scenario, r),
        history: r.history.clone(),
        end_state: r.end_state.clone(),
        report: r.report.clone(),
        trace: r
            .trace
            .events()
            .iter()
            .map(|e| TraceLine {
                at_ns: e.at_ns,
                source: e.source.clone(),
                kind: e.kind.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
        summary_line: r.summary_line(),
        replay_command: replay_command(scenario, r, repro_path),
    }
}

/// The run's row in `results.csv`.
pub fn result_row(r: &RunResult) -> ResultRow {
    ResultRow {
        scenario: r.scenario.clone(),
        seed: r.seed,
        bugs: bug_names(&r.bugs).join("+"),
        verdict: r.overall(),
        failed_rules: r.failed_rules().join(";"),
        ops: r.stats.ops,
        failed_ops: r.stats.failed_ops,
        watch_events: r.stats.watch_events,
        faults: r.stats.faults,
        sim_ms: r.stats.sim_ms,
        wall_ms: r.stats.wall_ms,
        trace_hash: r.trace_hash.clone(),
        not_applied: r.not_applied.len(),
        classes: reports::results::Classes::of(&r.report),
    }
}

/// The run's row in `coverage.jsonl`.
pub fn coverage_row(r: &RunResult) -> CoverageRow {
    CoverageRow {
        scenario: r.scenario.clone(),
        seed: r.seed,
        bugs: bug_names(&r.bugs).join("+"),
        faults_applied: r.faults_applied.clone(),
        // Names at the edge, sorted by name as the file has always been.
        failpoints_reached: r
            .failpoints_reached
            .iter()
            .map(|(point, n)| (point.name().to_string(), *n))
            .collect(),
        points_reached: r
            .points_reached
            .iter()
            .map(|(p, n)| (p.name().to_string(), *n))
            .collect(),
        rules_checked: reports::coverage::rules_checked(&r.report),
        versions: versions_of(&r.effective),
    }
}

/// What a repro file asks to run.
#[derive(Debug, Clone)]
pub struct ReproRun {
    pub scenario: Scenario,
    pub seed: u64,
    pub bugs: BugSet,
    /// The hash the original run had.
    pub trace_hash: String,
}

/// Reads a repro's scenario and bugs; errors name the file and field.
pub fn from_repro(repro: &Repro, file: &str) -> Result<ReproRun, ScenarioError> {
    if let Some(real) = &repro.real {
        return Err(ScenarioError {
            file: file.to_string(),
            line: None,
            message: format!(
                "real_etcd: a run against real etcd processes ({} {}) does not replay: real processes and clocks decided its order. Run its scenario again: faultline run --target etcd --scenario {} --seed {}",
                real.binary, real.version, repro.scenario_name, repro.seed
            ),
        });
    }
    let scenario = catalog::parse(&format!("{file}: scenario_toml"), &repro.scenario_toml)?;
    let mut bugs = Vec::new();
    for name in &repro.bugs {
        let bug: Bug = name.parse().map_err(|e| ScenarioError {
            file: file.to_string(),
            line: None,
            message: format!("bugs: {e}"),
        })?;
        bugs.push(bug);
    }
    Ok(ReproRun {
        scenario,
        seed: repro.seed,
        bugs: BugSet::from_bugs(bugs),
        trace_hash: repro.trace_hash.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_scenario_survives_the_toml_round_trip() {
        for s in catalog::builtin() {
            let text = scenario_toml(&s);
            let back = catalog::parse("round-trip", &text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", s.name));
            assert_eq!(back, s, "{} changed in the round trip", s.name);
        }
    }

    #[test]
    fn versions_include_upgrade_targets() {
        let s = catalog::load("rolling-upgrade").expect("catalog scenario");
        let v = versions_of(&s);
        assert!(v.len() >= 2, "{v:?}");
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(v, sorted);
    }
}
