//! `faultline check FILE --model etcd|register|kv [--format ...] [--timeout SECS]
//! [--no-partition]`: everything behind the command. The binary maps
//! [`CheckFileOutcome::exit_code`] (0 linearizable, 1 violation, 3 unknown) and
//! [`CheckInputError`] (exit code 2, one line) to the process.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::check::check_run;
use crate::history::{Annotation, EndState};
use crate::import::independent::{KeySource, key_source, keyed_register_ops};
use crate::import::{self, Clock, ImportError, Imported, etcd_robustness};
use crate::jsonl;
use crate::linearizable::{Issuer, Linearizability, Model, Op, SearchLimits, check};
use crate::models::keyed::Keyed;
use crate::models::kv::KvModel;
use crate::models::register::RegisterModel;
use crate::options::CheckOptions;
use crate::report::{PropertyResult, Report, SearchSummary, Verdict, Violation};
use crate::rules::{END_DURABILITY, END_HASHKV, END_LIVENESS, END_MEMBERS, LINEARIZABILITY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Etcd,
    Register,
    Kv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// faultline's JSON lines.
    Faultline,
    /// Jepsen `jepsen.util` log lines.
    JepsenLog,
    /// Jepsen-style EDN maps.
    Edn,
    /// etcd's robustness test report: a folder with `client-N/operations.json`.
    EtcdRobustness,
    /// Guess from the content.
    Auto,
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "etcd" => Ok(ModelKind::Etcd),
            "register" => Ok(ModelKind::Register),
            "kv" => Ok(ModelKind::Kv),
            other => Err(format!(
                "unknown model {other:?} (expected etcd, register or kv)"
            )),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::Etcd => "etcd",
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
        })
    }
}

impl FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "faultline" => Ok(InputFormat::Faultline),
            "jepsen-log" => Ok(InputFormat::JepsenLog),
            "edn" => Ok(InputFormat::Edn),
            "etcd-robustness" => Ok(InputFormat::EtcdRobustness),
            "auto" => Ok(InputFormat::Auto),
            other => Err(format!(
                "unknown format {other:?} (expected faultline, jepsen-log, edn, etcd-robustness or auto)"
            )),
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputFormat::Faultline => "faultline",
            InputFormat::JepsenLog => "jepsen-log",
            InputFormat::Edn => "edn",
            InputFormat::EtcdRobustness => "etcd-robustness",
            InputFormat::Auto => "auto",
        })
    }
}

impl InputFormat {
    /// Guesses the format from the first meaningful line.
    pub fn detect(text: &str) -> InputFormat {
        if text.contains("jepsen.util - ") {
            return InputFormat::JepsenLog;
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with(';'))
            .unwrap_or("");
        if first.starts_with("{\"") {
            InputFormat::Faultline
        } else {
            InputFormat::Edn
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFileOptions {
    pub model: ModelKind,
    pub format: InputFormat,
    pub timeout: Duration,
    /// Check independent parts separately (kv keys); false checks the whole history at once.
    pub partition: bool,
}

impl Default for CheckFileOptions {
    fn default() -> Self {
        CheckFileOptions {
            model: ModelKind::Etcd,
            format: InputFormat::Auto,
            timeout: Duration::from_secs(60),
            partition: true,
        }
    }
}

/// Input the command cannot check. Displays as one line: file, line, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CheckInputError {
    pub file: PathBuf,
    /// 1-based; None when the problem is not on a line (unreadable file).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for CheckInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The verdicts for one file.
#[derive(Debug, Clone)]
pub struct CheckFileOutcome {
    pub file: PathBuf,
    pub model: ModelKind,
    pub format: InputFormat,
    /// Client operations read from the file.
    pub operations: usize,
    pub report: Report,
    pub elapsed: Duration,
    /// Rules the input has no data for, each with why: not checked, neither
    /// passed nor failed.
    pub skipped: Vec<(String, String)>,
    /// One-line descriptions of operations, by id (for the ones a violation
    /// names).
    descriptions: Descriptions,
    /// The history's annotations (faults, nemesis events), each with when it
    /// happened, in time order: the timeline the verdict is read against.
    pub timeline: Vec<TimelineEntry>,
    /// What an etcd robustness report's member WALs resolved (None: not a
    /// report, or one without WALs).
    pub wal: Option<etcd_robustness::WalOutcome>,
}

/// One annotation on the outcome's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// When: `1.500 s` (or `1.500 s – 2.500 s`) for times in nanoseconds,
    /// `event 12` for a history whose events carry no time.
    pub when: String,
    pub source: String,
    pub text: String,
}

impl TimelineEntry {
    fn of(annotations: &[Annotation], clock: Clock) -> Vec<TimelineEntry> {
        let at = |t: u64| match clock {
            Clock::Nanoseconds => format!("{:.3} s", t as f64 / 1e9),
            Clock::Position => format!("event {t}"),
        };
        let mut sorted: Vec<&Annotation> = annotations.iter().collect();
        sorted.sort_by_key(|a| a.at);
        sorted
            .into_iter()
            .map(|a| TimelineEntry {
                when: match a.end {
                    Some(end) => format!("{} – {}", at(a.at), at(end)),
                    None => at(a.at),
                },
                source: a.source.clone(),
                text: a.text.clone(),
            })
            .collect()
    }
}

impl CheckFileOutcome {
    /// 0 every property holds, 1 a violation, 3 undecided.
    pub fn exit_code(&self) -> i32 {
        self.report.overall().exit_code()
    }

    /// How the report names operation `id` (`process 3: key 4: read returned 2`).
    pub fn description(&self, id: u64) -> Option<String> {
        self.descriptions.get(id)
    }
}

pub fn check_file(
    path: &Path,
    opts: &CheckFileOptions,
) -> Result<CheckFileOutcome, CheckInputError> {
    let input_error = |line: Option<usize>, message: String| CheckInputError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let report_folder = match opts.format {
        InputFormat::EtcdRobustness => true,
        InputFormat::Auto => path.is_dir() && etcd_robustness::is_report(path),
        _ => false,
    };
    if report_folder {
        if opts.model != ModelKind::Etcd {
            return Err(input_error(
                None,
                format!(
                    "the {} model reads no etcd-robustness report; use --model etcd",
                    opts.model
                ),
            ));
        }
        return check_report(path, opts);
    }
    if path.is_dir() {
        return Err(input_error(
            None,
            "is a folder without client-N/operations.json or client-N/watch.json; expected a history file or an etcd robustness report".into(),
        ));
    }
    let text = crate::input::read_text(path).map_err(|e| input_error(None, e.to_string()))?;
    if text.trim().is_empty() {
        return Err(input_error(
            Some(1),
            "the file is empty; expected a history".into(),
        ));
    }
    let format = match opts.format {
        InputFormat::Auto => InputFormat::detect(&text),
        f => f,
    };
    let started = Instant::now();
    let options = CheckOptions {
        timeout: opts.timeout,
        partition: opts.partition,
        ..CheckOptions::default()
    };
    let from_import = |e: ImportError| input_error(Some(e.line), e.message);
    let mut timeline = vec![];
    let mut skipped = vec![];
    let (report, operations, descriptions) = match (opts.model, format) {
        (ModelKind::Etcd, InputFormat::Faultline) => {
            let file = jsonl::read_str(&text).map_err(|e| input_error(Some(e.line), e.message))?;
            timeline = TimelineEntry::of(&file.history.annotations, Clock::Nanoseconds);
            let end = file.end.clone().unwrap_or_else(EndState::default);
            let mut report = check_run(&file.history, &end, &options);
            if file.end.is_none() {
                // Without an end record there are no hashes or heal times to judge
                // (durability needs only the final reads of the history): said,
                // never left out silently.
                skipped = vec![
                    (
                        END_HASHKV.to_string(),
                        "the file has no end record with the members' HashKV".to_string(),
                    ),
                    (
                        END_LIVENESS.to_string(),
                        "the file has no end record with the heal time".to_string(),
                    ),
                ];
            }
            // Files written before members recorded their member lists.
            if !end.members.iter().any(|m| m.membership.is_some()) {
                skipped.push((
                    END_MEMBERS.to_string(),
                    "the file records no member's member list".to_string(),
                ));
            }
            report
                .results
                .retain(|r| !skipped.iter().any(|(rule, _)| *rule == r.property));
            let descriptions = client_descriptions(&file.history);
            (report, file.history.operations.len(), descriptions)
        }
        (ModelKind::Register, InputFormat::JepsenLog | InputFormat::Edn) => {
            let imported = import_file(&text, format).map_err(from_import)?;
            timeline = TimelineEntry::of(&imported.annotations, imported.clock);
            match key_source(&imported) {
                KeySource::None => {
                    let ops = import::register_ops(&imported).map_err(from_import)?;
                    imported_check(RegisterModel, ops, &options, &imported)
                }
                KeySource::Tuples { .. } | KeySource::KeyField { .. } => {
                    let ops = keyed_register_ops(&imported).map_err(from_import)?;
                    imported_check(Keyed::new(RegisterModel), ops, &options, &imported)
                }
            }
        }
        (ModelKind::Kv, InputFormat::JepsenLog | InputFormat::Edn) => {
            let mut imported = import_file(&text, format).map_err(from_import)?;
            timeline = TimelineEntry::of(&imported.annotations, imported.clock);
            let ops = import::take_kv_ops(&mut imported).map_err(from_import)?;
            imported_check(KvModel, ops, &options, &imported)
        }
        (model, format) => {
            let expected = match model {
                ModelKind::Etcd => "faultline JSON lines",
                ModelKind::Register => {
                    "a jepsen-log or edn history (one register, or registers by key)"
                }
                ModelKind::Kv => "an edn history",
            };
            return Err(input_error(
                Some(1),
                format!("the {model} model reads {expected}, not {format} input"),
            ));
        }
    };
    Ok(CheckFileOutcome {
        file: path.to_path_buf(),
        model: opts.model,
        format,
        operations,
        report,
        elapsed: started.elapsed(),
        skipped,
        descriptions,
        timeline,
        wal: None,
    })
}

/// An etcd robustness report folder, checked with every rule of the etcd
/// model. The report keeps no member hashes, member lists or heal times, so
/// `end.hashkv`, `end.members` and `end.liveness` are skipped; `end.durability` is skipped too when the
/// history ends without final reads to judge it by.
fn check_report(path: &Path, opts: &CheckFileOptions) -> Result<CheckFileOutcome, CheckInputError> {
    let etcd_robustness::ImportedReport { history, wal } = etcd_robustness::import_report(path)
        .map_err(|e| CheckInputError {
            file: e.file,
            line: e.line,
            message: e.message,
        })?;
    let started = Instant::now();
    let options = CheckOptions {
        timeout: opts.timeout,
        partition: opts.partition,
        ..CheckOptions::default()
    };
    let mut report = check_run(&history, &EndState::default(), &options);
    let mut skipped = vec![
        (
            END_HASHKV.to_string(),
            "the report holds no members' HashKV".to_string(),
        ),
        (
            END_LIVENESS.to_string(),
            "the report holds no heal time".to_string(),
        ),
        (
            END_MEMBERS.to_string(),
            "the report holds no members' member lists".to_string(),
        ),
    ];
    for r in &report.results {
        if let (true, Verdict::Unknown(why)) = (r.property == END_DURABILITY, &r.verdict) {
            skipped.push((r.property.clone(), why.clone()));
        }
    }
    report
        .results
        .retain(|r| !skipped.iter().any(|(rule, _)| *rule == r.property));
    let descriptions = client_descriptions(&history);
    Ok(CheckFileOutcome {
        file: path.to_path_buf(),
        model: ModelKind::Etcd,
        format: InputFormat::EtcdRobustness,
        operations: history.operations.len(),
        report,
        elapsed: started.elapsed(),
        skipped,
        descriptions,
        timeline: TimelineEntry::of(&history.annotations, Clock::Nanoseconds),
        wal,
    })
}

/// Each etcd operation's one-line description, naming who issued it in the
/// history's own word, by id.
fn client_descriptions(history: &crate::history::History) -> Descriptions {
    let table = history
        .operations
        .iter()
        .map(|op| {
            let desc = crate::history::describe::request(&op.request);
            (op.id, format!("{} {}: {desc}", history.issuer, op.client))
        })
        .collect();
    Descriptions::Table(table)
}

fn import_file(text: &str, format: InputFormat) -> Result<Imported, ImportError> {
    match format {
        InputFormat::JepsenLog => import::jepsen_log::import(text),
        _ => import::edn::import(text),
    }
}

/// Linearizability of an imported (register or kv) history, as a report.
fn imported_check<M>(
    model: M,
    ops: Vec<Op<M::Input, M::Output>>,
    options: &CheckOptions,
    imported: &Imported,
) -> (Report, usize, Descriptions)
where
    M: Model + Send + 'static,
    M::Input: Send + 'static,
    M::Output: Send + 'static,
{
    let limits = SearchLimits {
        deadline: Instant::now().checked_add(options.timeout),
        memory_bound_bytes: options.memory_bound_bytes,
    };
    let out = check(&model, &ops, options.partition, &limits, Issuer::Process);
    let checked = ops.len();
    // Jepsen's `:error` says why an operation failed or is indeterminate.
    let errors: HashMap<u64, import::edn_reader::Edn> = imported
        .ops
        .iter()
        .filter_map(|o| o.error.as_ref().map(|e| (o.id, e.clone())))
        .collect();
    // Described when asked (for the few a violation names): describing all
    // of them up front, formatting every key and value, cost a
    // 2,000-operation history as much as its check.
    let descriptions = Descriptions::OnDemand(Arc::new(move |id| {
        let op = ops.iter().find(|op| op.id == id)?;
        // Imported register and kv histories are Jepsen's: processes.
        let mut desc = format!(
            "{} {}: {}",
            Issuer::Process,
            op.client,
            model.describe(&op.input, &op.outcome)
        );
        if let Some(e) = errors.get(&id) {
            desc.push_str(&format!(" (error {e})"));
        }
        Some(desc)
    }));
    let verdict = match out.result {
        Linearizability::Linearizable { .. } => Verdict::Pass,
        Linearizability::Violation(c) => Verdict::Fail(Violation {
            at: None,
            rule: LINEARIZABILITY.to_string(),
            explanation: c.explanation,
            operations: c.operations,
            watch: None,
            longest_prefix: c.longest_prefix,
            details: json!({"partition": c.partition}),
            class: None,
            subject: Default::default(),
        }),
        Linearizability::Unknown {
            reason,
            longest_prefix,
        } => Verdict::Unknown(format!(
            "{reason} after linearizing {} operations",
            longest_prefix.len()
        )),
    };
    let report = Report {
        results: vec![PropertyResult {
            property: LINEARIZABILITY.to_string(),
            verdict,
        }],
        stats: Some(SearchSummary {
            operations: checked,
            partitions: out.partitions,
            elapsed_ms: out.elapsed.as_secs_f64() * 1000.0,
            iterations: out.stats.iterations,
            backtracks: out.stats.backtracks,
            cache_entries: out.stats.cache_entries,
            peak_bytes: out.stats.peak_bytes,
        }),
        requests: None,
    };
    (report, imported.ops.len(), descriptions)
}

/// How a [`CheckFileOutcome`] describes operations.
#[derive(Clone)]
enum Descriptions {
    /// Every operation's, by id, made up front.
    Table(HashMap<u64, String>),
    /// Made when asked, from the operations the function holds.
    OnDemand(Arc<dyn Fn(u64) -> Option<String> + Send + Sync>),
}

impl Descriptions {
    fn get(&self, id: u64) -> Option<String> {
        match self {
            Descriptions::Table(table) => table.get(&id).cloned(),
            Descriptions::OnDemand(describe) => describe(id),
        }
    }
}

impl fmt::Debug for Descriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Descriptions::Table(table) => write!(f, "Table({} operations)", table.len()),
            Descriptions::OnDemand(_) => write!(f, "OnDemand"),
        }
    }
}

/// How many timeline entries the human report lists.
const LISTED_TIMELINE: usize = 20;

/// How many operations to list by name under a violation.
const LISTED_OPERATIONS: usize = 8;

impl fmt::Display for CheckFileOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} operations, {} model, {} format, checked in {:.1} ms",
            self.file.display(),
            self.operations,
            self.model,
            self.format,
            self.elapsed.as_secs_f64() * 1000.0
        )?;
        for r in &self.report.results {
            match &r.verdict {
                Verdict::Pass => writeln!(f, "  {:<28} ok", r.property)?,
                Verdict::Unknown(why) => writeln!(f, "  {:<28} UNKNOWN: {why}", r.property)?,
                Verdict::Fail(v) => {
                    writeln!(f, "  {:<28} VIOLATED", r.property)?;
                    writeln!(f, "      {}", v.explanation)?;
                    if let Some(w) = v.watch {
                        writeln!(f, "      watch: {w}")?;
                    }
                    for id in v.operations.iter().take(LISTED_OPERATIONS) {
                        match self.descriptions.get(*id) {
                            Some(d) => writeln!(f, "      operation {id} ({d})")?,
                            None => writeln!(f, "      operation {id}")?,
                        }
                    }
                    if v.operations.len() > LISTED_OPERATIONS {
                        writeln!(
                            f,
                            "      … and {} more operations",
                            v.operations.len() - LISTED_OPERATIONS
                        )?;
                    }
                    if !v.longest_prefix.is_empty() {
                        writeln!(
                            f,
                            "      longest linearizable prefix: {} operations, ending with operation {}",
                            v.longest_prefix.len(),
                            v.longest_prefix[v.longest_prefix.len() - 1]
                        )?;
                    }
                }
            }
        }
        for (rule, why) in &self.skipped {
            writeln!(f, "  {rule:<28} skipped: {why}")?;
        }
        if let Some(wal) = &self.wal {
            writeln!(f, "  {wal}")?;
        }
        if !self.timeline.is_empty() {
            writeln!(
                f,
                "  timeline ({} annotations, not checked):",
                self.timeline.len()
            )?;
            for e in self.timeline.iter().take(LISTED_TIMELINE) {
                writeln!(f, "      {}  {}: {}", e.when, e.source, e.text)?;
            }
            if self.timeline.len() > LISTED_TIMELINE {
                writeln!(
                    f,
                    "      … and {} more",
                    self.timeline.len() - LISTED_TIMELINE
                )?;
            }
        }
        let failed = self.report.failed_rules();
        let verdict = match self.exit_code() {
            0 => "PASS: every property holds".to_string(),
            1 => format!("FAIL: {} violated", failed.join(", ")),
            _ => "UNKNOWN: at least one property could not be decided".to_string(),
        };
        write!(f, "{verdict}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("kv".parse::<ModelKind>(), Ok(ModelKind::Kv));
        assert!("etc".parse::<ModelKind>().is_err());
        assert_eq!(
            "jepsen-log".parse::<InputFormat>(),
            Ok(InputFormat::JepsenLog)
        );
        assert!(
            "xml"
                .parse::<InputFormat>()
                .unwrap_err()
                .contains("expected")
        );
    }

    #[test]
    fn detects_formats() {
        assert_eq!(
            InputFormat::detect("{\"type\":\"op\"}"),
            InputFormat::Faultline
        );
        assert_eq!(InputFormat::detect("; c\n{:process 0}"), InputFormat::Edn);
        assert_eq!(
            InputFormat::detect("INFO  jepsen.util - 1\t:invoke"),
            InputFormat::JepsenLog
        );
    }

    #[test]
    fn input_errors_are_one_line() {
        let e = CheckInputError {
            file: "h.edn".into(),
            line: Some(3),
            message: "unknown :type :done".into(),
        };
        assert_eq!(e.to_string(), "h.edn:3: unknown :type :done");
        assert!(!e.to_string().contains('\n'));
    }
}
