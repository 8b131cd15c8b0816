//! faultline history → porcupine's kv test data (`test_data/kv/*.txt` in
//! anishathalye/porcupine, read by `parseKvLog` in its `porcupine_test.go`):
//! one line per event, exactly
//! `{:process P, :type :invoke, :f :get, :key "K", :value nil}`, an `:ok`
//! get carrying the value read (`""` for an absent key: porcupine's kv model
//! starts every key at `""`), and `:put` with the value both ways.
//!
//! porcupine's layout has gets, puts and appends, each invoked and `:ok`;
//! nothing else. So: a delete is a put of `""` (the value porcupine's model
//! gives an absent key); an operation with an unknown outcome is invoked and
//! completed `:info` (porcupine's parser skips that line and leaves the put
//! pending to the end, where it can take effect or, placed last, change no
//! answer: the same reading), and its process is not used again, as in
//! Jepsen; a definite failure took no effect and is left out; a cas cannot
//! be held. Faults (annotations) are left out. Keys and values are written
//! as EDN strings (quotes, backslashes and control characters escaped):
//! porcupine's regular expressions take them verbatim, which changes no
//! comparison, since the escaping is one-to-one.

use std::fmt::Write as _;
use std::path::Path;

use super::jepsen_events::{Kind, edn_string, events};
use super::registers::{Action, Ending, Projection, RegisterOp, project};
use super::{ExportError, ExportFormat, ExportSummary};
use crate::history::{History, describe};

/// The text and the summary.
pub fn to_text(history: &History) -> Result<(String, ExportSummary), ExportError> {
    let unrepresentable = |id: u64, request: String, why: String| ExportError::Unrepresentable {
        format: ExportFormat::PorcupineKv,
        id,
        request,
        why,
    };
    let Projection { ops, mut left_out } =
        project(history).map_err(|r| unrepresentable(r.id, r.request, r.why))?;
    let mut kept: Vec<RegisterOp> = Vec::with_capacity(ops.len());
    for op in ops {
        match (&op.action, &op.ending) {
            (_, Ending::Failed(_)) => {
                *left_out
                    .entry(
                        "a definite failure (porcupine's kv format has none; it took no effect)"
                            .into(),
                    )
                    .or_default() += 1;
            }
            (Action::Cas { .. }, _) => {
                let request = history
                    .operations
                    .iter()
                    .find(|o| o.id == op.id)
                    .map_or_else(String::new, |o| describe::request(&o.request));
                return Err(unrepresentable(
                    op.id,
                    request,
                    "a cas (porcupine's kv format has get, put and append)".into(),
                ));
            }
            _ => kept.push(op),
        }
    }
    if !history.annotations.is_empty() {
        left_out.insert(
            "an annotation (fault; the format has no nemesis)".into(),
            history.annotations.len(),
        );
    }
    let mut text = String::new();
    for e in events(&kept) {
        let key = edn_string(&e.op.key);
        let (f, value) = match (&e.op.action, e.kind) {
            (Action::Read { .. }, Kind::Invoke) => ("get", "nil".to_string()),
            (Action::Read { value }, _) => ("get", edn_string(value.as_deref().unwrap_or(""))),
            (Action::Write { value }, _) => ("put", edn_string(value.as_deref().unwrap_or(""))),
            (Action::Cas { .. }, _) => continue,
        };
        let kind = match e.kind {
            Kind::Invoke => "invoke",
            Kind::Ok => "ok",
            Kind::Fail => "fail",
            Kind::Info => "info",
        };
        let _ = writeln!(
            text,
            "{{:process {}, :type :{kind}, :f :{f}, :key {key}, :value {value}}}",
            e.process
        );
    }
    let summary = ExportSummary {
        operations: kept.len(),
        watches: 0,
        left_out: left_out.into_iter().collect(),
    };
    Ok((text, summary))
}

/// Writes the history to the file `out`.
pub fn write(history: &History, out: &Path) -> Result<ExportSummary, ExportError> {
    let (text, summary) = to_text(history)?;
    super::write_file(out, &text)?;
    Ok(summary)
}
