//! `faultline explore`: a coverage-guided campaign. Random seeds over a
//! fixed catalog find what the catalog's authors imagined; the explorer
//! keeps the runs that reached a coverage point, a failpoint site or a
//! (point, active fault) pair no earlier run reached, and makes its next
//! runs by mutating those (`mutate`), favouring the ones whose features
//! few runs reach (`corpus`).
//!
//! Determinism: candidate `i` is drawn from its own stream
//! (`seeds::explorer`) and from the corpus as it stood once runs
//! `0..=i-WINDOW` were merged, merged in run order. So the same seed and
//! `--runs` give the same candidates, the same corpus and the same log
//! however many jobs run them and in whatever order they finish.
//!
//! The first runs are the general catalog, each scenario once with the
//! knobs and faults its seed draws written out (`shrink::materialize`)
//! and its timeline compressed to a third (`timescale`): a scouting pass
//! that meets every scenario's faults at a third of the cost. After that
//! one candidate in ten is a fresh catalog run as written (so the
//! explorer never sees less of the catalog than it would have) and the
//! rest are mutants of corpus entries.

pub mod campaign;
pub mod corpus;
pub mod drive;
pub mod feature;
pub mod mutate;
pub mod timescale;

use crate::schema::Scenario;
use crate::seeds;
use crate::shrink;
use corpus::{Corpus, Merged};
use feature::Feature;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How far behind its own number a candidate's view of the corpus is:
/// candidate `i` sees runs `0..=i-WINDOW`. Jobs up to this many keep busy
/// while the corpus stays deterministic.
pub const WINDOW: u64 = 8;

/// Share of candidates after the first catalog pass that are fresh catalog
/// runs instead of mutants.
const FRESH: f64 = 0.1;

/// Mutations stacked on one candidate, at most.
const MAX_MUTATIONS: usize = 4;

/// One run the explorer asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Its number in this shard's sequence.
    pub run: u64,
    /// The scenario as it runs: knobs and swarm faults drawn already, so
    /// the scenario text plus the seed is the whole repro.
    pub scenario: Scenario,
    pub seed: u64,
    /// The run number of the corpus entry it was made from.
    pub parent: Option<u64>,
    /// What was changed, one line each (empty for a catalog run).
    pub mutations: Vec<String>,
}

/// What a finished run tells the explorer.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub features: BTreeSet<Feature>,
    /// Client operations the run made (its cost; see `corpus::Entry`).
    pub cost: u64,
}

impl Outcome {
    pub fn of_run(result: &crate::engine::RunResult) -> Outcome {
        Outcome {
            features: feature::of_run(result),
            cost: result.stats.ops as u64,
        }
    }
}

/// A run merged into the corpus, in run order.
#[derive(Debug, Clone)]
pub struct MergedRun {
    pub candidate: Candidate,
    pub merged: Merged,
    /// Corpus entries and distinct features after this run.
    pub corpus_size: usize,
    pub features_seen: usize,
}

/// The explorer's state: the corpus, the candidates made and not yet
/// merged, and the outcomes waiting for an earlier run to merge first.
pub struct Explorer {
    seed: u64,
    shard: u64,
    bases: Vec<Scenario>,
    limit: Option<u64>,
    corpus: Corpus,
    /// Candidates made, not yet handed out (lowest run first).
    ready: VecDeque<Candidate>,
    /// Handed out, not yet merged.
    out: BTreeMap<u64, Candidate>,
    /// Finished, waiting for every earlier run to merge.
    done: BTreeMap<u64, Outcome>,
    /// The next run to make and the next to merge.
    next_made: u64,
    next_merged: u64,
}

impl Explorer {
    /// An explorer over `bases` (the general catalog, or the scenarios
    /// asked for), drawing from `seed` for shard `shard`, making at most
    /// `limit` runs.
    pub fn new(seed: u64, shard: u64, bases: Vec<Scenario>, limit: Option<u64>) -> Explorer {
        let mut explorer = Explorer {
            seed,
            shard,
            bases,
            limit,
            corpus: Corpus::default(),
            ready: VecDeque::new(),
            out: BTreeMap::new(),
            done: BTreeMap::new(),
            next_made: 0,
            next_merged: 0,
        };
        for _ in 0..WINDOW {
            explorer.make_next();
        }
        explorer
    }

    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    /// The next candidate to run, if one can be made now. None with runs
    /// [`Explorer::in_flight`] means "wait for one to finish".
    pub fn hand_out(&mut self) -> Option<Candidate> {
        let c = self.ready.pop_front()?;
        self.out.insert(c.run, c.clone());
        Some(c)
    }

    /// Runs handed out and not merged yet.
    pub fn in_flight(&self) -> usize {
        self.out.len()
    }

    /// Whether every run the limit allows was made and merged.
    pub fn finished(&self) -> bool {
        self.ready.is_empty() && self.out.is_empty()
    }

    /// Takes run `run`'s outcome; merges every run now complete in order
    /// and returns them (possibly none, possibly several).
    pub fn complete(&mut self, run: u64, outcome: Outcome) -> Vec<MergedRun> {
        self.done.insert(run, outcome);
        let mut merged = Vec::new();
        while let Some(outcome) = self.done.remove(&self.next_merged) {
            let Some(candidate) = self.out.remove(&self.next_merged) else {
                break;
            };
            let m = self.corpus.merge(
                candidate.run,
                &candidate.scenario,
                candidate.seed,
                outcome.features,
                outcome.cost,
            );
            self.next_merged += 1;
            merged.push(MergedRun {
                candidate,
                merged: m,
                corpus_size: self.corpus.entries().len(),
                features_seen: self.corpus.features_seen(),
            });
            // The corpus now holds runs 0..next_merged: the candidate
            // WINDOW further on may be made.
            self.make_next();
        }
        merged
    }

    fn make_next(&mut self) {
        if self.limit.is_some_and(|n| self.next_made >= n) {
            return;
        }
        let c = self.make(self.next_made);
        self.ready.push_back(c);
        self.next_made += 1;
    }

    /// Candidate `run`: a catalog scenario during the first pass (its
    /// timeline compressed, `timescale::scout`) and for one in ten after
    /// (as written), else a mutant of a corpus entry.
    fn make(&mut self, run: u64) -> Candidate {
        let mut rng = seeds::explorer(self.seed, self.shard, run);
        let seed: u64 = rng.r#gen();
        let n = self.bases.len().max(1) as u64;
        let first_pass = run < n;
        if first_pass || self.corpus.entries().is_empty() || rng.gen_bool(FRESH) {
            let base = if first_pass {
                (run % n) as usize
            } else {
                rng.gen_range(0..n as usize)
            };
            let mut scenario = shrink::materialize(&self.bases[base], seed);
            let mutations = if first_pass {
                timescale::scout(&mut scenario).into_iter().collect()
            } else {
                Vec::new()
            };
            return Candidate {
                run,
                scenario,
                seed,
                parent: None,
                mutations,
            };
        }
        self.mutant(run, seed, &mut rng)
    }

    fn mutant(&mut self, run: u64, seed: u64, rng: &mut ChaCha8Rng) -> Candidate {
        let picked = self.corpus.pick(rng).unwrap_or(0);
        let parent = &self.corpus.entries()[picked];
        let (parent_run, mut scenario) = (parent.run, parent.scenario.clone());
        let mut mutations = Vec::new();
        let mut stack = 1;
        while stack < MAX_MUTATIONS && rng.gen_bool(0.5) {
            stack += 1;
        }
        for _ in 0..stack {
            let donor = self.corpus.any(rng).map(|e| e.scenario.clone());
            if let Some(what) = mutate::mutate(rng, &mut scenario, donor.as_ref()) {
                mutations.push(what);
            }
        }
        Candidate {
            run,
            scenario,
            seed,
            parent: Some(parent_run),
            mutations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node::coverage::Point;

    fn bases() -> Vec<Scenario> {
        crate::catalog::general().into_iter().take(3).collect()
    }

    /// A stand-in for running a candidate: features that depend on the
    /// candidate only (how many faults, which kinds), as a run's would.
    fn fake_run(c: &Candidate) -> Outcome {
        let mut features = BTreeSet::new();
        let points = Point::ALL;
        features.insert(Feature::Point(
            points[c.scenario.faults.len() % points.len()],
            1,
        ));
        for f in &c.scenario.faults {
            if let Ok(kind) = f.kind.parse() {
                features.insert(Feature::PointUnder(Point::WatchVictim, kind));
            }
        }
        Outcome {
            features,
            cost: 100 + c.scenario.faults.len() as u64,
        }
    }

    /// Drives an explorer to its limit, finishing runs in the order
    /// `order` picks among those in flight.
    fn drive(limit: u64, order: impl Fn(usize) -> usize) -> Vec<(u64, Candidate, bool)> {
        let mut e = Explorer::new(42, 0, bases(), Some(limit));
        let mut flying: Vec<Candidate> = Vec::new();
        let mut log = Vec::new();
        while !e.finished() {
            while flying.len() < 3
                && let Some(c) = e.hand_out()
            {
                flying.push(c);
            }
            let c = flying.remove(order(flying.len()) % flying.len());
            let outcome = fake_run(&c);
            for m in e.complete(c.run, outcome) {
                log.push((m.candidate.run, m.candidate, m.merged.kept));
            }
        }
        log
    }

    #[test]
    fn the_same_seed_makes_the_same_runs_whatever_order_they_finish_in() {
        let in_order = drive(60, |_| 0);
        let last_first = drive(60, |n| n - 1);
        assert_eq!(in_order.len(), 60);
        assert_eq!(in_order, last_first);
        let runs: Vec<u64> = in_order.iter().map(|(r, _, _)| *r).collect();
        assert_eq!(runs, (0..60).collect::<Vec<_>>(), "merged in run order");
    }

    #[test]
    fn the_first_pass_is_the_catalog_then_mutants_of_the_corpus() {
        let log = drive(40, |_| 0);
        let names: Vec<&str> = log[..3]
            .iter()
            .map(|(_, c, _)| c.scenario.name.as_str())
            .collect();
        let written: Vec<String> = bases().into_iter().map(|s| s.name).collect();
        assert_eq!(names, written);
        assert!(log[..3].iter().all(|(_, c, _)| c.parent.is_none()));
        // Scouted: each as its seed draws it, a third as long.
        for ((_, c, _), base) in log[..3].iter().zip(bases()) {
            let written = shrink::materialize(&base, c.seed);
            assert!(timescale::rescalable(&written), "{}", base.name);
            let third = written.duration_s * timescale::SCOUT;
            assert!(
                (c.scenario.duration_s - third).abs() < 0.01,
                "{}: {} s, written {} s",
                base.name,
                c.scenario.duration_s,
                written.duration_s
            );
            assert_eq!(c.mutations.len(), 1, "{:?}", c.mutations);
        }
        assert!(
            log[3..]
                .iter()
                .filter(|(_, c, _)| c.parent.is_none())
                .all(|(_, c, _)| c.mutations.is_empty()),
            "a fresh catalog run after the first pass runs as written"
        );
        let mutants = log.iter().filter(|(_, c, _)| c.parent.is_some()).count();
        assert!(mutants > 25, "{mutants} mutants in 40 runs");
        for (_, c, _) in &log {
            crate::catalog::validate(&c.scenario).expect("candidates are valid scenarios");
            assert!(c.scenario.swarm.is_none() && !c.scenario.cluster.draw_knobs);
            if let Some(p) = c.parent {
                assert!(
                    p < c.run.saturating_sub(WINDOW - 1),
                    "run {} saw run {p}",
                    c.run
                );
            }
        }
    }

    #[test]
    fn a_limit_stops_making_runs() {
        let mut e = Explorer::new(1, 0, bases(), Some(2));
        let a = e.hand_out().expect("run 0");
        let b = e.hand_out().expect("run 1");
        assert!(e.hand_out().is_none());
        assert!(!e.finished());
        assert!(
            e.complete(1, fake_run(&b)).is_empty(),
            "run 1 waits for run 0"
        );
        assert_eq!(e.complete(0, fake_run(&a)).len(), 2);
        assert!(e.finished());
    }

    #[test]
    fn a_candidate_is_its_own_repro_text() {
        let mut e = Explorer::new(5, 0, crate::catalog::general(), Some(60));
        let mut n = 0;
        while let Some(c) = e.hand_out() {
            let text = crate::artefacts::scenario_toml(&c.scenario);
            let back = crate::catalog::parse("candidate.toml", &text).expect("reads back");
            assert_eq!(
                crate::swarm::variant(&back, c.seed),
                c.scenario,
                "run {}",
                c.run
            );
            e.complete(c.run, fake_run(&c));
            n += 1;
        }
        assert_eq!(n, 60);
    }
}
