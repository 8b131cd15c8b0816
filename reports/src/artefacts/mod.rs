//! A run's folder: everything a person needs to understand one run, and
//! everything `read_run` needs to get it back.
//!
//! | file | content |
//! |---|---|
//! | `repro.toml` | [`Repro`]: scenario text, seed, bugs, versions, trace hash |
//! | `history.jsonl` | operations, watches, annotations and the end state (`checker::jsonl`) |
//! | `trace.txt` | the trace for people, one event a line |
//! | `trace.jsonl` | the trace with exact times (read back) |
//! | `report.json` | [`RunRecord`]: report, summary line, replay command, violation index |
//! | `summary.txt` | the summary line, the replay command, the failed rules |
//! | `report.html` | the run report ([`crate::run_report::render`], written by [`crate::run_folder::write_run`]) |

mod record;
mod repro;
mod trace;

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use checker::history::{EndState, History};
use checker::{Report, Verdict};

use crate::error::{ReportsError, Result};

pub use record::{RECORD_FORMAT, RECORD_VERSION, RunRecord, ViolationIndex};
pub use repro::{REPRO_FORMAT, REPRO_VERSION, RealEtcd, Repro};
pub use trace::TraceLine;

pub const REPRO_FILE: &str = "repro.toml";
pub const HISTORY_FILE: &str = "history.jsonl";
pub const TRACE_TEXT_FILE: &str = "trace.txt";
pub const TRACE_FILE: &str = "trace.jsonl";
pub const RECORD_FILE: &str = "report.json";
pub const SUMMARY_FILE: &str = "summary.txt";
pub const HTML_FILE: &str = "report.html";

/// Everything a run leaves behind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunArtefacts {
    pub repro: Repro,
    pub history: History,
    pub end_state: EndState,
    pub report: Report,
    pub trace: Vec<TraceLine>,
    /// `seed=7 scenario=default verdict=fail trace=... ops=... rules=...`
    pub summary_line: String,
    /// The exact command that replays the run, shown in a copyable box.
    pub replay_command: String,
}

/// The folder name of a run inside a campaign's `runs/`:
/// `<scenario>-<seed>[-<bug>+<bug>...]`, with characters other than
/// letters, digits, `.`, `_`, `+` and `-` replaced by `_`.
pub fn run_dir_name(scenario: &str, seed: u64, bugs: &[String]) -> String {
    let mut name = format!("{}-{seed}", safe(scenario));
    if !bugs.is_empty() {
        name.push('-');
        name.push_str(&safe(&bugs.join("+")));
    }
    name
}

fn safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".to_string(),
        _ => cleaned,
    }
}

/// Writes the run folder's data files (created if missing); the report
/// comes after them (`crate::run_folder::write_run`). Each file is written
/// to a temporary name, synced and renamed, so it is either whole or absent.
pub(crate) fn write_files(dir: &Path, run: &RunArtefacts) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ReportsError::io(dir, "create", e))?;
    let repro_path = dir.join(REPRO_FILE);
    write_file(&repro_path, run.repro.to_toml(&repro_path)?.as_bytes())?;
    let history_path = dir.join(HISTORY_FILE);
    let history = checker::jsonl::to_string(&run.history, Some(&run.end_state));
    write_file(&history_path, history.as_bytes())?;
    let trace_path = dir.join(TRACE_FILE);
    write_file(
        &trace_path,
        trace::to_jsonl(&run.trace, &trace_path)?.as_bytes(),
    )?;
    write_file(
        &dir.join(TRACE_TEXT_FILE),
        trace::to_text(&run.trace).as_bytes(),
    )?;
    let record_path = dir.join(RECORD_FILE);
    let record = RunRecord::new(
        &run.summary_line,
        &run.replay_command,
        &run.report,
        &run.history,
    );
    write_file(&record_path, record.to_json(&record_path)?.as_bytes())?;
    write_file(&dir.join(SUMMARY_FILE), summary_text(run).as_bytes())?;
    Ok(())
}

/// `summary.txt`: the summary line, the replay command and each failed rule.
fn summary_text(run: &RunArtefacts) -> String {
    let mut text = format!(
        "{}\nreplay: {}\n",
        run.summary_line.trim_end(),
        run.replay_command.trim_end()
    );
    for r in &run.report.results {
        match &r.verdict {
            Verdict::Fail(v) => {
                text.push_str(&format!("failed {}: {}\n", r.property, v.explanation))
            }
            Verdict::Unknown(reason) => {
                text.push_str(&format!("undecided {}: {reason}\n", r.property))
            }
            Verdict::Pass => {}
        }
    }
    text
}

/// Reads a run folder back (everything but `report.html` and the text
/// files, which are derived).
pub fn read_run(dir: impl AsRef<Path>) -> Result<RunArtefacts> {
    let dir = dir.as_ref();
    let repro = Repro::read(dir.join(REPRO_FILE))?;
    let history_path = dir.join(HISTORY_FILE);
    let file = File::open(&history_path).map_err(|e| ReportsError::io(&history_path, "open", e))?;
    let history = checker::jsonl::read(BufReader::new(file))
        .map_err(|e| ReportsError::malformed(&history_path, e.line, e.message))?;
    let end_state = history.end.ok_or_else(|| {
        ReportsError::invalid(
            &history_path,
            "has no \"end\" record (run folders always have one: the file is cut short?)",
        )
    })?;
    let trace_path = dir.join(TRACE_FILE);
    let trace_text = std::fs::read_to_string(&trace_path)
        .map_err(|e| ReportsError::io(&trace_path, "read", e))?;
    let trace = trace::from_jsonl(&trace_text, &trace_path)?;
    let record = RunRecord::read(dir.join(RECORD_FILE))?;
    Ok(RunArtefacts {
        repro,
        history: history.history,
        end_state,
        report: record.report,
        trace,
        summary_line: record.summary_line,
        replay_command: record.replay_command,
    })
}

/// The path of a run folder's HTML report.
pub fn html_path(dir: impl AsRef<Path>) -> PathBuf {
    dir.as_ref().join(HTML_FILE)
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportsError::io(path, "write", e));
    }
    std::fs::rename(&tmp, path).map_err(|e| ReportsError::io(path, "rename into place", e))
}

/// The format name and version an artefact file declares: the expected
/// format, and a version no newer than this build reads.
fn check_format(
    path: &Path,
    format: &str,
    expected: &str,
    version: u32,
    newest: u32,
) -> Result<()> {
    if format != expected {
        return Err(ReportsError::invalid(
            path,
            format!("field format: expected {expected:?}, found {format:?}"),
        ));
    }
    if version > newest {
        return Err(ReportsError::invalid(
            path,
            format!("field version: {version} is newer than this faultline reads ({newest})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_names_are_safe() {
        assert_eq!(run_dir_name("default", 7, &[]), "default-7");
        assert_eq!(
            run_dir_name("my scenario/x", 3, &["etcd-1".into(), "b".into()]),
            "my_scenario_x-3-etcd-1+b"
        );
        assert_eq!(run_dir_name("..", 1, &[]), "_-1");
    }
}
