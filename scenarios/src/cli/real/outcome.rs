//! What one real run came to, and how it reads: the summary line (the
//! one `run --target etcd` and `soak --target etcd` print) and the failed
//! rules, each with the known etcd bug it points at, or unexplained.

use super::etcd::Etcd;
use super::job::Job;
use super::steps::StepNote;
use checker::history::{EndState, History};
use checker::report::{Overall, Report};
use scenarios::real::known::Explained;

/// One real run done.
pub(in crate::cli) struct RealRun<'e> {
    pub job: Job,
    pub etcd: &'e Etcd,
    /// The companion's time: cluster start, plan, stop.
    pub wall_ms: u64,
    pub outcome: Outcome,
    /// What the companion wrote (history, the members' etcd logs), kept
    /// until the run is reported; removed when the run is dropped.
    pub companion_out: tempfile::TempDir,
}

pub(in crate::cli) enum Outcome {
    /// The history, checked.
    Checked(Box<Checked>),
    /// The cluster failed (a member did not come back, no leader) before
    /// there was a history to check: the companion's message says how.
    /// Counted as a failed run.
    ClusterFailed(String),
}

pub(in crate::cli) struct Checked {
    pub history: History,
    pub end: EndState,
    pub report: Report,
    /// Each failed rule, with the known etcd bug its evidence points at.
    pub explained: Vec<(String, Option<Explained>)>,
    pub check_ms: u64,
}

impl RealRun<'_> {
    pub fn overall(&self) -> Overall {
        match &self.outcome {
            Outcome::Checked(c) => c.report.overall(),
            Outcome::ClusterFailed(_) => Overall::Fail,
        }
    }

    /// The old etcd, when this run's plan started a member with it.
    pub fn old_etcd(&self) -> Option<&Etcd> {
        self.etcd
            .old
            .as_deref()
            .filter(|_| self.job.plan.uses_old())
    }

    /// The run's one line: `seed=... scenario=... target=etcd verdict=...`.
    pub fn summary_line(&self) -> String {
        let (seed, scenario) = (self.job.seed, &self.job.scenario.name);
        let wall_ms = self.wall_ms;
        let c = match &self.outcome {
            Outcome::ClusterFailed(_) => {
                return format!(
                    "seed={seed} scenario={scenario} target=etcd verdict=fail cluster_failed wall_ms={wall_ms}"
                );
            }
            Outcome::Checked(c) => c,
        };
        let ops = &c.history.operations;
        let failed_ops = ops
            .iter()
            .filter(|o| !matches!(o.result, checker::history::OpResult::Ok(_)))
            .count();
        let mut line = format!(
            "seed={seed} scenario={scenario} target=etcd verdict={} ops={} failed_ops={} watches={} faults={} wall_ms={wall_ms} check_ms={}",
            c.report.overall().word(),
            ops.len(),
            failed_ops,
            c.history.watches.len(),
            c.history.annotations.len(),
            c.check_ms,
        );
        // The binaries the cluster ran: the old one only when the plan has it.
        line.push_str(&format!(" etcd={}", self.etcd.word()));
        if let Some(old) = self.old_etcd() {
            line.push_str(&format!(" etcd_old={}", old.word()));
        }
        if let Some(count) = self.job.plan.snapshot_count {
            line.push_str(&format!(" snapshot_count={count}"));
        }
        let not_applied = StepNote::all(&c.history).filter(|s| !s.applied).count();
        if not_applied > 0 {
            line.push_str(&format!(" not_applied={not_applied}"));
        }
        let failed = c.report.failed_rules();
        if !failed.is_empty() {
            line.push_str(&format!(" rules={}", failed.join(",")));
            // Which known etcd bug each failed rule's evidence points at
            // (`known=`), and the rules no known bug explains
            // (`unexplained=`): the ones to investigate.
            let mut known: Vec<&str> = c
                .explained
                .iter()
                .filter_map(|(_, e)| e.as_ref())
                .flat_map(|e| e.bugs.iter().copied())
                .collect();
            known.sort();
            known.dedup();
            if !known.is_empty() {
                line.push_str(&format!(" known={}", known.join(",")));
            }
            let unexplained: Vec<&str> = c
                .explained
                .iter()
                .filter(|(_, e)| e.is_none())
                .map(|(rule, _)| rule.as_str())
                .collect();
            if !unexplained.is_empty() {
                line.push_str(&format!(" unexplained={}", unexplained.join(",")));
            }
        }
        line
    }

    /// What to print: the summary line, then the cluster's failure or each
    /// failed rule's explanation, with what it is known as.
    pub fn printed(&self) -> String {
        let mut out = self.summary_line();
        let c = match &self.outcome {
            Outcome::ClusterFailed(message) => {
                out.push_str(&format!("\n  {message}"));
                return out;
            }
            Outcome::Checked(c) => c,
        };
        for r in &c.report.results {
            let checker::Verdict::Fail(v) = &r.verdict else {
                continue;
            };
            out.push_str(&format!("\n  {}: {}", r.property, v.explanation));
            let known = c
                .explained
                .iter()
                .find(|(rule, _)| *rule == r.property)
                .and_then(|(_, e)| e.as_ref());
            match known {
                Some(e) => {
                    out.push_str(&format!(" [known: {}: {}]", e.bugs.join(", "), e.evidence))
                }
                None => {
                    let alike = looks_like(v);
                    out.push_str(" [unexplained");
                    if !alike.is_empty() {
                        out.push_str(&format!("; its signature looks like {}", alike.join(", ")));
                    }
                    out.push(']');
                }
            }
        }
        out
    }
}

/// The catalogued bugs whose detecting run fails with this violation's
/// signature (rule, anomaly class, subject). A hint, not a diagnosis: two
/// bugs may share a signature, and one bug may break several rules.
fn looks_like(v: &checker::Violation) -> Vec<&'static str> {
    let signature = checker::Signature::of(v);
    scenarios::bug_table::known_signatures()
        .filter(|(_, s)| *s == signature)
        .map(|(bug, _)| bug.name())
        .collect()
}
