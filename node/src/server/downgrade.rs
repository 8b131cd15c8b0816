//! The downgrade API: validate, enable and cancel, with etcd's errors.
//! Enabling records the target through raft; the leader's version monitor
//! then lowers the cluster version to it.

use super::propose::propose;
use super::{MemberState, error};
use crate::version::Version;
use crate::wire::api::{
    DowngradeAction, DowngradeRequest, DowngradeResponse, ErrorCode, client_response,
};
use crate::wire::internal::{DowngradeInfoSetRequest, internal_request};

/// Checks a downgrade target against the cluster's state.
pub(crate) fn validate(
    state: &MemberState,
    target: &str,
) -> Result<(Version, Version), crate::wire::api::ErrorResponse> {
    let cluster = state.cluster.lock().clone();
    let Some(cv) = cluster.cluster_version else {
        return Err(error(
            ErrorCode::UnknownClusterVersion,
            "etcdserver: cluster version not found during downgrade",
        ));
    };
    let target: Version = target
        .parse()
        .map_err(|e: crate::version::ParseVersionError| {
            error(ErrorCode::InvalidDowngradeTarget, e.to_string())
        })?;
    if cluster.downgrade.enabled {
        return Err(error(
            ErrorCode::DowngradeInProgress,
            format!(
                "etcdserver: cluster has a downgrade job in progress (target {})",
                cluster
                    .downgrade
                    .target
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            ),
        ));
    }
    if cv.previous() != Some(target) {
        return Err(error(
            ErrorCode::InvalidDowngradeTarget,
            format!(
                "etcdserver: invalid downgrade target version {target}: the cluster version is {cv}, the target must be one minor version lower"
            ),
        ));
    }
    Ok((cv, target))
}

pub(crate) async fn handle(state: &MemberState, req: DowngradeRequest) -> client_response::Body {
    let action = DowngradeAction::try_from(req.action).unwrap_or(DowngradeAction::Validate);
    let result = match action {
        DowngradeAction::Validate => validate(state, &req.version).map(|(cv, _)| cv),
        DowngradeAction::Enable => match validate(state, &req.version) {
            Ok((cv, target)) => {
                let set = DowngradeInfoSetRequest {
                    enabled: true,
                    version: target.to_string(),
                };
                propose(state, internal_request::Request::DowngradeInfoSet(set))
                    .await
                    .map(|_| cv)
            }
            Err(e) => Err(e),
        },
        DowngradeAction::Cancel => {
            let cluster = state.cluster.lock().clone();
            if !cluster.downgrade.enabled {
                Err(error(
                    ErrorCode::NoInflightDowngrade,
                    "etcdserver: no inflight downgrade job",
                ))
            } else {
                let set = DowngradeInfoSetRequest {
                    enabled: false,
                    version: String::new(),
                };
                let cv = cluster.cluster_version.unwrap_or(Version::LATEST);
                propose(state, internal_request::Request::DowngradeInfoSet(set))
                    .await
                    .map(|_| cv)
            }
        }
    };
    match result {
        Ok(cv) => client_response::Body::Downgrade(DowngradeResponse {
            header: Some(state.header(state.mvcc.current_revision())),
            version: cv.to_string(),
        }),
        Err(e) => client_response::Body::Error(e),
    }
}
