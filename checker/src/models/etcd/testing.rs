//! Histories for the etcd model's unit tests, built by running requests on
//! the checker's own store.

use super::exec;
use super::store::Store;
use crate::history::{History, OpResult, Operation, PutRequest, RangeRequest, Request};

/// A put of `key` attached to `lease`.
pub fn leased(key: &str, lease: i64) -> Request {
    Request::Put(PutRequest {
        key: key.into(),
        value: "v".into(),
        lease,
        ..Default::default()
    })
}

/// Appends `request` with `result` (one client, 10 ns apart).
pub fn record(history: &mut History, request: Request, result: OpResult) {
    let id = history.operations.len() as u64 + 1;
    history.operations.push(Operation {
        id,
        client: 1,
        call: id * 10,
        ret: Some(id * 10 + 5),
        request,
        result,
        k8s: None,
    });
}

/// Runs `request` on `store` and appends it with the store's answer.
pub fn run(store: &mut Store, history: &mut History, request: Request) {
    let result = match exec::execute(store, &request, None) {
        Ok(r) => OpResult::Ok(r),
        Err(e) => OpResult::Fail(e),
    };
    record(history, request, result);
}

/// Runs `request` on `store` and appends it with an unknown outcome.
pub fn run_unanswered(store: &mut Store, history: &mut History, request: Request) {
    exec::execute(store, &request, None).expect("the request applies");
    record(history, request, OpResult::Unknown("timeout".into()));
}

/// A linearizable read of every key, as runs end with.
pub fn read_everything(store: &mut Store, history: &mut History) {
    let everything = Request::Range(RangeRequest {
        key: "\0".into(),
        range_end: "\0".into(),
        ..Default::default()
    });
    run(store, history, everything);
}
