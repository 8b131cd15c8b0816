//! `faultline export RUN_DIR --format FORMAT --out DIR`: a run folder's
//! history in another tool's format (the conversion is the checker's,
//! `checker::export`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use checker::export::{ExportFormat, export as write_export};

#[derive(clap::Args)]
pub(super) struct ExportArgs {
    /// A run folder written by `faultline run --out` (holding history.jsonl), or a history.jsonl file.
    run: PathBuf,
    /// The format to write: etcd-robustness (a folder), jepsen-edn or porcupine-kv (a file).
    #[arg(long, value_parser = parse_format)]
    format: ExportFormat,
    /// The folder to write into (etcd-robustness), or the file to write
    /// (jepsen-edn, porcupine-kv); created if need be.
    #[arg(long)]
    out: PathBuf,
}

/// Names every format that exists in its error.
fn parse_format(s: &str) -> Result<ExportFormat, String> {
    s.parse()
}

pub(super) fn export(args: ExportArgs) -> Result<u8> {
    let history_file = if args.run.is_dir() {
        args.run.join(reports::artefacts::HISTORY_FILE)
    } else {
        args.run.clone()
    };
    if !history_file.is_file() {
        bail!(
            "{}: no {}; expected a run folder written by `faultline run --out`",
            args.run.display(),
            reports::artefacts::HISTORY_FILE
        );
    }
    let text = checker::input::read_text(&history_file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", history_file.display()))?;
    let file = checker::jsonl::read_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}", history_file.display(), e.line, e.message))?;
    let summary =
        write_export(&file.history, args.format, &args.out).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}: wrote {}: {summary}", args.out.display(), args.format);
    Ok(0)
}
