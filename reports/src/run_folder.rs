//! Writing a whole run folder: the data files (`artefacts`) and the run
//! report rendered from them (`run_report`). Kept apart from both so that
//! the report reads the artefacts without the artefacts knowing the report.

use std::path::Path;

use crate::artefacts::{self, HTML_FILE, RunArtefacts};
use crate::error::Result;

/// Writes the run folder (created if missing): repro, history, trace,
/// record, summary, then `report.html`. Each file is written to a
/// temporary name, synced and renamed, so it is either whole or absent.
pub fn write_run(dir: impl AsRef<Path>, run: &RunArtefacts) -> Result<()> {
    let dir = dir.as_ref();
    artefacts::write_files(dir, run)?;
    let html = crate::run_report::render(run);
    artefacts::write_file(&dir.join(HTML_FILE), html.as_bytes())
}
