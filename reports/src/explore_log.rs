//! `explore.jsonl`: an exploration's runs in run order, one JSON object a
//! line, appended durably like `results.csv` (a torn last line left by a
//! kill is cut off). It is the explorer's commit point: a restart replays
//! these rows into its corpus instead of running them again, and the
//! dashboard plots the corpus growing from them.
//!
//! ```text
//! {"run":40,"scenario":"leader-churn","seed":81722,"parent":12,"mutations":["add crash at 3.1s"],"verdict":"pass","failed_rules":[],"ops":812,"features":["watch.victim>=1"],"new_features":["watch.victim@crash"],"kept":true,"corpus_size":31,"features_seen":402}
//! ```

use std::path::Path;

use checker::Overall;
use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result, json_message};
use crate::line_file::{self, Appender, TornLine};

/// The file's name in a campaign folder.
pub const EXPLORE_FILE: &str = "explore.jsonl";

/// One run of an exploration, after it was merged into the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreRow {
    /// The run's number in its shard's sequence (rows are in this order).
    pub run: u64,
    pub scenario: String,
    pub seed: u64,
    /// SHA-256 (16 hex digits) of the scenario as run: a restart checks
    /// that it still makes the same run.
    pub scenario_hash: String,
    /// The run number of the corpus entry it was made from (none: a
    /// catalog scenario as it is).
    #[serde(default)]
    pub parent: Option<u64>,
    /// What the explorer changed, one line each.
    #[serde(default)]
    pub mutations: Vec<String>,
    pub verdict: Overall,
    #[serde(default)]
    pub failed_rules: Vec<String>,
    /// Client operations the run made: its cost, to the explorer.
    pub ops: u64,
    /// Everything the run exercised, as the explorer counts it.
    #[serde(default)]
    pub features: Vec<String>,
    /// Those no earlier run reached.
    #[serde(default)]
    pub new_features: Vec<String>,
    /// Whether it joined the corpus.
    pub kept: bool,
    /// Corpus entries and distinct features once it was merged.
    pub corpus_size: u64,
    pub features_seen: u64,
}

/// Appends rows; each `append` is on disk when it returns.
pub struct ExploreWriter {
    appender: Appender,
    repaired: Option<TornLine>,
}

impl ExploreWriter {
    /// Creates the file or opens it for appending; a torn last line is cut off.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let opened = Appender::open(path.as_ref(), None)?;
        Ok(ExploreWriter {
            appender: opened.appender,
            repaired: opened.repaired,
        })
    }

    /// Writes one row as a JSON line, then flushes and fsyncs the file.
    pub fn append(&mut self, row: &ExploreRow) -> Result<()> {
        let line = serde_json::to_string(row).map_err(|e| {
            ReportsError::invalid(self.appender.path(), format!("cannot encode a row: {e}"))
        })?;
        self.appender.append(&line)
    }

    /// The torn last line cut off when the file was opened, if any.
    pub fn repaired(&self) -> Option<&TornLine> {
        self.repaired.as_ref()
    }
}

/// Reads every complete row; a torn last line is skipped, a malformed line
/// or a row out of run order is an error naming the file and line.
pub fn read_explore(path: impl AsRef<Path>) -> Result<Vec<ExploreRow>> {
    let path = path.as_ref();
    let lines = line_file::read(path)?;
    let mut rows: Vec<ExploreRow> = Vec::new();
    for (index, line) in lines.complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: ExploreRow = serde_json::from_str(line).map_err(|e| {
            ReportsError::malformed(
                path,
                index + 1,
                format!(
                    "expected an exploration row (JSON object): {}",
                    json_message(&e)
                ),
            )
        })?;
        if row.run != rows.len() as u64 {
            return Err(ReportsError::malformed(
                path,
                index + 1,
                format!("run: expected run {}, found {}", rows.len(), row.run),
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u64) -> ExploreRow {
        ExploreRow {
            run,
            scenario: "default".into(),
            seed: 7 + run,
            scenario_hash: "00".into(),
            parent: None,
            mutations: Vec::new(),
            verdict: Overall::Pass,
            failed_rules: Vec::new(),
            ops: 500,
            features: vec!["watch.victim>=1".into()],
            new_features: Vec::new(),
            kept: false,
            corpus_size: 0,
            features_seen: 0,
        }
    }

    #[test]
    fn rows_round_trip_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(EXPLORE_FILE);
        let mut w = ExploreWriter::open(&path).expect("open");
        w.append(&row(0)).expect("append");
        w.append(&row(1)).expect("append");
        drop(w);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"run\":2,\"sce"))
            .expect("tear");
        assert_eq!(read_explore(&path).expect("read"), vec![row(0), row(1)]);
        let w = ExploreWriter::open(&path).expect("reopen");
        assert!(w.repaired().is_some());
        drop(w);
        assert_eq!(read_explore(&path).expect("read"), vec![row(0), row(1)]);
    }

    #[test]
    fn a_row_out_of_order_or_malformed_names_the_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(EXPLORE_FILE);
        let text = |rows: &[ExploreRow]| {
            rows.iter()
                .map(|r| serde_json::to_string(r).expect("encode") + "\n")
                .collect::<String>()
        };
        std::fs::write(&path, text(&[row(0), row(2)])).expect("write");
        let e = read_explore(&path).unwrap_err().to_string();
        assert!(
            e.contains(":2") && e.contains("expected run 1, found 2"),
            "{e}"
        );
        std::fs::write(&path, "{\"run\": \"x\"}\n").expect("write");
        let e = read_explore(&path).unwrap_err().to_string();
        assert!(e.contains(":1") && e.contains("exploration row"), "{e}");
    }
}
