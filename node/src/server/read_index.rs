//! Linearizable reads, as etcd's linearizableReadLoop serves them (with the
//! fixes of etcd-20418): reads that arrive together form one round; the
//! round asks raft for the leader's commit index with a ReadIndex request,
//! and asks again every 500 ms under a fresh request id, accepting the
//! answer to any id the round sent (PR 21399). A leader change during the
//! round fails it, and wins over a ReadState that arrives with it (PR 21375).
//! Once the index is confirmed, the round waits until this member has
//! applied it; then its reads are served locally.

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

/// How long to wait for a ReadIndex answer before asking again (etcd's
/// readIndexRetryTime).
const RETRY: Duration = Duration::from_millis(500);

pub(crate) async fn run(
    state: Arc<MemberState>,
    mut read_states: mpsc::UnboundedReceiver<ReadState>,
) {
    let timeout = Duration::from_millis(state.config.knobs.request_timeout_ms);
    loop {
        let batch = loop {
            let batch = state.reads.take();
            if !batch.is_empty() {
                break batch;
            }
            state.reads.notify.notified().await;
        };
        let result = read_index(&state, &mut read_states, timeout).await;
        if let Ok(index) = result {
            state.wait_applied(index).await;
            let applied = state.applied_index();
            state.env.check(
                crate::invariants::Invariant::ReadServedAfterApplyingIndex,
                applied >= index,
                || format!("reads released at applied index {applied}, read index {index}"),
            );
        }
        for waiter in batch {
            let _ = waiter.send(result);
        }
    }
}

/// The request ids one round sent, and how to send the next.
struct Round {
    sent: Vec<u64>,
    /// etcd-20418 switched on: every retry re-sends the first id, and a
    /// ReadState is taken even when a leader change came with it.
    before_fix: bool,
}

impl Round {
    /// The id of the next ReadIndex request of this round.
    fn next_id(&mut self, state: &MemberState) -> u64 {
        let id = match self.sent.first() {
            Some(first) if self.before_fix => *first,
            _ => state.next_request_id(),
        };
        if !self.sent.contains(&id) {
            self.sent.push(id);
        }
        id
    }

    /// Whether a ReadState answers one of this round's requests.
    fn answers(&self, rs: &ReadState) -> bool {
        <[u8; 8]>::try_from(rs.request_ctx.as_slice())
            .is_ok_and(|ctx| self.sent.contains(&u64::from_be_bytes(ctx)))
    }
}

async fn read_index(
    state: &MemberState,
    read_states: &mut mpsc::UnboundedReceiver<ReadState>,
    timeout: Duration,
) -> Result<u64, ErrorCode> {
    let deadline = madsim::time::Instant::now() + timeout;
    let leader = state.raft.lock().leader;
    let leader_changed = || state.raft.lock().leader != leader;
    let mut round = Round {
        sent: Vec::new(),
        before_fix: state.config.bugs.has(Bug::Etcd20418),
    };
    loop {
        if leader == 0 || leader_changed() {
            return Err(if leader == 0 {
                ErrorCode::NoLeader
            } else {
                state
                    .env
                    .reach(crate::coverage::Point::ReadIndexLeaderChanged);
                ErrorCode::LeaderChanged
            });
        }
        let id = round.next_id(state);
        let _ = state.to_raft.send(RaftRequest::ReadIndex {
            ctx: id.to_be_bytes().to_vec(),
        });
        let retry_at = (madsim::time::Instant::now() + RETRY).min(deadline);
        loop {
            let left = retry_at.saturating_duration_since(madsim::time::Instant::now());
            match madsim::time::timeout(left, read_states.recv()).await {
                Ok(Some(rs)) => {
                    if !round.before_fix && leader_changed() {
                        state
                            .env
                            .reach(crate::coverage::Point::ReadIndexLeaderChanged);
                        return Err(ErrorCode::LeaderChanged);
                    }
                    if round.answers(&rs) {
                        return Ok(rs.index);
                    }
                    // An answer to an earlier round's request: too old for this one.
                }
                Ok(None) => return Err(ErrorCode::Stopped),
                Err(_) => break,
            }
        }
        if madsim::time::Instant::now() >= deadline {
            return Err(ErrorCode::Timeout);
        }
        state.env.reach(crate::coverage::Point::ReadIndexRetried);
    }
}
