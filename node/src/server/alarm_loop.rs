//! Raising alarms. NOSPACE: when a backend commit found the disk full,
//! the member proposes the alarm for itself, as etcd's server does when
//! an apply fails with ErrNoSpace (its quota); the write that hit it is
//! kept pending in memory and committed once there is room. CORRUPT: the
//! leader's periodic corruption check (etcd's corruptionChecker.
//! PeriodicCheck, run every `corrupt_check_interval_ms`, off by default
//! as in etcd) compares followers' HashKV at its revision with its own.
//!
//! etcd differs on one point: its bbolt backend ends the process when a
//! commit fails, so a full disk stops etcd and only the quota
//! (`--quota-backend-bytes`) raises NOSPACE. Here a full disk under the
//! backend plays the quota's part.

use super::propose::propose;
use super::{ApplyResult, MemberState};
use crate::client::Client;
use crate::wire::api::{
    AlarmAction, AlarmRequest, AlarmType, HashKvRequest, HashKvResponse, client_request,
    client_response,
};
use crate::wire::internal::internal_request::Request as R;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Proposes an alarm for `member` through raft and waits for its apply.
pub(crate) async fn raise(state: &MemberState, member: u64, alarm: AlarmType) -> ApplyResult {
    propose(
        state,
        R::Alarm(AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: member,
            alarm: alarm as i32,
        }),
    )
    .await
}

/// After a commit: if the backend found the disk full and this member's
/// NOSPACE alarm is not raised yet, raises it (one attempt at a time; the
/// next commit that still finds no space tries again).
pub(crate) fn after_commit(state: &Arc<MemberState>) {
    if !state.backend.no_space()
        || state.alarms.lock().has_for(state.id(), AlarmType::Nospace)
        || state.raising_no_space.swap(true, Ordering::Relaxed)
    {
        return;
    }
    let state = state.clone();
    madsim::task::spawn(async move {
        tracing::warn!(member = state.id(), "backend out of space; raising alarm");
        let _ = raise(&state, state.id(), AlarmType::Nospace).await;
        state.raising_no_space.store(false, Ordering::Relaxed);
    });
}

/// The leader's periodic corruption check; returns at once when the
/// interval is 0.
pub(crate) async fn corruption_check(state: Arc<MemberState>) {
    let every = Duration::from_millis(state.config.knobs.corrupt_check_interval_ms);
    if every.is_zero() {
        return;
    }
    loop {
        madsim::time::sleep(every).await;
        if !state.is_leader() {
            continue;
        }
        if let Some((member, why)) = periodic_check(&state).await {
            tracing::warn!(member = state.id(), corrupt = member, "{why}");
            let _ = raise(&state, member, AlarmType::Corrupt).await;
        }
    }
}

/// One round of etcd's PeriodicCheck: the first member found to differ,
/// with why. A member that does not answer, or cannot hash at the
/// leader's revision, is left out of the round.
async fn periodic_check(state: &MemberState) -> Option<(u64, String)> {
    let h = state.mvcc.hash_kv(0).ok()?;
    let peers = peer_hashes(state, h.hash_revision).await;
    state.reads.barrier().await.ok()?;
    let h2 = state.mvcc.hash_kv(0).ok()?;
    let rev2 = state.mvcc.current_revision();
    if h2.hash != h.hash
        && h2.hash_revision == h.hash_revision
        && h2.compact_revision == h.compact_revision
    {
        return Some((
            state.id(),
            format!(
                "own hash at revision {} changed: {} then {}",
                h.hash_revision, h.hash, h2.hash
            ),
        ));
    }
    for (peer, resp) in peers {
        let revision = resp.header.as_ref().map_or(0, |hd| hd.revision);
        let why = if revision > rev2 {
            format!("m{peer} is at revision {revision}, past the leader's {rev2}")
        } else if resp.compact_revision > h2.compact_revision {
            format!(
                "m{peer} compacted to {}, past the leader's {}",
                resp.compact_revision, h2.compact_revision
            )
        } else if resp.compact_revision == h.compact_revision && resp.hash != h.hash {
            format!(
                "m{peer} hashes revision {} to {}, the leader to {}",
                h.hash_revision, resp.hash, h.hash
            )
        } else {
            continue;
        };
        return Some((peer, why));
    }
    None
}

/// Every other member's HashKV at `revision`, from those that answer.
async fn peer_hashes(state: &MemberState, revision: i64) -> Vec<(u64, HashKvResponse)> {
    let peers: Vec<(u64, std::net::IpAddr)> = state
        .cluster
        .lock()
        .members
        .values()
        .filter(|m| m.id != state.id())
        .filter_map(|m| Some((m.id, m.ip.parse().ok()?)))
        .collect();
    let timeout = Duration::from_millis(state.config.knobs.request_timeout_ms);
    let mut answers = Vec::new();
    for (id, ip) in peers {
        let mut client = Client::new(vec![(id, ip)], 0, timeout);
        if let Ok(client_response::Body::HashKv(resp)) = client
            .request(client_request::Body::HashKv(HashKvRequest { revision }))
            .await
        {
            answers.push((id, resp));
        }
    }
    answers
}
