//! faultline's reports: what runs and campaigns leave behind for people and
//! for CI.
//!
//! - [`results`]: `results.csv`, one row per run, appended durably.
//! - [`coverage`]: `coverage.jsonl`, what each run exercised.
//! - [`explore_log`]: `explore.jsonl`, an exploration's runs in order.
//! - [`artefacts`]: a run's folder (repro, history, trace, report) and how to read it back.
//! - [`run_report`]: the self-contained `report.html` of one run.
//! - [`dashboard`]: the review dashboard over campaign folders (HTML with
//!   inline SVG plots, a Markdown summary, JUnit XML).
//!
//! Every error is a [`ReportsError`] naming the file (and line) at fault.

pub mod artefacts;
pub mod coverage;
pub mod dashboard;
pub mod describe;
mod error;
pub mod explore_log;
mod html;
mod line_file;
pub mod results;
pub mod run_folder;
pub mod run_report;
pub mod timestamp;

pub use artefacts::{RealEtcd, Repro, RunArtefacts, RunRecord, TraceLine, read_run, run_dir_name};
pub use coverage::{CoverageRow, CoverageWriter, read_coverage};
pub use error::{ReportsError, Result};
pub use explore_log::{EXPLORE_FILE, ExploreRow, ExploreWriter, read_explore};
pub use line_file::TornLine;
pub use results::{RESULTS_HEADER, ResultRow, ResultsWriter, read_results};
pub use run_folder::write_run;
