//! etcd's robustness test reports (etcd `tests/robustness/report`): a
//! folder per test with `client-N/operations.json` (porcupine operations of
//! `EtcdRequest` and `MaybeEtcdResponse`, one indented JSON object after
//! another) and `client-N/watch.json` (`WatchOperation`s), beside
//! `server-*` member data directories and `traffic.json`.
//!
//! The members' write-ahead logs (`server-*/member/wal`, [`wal`]) tell, as
//! for etcd's validation, whether a failed write was persisted
//! ([`persisted`]): a unique write they do not hold is left out, one they
//! hold is marked persisted. Without them such writes stay unknown, which
//! is weaker but never wrong. The bbolt files are not read. What etcd's
//! format does not record (create revisions, leases of
//! key-values, watch event versions, lease TTLs, keep-alives) is named in
//! the history's [`Recorded`] so the checks leave it out.

pub mod convert;
pub mod format;
pub mod persisted;
pub mod value;
pub mod wal;

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::history::{Annotation, History, Issuer, Operation, Recorded, WatchRecord};
use format::{CLIENT_DIR_PREFIX, KvOperation, OPERATIONS_FILE, WATCH_FILE, WatchOperation};

/// Most client folders one report may hold.
pub const MAX_CLIENTS: usize = 100_000;

/// What etcd's format records of key-values.
pub const RECORDED: Recorded = Recorded {
    create_revision: false,
    lease: false,
    event_version: false,
    lease_ttl: false,
    key_ttl: false,
};

/// The annotation source of what the report held that is not a request of
/// faultline's history (defragmentations).
pub const SOURCE: &str = "etcd-robustness";

/// A report that cannot be read: the file, the line when known, what was
/// expected. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ReportError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// One client folder's files, parsed; each element with its first line.
#[derive(Debug, Clone, Default)]
pub struct ClientReport {
    pub client: u64,
    pub operations: Vec<(usize, KvOperation)>,
    pub watches: Vec<(usize, WatchOperation)>,
}

/// Whether `path` looks like a report: a folder with a `client-*` folder
/// holding `operations.json` or `watch.json`.
pub fn is_report(path: &Path) -> bool {
    client_dirs(path).is_ok_and(|dirs| {
        dirs.iter()
            .any(|(_, d)| d.join(OPERATIONS_FILE).is_file() || d.join(WATCH_FILE).is_file())
    })
}

fn client_dirs(path: &Path) -> Result<Vec<(u64, PathBuf)>, ReportError> {
    let error = |message: String| ReportError {
        file: path.to_path_buf(),
        line: None,
        message,
    };
    let entries = fs::read_dir(path).map_err(|e| error(format!("cannot read the folder: {e}")))?;
    let mut dirs = vec![];
    for entry in entries {
        let entry = entry.map_err(|e| error(format!("cannot read the folder: {e}")))?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CLIENT_DIR_PREFIX))
        else {
            continue;
        };
        if !entry.path().is_dir() {
            continue;
        }
        // etcd's loader refuses a client folder whose suffix is no number.
        let id: u64 = id.parse().map_err(|_| {
            error(format!(
                "folder {:?}: expected client-N with N a client number",
                name.to_string_lossy()
            ))
        })?;
        dirs.push((id, entry.path()));
        if dirs.len() > MAX_CLIENTS {
            return Err(error(format!("more than {MAX_CLIENTS} client folders")));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Reads every client folder of a report.
pub fn read_report(path: &Path) -> Result<Vec<ClientReport>, ReportError> {
    let dirs = client_dirs(path)?;
    if dirs.is_empty() {
        return Err(ReportError {
            file: path.to_path_buf(),
            line: None,
            message: format!(
                "no {CLIENT_DIR_PREFIX}N folder; expected an etcd robustness report (client-N/{OPERATIONS_FILE}, client-N/{WATCH_FILE})"
            ),
        });
    }
    dirs.into_iter()
        .map(|(client, dir)| {
            Ok(ClientReport {
                client,
                operations: read_stream(&dir.join(OPERATIONS_FILE))?,
                watches: read_stream(&dir.join(WATCH_FILE))?,
            })
        })
        .collect()
}

/// A missing file is an empty one, as for etcd (a client without watches
/// or without KV operations writes none).
fn read_stream<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, ReportError> {
    let error = |line: Option<usize>, message: String| ReportError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = match crate::input::read_text(path) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => return Ok(vec![]),
        Err(e) => return Err(error(None, e.to_string())),
    };
    parse_stream(&text).map_err(|(line, message)| error(Some(line), message))
}

/// Go's `json.Decoder` loop: JSON values one after another, whitespace
/// between. Each value comes with the line it starts on.
pub fn parse_stream<T: DeserializeOwned>(text: &str) -> Result<Vec<(usize, T)>, (usize, String)> {
    let what = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("value");
    let mut out = vec![];
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<T>();
    let mut line = 1;
    let mut counted = 0;
    loop {
        let start = stream.byte_offset();
        let skipped = text[start..].len() - text[start..].trim_start().len();
        line += text[counted..start + skipped].matches('\n').count();
        counted = start + skipped;
        match stream.next() {
            None => return Ok(out),
            Some(Ok(v)) => out.push((line, v)),
            Some(Err(e)) => {
                // serde_json counts lines over the whole text.
                let at = if e.line() == 0 { line } else { e.line() };
                return Err((
                    at,
                    format!("expected a {what} as etcd writes it (JSON): {e}"),
                ));
            }
        }
    }
}

/// The history of a report: client operations in client order (ids from
/// 1), watches after them, defragmentations as annotations.
pub fn to_history(path: &Path, clients: &[ClientReport]) -> Result<History, ReportError> {
    let mut history = History {
        recorded: RECORDED,
        // etcd's robustness tests name who issues requests clients.
        issuer: Issuer::Client,
        ..Default::default()
    };
    for c in clients {
        let dir = path.join(format!("{CLIENT_DIR_PREFIX}{}", c.client));
        let error = |file: &str, line: usize, message: String| ReportError {
            file: dir.join(file),
            line: Some(line),
            message,
        };
        for (line, op) in &c.operations {
            let at = |message: String| error(OPERATIONS_FILE, *line, message);
            let call = u64::try_from(op.call)
                .map_err(|_| at(format!("Call is {}; expected nanoseconds >= 0", op.call)))?;
            let ret = u64::try_from(op.ret)
                .ok()
                .filter(|r| *r >= call)
                .ok_or_else(|| {
                    at(format!(
                        "Return is {}; expected a time >= Call ({call})",
                        op.ret
                    ))
                })?;
            let client = u64::try_from(op.client_id).map_err(|_| {
                at(format!(
                    "ClientId is {}; expected a number >= 0",
                    op.client_id
                ))
            })?;
            match convert::operation(op).map_err(at)? {
                convert::Converted::Operation { request, result } => {
                    history.operations.push(Operation {
                        id: history.operations.len() as u64 + 1,
                        client,
                        call,
                        ret: Some(ret),
                        request,
                        result,
                        k8s: None,
                    })
                }
                convert::Converted::Defragment { outcome } => {
                    history.annotations.push(Annotation {
                        kind: None,
                        at: call,
                        end: Some(ret),
                        source: SOURCE.into(),
                        text: format!("defragment by {} {client}: {outcome}", history.issuer),
                    })
                }
            }
        }
    }
    for c in clients {
        let file = path
            .join(format!("{CLIENT_DIR_PREFIX}{}", c.client))
            .join(WATCH_FILE);
        for (line, w) in &c.watches {
            let responses = w
                .responses
                .iter()
                .enumerate()
                .map(|(i, r)| convert::watch_response(r, &format!("Responses[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| ReportError {
                    file: file.clone(),
                    line: Some(*line),
                    message,
                })?;
            // When the watch was created is not recorded. Taken as the
            // start of the test: a later guess could place a compaction
            // before the creation it followed, and so misjudge the watch.
            let created = 0;
            history.watches.push(WatchRecord {
                id: history.watches.len() as u64 + 1,
                client: c.client,
                // clientv3 multiplexes a client's watches on one stream.
                stream: c.client,
                member: None,
                member_compacted: None,
                request: convert::watch_request(&w.request),
                created,
                responses,
                k8s_list: None,
                cancel_sent: None,
            });
        }
    }
    history.validate().map_err(|e| ReportError {
        file: path.to_path_buf(),
        line: None,
        message: format!("the report does not form a history: {e}"),
    })?;
    Ok(history)
}

/// A report read into a history, with what its WALs resolved.
#[derive(Debug, Clone)]
pub struct ImportedReport {
    pub history: History,
    /// None: the report holds no member WAL.
    pub wal: Option<WalOutcome>,
}

/// What the members' WALs said of the failed writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalOutcome {
    /// Members whose WAL was read.
    pub members: usize,
    /// Members whose WAL could not be read (skipped, as etcd does), why.
    pub unreadable: Vec<String>,
    /// Writes in the merged log.
    pub writes: usize,
    pub resolved: persisted::Resolved,
}

impl std::fmt::Display for WalOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WAL of {} members: {} persisted writes; failed writes resolved: {} not persisted (left out), {} persisted",
            self.members, self.writes, self.resolved.not_persisted, self.resolved.persisted
        )?;
        for why in &self.unreadable {
            write!(f, "; not read: {why}")?;
        }
        Ok(())
    }
}

/// Reads a report folder into a history, failed writes resolved by the
/// members' WALs when the report holds them.
pub fn import_report(path: &Path) -> Result<ImportedReport, ReportError> {
    let mut clients = read_report(path)?;
    let persisted = wal::read_persisted(path).map_err(|e| ReportError {
        file: e.file,
        line: None,
        message: e.message,
    })?;
    let wal = persisted.map(|p| WalOutcome {
        members: p.members.len(),
        unreadable: p.unreadable.clone(),
        writes: p.writes.len(),
        resolved: persisted::resolve(&mut clients, &p.writes),
    });
    Ok(ImportedReport {
        history: to_history(path, &clients)?,
        wal,
    })
}

/// Reads a report folder into a history (see [`import_report`]).
pub fn import(path: &Path) -> Result<History, ReportError> {
    import_report(path).map(|r| r.history)
}
