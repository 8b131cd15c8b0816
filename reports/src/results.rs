//! `results.csv`: one row per run, appended durably as runs finish, so a
//! soak campaign killed at any moment keeps every finished run.
//!
//! ```text
//! scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash,not_applied,classes
//! default,7,,fail,linearizability;end.durability,629,26,0,2,10242,110,295e8561df97ef1e,0,stale-read;acked-write-missing-at-end
//! ```
//!
//! `classes` holds the anomaly class of each failed rule, in the order of
//! `failed_rules` ([`checker::Anomaly`]). Files written before the
//! `not_applied` or `classes` columns existed are still read (0 steps not
//! applied; each failed rule's fallback class).

use std::path::Path;

use checker::{Anomaly, Overall, Report};
use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result};
use crate::line_file::{self, Appender, TornLine};

/// The header line, exactly.
pub const RESULTS_HEADER: &str = "scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash,not_applied,classes";
/// The header of files written before the `classes` column: still read.
const RESULTS_HEADER_V2: &str = "scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash,not_applied";
/// The header of files written before the `not_applied` column: still read.
const RESULTS_HEADER_V1: &str = "scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash";

/// One run. Field order is the column order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    pub scenario: String,
    pub seed: u64,
    /// Injected bugs joined with "+", "" for none.
    pub bugs: String,
    /// `pass`, `fail` or `unknown` in the file.
    pub verdict: Overall,
    /// Failed rules joined with ";", "" for none.
    pub failed_rules: String,
    pub ops: usize,
    pub failed_ops: usize,
    pub watch_events: usize,
    pub faults: usize,
    pub sim_ms: u64,
    pub wall_ms: u64,
    pub trace_hash: String,
    /// Steps of the plan (faults, operator requests) that could not be applied.
    #[serde(default)]
    pub not_applied: usize,
    /// The anomaly class of each failed rule, in `failed_rules` order
    /// (empty in files written before the column existed).
    #[serde(default)]
    pub classes: Classes,
}

/// Anomaly classes joined with ";" in the file, parsed when read: a word
/// that names no class is an error naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classes(pub Vec<Anomaly>);

impl Classes {
    /// The classes of a report's failed properties, in report order.
    pub fn of(report: &Report) -> Self {
        Classes(
            report
                .results
                .iter()
                .filter_map(|r| r.verdict.violation())
                .map(|v| v.anomaly())
                .collect(),
        )
    }
}

impl Serialize for Classes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let words: Vec<&str> = self.0.iter().map(|a| a.word()).collect();
        s.serialize_str(&words.join(";"))
    }
}

impl<'de> Deserialize<'de> for Classes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        split_joined(&text, ';')
            .iter()
            .map(|w| w.parse::<Anomaly>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Classes)
            .map_err(serde::de::Error::custom)
    }
}

/// The failed_rules column for a report: failed rule names joined with ";".
pub fn failed_rules_column(report: &Report) -> String {
    report.failed_rules().join(";")
}

impl ResultRow {
    pub fn is_failure(&self) -> bool {
        self.verdict == Overall::Fail
    }

    pub fn is_unknown(&self) -> bool {
        self.verdict == Overall::Unknown
    }

    /// The bug names (empty when none).
    pub fn bug_list(&self) -> Vec<String> {
        split_joined(&self.bugs, '+')
    }

    /// The failed rule names (empty when none).
    pub fn failed_rule_list(&self) -> Vec<String> {
        split_joined(&self.failed_rules, ';')
    }

    /// Each failed rule with its class: the recorded one, else (a file
    /// from before the column, or a row whose counts disagree) the rule's
    /// fallback class.
    pub fn failed_with_classes(&self) -> Vec<(String, Anomaly)> {
        let rules = self.failed_rule_list();
        let recorded = self.classes.0.len() == rules.len();
        rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                let class = if recorded {
                    self.classes.0[i]
                } else {
                    Anomaly::fallback(&rule)
                };
                (rule, class)
            })
            .collect()
    }
}

fn split_joined(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Appends rows to a results file; each `append` is on disk when it returns.
pub struct ResultsWriter {
    appender: Appender,
    repaired: Option<TornLine>,
}

impl ResultsWriter {
    /// Creates the file with its header, or opens an existing one for
    /// appending after checking its header. A torn last row (left by a killed
    /// writer) is cut off; [`ResultsWriter::repaired`] tells which.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let opened = Appender::open(path.as_ref(), Some(RESULTS_HEADER))?;
        Ok(ResultsWriter {
            appender: opened.appender,
            repaired: opened.repaired,
        })
    }

    /// Writes one row, then flushes and fsyncs the file.
    pub fn append(&mut self, row: &ResultRow) -> Result<()> {
        let line = encode(self.appender.path(), row)?;
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

/// One row as a CSV line without its newline.
fn encode(path: &Path, row: &ResultRow) -> Result<String> {
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    out.serialize(row)
        .map_err(|e| ReportsError::invalid(path, format!("cannot encode a row: {e}")))?;
    let bytes = out
        .into_inner()
        .map_err(|e| ReportsError::invalid(path, format!("cannot encode a row: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| ReportsError::invalid(path, format!("cannot encode a row: {e}")))?;
    Ok(text.trim_end_matches('\n').to_string())
}

/// A results file as read: its complete rows, and a torn last line if the
/// writer was killed while appending it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultsFile {
    pub rows: Vec<ResultRow>,
    pub torn: Option<TornLine>,
}

/// Reads every complete row. A torn last line is skipped (see
/// [`load_results`] to learn about it); a malformed line anywhere else is
/// an error naming the file and line.
pub fn read_results(path: impl AsRef<Path>) -> Result<Vec<ResultRow>, ReportsError> {
    load_results(path).map(|f| f.rows)
}

/// Reads every complete row and reports a torn last line.
pub fn load_results(path: impl AsRef<Path>) -> Result<ResultsFile> {
    let path = path.as_ref();
    let lines = line_file::read(path)?;
    let first = lines.complete.lines().next();
    match first {
        // Only a torn header: the writer was killed as it created the file.
        None if lines
            .torn
            .as_ref()
            .is_some_and(|t| RESULTS_HEADER.starts_with(&t.text)) =>
        {
            return Ok(ResultsFile {
                rows: Vec::new(),
                torn: lines.torn,
            });
        }
        None => {
            return Err(ReportsError::malformed(
                path,
                1,
                format!("expected the header {RESULTS_HEADER:?}, the file has no complete line"),
            ));
        }
        Some(first)
            if ![RESULTS_HEADER, RESULTS_HEADER_V2, RESULTS_HEADER_V1]
                .contains(&first.trim_end_matches('\r')) =>
        {
            return Err(ReportsError::HeaderMismatch {
                path: path.to_path_buf(),
                expected: RESULTS_HEADER.to_string(),
                found: first.to_string(),
            });
        }
        Some(_) => {}
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(lines.complete.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ReportsError::malformed(path, 1, describe_csv_error(&e)))?
        .clone();
    let verdict_column = headers.iter().position(|h| h == "verdict");
    let classes_column = headers.iter().position(|h| h == "classes");
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            ReportsError::malformed(path, to_usize(line), describe_csv_error(&e))
        })?;
        if !more {
            break;
        }
        let line = to_usize(record.position().map_or(0, |p| p.line()));
        // csv does not say which field an enum came from: name it here.
        if let Some(word) = verdict_column.and_then(|i| record.get(i))
            && Overall::from_word(word).is_none()
        {
            return Err(ReportsError::malformed(
                path,
                line,
                format!("field verdict: expected pass, fail or unknown, found {word:?}"),
            ));
        }
        if let Some(text) = classes_column.and_then(|i| record.get(i))
            && let Err(e) = Classes::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(text))
        {
            return Err(ReportsError::malformed(
                path,
                line,
                format!("field classes: {e}"),
            ));
        }
        let row: ResultRow = record
            .deserialize(Some(&headers))
            .map_err(|e| ReportsError::malformed(path, line, describe_csv_error(&e)))?;
        rows.push(row);
    }
    Ok(ResultsFile {
        rows,
        torn: lines.torn,
    })
}

/// The csv crate's message without its own position (the caller adds the line).
fn describe_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8: {err}"),
        csv::ErrorKind::Deserialize { err, .. } => {
            let field = err
                .field()
                .and_then(|i| RESULTS_HEADER.split(',').nth(to_usize(i)))
                .unwrap_or("?");
            format!("field {field}: {}", err.kind())
        }
        _ => e.to_string(),
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
