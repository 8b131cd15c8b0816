//! The explorer's corpus: every run that showed a feature no earlier run
//! had, kept with its scenario and seed, and how many runs reached each
//! feature. Entries whose features few runs reach are picked more often
//! (rarity), and an entry picked many times less so, as AFL-fast's
//! schedules spend energy: the runs go where the store was seen least.

use super::feature::Feature;
use crate::schema::Scenario;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// A run kept for what it reached first.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The explorer's run number that made it.
    pub run: u64,
    pub scenario: Scenario,
    pub seed: u64,
    pub features: BTreeSet<Feature>,
    /// How many features it reached first.
    pub new_features: usize,
    /// How often a candidate was made from it.
    pub picked: u64,
    /// What its run cost, in client operations (deterministic, unlike
    /// wall time: the simulation and the checker scale with it).
    pub cost: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Corpus {
    entries: Vec<Entry>,
    /// Sum of the entries' costs (for their mean).
    total_cost: u64,
    /// Feature -> runs that reached it (every merged run counts).
    seen: BTreeMap<Feature, u64>,
    runs: u64,
}

/// What merging one run changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Features no earlier run reached.
    pub new_features: Vec<Feature>,
    /// Whether the run joined the corpus (it had a new feature).
    pub kept: bool,
}

impl Corpus {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Distinct features reached by any merged run.
    pub fn features_seen(&self) -> usize {
        self.seen.len()
    }

    pub fn seen(&self) -> &BTreeMap<Feature, u64> {
        &self.seen
    }

    /// Runs merged so far.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Counts the run's features; keeps it when one is new.
    pub fn merge(
        &mut self,
        run: u64,
        scenario: &Scenario,
        seed: u64,
        features: BTreeSet<Feature>,
        cost: u64,
    ) -> Merged {
        self.runs += 1;
        let mut new_features = Vec::new();
        for f in &features {
            let n = self.seen.entry(f.clone()).or_insert(0);
            if *n == 0 {
                new_features.push(f.clone());
            }
            *n += 1;
        }
        let kept = !new_features.is_empty();
        if kept {
            self.entries.push(Entry {
                run,
                scenario: scenario.clone(),
                seed,
                features,
                new_features: new_features.len(),
                picked: 0,
                cost,
            });
            self.total_cost += cost;
        }
        Merged { new_features, kept }
    }

    /// An entry's energy: the sum over its features of one over how many
    /// runs reached each (a feature only it reached weighs 1), divided by
    /// the square root of how often it was picked already, and scaled by
    /// how cheap it is next to the mean entry (within 1/4 to 4: a run
    /// twice as cheap is worth twice the runs, as AFL favours fast inputs).
    fn energy(&self, e: &Entry) -> f64 {
        let rarity: f64 = e
            .features
            .iter()
            .map(|f| 1.0 / self.seen.get(f).copied().unwrap_or(1).max(1) as f64)
            .sum();
        let mean_cost = self.total_cost as f64 / self.entries.len().max(1) as f64;
        let cheapness = (mean_cost.max(1.0) / e.cost.max(1) as f64).clamp(0.25, 4.0);
        rarity / ((1 + e.picked) as f64).sqrt() * cheapness
    }

    /// Picks an entry by energy and counts the pick; None when empty.
    pub fn pick(&mut self, rng: &mut ChaCha8Rng) -> Option<usize> {
        let energies: Vec<f64> = self.entries.iter().map(|e| self.energy(e)).collect();
        let total: f64 = energies.iter().sum();
        if self.entries.is_empty() || total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut left = rng.gen_range(0.0..total);
        let mut chosen = energies.len() - 1;
        for (i, e) in energies.iter().enumerate() {
            if left < *e {
                chosen = i;
                break;
            }
            left -= e;
        }
        self.entries[chosen].picked += 1;
        Some(chosen)
    }

    /// Any entry, uniformly (a splice's donor).
    pub fn any(&self, rng: &mut ChaCha8Rng) -> Option<&Entry> {
        (!self.entries.is_empty()).then(|| &self.entries[rng.gen_range(0..self.entries.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node::coverage::Point;
    use rand::SeedableRng;

    fn scenario() -> Scenario {
        toml::from_str("name = \"s\"").expect("minimal scenario")
    }

    fn features(points: &[Point]) -> BTreeSet<Feature> {
        points.iter().map(|p| Feature::Point(*p, 1)).collect()
    }

    #[test]
    fn a_run_joins_only_with_a_new_feature() {
        let mut c = Corpus::default();
        let s = scenario();
        let a = c.merge(0, &s, 1, features(&[Point::WatchVictim]), 100);
        assert!(a.kept && a.new_features.len() == 1);
        let b = c.merge(1, &s, 2, features(&[Point::WatchVictim]), 100);
        assert!(!b.kept && b.new_features.is_empty());
        let d = c.merge(
            2,
            &s,
            3,
            features(&[Point::WatchVictim, Point::SnapshotSent]),
            100,
        );
        assert_eq!(d.new_features, vec![Feature::Point(Point::SnapshotSent, 1)]);
        assert_eq!(c.entries().len(), 2);
        assert_eq!(c.features_seen(), 2);
        assert_eq!(c.runs(), 3);
        assert_eq!(c.seen()[&Feature::Point(Point::WatchVictim, 1)], 3);
    }

    #[test]
    fn rare_features_draw_more_picks_and_picks_wear_off() {
        let mut c = Corpus::default();
        let s = scenario();
        // Entry 0 reached only a common point; entry 1 also a rare one.
        c.merge(0, &s, 1, features(&[Point::WatchVictim]), 100);
        for run in 1..20 {
            c.merge(run, &s, run, features(&[Point::WatchVictim]), 100);
        }
        c.merge(
            20,
            &s,
            20,
            features(&[Point::WatchVictim, Point::SnapshotSent]),
            100,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let picks: Vec<usize> = (0..200).filter_map(|_| c.pick(&mut rng)).collect();
        let rare = picks.iter().filter(|&&i| i == 1).count();
        assert!(rare > 120, "the rare entry was picked {rare} of 200 times");
        assert!(rare < 200, "picks wear off: the common entry gets some");
        assert_eq!(c.entries()[1].picked as usize, rare);
    }

    #[test]
    fn a_cheaper_entry_with_the_same_rarity_is_picked_more() {
        let mut c = Corpus::default();
        let s = scenario();
        c.merge(0, &s, 1, features(&[Point::WatchVictim]), 1000);
        c.merge(1, &s, 2, features(&[Point::SnapshotSent]), 100);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let cheap = (0..100)
            .filter_map(|_| c.pick(&mut rng))
            .filter(|&i| i == 1)
            .count();
        assert!(
            cheap > 70,
            "the cheap entry was picked {cheap} of 100 times"
        );
    }

    #[test]
    fn an_empty_corpus_picks_nothing() {
        let mut c = Corpus::default();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        assert_eq!(c.pick(&mut rng), None);
        assert!(c.any(&mut rng).is_none());
    }
}
