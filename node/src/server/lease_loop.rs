//! The leader's lease duties: revoke leases whose time ran out (through
//! raft, so every member deletes the same keys at the same revision), and
//! checkpoint remaining TTLs where the cluster version has checkpoints.

use super::MemberState;
use super::propose::propose;
use crate::failpoint::Failpoint;
use crate::invariants::Invariant;
use crate::version::Version;
use crate::wire::api::LeaseRevokeRequest;
use crate::wire::internal::{
    KeyExpireRequest, LeaseCheckpoint, LeaseCheckpointRequest, internal_request,
};
use std::sync::Arc;
use std::time::Duration;

/// How often the leader looks for expired leases (etcd: 500 ms).
const EXPIRY_CHECK: Duration = Duration::from_millis(200);
/// Revokes proposed per check, at most.
const REVOKES_PER_CHECK: usize = 16;

pub(crate) async fn run(state: Arc<MemberState>) {
    let checkpoint_every =
        Duration::from_millis(state.config.knobs.lease_checkpoint_interval_ms.max(1));
    let mut since_checkpoint = Duration::ZERO;
    loop {
        madsim::time::sleep(EXPIRY_CHECK).await;
        since_checkpoint += EXPIRY_CHECK;
        if !state.is_leader() || !state.lessor.is_primary() {
            state.key_ttl_deadlines.lock().clear();
            continue;
        }
        let now = state.env.clock.now();
        let expired = state.lessor.expired(now, REVOKES_PER_CHECK);
        for &id in &expired {
            let left = state.lessor.time_to_live(id, now).map(|s| s.ttl);
            state.env.check(
                Invariant::OnlyLeaderRevokesExpired,
                state.lessor.is_primary() && left.as_ref().is_ok_and(|ttl| *ttl <= 0),
                || {
                    format!(
                        "lease {id} to revoke with {left:?} s left, primary: {}",
                        state.lessor.is_primary()
                    )
                },
            );
        }
        if !expired.is_empty()
            && state
                .env
                .failpoint(Failpoint::BeforeLeaseRevokeExpired)
                .await
                .is_ok()
        {
            for id in expired {
                state.env.reach(crate::coverage::Point::LeaseExpiredRevoked);
                let revoke = internal_request::Request::LeaseRevoke(LeaseRevokeRequest { id });
                // Each revoke waits for its outcome so they do not pile up.
                let _ = propose(&state, revoke).await;
            }
        }
        expire_keys(&state).await;
        let checkpoints_on = state.has_feature(Version::V3_6);
        if checkpoints_on && since_checkpoint >= checkpoint_every {
            since_checkpoint = Duration::ZERO;
            let checkpoints: Vec<LeaseCheckpoint> = state
                .lessor
                .checkpoints(state.env.clock.now())
                .into_iter()
                .map(|(id, remaining_ttl)| LeaseCheckpoint { id, remaining_ttl })
                .collect();
            if !checkpoints.is_empty()
                && state
                    .env
                    .failpoint(Failpoint::BeforeLeaseCheckpoint)
                    .await
                    .is_ok()
            {
                state.env.reach(crate::coverage::Point::LeaseCheckpointed);
                let cp = internal_request::Request::LeaseCheckpoint(LeaseCheckpointRequest {
                    checkpoints,
                });
                let _ = propose(&state, cp).await;
            }
        }
    }
}

/// Proposes the deletion of keys whose per-key TTL (3.7) ran out. The
/// leader counts each (key, mod_revision) with a TTL down from when it
/// first saw it (`MemberState::key_ttl_deadlines`; a new leader starts
/// counting afresh, as it does for leases).
async fn expire_keys(state: &MemberState) {
    if !state.has_feature(Version::V3_7) {
        // Below 3.7 no key expires (a downgrade strips the TTLs): nothing
        // is counted down.
        state.key_ttl_deadlines.lock().clear();
        return;
    }
    let now = state.env.clock.now();
    let all = state.mvcc.range(&crate::mvcc::RangeOptions {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    });
    let Ok(all) = all else { return };
    let live: Vec<(Vec<u8>, i64, i64)> = all
        .kvs
        .into_iter()
        .filter(|kv| kv.ttl > 0)
        .map(|kv| (kv.key, kv.mod_revision, kv.ttl))
        .collect();
    let due: Vec<(Vec<u8>, i64)> = {
        let mut deadlines = state.key_ttl_deadlines.lock();
        deadlines.retain(|(k, rev), _| live.iter().any(|(lk, lrev, _)| lk == k && lrev == rev));
        live.into_iter()
            .filter(|(key, mod_revision, ttl)| {
                let deadline = *deadlines
                    .entry((key.clone(), *mod_revision))
                    .or_insert(now + Duration::from_secs(*ttl as u64));
                now >= deadline
            })
            .map(|(key, mod_revision, _)| (key, mod_revision))
            .collect()
    };
    for (key, mod_revision) in due {
        state.env.reach(crate::coverage::Point::KeyTtlExpired);
        let expire = internal_request::Request::KeyExpire(KeyExpireRequest { key, mod_revision });
        let _ = propose(state, expire).await;
    }
}
