//! Serializable reads: served from a member's local state, possibly stale, but
//! always exactly the state at the revision they report.

use serde_json::json;

use super::{Context, needs_linearization, verdict, violation};
use crate::history::describe::answer;
use crate::history::{OpResult, Request, Response};
use crate::models::etcd::range::{range_answers, range_snapshot};
use crate::report::PropertyResult;
use crate::rules::READS_SERIALIZABLE;

pub(crate) fn check(ctx: &Context) -> PropertyResult {
    let lin = match ctx.linearized {
        Ok(lin) => lin,
        Err(reason) => {
            let any = ctx
                .history
                .operations
                .iter()
                .any(|o| o.request.is_serializable_read());
            return if any {
                needs_linearization(READS_SERIALIZABLE, reason)
            } else {
                verdict(READS_SERIALIZABLE, vec![], 0)
            };
        }
    };
    let mut found = vec![];
    for op in &ctx.history.operations {
        let (Request::Range(req), OpResult::Ok(Response::Range(got))) = (&op.request, &op.result)
        else {
            continue;
        };
        if !req.serializable || got.header_revision <= 0 {
            continue;
        }
        let header = got.header_revision;
        if header > lin.max_revision() {
            found.push(violation(
                READS_SERIALIZABLE,
                format!(
                    "Serializable read {} reports revision {header}, which the store never reached (the linearized history ends at {}).",
                    op.id,
                    lin.max_revision()
                ),
                vec![op.id],
                None,
                json!({"header_revision": header, "max_revision": lin.max_revision()}),
            ));
            continue;
        }
        if let (Some((rev, written)), Some(ret)) = (lin.reached_not_before(header), op.ret)
            && written > ret
        {
            found.push(violation(
                READS_SERIALIZABLE,
                format!(
                    "Serializable read {} returned at {ret} reporting revision {header}, but revision {rev} was written by a request called only at {written}.",
                    op.id
                ),
                vec![op.id],
                None,
                json!({"header_revision": header, "revision": rev, "written_by_call_at": written}),
            ));
            continue;
        }
        let at = if req.revision > 0 {
            req.revision
        } else {
            header
        };
        if !range_answers(lin.store(), req, at, got, ctx.history.recorded) {
            let expected = range_snapshot(lin.store(), req, at, header);
            found.push(violation(
                READS_SERIALIZABLE,
                format!(
                    "Serializable read {} at revision {at} returned {}, but the state at that revision gives {}.",
                    op.id,
                    answer(Ok(&Response::Range(got.clone()))),
                    answer(Ok(&Response::Range(expected.clone())))
                ),
                vec![op.id],
                None,
                json!({"revision": at, "returned": got, "expected": expected}),
            ));
        }
    }
    verdict(READS_SERIALIZABLE, found, ctx.options.max_reported)
}
