//! Rule `watch.cancel-acknowledged`: etcd answers the cancel of a watch it
//! has with a response marked cancelled (`serverWatchStream` sends it on
//! the stream's control channel). A store that drops the watcher silently,
//! or answers without the mark, leaves the client not knowing whether
//! events may still come; no other rule sees that, since a watch that
//! simply ends breaks no delivery guarantee.

use serde_json::json;

use super::requests::FaultWindows;
use super::{Context, verdict, violation};
use crate::anomaly::Anomaly;
use crate::report::PropertyResult;
use crate::rules::WATCH_CANCEL_ACKNOWLEDGED;

/// How long after its cancel a watch is judged: the traffic waits this long
/// for the acknowledgements before it closes the stream.
pub const CANCEL_ACK_NS: u64 = 200_000_000;

pub(crate) fn check(ctx: &Context<'_>) -> PropertyResult {
    let windows = FaultWindows::of(&ctx.history.annotations);
    let found = ctx
        .history
        .watches
        .iter()
        .filter_map(|w| {
            let sent = w.cancel_sent?;
            let answered = w.responses.iter().any(|r| r.canceled);
            let judged = windows.free_during(sent, sent.saturating_add(CANCEL_ACK_NS));
            (judged && !answered).then(|| {
                violation(
                    WATCH_CANCEL_ACKNOWLEDGED,
                    format!(
                        "Watch {} of client {} was cancelled by the client at {:.3} s, away from faults, and no response marked cancelled came within {} ms ({} responses in all).",
                        w.id,
                        w.client,
                        sent as f64 / 1e9,
                        CANCEL_ACK_NS / 1_000_000,
                        w.responses.len()
                    ),
                    vec![],
                    Some(w.id),
                    json!({"watch": w.id, "client": w.client, "cancel_sent": sent}),
                )
                .classed(Anomaly::CancelUnanswered)
            })
        })
        .collect();
    verdict(WATCH_CANCEL_ACKNOWLEDGED, found, ctx.options.max_reported)
}
