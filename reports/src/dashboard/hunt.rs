//! The hunt table: how quickly `faultline hunt` finds each catalogued bug,
//! as a CSV file with the header
//! `bug,mode,start_seeds,found,median_seeds,median_wall_s,worst_wall_s,rule,origin`.
//! `mode` is `triggered` (the scenarios written for the bug), `blind`
//! (the general catalog only, seed after seed) or `explore` (the general
//! catalog as the coverage-guided explorer mutates it). Empty median/worst fields mean the bug was
//! never found. `origin` is the bug table's: `etcd #N` or `synthetic`.
//! Tables written before the `mode` column are read as triggered hunts;
//! tables written before the `origin` column have an empty origin.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result};

pub const HUNT_HEADER: &str =
    "bug,mode,start_seeds,found,median_seeds,median_wall_s,worst_wall_s,rule,origin";
/// The header before the `mode` column: still read (every row triggered).
const HUNT_HEADER_V1: &str = "bug,start_seeds,found,median_seeds,median_wall_s,worst_wall_s,rule";
/// The header before the `origin` column: still read (origin unknown).
const HUNT_HEADER_V2: &str =
    "bug,mode,start_seeds,found,median_seeds,median_wall_s,worst_wall_s,rule";

/// Which scenarios a hunt ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HuntMode {
    /// The scenarios written to trigger the bug.
    #[default]
    Triggered,
    /// The general catalog only: no scenario written knowing the bug.
    Blind,
    /// The general catalog as `faultline explore` mutates it, guided by
    /// coverage: still no scenario written knowing the bug.
    Explore,
}

impl HuntMode {
    pub fn word(self) -> &'static str {
        match self {
            HuntMode::Triggered => "triggered",
            HuntMode::Blind => "blind",
            HuntMode::Explore => "explore",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HuntRow {
    /// The bug's catalog name.
    pub bug: String,
    #[serde(default)]
    pub mode: HuntMode,
    /// How many hunts were run (from different start seeds).
    pub start_seeds: u64,
    /// How many of them found the bug within their budget.
    pub found: u64,
    /// Median seeds tried until the bug was found.
    pub median_seeds: Option<f64>,
    /// Median wall-clock seconds until the bug was found.
    pub median_wall_s: Option<f64>,
    /// The slowest hunt's wall-clock seconds (its budget if it never found it).
    pub worst_wall_s: Option<f64>,
    /// The rule the failure broke (first one when several).
    pub rule: String,
    /// Where the bug comes from, as the bug table says: `etcd #N` or
    /// `synthetic` (empty in tables written before the column).
    #[serde(default)]
    pub origin: String,
}

/// Reads a hunt table; errors name the file and line.
pub fn load_hunt_table(path: impl AsRef<Path>) -> Result<Vec<HuntRow>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| ReportsError::io(path, "read", e))?;
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if ![HUNT_HEADER, HUNT_HEADER_V2, HUNT_HEADER_V1].contains(&first) {
        return Err(ReportsError::HeaderMismatch {
            path: path.to_path_buf(),
            expected: HUNT_HEADER.to_string(),
            found: first.to_string(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.deserialize::<HuntRow>() {
        let row = record.map_err(|e| {
            let line = e
                .position()
                .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
            let message = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    let field = err
                        .field()
                        .and_then(|i| first.split(',').nth(i as usize))
                        .unwrap_or("?");
                    format!("field {field}: {}", err.kind())
                }
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("expected {expected_len} fields, found {len}"),
                _ => e.to_string(),
            };
            ReportsError::malformed(path, line, message)
        })?;
        if row.found > row.start_seeds {
            let line = rows.len() + 2;
            return Err(ReportsError::malformed(
                path,
                line,
                format!(
                    "field found: {} hunts found the bug but only {} were run",
                    row.found, row.start_seeds
                ),
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Writes a hunt table (header and rows).
pub fn write_hunt_table(path: impl AsRef<Path>, rows: &[HuntRow]) -> Result<()> {
    let path = path.as_ref();
    let mut out = csv::WriterBuilder::new()
        .has_headers(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in rows {
        out.serialize(row)
            .map_err(|e| ReportsError::invalid(path, format!("cannot encode a row: {e}")))?;
    }
    let mut bytes = out
        .into_inner()
        .map_err(|e| ReportsError::invalid(path, format!("cannot encode: {e}")))?;
    if rows.is_empty() {
        bytes = format!("{HUNT_HEADER}\n").into_bytes();
    }
    std::fs::write(path, bytes).map_err(|e| ReportsError::io(path, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_fields() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hunt.csv");
        let rows = vec![
            HuntRow {
                bug: "etcd-17247".into(),
                mode: HuntMode::Triggered,
                start_seeds: 5,
                found: 5,
                median_seeds: Some(12.0),
                median_wall_s: Some(3.5),
                worst_wall_s: Some(9.25),
                rule: "watch.unique".into(),
                origin: "etcd #17247".into(),
            },
            HuntRow {
                bug: "etcd-15271".into(),
                mode: HuntMode::Blind,
                start_seeds: 5,
                found: 0,
                rule: String::new(),
                ..Default::default()
            },
        ];
        write_hunt_table(&path, &rows).expect("write");
        assert_eq!(load_hunt_table(&path).expect("read"), rows);
        std::fs::write(
            &path,
            format!("{HUNT_HEADER_V1}\netcd-1,5,5,3,1.5,2,watch.unique\netcd-2,five,1,,,,x\n"),
        )
        .expect("write");
        let err = load_hunt_table(&path).expect_err("bad number");
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err.to_string().contains("start_seeds"), "{err}");
        // A table from before the origin column reads with no origin.
        std::fs::write(
            &path,
            format!("{HUNT_HEADER_V2}\netcd-1,blind,5,4,7,2.5,9,watch.unique\n"),
        )
        .expect("write");
        let old = load_hunt_table(&path).expect("a v2 table reads");
        assert_eq!(old[0].origin, "");
        assert_eq!(old[0].mode, HuntMode::Blind);
        std::fs::write(&path, "bug,found\n").expect("write");
        assert!(matches!(
            load_hunt_table(&path),
            Err(ReportsError::HeaderMismatch { .. })
        ));
    }
}
