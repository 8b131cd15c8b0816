//! `coverage.jsonl`: what each run exercised (fault kinds applied,
//! failpoints reached, rules decided, member versions), one JSON object a
//! line, appended durably like `results.csv`.
//!
//! ```text
//! {"scenario":"default","seed":7,"bugs":"","faults_applied":["partition"],"failpoints_reached":{"raftBeforeSave":3},"rules_checked":["linearizability"],"versions":["3.6"]}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use checker::{Report, Verdict};
use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result, json_message};
use crate::line_file::{self, Appender, TornLine};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CoverageRow {
    pub scenario: String,
    pub seed: u64,
    /// Injected bugs joined with "+" as in `results.csv` ("" for none), so
    /// coverage rows join with result rows on (scenario, seed, bugs).
    #[serde(default)]
    pub bugs: String,
    /// Fault kinds applied, in the order applied (repeats allowed).
    #[serde(default)]
    pub faults_applied: Vec<String>,
    /// Failpoint name -> how many times it was passed.
    #[serde(default)]
    pub failpoints_reached: BTreeMap<String, u64>,
    /// Coverage point name -> how many times the store reached it.
    #[serde(default)]
    pub points_reached: BTreeMap<String, u64>,
    /// Properties the checker decided (pass or fail, not unknown).
    #[serde(default)]
    pub rules_checked: Vec<String>,
    /// The versions members ran (e.g. "3.5", "3.6").
    #[serde(default)]
    pub versions: Vec<String>,
}

/// The properties of a report that were decided (pass or fail), in report order.
pub fn rules_checked(report: &Report) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Unknown(_)))
        .map(|r| r.property.clone())
        .collect()
}

/// Appends coverage rows; each `append` is on disk when it returns.
pub struct CoverageWriter {
    appender: Appender,
    repaired: Option<TornLine>,
}

impl CoverageWriter {
    /// Creates the file or opens it for appending; a torn last line is cut off.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let opened = Appender::open(path.as_ref(), None)?;
        Ok(CoverageWriter {
            appender: opened.appender,
            repaired: opened.repaired,
        })
    }

    /// Writes one row as a JSON line, then flushes and fsyncs the file.
    pub fn append(&mut self, row: &CoverageRow) -> Result<()> {
        let line = serde_json::to_string(row).map_err(|e| {
            ReportsError::invalid(self.appender.path(), format!("cannot encode a row: {e}"))
        })?;
        self.appender.append(&line)
    }

    /// The torn last line cut off when the file was opened, if any.
    pub fn repaired(&self) -> Option<&TornLine> {
        self.repaired.as_ref()
    }

    pub fn path(&self) -> &Path {
        self.appender.path()
    }
}

/// A coverage file as read: complete rows and a torn last line, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoverageFile {
    pub rows: Vec<CoverageRow>,
    pub torn: Option<TornLine>,
}

/// Reads every complete row; a torn last line is skipped, a malformed line
/// anywhere else is an error naming the file and line. Blank lines are ignored.
pub fn read_coverage(path: impl AsRef<Path>) -> Result<Vec<CoverageRow>> {
    load_coverage(path).map(|f| f.rows)
}

/// Reads every complete row and reports a torn last line.
pub fn load_coverage(path: impl AsRef<Path>) -> Result<CoverageFile> {
    let path = path.as_ref();
    let lines = line_file::read(path)?;
    let mut rows = Vec::new();
    for (index, line) in lines.complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: CoverageRow = serde_json::from_str(line).map_err(|e| {
            ReportsError::malformed(
                path,
                index + 1,
                format!(
                    "expected a coverage row (JSON object): {}",
                    json_message(&e)
                ),
            )
        })?;
        rows.push(row);
    }
    Ok(CoverageFile {
        rows,
        torn: lines.torn,
    })
}
