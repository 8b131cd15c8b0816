//! Requests waiting for their raft entry to be applied, by request id.

use crate::wire::api::{ErrorResponse, client_response};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// The result of applying a request, for the client waiting on it.
pub type ApplyResult = Result<client_response::Body, ErrorResponse>;

#[derive(Default)]
pub struct Wait {
    waiters: Mutex<BTreeMap<u64, oneshot::Sender<ApplyResult>>>,
}

impl Wait {
    pub fn register(&self, id: u64) -> oneshot::Receiver<ApplyResult> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(id, tx);
        rx
    }

    /// Hands the result to the waiter, if one is still waiting.
    pub fn trigger(&self, id: u64, result: ApplyResult) {
        if let Some(tx) = self.waiters.lock().remove(&id) {
            let _ = tx.send(result);
        }
    }

    pub fn cancel(&self, id: u64) {
        self.waiters.lock().remove(&id);
    }
}
