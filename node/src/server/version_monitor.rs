//! The leader's version monitor, as etcd's: it asks every member for its
//! server version, sets the cluster version to the lowest of them (or to a
//! downgrade's target), and ends a downgrade once every member runs the
//! target version. A round runs every interval, and at once when the
//! member applies a term's empty entry (a new leader's first commit), as
//! etcd's monitor wakes then. etcd asks each member over HTTP every time it decides
//! (`getVersions`) and decides nothing while one does not answer; here
//! each round sends its queries and waits (up to a bound) for every reply
//! to them, so a member whose binary changed since an earlier reply, or
//! one that went down, is never counted with an old version.

use super::MemberState;
use super::propose::propose;
use crate::failpoint::Failpoint;
use crate::version::Version;
use crate::wire::internal::{ClusterVersionSetRequest, DowngradeInfoSetRequest, internal_request};
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn run(state: Arc<MemberState>) {
    let interval = Duration::from_millis(state.config.knobs.storage_version_sync_ms);
    loop {
        tokio::select! {
            biased;
            () = state.version_check.notified() => {}
            () = madsim::time::sleep(interval) => {}
        }
        sync_storage_version(&state).await;
        if !state.is_leader() {
            continue;
        }
        let members: Vec<u64> = state.cluster.lock().members.keys().copied().collect();
        let Some(versions) = ask_versions(&state, &members, interval).await else {
            continue;
        };
        if !state.is_leader() {
            continue;
        }
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

/// How often a round looks for the replies to its queries.
const REPLY_POLL: Duration = Duration::from_millis(5);

/// Asks every other member for its server version and waits for all the
/// replies, at most `bound` (and at most a second); None when one did not
/// answer in time.
async fn ask_versions(
    state: &MemberState,
    members: &[u64],
    bound: Duration,
) -> Option<Vec<Version>> {
    let asked = madsim::time::Instant::now();
    for &m in members {
        if m != state.id() {
            state.transport.query_version(m);
        }
    }
    let bound = bound.min(Duration::from_secs(1));
    loop {
        if let Some(versions) = member_versions(state, members, asked) {
            return Some(versions);
        }
        if asked.elapsed() >= bound {
            return None;
        }
        madsim::time::sleep(REPLY_POLL).await;
    }
}

/// Every member's server version, if all answered since `since` (this
/// round's queries).
fn member_versions(
    state: &MemberState,
    members: &[u64],
    since: madsim::time::Instant,
) -> Option<Vec<Version>> {
    let peers = state.peer_versions.lock();
    members
        .iter()
        .map(|m| {
            if *m == state.id() {
                return Some(state.config.version);
            }
            peers.get(m).filter(|(_, at)| *at >= since).map(|(v, _)| *v)
        })
        .collect()
}

/// The newest version any raft entry after the last snapshot needs (the
/// WAL's minimal version, from the in-memory log that mirrors it).
fn wal_minimal_version(state: &MemberState) -> Version {
    let from = state.raft_log.snapshot_index() + 1;
    let to = state.raft_log.last_index() + 1;
    state
        .raft_log
        .entries_between(from, to)
        .iter()
        .filter(|e| {
            e.get_entry_type() == raft::eraftpb::EntryType::EntryNormal && !e.data.is_empty()
        })
        .filter_map(|e| {
            crate::wire::api::decode::<crate::wire::internal::InternalRequest>(
                "raft entry",
                &e.data,
            )
            .ok()
        })
        .map(|req| crate::schema::minimal_version(&req))
        .max()
        .unwrap_or(Version::V3_5)
}

/// Every member moves its storage version to the cluster version (never
/// above its own), once the WAL allows a downgrade.
async fn sync_storage_version(state: &MemberState) {
    let Some(cv) = state.cluster.lock().cluster_version else {
        return;
    };
    let target = cv.min(state.config.version);
    let current = match crate::storage_version::detect(&state.backend) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(member = state.id(), "storage version: {e}");
            return;
        }
    };
    if current == Some(target) {
        return;
    }
    if let Some(from) = current
        && target < from
    {
        let wal = wal_minimal_version(state);
        if wal > target {
            tracing::debug!(member = state.id(), %wal, %target, "storage downgrade waits for the WAL");
            return;
        }
    }
    if state
        .env
        .failpoint(Failpoint::BeforeStorageMigrate)
        .await
        .is_err()
    {
        return;
    }
    let keep_fields = state
        .config
        .bugs
        .has(crate::bugs::Bug::DowngradeKeepsFields);
    let mut tx = state.backend.batch_tx().await;
    let from = current.unwrap_or(target);
    match crate::storage_version::migrate(&state.backend, &mut tx, from, target, keep_fields) {
        Ok(_) => {
            if let Err(e) = tx.commit_now(true).await {
                state
                    .fatal(format!("storage migration commit failed: {e}"))
                    .await;
            }
            state.env.check(
                crate::invariants::Invariant::StorageVersionNotPastServer,
                target <= state.config.version,
                || {
                    format!(
                        "storage moved to {target} by a {} member",
                        state.config.version
                    )
                },
            );
            state
                .env
                .reach(crate::coverage::Point::StorageVersionMigrated);
            state
                .env
                .emit(crate::host::NodeEvent::StorageVersion { version: target });
        }
        Err(e) => tracing::warn!(member = state.id(), "storage migration to {target}: {e}"),
    }
}
