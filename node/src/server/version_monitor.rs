//! The leader's version monitor, as etcd's: it asks every member for its
//! server version, sets the cluster version to the lowest of them (or to a
//! downgrade's target), and ends a downgrade once every member runs the
//! target version.

use super::MemberState;
use super::client_service::propose;
use crate::version::Version;
use crate::wire::internal::{ClusterVersionSetRequest, DowngradeInfoSetRequest, internal_request};
use std::sync::Arc;
use std::time::Duration;

/// How recent a member's version reply must be to count.
const FRESH: Duration = Duration::from_secs(3);

pub(crate) async fn run(state: Arc<MemberState>) {
    let interval = Duration::from_millis(state.config.knobs.storage_version_sync_ms);
    loop {
        madsim::time::sleep(interval).await;
        if !state.is_leader() {
            continue;
        }
        let members: Vec<u64> = state.cluster.lock().members.keys().copied().collect();
        for &m in &members {
            if m != state.id() {
                state.transport.query_version(m).await;
            }
        }
        let Some(versions) = member_versions(&state, &members) else {
            continue;
        };
        let cluster = state.cluster.lock().clone();
        let lowest = versions
            .iter()
            .copied()
            .min()
            .unwrap_or(state.config.version);
        // A downgrade lowers the cluster version to its target; otherwise the
        // cluster version follows the lowest member version, upwards only.
        let wanted = match cluster.cluster_version {
            None => Some(lowest),
            Some(cv) if cluster.downgrade.enabled => cluster.downgrade.target.filter(|t| *t < cv),
            Some(cv) if lowest > cv => Some(lowest),
            _ => None,
        };
        if let Some(v) = wanted {
            let set = ClusterVersionSetRequest {
                version: v.to_string(),
            };
            let _ = propose(&state, internal_request::Request::ClusterVersionSet(set)).await;
            continue;
        }
        if cluster.downgrade.enabled
            && let Some(target) = cluster.downgrade.target
            && versions.iter().all(|v| *v == target)
        {
            let done = DowngradeInfoSetRequest {
                enabled: false,
                version: String::new(),
            };
            let _ = propose(&state, internal_request::Request::DowngradeInfoSet(done)).await;
            state.env.emit(crate::host::NodeEvent::Note {
                text: format!("the cluster has been downgraded to {target}"),
            });
        }
    }
}

/// Every member's server version, if all answered recently.
fn member_versions(state: &MemberState, members: &[u64]) -> Option<Vec<Version>> {
    let peers = state.peer_versions.lock();
    let now = madsim::time::Instant::now();
    members
        .iter()
        .map(|m| {
            if *m == state.id() {
                return Some(state.config.version);
            }
            peers
                .get(m)
                .filter(|(_, at)| now.saturating_duration_since(*at) <= FRESH)
                .map(|(v, _)| *v)
        })
        .collect()
}
