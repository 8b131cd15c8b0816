//! Bug hunting: run scenarios over successive seeds with one bug switched
//! on until a run fails with a rule the bug table expects. Triggered hunts
//! run the scenarios written for the bug; blind hunts run the general
//! catalog only, as a user hunting an unknown bug would, seed after seed;
//! explore hunts run the general catalog through the coverage-guided
//! explorer (`explore`), its seed the hunt's start seed.

use crate::bug_table;
use crate::catalog;
use crate::engine::{self, RunOptions, RunResult};
use crate::explore::drive::{Steer, drive};
use crate::explore::{Explorer, MergedRun};
use crate::schema::Scenario;
use node::bugs::{Bug, BugSet};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use reports::dashboard::HuntMode;

/// The scenarios a hunt runs.
pub fn scenarios_for(bug: Bug, mode: HuntMode) -> Result<Vec<Scenario>, catalog::ScenarioError> {
    match mode {
        HuntMode::Triggered => bug_table::entry(bug)
            .triggers
            .iter()
            .map(|name| catalog::load(name))
            .collect(),
        HuntMode::Blind | HuntMode::Explore => Ok(catalog::general()),
    }
}

/// Failures with rules the bug does not explain that a hunt keeps, at most.
const OTHER_FAILURES_KEPT: usize = 10;

#[derive(Debug, Clone)]
pub struct HuntOptions {
    pub bug: Bug,
    pub mode: HuntMode,
    pub budget: Duration,
    pub jobs: usize,
    pub start_seed: u64,
    pub run: RunOptions,
}

pub struct HuntOutcome {
    /// The run failing with an expected rule with the fewest seeds tried
    /// before it.
    pub found: Option<RunResult>,
    /// Runs that failed only with rules the bug table does not expect for
    /// this bug (not counted as found; the first few, in seed order).
    pub other_failures: Vec<RunResult>,
    /// Runs tried up to and including the failing one (or all, if none).
    pub seeds_tried: u64,
    pub wall: Duration,
}

/// The longest budget or soak duration accepted: a year.
const MAX_BUDGET_S: f64 = 365.0 * 24.0 * 3600.0;

/// Parses budgets like `120s`, `2m`, `1h`, `90` (seconds).
pub fn parse_budget(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 120s, 2m or 1h, got {s:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "expected a duration such as 120s, 2m or 1h, got {s:?}"
            ));
        }
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("the duration must be positive, got {s:?}"));
    }
    if secs > MAX_BUDGET_S {
        return Err(format!(
            "the duration must be at most a year (8760h), got {s:?}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs seeds in order until a run fails with a rule the bug table expects
/// for the bug, or the budget is spent. Run `i` uses scenario `i mod n` and
/// seed `start + i`; the answer is the failing run with the smallest `i`, so
/// it does not depend on timing.
pub fn hunt(opts: &HuntOptions) -> Result<HuntOutcome, catalog::ScenarioError> {
    let scenarios = scenarios_for(opts.bug, opts.mode)?;
    if opts.mode == HuntMode::Explore {
        return Ok(hunt_explore(opts, scenarios));
    }
    let entry = bug_table::entry(opts.bug);
    let run_opts = RunOptions {
        bugs: BugSet::from_bugs([opts.bug]),
        ..opts.run.clone()
    };
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let found_at = AtomicU64::new(u64::MAX);
    let found: Mutex<Option<(u64, RunResult)>> = Mutex::new(None);
    let others: Mutex<Vec<(u64, RunResult)>> = Mutex::new(Vec::new());
    let tried = AtomicU64::new(0);
    // The next run: none past the budget, past the first find, or past
    // the last seed.
    let take = || -> Option<(u64, u64)> {
        if started.elapsed() >= opts.budget {
            return None;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i > found_at.load(Ordering::SeqCst) {
            return None;
        }
        Some((i, opts.start_seed.checked_add(i)?))
    };
    crate::workers::run(opts.jobs, take, |(i, seed)| {
        let scenario = &scenarios[(i % scenarios.len() as u64) as usize];
        let result = engine::run(scenario, seed, &run_opts);
        tried.fetch_max(i + 1, Ordering::SeqCst);
        let failed = result.failed_rules();
        if failed.iter().any(|r| entry.expects(r)) {
            found_at.fetch_min(i, Ordering::SeqCst);
            let mut slot = found.lock();
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, result));
            }
        } else if !failed.is_empty() {
            // Keep the first few in seed order, whatever the timing.
            let mut kept = others.lock();
            kept.push((i, result));
            kept.sort_by_key(|(j, _)| *j);
            kept.truncate(OTHER_FAILURES_KEPT);
        }
    });
    let found = found.into_inner();
    let seeds_tried = match &found {
        Some((i, _)) => i + 1,
        None => tried.load(Ordering::SeqCst),
    };
    let mut other_failures = others.into_inner();
    other_failures.retain(|(i, _)| *i < seeds_tried);
    Ok(HuntOutcome {
        found: found.map(|(_, r)| r),
        other_failures: other_failures.into_iter().map(|(_, r)| r).collect(),
        seeds_tried,
        wall: started.elapsed(),
    })
}

/// What an explore hunt decides as the explorer's runs merge.
struct ExploreHunt<'a> {
    entry: &'a bug_table::BugEntry,
    started: Instant,
    budget: Duration,
    found: Option<(u64, RunResult)>,
    others: Vec<RunResult>,
    /// Runs merged (in run order, so the last merged run's number + 1).
    merged: u64,
}

impl Steer for ExploreHunt<'_> {
    fn go_on(&mut self) -> bool {
        self.found.is_none() && self.started.elapsed() < self.budget
    }

    /// Runs merge in run order: the first find is the one with the fewest
    /// runs before it, whatever the timing.
    fn merged(&mut self, run: MergedRun, result: RunResult) {
        if self.found.is_some() {
            return;
        }
        self.merged = run.candidate.run + 1;
        let failed = result.failed_rules();
        if failed.iter().any(|r| self.entry.expects(r)) {
            self.found = Some((run.candidate.run, result));
        } else if !failed.is_empty() && self.others.len() < OTHER_FAILURES_KEPT {
            self.others.push(result);
        }
    }
}

/// An explore hunt: the explorer, seeded with the start seed, over
/// `scenarios` (the general catalog) until a run fails with a rule the bug
/// table expects, or the budget is spent.
fn hunt_explore(opts: &HuntOptions, scenarios: Vec<Scenario>) -> HuntOutcome {
    let run_opts = RunOptions {
        bugs: BugSet::from_bugs([opts.bug]),
        ..opts.run.clone()
    };
    let steer = ExploreHunt {
        entry: bug_table::entry(opts.bug),
        started: Instant::now(),
        budget: opts.budget,
        found: None,
        others: Vec::new(),
        merged: 0,
    };
    let explorer = Explorer::new(opts.start_seed, 0, scenarios, None);
    let (_, steer) = drive(explorer, opts.jobs, steer, |c| {
        engine::run(&c.scenario, c.seed, &run_opts)
    });
    HuntOutcome {
        seeds_tried: steer.found.as_ref().map_or(steer.merged, |(i, _)| i + 1),
        found: steer.found.map(|(_, r)| r),
        other_failures: steer.others,
        wall: steer.started.elapsed(),
    }
}

/// Start seeds of the hunts behind one row of the hunt table: `starts`
/// hunts from `first`, `first + SPACING`, ... so that they do not overlap
/// unless one runs past `SPACING` seeds.
pub const TABLE_START_SPACING: u64 = 1000;

/// One hunt table row: `opts` hunted from `starts` different start seeds
/// (the table's benchmark: how fast the framework finds the bug).
pub fn table_row(
    opts: &HuntOptions,
    starts: u64,
) -> Result<reports::dashboard::HuntRow, catalog::ScenarioError> {
    let mut found_seeds = Vec::new();
    let mut found_walls = Vec::new();
    let mut worst: f64 = 0.0;
    let mut rules: Vec<String> = Vec::new();
    for k in 0..starts {
        let outcome = hunt(&HuntOptions {
            start_seed: opts
                .start_seed
                .saturating_add(k.saturating_mul(TABLE_START_SPACING)),
            bug: opts.bug,
            mode: opts.mode,
            budget: opts.budget,
            jobs: opts.jobs,
            run: opts.run.clone(),
        })?;
        let wall = outcome.wall.as_secs_f64();
        worst = worst.max(wall);
        if let Some(r) = &outcome.found {
            found_seeds.push(outcome.seeds_tried as f64);
            found_walls.push(wall);
            let entry = bug_table::entry(opts.bug);
            if let Some(rule) = r.failed_rules().into_iter().find(|r| entry.expects(r)) {
                rules.push(rule);
            }
        }
    }
    Ok(reports::dashboard::HuntRow {
        bug: opts.bug.name().to_string(),
        mode: opts.mode,
        start_seeds: starts,
        found: found_seeds.len() as u64,
        median_seeds: median(&mut found_seeds),
        median_wall_s: median(&mut found_walls),
        worst_wall_s: (starts > 0).then_some(worst),
        rule: most_common(&rules).unwrap_or_default(),
        origin: bug_table::entry(opts.bug).origin_label(),
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The rule that fired most often (the first such on ties).
fn most_common(rules: &[String]) -> Option<String> {
    let mut best: Option<(&String, usize)> = None;
    for r in rules {
        let n = rules.iter().filter(|x| *x == r).count();
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((r, n));
        }
    }
    best.map(|(r, _)| r.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blind_hunts_run_the_general_catalog_only() {
        let blind = scenarios_for(Bug::Etcd20418, HuntMode::Blind).expect("catalog");
        assert!(blind.len() > 20);
        assert!(blind.iter().all(|s| s.purpose.is_general()));
        for entry in bug_table::BUGS {
            for t in entry.triggers {
                let trigger = catalog::load(t).expect("trigger loads");
                assert_eq!(
                    blind.iter().any(|s| s.name == *t),
                    trigger.purpose.is_general(),
                    "{t}"
                );
            }
        }
        let triggered = scenarios_for(Bug::Etcd20418, HuntMode::Triggered).expect("catalog");
        assert_eq!(triggered.len(), 1);
    }

    #[test]
    fn medians_and_the_most_common_rule() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let rules = ["b", "a", "a", "b", "a"].map(String::from);
        assert_eq!(most_common(&rules).as_deref(), Some("a"));
        assert_eq!(most_common(&[]), None);
    }

    #[test]
    fn budgets_parse() {
        assert_eq!(parse_budget("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_budget("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_budget("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_budget("90"), Ok(Duration::from_secs(90)));
        assert!(parse_budget("soon").is_err());
        assert!(parse_budget("0s").is_err());
        assert!(parse_budget("5d").is_err());
        assert!(
            parse_budget("99999999999999999999999999h").is_err(),
            "a huge budget is an error, not a panic"
        );
        assert!(parse_budget("8761h").is_err());
        assert!(parse_budget("8760h").is_ok());
    }
}
