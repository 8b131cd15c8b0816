//! `report.json`: the checker's report with the run's summary line and
//! replay command, plus a short index of the violations that the
//! dashboard reads instead of the whole history.

use std::path::Path;

use checker::history::History;
use checker::{Report, Signature, Verdict};
use serde::{Deserialize, Serialize};

use crate::describe;
use crate::error::{ReportsError, Result, json_message};

pub const RECORD_FORMAT: &str = "faultline-run-report";
pub const RECORD_VERSION: u32 = 1;

/// The content of `report.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always `faultline-run-report`.
    pub format: String,
    pub version: u32,
    /// The one-line run summary (`seed=7 scenario=default verdict=fail ...`).
    pub summary_line: String,
    /// The exact command that replays the run.
    pub replay_command: String,
    pub report: Report,
    /// One entry per failed property, in report order.
    #[serde(default)]
    pub violations: Vec<ViolationIndex>,
}

/// A failed property as the dashboard groups it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ViolationIndex {
    pub rule: String,
    pub explanation: String,
    /// See [`describe::first_difference`]: `put /a`, `watch /pods/*` or `-`.
    pub first_difference: String,
    /// The problem this violation is an instance of (absent in records
    /// written before signatures: [`ViolationIndex::signature`] then
    /// rebuilds it from the report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// The kinds of the faults on while its evidence happened
    /// ([`checker::active_faults`]); absent in records written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults_active: Option<Vec<String>>,
}

impl RunRecord {
    /// The signature of a failed property: the recorded one, else the one
    /// its violation in the report gives (records from before signatures),
    /// else the rule with its fallback class.
    pub fn signature_of(&self, index: &ViolationIndex) -> Signature {
        if let Some(s) = &index.signature {
            return s.clone();
        }
        match self
            .report
            .result(&index.rule)
            .and_then(|r| r.verdict.violation())
        {
            Some(v) => Signature::of(v),
            None => Signature {
                rule: index.rule.clone().into(),
                class: checker::Anomaly::fallback(&index.rule),
                subject: Default::default(),
            },
        }
    }

    pub fn new(
        summary_line: &str,
        replay_command: &str,
        report: &Report,
        history: &History,
    ) -> Self {
        let violations = report
            .results
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Fail(v) => Some(ViolationIndex {
                    rule: r.property.clone(),
                    explanation: v.explanation.clone(),
                    first_difference: describe::first_difference(v, history),
                    signature: Some(Signature::of(v)),
                    faults_active: Some(checker::active_faults::faults_active(v, history)),
                }),
                _ => None,
            })
            .collect();
        RunRecord {
            format: RECORD_FORMAT.to_string(),
            version: RECORD_VERSION,
            summary_line: summary_line.to_string(),
            replay_command: replay_command.to_string(),
            report: report.clone(),
            violations,
        }
    }

    pub(crate) fn to_json(&self, path: &Path) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(|e| ReportsError::invalid(path, format!("cannot encode the report: {e}")))
    }

    pub(crate) fn from_json(text: &str, path: &Path) -> Result<Self> {
        let record: RunRecord = serde_json::from_str(text).map_err(|e| {
            ReportsError::malformed(
                path,
                e.line(),
                format!("expected a faultline run report: {}", json_message(&e)),
            )
        })?;
        super::check_format(
            path,
            &record.format,
            RECORD_FORMAT,
            record.version,
            RECORD_VERSION,
        )?;
        Ok(record)
    }

    /// Reads a run folder's `report.json`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ReportsError::io(path, "read", e))?;
        RunRecord::from_json(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::{Anomaly, PropertyResult, Violation};

    /// A record written before signatures: its index has none, its report's
    /// violation has no class.
    const OLD: &str = r#"{"format": "faultline-run-report", "version": 1,
        "summary_line": "s", "replay_command": "r",
        "report": {"results": [{"property": "watch.reliable", "verdict": {"fail": {"rule": "watch.reliable", "explanation": "e"}}}]},
        "violations": [{"rule": "watch.reliable", "explanation": "e", "first_difference": "watch /a"},
                       {"rule": "gone.rule", "explanation": "e", "first_difference": "-"}]}"#;

    #[test]
    fn records_without_signatures_get_them_from_the_report_or_the_rule() {
        let record = RunRecord::from_json(OLD, Path::new("report.json")).expect("an old record");
        let signatures: Vec<Signature> = record
            .violations
            .iter()
            .map(|v| record.signature_of(v))
            .collect();
        assert_eq!(
            signatures,
            [
                Signature::bare("watch.reliable", Anomaly::MissingEvent),
                Signature::bare("gone.rule", Anomaly::Unclassified)
            ]
        );
    }

    #[test]
    fn new_records_carry_the_violation_s_class_and_subject() {
        let report = Report {
            results: vec![PropertyResult {
                property: "store.invariant".into(),
                verdict: Verdict::Fail(
                    Violation {
                        rule: "store.invariant".into(),
                        ..Default::default()
                    }
                    .at_site("raft.term-never-decreases"),
                ),
            }],
            ..Default::default()
        };
        let record = RunRecord::new("s", "r", &report, &History::default());
        let signature = record.violations[0].signature.clone().expect("recorded");
        assert_eq!(
            signature.to_string(),
            "store.invariant · invariant-broken · at raft.term-never-decreases"
        );
        let text = record.to_json(Path::new("report.json")).expect("encode");
        let back = RunRecord::from_json(&text, Path::new("report.json")).expect("decode");
        assert_eq!(back, record);
    }
}
