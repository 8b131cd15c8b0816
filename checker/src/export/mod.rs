//! Writing faultline histories in other tools' formats (`faultline export`).
//! One module per format; [`ExportFormat`] names those that exist.
//! `registers` reads a history as register operations (for the Jepsen EDN
//! and porcupine kv formats) and `jepsen_events` lays those out as Jepsen
//! events on processes.

pub mod etcd_robustness;
pub mod jepsen_edn;
pub mod jepsen_events;
pub mod porcupine_kv;
pub mod registers;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::history::History;

/// A format `faultline export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// etcd's robustness test report folder (`client-N/operations.json`, `client-N/watch.json`).
    EtcdRobustness,
    /// A Jepsen history (EDN, one operation map per line) of keyed registers.
    JepsenEdn,
    /// porcupine's kv test data layout (get/put lines of EDN).
    PorcupineKv,
}

impl ExportFormat {
    pub const ALL: &[ExportFormat] = &[
        ExportFormat::EtcdRobustness,
        ExportFormat::JepsenEdn,
        ExportFormat::PorcupineKv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::EtcdRobustness => "etcd-robustness",
            ExportFormat::JepsenEdn => "jepsen-edn",
            ExportFormat::PorcupineKv => "porcupine-kv",
        }
    }

    /// Whether `out` is a folder to write into (else the file to write).
    pub fn writes_folder(self) -> bool {
        match self {
            ExportFormat::EtcdRobustness => true,
            ExportFormat::JepsenEdn | ExportFormat::PorcupineKv => false,
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ExportFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?} (expected {})", names.join(", "))
            })
    }
}

/// Why a history could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A request that may have changed the store, which the format cannot
    /// express: leaving it out would make the exported history lie.
    #[error("operation {id} ({request}) cannot be written in the {format} format: {why}")]
    Unrepresentable {
        format: ExportFormat,
        id: u64,
        request: String,
        why: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What an export wrote and what it left out (each with why and how many).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub operations: usize,
    pub watches: usize,
    pub left_out: Vec<(String, usize)>,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations, {} watches",
            self.operations, self.watches
        )?;
        for (why, n) in &self.left_out {
            write!(f, "\n  not kept: {n} × {why}")?;
        }
        Ok(())
    }
}

/// Writes `history` in `format` into the folder `out` (created if need be),
/// or, for a format of one file, to the file `out` (its folder created if
/// need be).
pub fn export(
    history: &History,
    format: ExportFormat,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    match format {
        ExportFormat::EtcdRobustness => etcd_robustness::write(history, out),
        ExportFormat::JepsenEdn => jepsen_edn::write(history, out),
        ExportFormat::PorcupineKv => porcupine_kv::write(history, out),
    }
}

/// Writes one file, creating its folder.
fn write_file(path: &Path, text: &str) -> Result<(), ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(path, text).map_err(io(path))
}
