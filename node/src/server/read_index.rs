//! Linearizable reads, as etcd's linearizableReadLoop serves them: reads
//! that arrive together share one ReadIndex request with a fresh id; once
//! raft confirms the leader's commit index, they wait until this member has
//! applied it, then read locally.

use super::{MemberState, RaftRequest};
use crate::bugs::Bug;
use crate::wire::api::ErrorCode;
use parking_lot::Mutex;
use raft::ReadState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

type Waiter = oneshot::Sender<Result<u64, ErrorCode>>;

#[derive(Default)]
pub(crate) struct ReadWaiters {
    pending: Mutex<Vec<Waiter>>,
    notify: Notify,
}

impl ReadWaiters {
    /// Waits until a read may be served locally; returns the index the
    /// member had to reach.
    pub async fn barrier(&self) -> Result<u64, ErrorCode> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().push(tx);
        self.notify.notify_one();
        rx.await.unwrap_or(Err(ErrorCode::Stopped))
    }

    fn take(&self) -> Vec<Waiter> {
        std::mem::take(&mut *self.pending.lock())
    }
}

/// How long to wait for a ReadIndex answer before asking again.
const RETRY: Duration = Duration::from_millis(500);

pub(crate) async fn run(
    state: Arc<MemberState>,
    mut read_states: mpsc::UnboundedReceiver<ReadState>,
) {
    let timeout = Duration::from_millis(state.config.knobs.request_timeout_ms);
    // The id of the last ReadIndex request that was never answered.
    let mut unanswered: Option<u64> = None;
    loop {
        let batch = loop {
            let batch = state.reads.take();
            if !batch.is_empty() {
                break batch;
            }
            state.reads.notify.notified().await;
        };
        // etcd-20418: the next batch (a client's retry among it) reuses the
        // id of a request that timed out, so a late answer to that earlier
        // request, with the commit index of its time, serves reads that
        // arrived after it.
        let reused = unanswered
            .take()
            .filter(|_| state.config.bugs.has(Bug::Etcd20418));
        let id = reused.unwrap_or_else(|| state.next_request_id());
        let result = read_index(&state, &mut read_states, timeout, id).await;
        if result.is_err() {
            unanswered = Some(id);
        }
        if let Ok(index) = result {
            state.wait_applied(index).await;
        }
        for waiter in batch {
            let _ = waiter.send(result);
        }
    }
}

async fn read_index(
    state: &MemberState,
    read_states: &mut mpsc::UnboundedReceiver<ReadState>,
    timeout: Duration,
    id: u64,
) -> Result<u64, ErrorCode> {
    let deadline = madsim::time::Instant::now() + timeout;
    loop {
        if state.raft.lock().leader == 0 {
            return Err(ErrorCode::NoLeader);
        }
        let _ = state.to_raft.send(RaftRequest::ReadIndex {
            ctx: id.to_be_bytes().to_vec(),
        });
        let retry_at = (madsim::time::Instant::now() + RETRY).min(deadline);
        loop {
            let left = retry_at.saturating_duration_since(madsim::time::Instant::now());
            match madsim::time::timeout(left, read_states.recv()).await {
                Ok(Some(rs)) if rs.request_ctx == id.to_be_bytes() => return Ok(rs.index),
                // An answer to an earlier batch's request: too old for this one.
                Ok(Some(_)) => continue,
                Ok(None) => return Err(ErrorCode::Stopped),
                Err(_) => break,
            }
        }
        if madsim::time::Instant::now() >= deadline {
            return Err(ErrorCode::Timeout);
        }
        // As etcd, a retry within one batch asks again under the same id:
        // any answer to it covers every read of the batch.
    }
}
