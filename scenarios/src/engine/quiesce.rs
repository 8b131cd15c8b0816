//! The end of a run: heal everything, wait for the cluster to answer, read
//! everything back, collect each member's HashKV and member list.

use super::*;
use crate::cluster;
use crate::control::*;
use crate::recorder::{RecordingClient, now_ns};
use crate::schema::Scenario;
use checker::history::{EndState, HashKv, ListedMember, MemberEndState, Membership};
use checker::rules;
use node::client::{Client, ClientError};
use node::wire::api::{
    ErrorCode, HashKvRequest, MemberListRequest, RangeRequest, client_request, client_response,
};
use sim::MemberStatus;
use std::sync::Arc;
use std::time::Duration;

/// Data of a cluster below 3.7 carries no per-key TTL: a downgrade removes
/// it (downgrade-keeps-fields left it in place).
async fn check_downgraded_fields(
    ctl: &Control,
    final_read: Option<&node::wire::api::RangeResponse>,
) {
    let Some(read) = final_read else { return };
    let statuses = cluster::statuses(&ctl.world, &ctl.members()).await;
    let below_3_7 = statuses
        .iter()
        .filter_map(|(_, s)| s.cluster_version.parse::<node::version::Version>().ok())
        .any(|v| v < node::version::Version::V3_7);
    if !below_3_7 {
        return;
    }
    if let Some(kv) = read.kvs.iter().find(|kv| kv.ttl != 0) {
        ctl.violations.lock().push((
            rules::VERSION_DOWNGRADED_FIELDS.into(),
            format!(
                "key {:?} still carries a per-key TTL of {} s although the cluster version is below 3.7",
                String::from_utf8_lossy(&kv.key),
                kv.ttl
            ),
        ));
    }
}

/// Heals everything, waits for the cluster to answer, reads everything
/// back into the history and collects each member's HashKV.
pub(super) async fn quiesce(ctl: Arc<Control>, scenario: Scenario) -> EndState {
    let world = ctl.world.clone();
    heal_everything(&ctl);
    let heal_time = now_ns();
    let bound = Duration::from_secs_f64(scenario.quiesce.liveness_bound_s);
    let endpoints: Vec<_> = world
        .endpoints()
        .into_iter()
        .filter(|(m, _)| ctl.members().contains(m))
        .collect();
    let mut client = RecordingClient::new(
        QUIESCE_CLIENT,
        Client::new(endpoints, 0, ctl.timeout),
        ctl.recorder.clone(),
    );
    let first_success = first_answer(&mut client, bound).await;
    let members = ctl.members();
    let converge = Duration::from_secs_f64(scenario.quiesce.converge_timeout_s);
    wait_converged(&ctl, &members, converge).await;
    let final_read = read_everything(&mut client).await;
    check_downgraded_fields(&ctl, final_read.as_ref()).await;
    world.trace().record(
        "engine",
        "quiesce",
        format!("operations={}", ctl.recorder.op_count()),
    );
    let mut ends = hash_kvs(&ctl, &members).await;
    let drain_bound = Duration::from_secs_f64(scenario.quiesce.drain_bound_s);
    super::drain::drain(&ctl, &members, drain_bound).await;
    // Last, so that asking moves nothing the run's other checks saw.
    for end in &mut ends {
        end.membership = membership(&ctl, end.member).await;
    }
    EndState {
        members: ends,
        heal_time: Some(heal_time),
        first_success_after_heal: first_success,
        liveness_bound: bound.as_nanos() as u64,
    }
}

/// Heals the network, clocks, disks and failpoints, resumes paused
/// members and restarts stopped ones.
fn heal_everything(ctl: &Control) {
    let world = &ctl.world;
    world
        .trace()
        .record("engine", "quiesce", "healing every fault");
    world.heal_network();
    world.reset_network_quality();
    for m in ctl.members() {
        world.reset_clock(m);
        world.clear_disk_faults(m);
        world.set_disk_latency(m, Default::default());
        if let Some(fp) = world.failpoints(m) {
            fp.disarm_all();
        }
        match world.status(m) {
            Some(MemberStatus::Paused) => world.resume(m),
            Some(MemberStatus::Running) | None => {}
            Some(_) => world.restart(m),
        }
    }
    ctl.disk_fault_active.lock().clear();
}

/// Liveness: when (if within `bound`) the healed cluster first answered a
/// linearizable read.
async fn first_answer(client: &mut RecordingClient, bound: Duration) -> Option<u64> {
    let deadline = madsim::time::Instant::now() + bound;
    while madsim::time::Instant::now() < deadline {
        let probe = client_request::Body::Range(RangeRequest {
            key: b"key0".to_vec(),
            ..Default::default()
        });
        if client.call(probe, None).await.is_ok() {
            return Some(now_ns());
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Convergence: waits (up to `timeout`) until every member applied what
/// the leader committed.
async fn wait_converged(ctl: &Control, members: &[u64], timeout: Duration) {
    let deadline = madsim::time::Instant::now() + timeout;
    loop {
        let st = cluster::statuses(&ctl.world, members).await;
        let commit = st.iter().map(|(_, s)| s.raft_index).max().unwrap_or(0);
        let converged =
            st.len() == members.len() && st.iter().all(|(_, s)| s.raft_applied_index >= commit);
        if converged || madsim::time::Instant::now() >= deadline {
            return;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads every key back, linearizably (into the history).
async fn read_everything(client: &mut RecordingClient) -> Option<node::wire::api::RangeResponse> {
    for _ in 0..20 {
        let all = client_request::Body::Range(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        });
        if let Ok(client_response::Body::Range(r)) = client.call(all, None).await {
            return Some(r);
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// A running member's own member list, with the raft index it had applied:
/// taken only when that index is the same before and after the list, so
/// that no configuration change applied in between (entries still being
/// applied, lease revocations say, move it: a few tries).
async fn membership(ctl: &Control, member: u64) -> Option<Membership> {
    for _ in 0..5 {
        let before = cluster::status(&ctl.world, member).await?;
        let list = ctl
            .admin(
                member,
                client_request::Body::MemberList(MemberListRequest {
                    linearizable: false,
                }),
            )
            .await;
        let after = cluster::status(&ctl.world, member).await?;
        if let (Ok(client_response::Body::MemberList(list)), true) =
            (list, before.raft_applied_index == after.raft_applied_index)
        {
            let listed = list
                .members
                .into_iter()
                .map(|m| ListedMember {
                    id: m.id,
                    peer: m.ip,
                    is_learner: m.is_learner,
                })
                .collect();
            return Some(Membership::new(after.raft_applied_index, listed));
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// HashKV of every member at one revision they all reached.
async fn hash_kvs(ctl: &Control, members: &[u64]) -> Vec<MemberEndState> {
    let world = &ctl.world;
    let st = cluster::statuses(world, members).await;
    let rev = st
        .iter()
        .filter_map(|(_, s)| s.header.as_ref().map(|h| h.revision))
        .min()
        .unwrap_or(0);
    let mut out = Vec::new();
    for &m in members {
        let alive = world.status(m) == Some(MemberStatus::Running);
        let hash_kv = if alive && rev > 0 {
            let ask =
                |revision| ctl.admin(m, client_request::Body::HashKv(HashKvRequest { revision }));
            let mut answer = ask(rev).await;
            // A member that compacted past the lowest member's revision
            // refuses it: then it hashes its current revision (the check
            // compares hashes of the same revision only).
            if let Err(ClientError::Server {
                code: ErrorCode::Compacted,
                ..
            }) = answer
            {
                answer = ask(0).await;
            }
            match answer {
                // The store's stricter hash: etcd's leaves out the
                // tombstone at the compact revision, so a member that lost
                // it (etcd-19179) would hash like the others.
                Ok(client_response::Body::HashKv(h)) => Some(HashKv {
                    revision: h.hash_revision,
                    compact_revision: h.compact_revision,
                    hash: h.strict_hash,
                }),
                _ => None,
            }
        } else {
            None
        };
        if let Some(h) = &hash_kv {
            world.trace().record(
                format!("m{m}"),
                "hashkv",
                format!("revision={} hash={:08x}", h.revision, h.hash),
            );
        }
        out.push(MemberEndState {
            member: m,
            alive,
            hash_kv,
            membership: None,
        });
    }
    out
}
