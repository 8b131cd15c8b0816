//! The end of a run: heal everything, wait for the cluster to answer, read
//! everything back, collect each member's HashKV.

use super::control::*;
use super::*;
use crate::cluster;
use crate::recorder::{RecordingClient, now_ns};
use crate::schema::Scenario;
use checker::history::{EndState, HashKv, MemberEndState};
use checker::rules;
use node::client::Client;
use node::wire::api::{HashKvRequest, RangeRequest, client_request, client_response};
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
    world
        .trace
        .record("engine", "quiesce", "healing every fault");
    world.net.heal();
    world.net.reset_quality();
    for m in ctl.members() {
        world.clocks.reset(m);
        if let Some(node) = world.member_node(m) {
            world.disk.set_faults(node, Default::default());
            world.disk.set_latency(node, Default::default());
        }
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
    // Liveness: the healed cluster must answer a linearizable read.
    let mut first_success = None;
    let deadline = madsim::time::Instant::now() + bound;
    while madsim::time::Instant::now() < deadline {
        let probe = client_request::Body::Range(RangeRequest {
            key: b"key0".to_vec(),
            ..Default::default()
        });
        if client.call(probe, None).await.is_ok() {
            first_success = Some(now_ns());
            break;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    // Convergence: every member applied what the leader committed.
    let members = ctl.members();
    let deadline =
        madsim::time::Instant::now() + Duration::from_secs_f64(scenario.quiesce.converge_timeout_s);
    loop {
        let st = cluster::statuses(&world, &members).await;
        let commit = st.iter().map(|(_, s)| s.raft_index).max().unwrap_or(0);
        let converged =
            st.len() == members.len() && st.iter().all(|(_, s)| s.raft_applied_index >= commit);
        if converged || madsim::time::Instant::now() >= deadline {
            break;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    // Read everything back, linearizably.
    let mut final_read = None;
    for _ in 0..20 {
        let all = client_request::Body::Range(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        });
        if let Ok(client_response::Body::Range(r)) = client.call(all, None).await {
            final_read = Some(r);
            break;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    check_downgraded_fields(&ctl, final_read.as_ref()).await;
    world.trace.record(
        "engine",
        "quiesce",
        format!("operations={}", ctl.recorder.op_count()),
    );
    // HashKV of every member at one revision they all reached.
    let st = cluster::statuses(&world, &members).await;
    let rev = st
        .iter()
        .filter_map(|(_, s)| s.header.as_ref().map(|h| h.revision))
        .min()
        .unwrap_or(0);
    let mut end = EndState {
        members: Vec::new(),
        heal_time: Some(heal_time),
        first_success_after_heal: first_success,
        liveness_bound: bound.as_nanos() as u64,
    };
    for &m in &members {
        let alive = world.status(m) == Some(MemberStatus::Running);
        let hash_kv = if alive && rev > 0 {
            match ctl
                .admin(
                    m,
                    client_request::Body::HashKv(HashKvRequest { revision: rev }),
                )
                .await
            {
                Ok(client_response::Body::HashKv(h)) => Some(HashKv {
                    revision: h.hash_revision,
                    compact_revision: h.compact_revision,
                    hash: h.hash,
                }),
                _ => None,
            }
        } else {
            None
        };
        if let Some(h) = &hash_kv {
            world.trace.record(
                format!("m{m}"),
                "hashkv",
                format!("revision={} hash={:08x}", h.revision, h.hash),
            );
        }
        end.members.push(MemberEndState {
            member: m,
            alive,
            hash_kv,
        });
    }
    end
}
