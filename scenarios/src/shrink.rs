//! Shrinking a failing run to its core: deterministic delta debugging of
//! the fault plan (drop faults, shorten them, move them earlier), the
//! traffic (fewer profiles and clients, lower rates, a shorter run) and the
//! store knobs, keeping a change only if the same rule still fails (or,
//! through [`shrink_problem`], the same problem: a violation with the same
//! signature, so a dashboard's shrunk repro shows the problem of its row).
//!
//! Any change to a scenario reshuffles the whole simulated schedule, so a
//! candidate that keeps the bug's trigger can still miss the unlucky
//! interleaving on one seed. Each candidate is therefore tried on a few
//! seeds (the current one first, then the next ones), and the minimal
//! repro records the seed that failed. Everything stays deterministic: the
//! same input shrinks to the same repro.

use crate::engine::{self, RunOptions};
use crate::schema::Scenario;
use crate::swarm;
use checker::Signature;
use node::config::StoreKnobs;

/// Seeds tried per candidate before it counts as passing.
pub const SEEDS_PER_CANDIDATE: u64 = 6;

#[derive(Debug, Clone)]
pub struct ShrinkOutcome {
    pub original: Scenario,
    pub shrunk: Scenario,
    /// The seed the original failed with.
    pub original_seed: u64,
    /// The seed the minimal scenario fails with.
    pub seed: u64,
    pub rule: String,
    pub original_ops: usize,
    pub shrunk_ops: usize,
    pub runs: usize,
    pub trace_hash: String,
}

/// The scenario as the seed ran it, with swarm mode's draw written out so
/// that steps can be removed one by one.
pub fn materialize(scenario: &Scenario, seed: u64) -> Scenario {
    let mut s = swarm::variant(scenario, seed);
    s.swarm = None;
    // The knobs the seed drew are written out, not drawn again per seed.
    s.cluster.draw_knobs = false;
    s.cluster.pinned_knobs = crate::knobs::DrawnKnob::ALL.into_iter().collect();
    s
}

/// What a candidate must still fail with to be kept.
enum Keep {
    Rule(String),
    Problem(Signature),
}

impl Keep {
    fn fails(&self, r: &engine::RunResult) -> bool {
        match self {
            Keep::Rule(rule) => r.failed_rules().contains(rule),
            Keep::Problem(signature) => r
                .report
                .results
                .iter()
                .filter_map(|p| p.verdict.violation())
                .any(|v| Signature::of(v) == *signature),
        }
    }
}

struct Shrinker<'a> {
    opts: &'a RunOptions,
    keep: Keep,
    runs: usize,
    max_runs: usize,
    seed: u64,
    best_ops: usize,
    best_hash: String,
}

impl Shrinker<'_> {
    fn budget_left(&self) -> bool {
        self.runs < self.max_runs
    }

    /// True (and the seed, ops and hash remembered) if the candidate still
    /// fails the rule on the current seed or one of the next few.
    fn keeps_failing(&mut self, candidate: &Scenario) -> bool {
        if crate::catalog::validate(candidate).is_err() {
            return false;
        }
        for offset in 0..SEEDS_PER_CANDIDATE {
            if !self.budget_left() {
                return false;
            }
            let seed = self.seed.wrapping_add(offset);
            self.runs += 1;
            let r = engine::run(candidate, seed, self.opts);
            if self.keep.fails(&r) {
                self.seed = seed;
                self.best_ops = r.stats.ops;
                self.best_hash = r.trace_hash;
                return true;
            }
        }
        false
    }

    /// Takes the first candidate (in the order given: most reduced first)
    /// that still fails.
    fn first_failing(&mut self, s: &mut Scenario, candidates: Vec<Scenario>) -> bool {
        for candidate in candidates {
            if candidate == *s {
                continue;
            }
            if self.keeps_failing(&candidate) {
                *s = candidate;
                return true;
            }
        }
        false
    }

    /// ddmin over the fault steps: drop chunks of decreasing size.
    fn drop_faults(&mut self, s: &mut Scenario) {
        let mut chunk = s.faults.len().div_ceil(2).max(1);
        while !s.faults.is_empty() && self.budget_left() {
            let mut i = 0;
            let mut changed = false;
            while i < s.faults.len() {
                let mut candidate = s.clone();
                let end = (i + chunk).min(candidate.faults.len());
                candidate.faults.drain(i..end);
                if self.keeps_failing(&candidate) {
                    *s = candidate;
                    changed = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 && !changed {
                break;
            }
            if !changed {
                chunk = (chunk / 2).max(1);
            }
        }
    }

    /// Shortens each fault (duration, restart delay) and moves it earlier.
    fn tighten_faults(&mut self, s: &mut Scenario) {
        for i in 0..s.faults.len() {
            let f = &s.faults[i];
            let mut candidates = Vec::new();
            for factor in [0.25, 0.5] {
                let mut c = s.clone();
                let g = &mut c.faults[i];
                let mut changed = false;
                if let Some(d) = f.duration_s.filter(|d| *d > 0.2) {
                    g.duration_s = Some(round(d * factor));
                    changed = true;
                }
                if let Some(d) = f.restart_after_s.filter(|d| *d > 0.2) {
                    g.restart_after_s = Some(round(d * factor));
                    changed = true;
                }
                if changed {
                    candidates.push(c);
                }
            }
            self.first_failing(s, candidates);
            let f = &s.faults[i];
            let mut earlier = Vec::new();
            if let Some(at) = f.at_s.filter(|a| *a > 1.0) {
                for factor in [0.25, 0.5, 0.75] {
                    let mut c = s.clone();
                    c.faults[i].at_s = Some(round((at * factor).max(0.5)));
                    earlier.push(c);
                }
            }
            self.first_failing(s, earlier);
        }
    }

    /// The latest moment the fault plan still acts (start plus duration).
    fn plan_end(s: &Scenario) -> f64 {
        s.faults
            .iter()
            .filter_map(|f| {
                f.at_s.map(|a| {
                    a + f
                        .duration_s
                        .unwrap_or(0.0)
                        .max(f.restart_after_s.unwrap_or(0.0))
                })
            })
            .fold(0.0_f64, f64::max)
    }

    fn shorten_run(&mut self, s: &mut Scenario) {
        let floor = Self::plan_end(s) + 0.5;
        let d = s.duration_s;
        let candidates = [floor, floor + 1.0, floor + 2.0, d * 0.5, d * 0.75]
            .into_iter()
            .map(|x| round(x.max(1.0)))
            .filter(|x| *x < d - 0.1)
            .map(|x| {
                let mut c = s.clone();
                c.duration_s = x;
                // Traffic that outlives the run is cut with it.
                for t in &mut c.traffic {
                    if t.until_s.is_some_and(|u| u > x) {
                        t.until_s = Some(x);
                    }
                }
                c
            })
            .collect();
        self.first_failing(s, candidates);
    }

    fn shrink_traffic(&mut self, s: &mut Scenario) {
        // Whole traffic profiles first (keep at least one).
        let mut i = 0;
        while s.traffic.len() > 1 && i < s.traffic.len() && self.budget_left() {
            let mut candidate = s.clone();
            candidate.traffic.remove(i);
            if !self.keeps_failing(&candidate) {
                i += 1;
            } else {
                *s = candidate;
            }
        }
        for i in 0..s.traffic.len() {
            let clients = s.traffic[i].clients;
            let mut fewer: Vec<usize> = [1, 2, clients / 4, clients / 2]
                .into_iter()
                .filter(|c| *c >= 1 && *c < clients)
                .collect();
            fewer.dedup();
            let candidates = fewer
                .into_iter()
                .map(|n| {
                    let mut c = s.clone();
                    c.traffic[i].clients = n;
                    c
                })
                .collect();
            self.first_failing(s, candidates);
            let rate = s.traffic[i].rate;
            let candidates = [rate / 8.0, rate / 4.0, rate / 2.0]
                .into_iter()
                .filter(|r| *r >= 1.0)
                .map(|r| {
                    let mut c = s.clone();
                    c.traffic[i].rate = round(r);
                    c
                })
                .collect();
            self.first_failing(s, candidates);
        }
    }

    /// Puts store knobs back to their defaults where that keeps the failure.
    fn default_knobs(&mut self, s: &mut Scenario) {
        let defaults = StoreKnobs::default();
        if s.cluster.knobs == defaults {
            return;
        }
        let mut candidate = s.clone();
        candidate.cluster.knobs = defaults;
        self.first_failing(s, vec![candidate]);
    }
}

/// Two decimals: shrunk scenarios stay readable.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Shrinks a failing run. `max_runs` bounds the work. Returns None when
/// the scenario does not fail with this seed in the first place.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    opts: &RunOptions,
    max_runs: usize,
) -> Option<ShrinkOutcome> {
    shrink_keeping(scenario, seed, opts, max_runs, None)
}

/// Shrinks a failing run, keeping a change only if a violation with this
/// signature is still there. Returns None when the run does not show it.
pub fn shrink_problem(
    scenario: &Scenario,
    seed: u64,
    opts: &RunOptions,
    max_runs: usize,
    signature: &Signature,
) -> Option<ShrinkOutcome> {
    shrink_keeping(scenario, seed, opts, max_runs, Some(signature))
}

fn shrink_keeping(
    scenario: &Scenario,
    seed: u64,
    opts: &RunOptions,
    max_runs: usize,
    problem: Option<&Signature>,
) -> Option<ShrinkOutcome> {
    let original = materialize(scenario, seed);
    let first = engine::run(&original, seed, opts);
    let (keep, rule) = match problem {
        Some(signature) => (Keep::Problem(signature.clone()), signature.rule.to_string()),
        None => {
            let rule = first.failed_rules().into_iter().next()?;
            (Keep::Rule(rule.clone()), rule)
        }
    };
    if !keep.fails(&first) {
        return None;
    }
    let mut shrinker = Shrinker {
        opts,
        keep,
        runs: 1,
        max_runs,
        seed,
        best_ops: first.stats.ops,
        best_hash: first.trace_hash.clone(),
    };
    let mut s = original.clone();
    // Repeat the passes until none of them changes anything.
    loop {
        let before = s.clone();
        shrinker.drop_faults(&mut s);
        shrinker.shorten_run(&mut s);
        shrinker.shrink_traffic(&mut s);
        shrinker.tighten_faults(&mut s);
        shrinker.shorten_run(&mut s);
        shrinker.default_knobs(&mut s);
        if s == before || !shrinker.budget_left() {
            break;
        }
    }
    s.name = format!("{}-shrunk", original.name);
    Some(ShrinkOutcome {
        original,
        shrunk: s,
        original_seed: seed,
        seed: shrinker.seed,
        rule,
        original_ops: first.stats.ops,
        shrunk_ops: shrinker.best_ops,
        runs: shrinker.runs,
        trace_hash: shrinker.best_hash,
    })
}
