//! Verdicts: one result per property, each a pass, a violation with its
//! evidence, or "unknown" with the reason. Serializable so reports can embed them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::anomaly::Anomaly;
use crate::signature::Subject;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub results: Vec<PropertyResult>,
    /// How the linearizability search went (absent when it did not run).
    pub stats: Option<SearchSummary>,
    /// How the client requests fared, per kind and away from faults
    /// (absent when the history was not checked).
    pub requests: Option<RequestTally>,
}

/// How the client requests of one run fared.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestTally {
    /// Per request kind ("range", "txn", ...), in name order.
    pub kinds: std::collections::BTreeMap<String, KindTally>,
    /// Requests in flight (from call to return) while no fault was active
    /// nor had healed within the settle time before, past the run's start.
    pub fault_free: usize,
    /// Of those, the ones that failed without an answer that explains
    /// itself (an unspecific error, or no answer at all).
    pub fault_free_failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KindTally {
    pub sent: usize,
    pub ok: usize,
    /// Definite errors the request or the store's state may justify.
    pub refused: usize,
    /// Definite errors that say nothing (no leader, too many requests, ...).
    pub failed: usize,
    pub unknown: usize,
    pub fault_free: usize,
    /// Fault-free requests answered with a success or a refusal.
    pub fault_free_answered: usize,
}

impl RequestTally {
    /// "3/120": fault-free requests that failed, of all fault-free ones.
    pub fn fault_free_failed_ratio(&self) -> String {
        format!("{}/{}", self.fault_free_failed, self.fault_free)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyResult {
    /// A rule name from [`crate::rules::RULES`], e.g. "watch.reliable".
    pub property: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail(Violation),
    /// The check could not decide (time limit, memory bound, missing input).
    Unknown(String),
}

/// Evidence for a broken rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Violation {
    pub rule: String,
    /// One or two sentences for humans.
    pub explanation: String,
    /// Ids of the operations involved.
    pub operations: Vec<u64>,
    /// The watch involved, if any.
    pub watch: Option<u64>,
    /// Ids of the longest linearizable prefix, where relevant.
    pub longest_prefix: Vec<u64>,
    /// Rule-specific evidence (revisions, expected and observed events, ...).
    pub details: serde_json::Value,
    /// The anomaly class the evidence shows; absent in reports written
    /// before classes existed ([`Violation::anomaly`] then gives the rule's
    /// fallback class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<Anomaly>,
    /// What the violation is about, without keys and values (its signature's subject).
    #[serde(skip_serializing_if = "Subject::is_empty")]
    pub subject: Subject,
    /// When it happened (ns since the run began), for a violation the store
    /// reports itself at a moment (a broken invariant, a member exit); the
    /// others are placed by their operations and watch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
}

impl Violation {
    /// The class: the one the checker found, else the rule's fallback.
    pub fn anomaly(&self) -> Anomaly {
        self.class.unwrap_or_else(|| Anomaly::fallback(&self.rule))
    }

    /// The same violation with its class set from finer evidence.
    pub fn classed(mut self, class: Anomaly) -> Self {
        self.class = Some(class);
        self
    }

    /// The same violation, about a request of this kind: only where the
    /// kind is what the problem is about (a refusal, a kind never
    /// answered), not the read that happened to show an anomaly.
    pub fn about_request(mut self, kind: &'static str) -> Self {
        self.subject.request = Some(Cow::Borrowed(kind));
        self
    }

    /// The same violation, at this site (an invariant or an exit's error).
    pub fn at_site(mut self, site: impl Into<Cow<'static, str>>) -> Self {
        self.subject.site = Some(site.into());
        self
    }
}

/// Counters of the linearizability search, for reports and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchSummary {
    pub operations: usize,
    pub partitions: usize,
    pub elapsed_ms: f64,
    pub iterations: u64,
    pub backtracks: u64,
    pub cache_entries: usize,
    pub peak_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Pass,
    Fail,
    Unknown,
}

impl Overall {
    /// The word results files and summaries use: `pass`, `fail`, `unknown`.
    pub fn word(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Fail => "fail",
            Overall::Unknown => "unknown",
        }
    }

    /// The verdict a word of [`Overall::word`] names.
    pub fn from_word(word: &str) -> Option<Overall> {
        [Overall::Pass, Overall::Fail, Overall::Unknown]
            .into_iter()
            .find(|o| o.word() == word)
    }

    /// The command's exit code: 0 pass, 1 violation, 3 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Overall::Pass => 0,
            Overall::Fail => 1,
            Overall::Unknown => 3,
        }
    }
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Verdict::Fail(v) => Some(v),
            _ => None,
        }
    }
}

impl Report {
    /// Fail if any property failed, else unknown if any was undecided, else pass.
    pub fn overall(&self) -> Overall {
        if self
            .results
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Fail(_)))
        {
            Overall::Fail
        } else if self
            .results
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Unknown(_)))
        {
            Overall::Unknown
        } else {
            Overall::Pass
        }
    }

    /// Names of the properties that failed, in report order.
    pub fn failed_rules(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail(_)))
            .map(|r| r.property.as_str())
            .collect()
    }

    pub fn result(&self, property: &str) -> Option<&PropertyResult> {
        self.results.iter().find(|r| r.property == property)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_prefers_failure_over_unknown() {
        let mut report = Report {
            results: vec![
                PropertyResult {
                    property: "a".into(),
                    verdict: Verdict::Pass,
                },
                PropertyResult {
                    property: "b".into(),
                    verdict: Verdict::Unknown("timeout".into()),
                },
            ],
            stats: None,
            requests: None,
        };
        assert_eq!(report.overall(), Overall::Unknown);
        report.results.push(PropertyResult {
            property: "c".into(),
            verdict: Verdict::Fail(Violation::default()),
        });
        assert_eq!(report.overall(), Overall::Fail);
        assert_eq!(report.failed_rules(), vec!["c"]);
        assert_eq!(report.overall().exit_code(), 1);
        let json = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
