//! What the violations point at, gathered once for every part of the page:
//! the operations and watches each failed rule names, and the longest
//! linearizable prefix.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use checker::rules::LINEARIZABILITY;
use checker::{Report, Verdict, Violation};

#[derive(Debug, Default)]
pub(crate) struct Evidence {
    /// Operation id -> the rules whose violations name it.
    pub operations: BTreeMap<u64, BTreeSet<String>>,
    /// Watch id -> the rules whose violations name it.
    pub watches: BTreeMap<u64, BTreeSet<String>>,
    /// The longest linearizable prefix, when linearizability failed.
    pub prefix: Option<HashSet<u64>>,
    /// The operation the linearizability search could not place.
    pub stuck: Option<u64>,
}

impl Evidence {
    pub fn of(report: &Report) -> Self {
        let mut evidence = Evidence::default();
        for result in &report.results {
            let Verdict::Fail(v) = &result.verdict else {
                continue;
            };
            let rule = &result.property;
            evidence.name(rule, &v.operations, v.watch);
            for (ops, watch) in more_of(v) {
                evidence.name(rule, &ops, watch);
            }
            if rule == LINEARIZABILITY {
                evidence.prefix = Some(v.longest_prefix.iter().copied().collect());
                evidence.stuck = v.details.get("stuck_operation").and_then(|s| s.as_u64());
            }
        }
        evidence
    }

    fn name(&mut self, rule: &str, ops: &[u64], watch: Option<u64>) {
        for op in ops {
            self.operations
                .entry(*op)
                .or_default()
                .insert(rule.to_string());
        }
        if let Some(w) = watch {
            self.watches.entry(w).or_default().insert(rule.to_string());
        }
    }

    /// Whether the operation lies outside the longest linearizable prefix.
    pub fn after_prefix(&self, op: u64) -> bool {
        self.prefix.as_ref().is_some_and(|p| !p.contains(&op))
    }
}

/// The further violations a rule lists in `details.more`: (operations, watch).
pub(crate) fn more_of(v: &Violation) -> Vec<(Vec<u64>, Option<u64>)> {
    let Some(more) = v.details.get("more").and_then(|m| m.as_array()) else {
        return vec![];
    };
    more.iter()
        .map(|m| {
            let ops = m
                .get("operations")
                .and_then(|o| o.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
                .unwrap_or_default();
            let watch = m.get("watch").and_then(|w| w.as_u64());
            (ops, watch)
        })
        .collect()
}
