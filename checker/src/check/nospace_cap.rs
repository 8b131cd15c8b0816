//! Rule `errors.capped-under-nospace`: while the cluster holds a NOSPACE
//! alarm, etcd's capped applier (applierV3Capped) refuses every request
//! that grows the store (a Put, a Txn that puts, a lease grant) with
//! ErrNoSpace; deletes, reads and compactions pass.
//!
//! The checker does not see an alarm raised, so it judges only the spans
//! an operator step marked (`Annotation::nospace_held`): from the answer
//! of an `alarm list` that showed NOSPACE to the first disarm sent. The
//! alarm was applied before the listing answered and cannot clear before
//! a disarm is applied, so a write sent after the span began and answered
//! before it ended was applied with the alarm active, on every member
//! (they apply in one order): its success is a violation.

use serde_json::json;

use super::refusals::grows;
use super::{Context, verdict, violation};
use crate::history::{History, OpResult};
use crate::report::PropertyResult;
use crate::rules::ERRORS_CAPPED_UNDER_NOSPACE;

pub(crate) fn check(ctx: &Context<'_>) -> PropertyResult {
    verdict(
        ERRORS_CAPPED_UNDER_NOSPACE,
        writes_under_nospace(ctx.history),
        ctx.options.max_reported,
    )
}

fn writes_under_nospace(history: &History) -> Vec<crate::report::Violation> {
    let held: Vec<(u64, u64)> = history
        .annotations
        .iter()
        .filter_map(|a| a.nospace_held())
        .collect();
    if held.is_empty() {
        return Vec::new();
    }
    history
        .operations
        .iter()
        .filter(|op| matches!(op.result, OpResult::Ok(_)) && grows(&op.request))
        .filter_map(|op| {
            let ret = op.ret?;
            let &(from, to) = held
                .iter()
                .find(|&&(from, to)| from <= op.call && ret <= to)?;
            Some(
                violation(
                    ERRORS_CAPPED_UNDER_NOSPACE,
                    format!(
                        "operation {} ({}) succeeded, but it was sent and answered while the cluster held a NOSPACE alarm (listed at {:.3} s, first disarm sent at {:.3} s), which refuses it",
                        op.id,
                        op.request.kind(),
                        from as f64 / 1e9,
                        to as f64 / 1e9,
                    ),
                    vec![op.id],
                    None,
                    json!({"held_from": from, "held_to": to}),
                )
                .about_request(op.request.kind()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{
        Annotation, DeleteRangeRequest, DeleteRangeResponse, Operation, PutRequest, PutResponse,
        Request, Response,
    };

    fn held(at: u64, end: u64) -> Annotation {
        Annotation {
            kind: None,
            at,
            end: Some(end),
            source: Annotation::OPERATOR.into(),
            text: format!("{} memberID:2 alarm:NOSPACE", Annotation::NOSPACE_HELD),
        }
    }

    fn op(id: u64, call: u64, ret: u64, request: Request, result: OpResult) -> Operation {
        Operation {
            id,
            client: 1,
            call,
            ret: Some(ret),
            request,
            result,
            k8s: None,
        }
    }

    fn put() -> Request {
        Request::Put(PutRequest {
            key: "k".into(),
            value: "v".into(),
            ..Default::default()
        })
    }

    fn put_ok() -> OpResult {
        OpResult::Ok(Response::Put(PutResponse::default()))
    }

    #[test]
    fn only_a_write_that_grows_the_store_inside_a_held_span_is_judged() {
        let history = History {
            operations: vec![
                // Inside [100, 200]: a Put that succeeded breaks the rule.
                op(1, 110, 150, put(), put_ok()),
                // Sent before the listing answered: may precede the alarm.
                op(2, 90, 150, put(), put_ok()),
                // Answered after the first disarm was sent: may follow it.
                op(3, 150, 210, put(), put_ok()),
                // A delete frees space: the capped applier lets it through.
                op(
                    4,
                    120,
                    130,
                    Request::DeleteRange(DeleteRangeRequest::default()),
                    OpResult::Ok(Response::DeleteRange(DeleteRangeResponse::default())),
                ),
                // Refused, as it must be.
                op(
                    5,
                    120,
                    130,
                    put(),
                    OpResult::Fail(crate::history::EtcdError::NoSpace),
                ),
                // A lease grant inside the span is capped too.
                op(
                    6,
                    160,
                    170,
                    Request::LeaseGrant { id: 7, ttl: 5 },
                    OpResult::Ok(Response::LeaseGrant(Default::default())),
                ),
            ],
            annotations: vec![held(100, 200)],
            ..History::default()
        };
        let judged: Vec<u64> = writes_under_nospace(&history)
            .iter()
            .flat_map(|v| v.operations.clone())
            .collect();
        assert_eq!(judged, vec![1, 6]);
    }

    #[test]
    fn without_a_held_span_nothing_is_judged() {
        let mut disarmed = held(100, 200);
        disarmed.text = format!("{} memberID:2 alarm:NOSPACE", Annotation::ALARM_DISARMED);
        let history = History {
            operations: vec![op(1, 110, 150, put(), put_ok())],
            annotations: vec![disarmed],
            ..History::default()
        };
        assert!(writes_under_nospace(&history).is_empty());
    }
}
