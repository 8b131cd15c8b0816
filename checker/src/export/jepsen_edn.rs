//! faultline history → a Jepsen history in EDN, as jepsen.history defines it
//! and as a keyed-register workload (`jepsen.independent` over Knossos's
//! cas-register) records it: one operation map per line, `:type`, `:f`,
//! `:value`, `:time` (nanoseconds since the run began, which is what
//! faultline's times are), `:process`, `:index`, and `:error` on failed and
//! indeterminate completions. Values are `[key value]` tuples with string
//! keys and values: `:read` `[k nil]` completing `[k v]` (nil: absent),
//! `:write` `[k v]` (a delete writes nil), `:cas` `[k [from to]]`.
//!
//! Which operations are kept is `registers`' choice. Faults (annotations)
//! become `:nemesis` events: `:f :start` at their beginning and `:f :stop`
//! at their end, `:value` their text.

use std::fmt::Write as _;
use std::path::Path;

use super::jepsen_events::{Event, Kind, edn_string, events};
use super::registers::{Action, Ending, Projection, RegisterOp, project};
use super::{ExportError, ExportFormat, ExportSummary};
use crate::history::History;

/// The EDN text and the summary.
pub fn to_edn(history: &History) -> Result<(String, ExportSummary), ExportError> {
    let Projection { ops, left_out } =
        project(history).map_err(|r| ExportError::Unrepresentable {
            format: ExportFormat::JepsenEdn,
            id: r.id,
            request: r.request,
            why: r.why,
        })?;
    let mut lines: Vec<(u64, String)> = events(&ops)
        .into_iter()
        .map(|e| (e.time, operation(&e)))
        .collect();
    for a in &history.annotations {
        lines.push((a.at, nemesis("start", &a.text)));
        if let Some(end) = a.end {
            lines.push((end, nemesis("stop", &a.text)));
        }
    }
    // Stable: events of one time keep their order.
    lines.sort_by_key(|(time, _)| *time);
    let mut text = String::new();
    for (index, (time, fields)) in lines.into_iter().enumerate() {
        let _ = writeln!(text, "{{{fields}, :time {time}, :index {index}}}");
    }
    let summary = ExportSummary {
        operations: ops.len(),
        watches: 0,
        left_out: left_out.into_iter().collect(),
    };
    Ok((text, summary))
}

/// Writes the history to the file `out`.
pub fn write(history: &History, out: &Path) -> Result<ExportSummary, ExportError> {
    let (text, summary) = to_edn(history)?;
    super::write_file(out, &text)?;
    Ok(summary)
}

fn value(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "nil".to_string(), edn_string)
}

/// The fields of one event before `:time` and `:index`, in jepsen.history's order.
fn operation(e: &Event) -> String {
    let op: &RegisterOp = e.op;
    let key = edn_string(&op.key);
    let (f, v) = match (&op.action, e.kind) {
        (Action::Read { .. }, Kind::Invoke) => ("read", format!("[{key} nil]")),
        (Action::Read { value: v }, _) => ("read", format!("[{key} {}]", value(v))),
        (Action::Write { value: v }, _) => ("write", format!("[{key} {}]", value(v))),
        (Action::Cas { from, to }, _) => (
            "cas",
            format!("[{key} [{} {}]]", edn_string(from), edn_string(to)),
        ),
    };
    let kind = match e.kind {
        Kind::Invoke => "invoke",
        Kind::Ok => "ok",
        Kind::Fail => "fail",
        Kind::Info => "info",
    };
    let error = match (&op.ending, e.kind) {
        (Ending::Failed(why) | Ending::Unknown(why), Kind::Fail | Kind::Info) => {
            format!(", :error {}", edn_string(why))
        }
        _ => String::new(),
    };
    format!(
        ":type :{kind}, :f :{f}, :value {v}, :process {}{error}",
        e.process
    )
}

fn nemesis(f: &str, text: &str) -> String {
    format!(
        ":type :info, :f :{f}, :value {}, :process :nemesis",
        edn_string(text)
    )
}
