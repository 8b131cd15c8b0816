//! Cluster membership and the cluster-wide version state, kept in memory
//! and persisted in the members and cluster buckets.

use crate::backend::{Backend, BatchTx, Bucket, keys};
use crate::version::Version;
use crate::wire::api::Member;
use prost::Message;
use std::collections::BTreeMap;

/// Whether a downgrade is under way, and to which version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DowngradeInfo {
    pub enabled: bool,
    pub target: Option<Version>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub members: BTreeMap<u64, Member>,
    /// Decided by the leader; None until first set.
    pub cluster_version: Option<Version>,
    pub downgrade: DowngradeInfo,
}

fn member_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt cluster data: {0}")]
pub struct ClusterDataError(pub String);

impl ClusterState {
    /// Loads members, cluster version and downgrade info from the backend.
    pub fn load(backend: &Backend) -> Result<ClusterState, ClusterDataError> {
        let mut st = ClusterState::default();
        for (_, v) in backend.scan(Bucket::Members) {
            let m = Member::decode(v.as_slice()).map_err(|e| ClusterDataError(e.to_string()))?;
            st.members.insert(m.id, m);
        }
        if let Some(v) = backend.get(Bucket::Cluster, keys::CLUSTER_VERSION) {
            let s = String::from_utf8(v).map_err(|e| ClusterDataError(e.to_string()))?;
            st.cluster_version =
                Some(s.parse().map_err(|e: crate::version::ParseVersionError| {
                    ClusterDataError(e.to_string())
                })?);
        }
        if let Some(v) = backend.get(Bucket::Cluster, keys::DOWNGRADE) {
            st.downgrade = decode_downgrade(&v)?;
        }
        Ok(st)
    }

    pub fn add_member(&mut self, tx: &mut BatchTx<'_>, member: Member) {
        tx.put(
            Bucket::Members,
            &member_key(member.id),
            &member.encode_to_vec(),
        );
        self.members.insert(member.id, member);
    }

    pub fn remove_member(&mut self, tx: &mut BatchTx<'_>, id: u64) {
        tx.delete(Bucket::Members, &member_key(id));
        self.members.remove(&id);
    }

    pub fn set_cluster_version(&mut self, tx: &mut BatchTx<'_>, version: Version) {
        tx.put(
            Bucket::Cluster,
            keys::CLUSTER_VERSION,
            version.to_string().as_bytes(),
        );
        self.cluster_version = Some(version);
    }

    pub fn set_downgrade(&mut self, tx: &mut BatchTx<'_>, info: DowngradeInfo) {
        tx.put(Bucket::Cluster, keys::DOWNGRADE, &encode_downgrade(info));
        self.downgrade = info;
    }

    pub fn member_list(&self) -> Vec<Member> {
        self.members.values().cloned().collect()
    }
}

fn encode_downgrade(info: DowngradeInfo) -> Vec<u8> {
    let target = info.target.map(|v| v.to_string()).unwrap_or_default();
    let mut out = vec![u8::from(info.enabled)];
    out.extend_from_slice(target.as_bytes());
    out
}

fn decode_downgrade(v: &[u8]) -> Result<DowngradeInfo, ClusterDataError> {
    let (flag, rest) = v
        .split_first()
        .ok_or_else(|| ClusterDataError("empty downgrade record".into()))?;
    let target = if rest.is_empty() {
        None
    } else {
        let s = std::str::from_utf8(rest).map_err(|e| ClusterDataError(e.to_string()))?;
        Some(
            s.parse()
                .map_err(|e: crate::version::ParseVersionError| ClusterDataError(e.to_string()))?,
        )
    };
    Ok(DowngradeInfo {
        enabled: *flag == 1,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downgrade_info_round_trips() {
        for info in [
            DowngradeInfo::default(),
            DowngradeInfo {
                enabled: true,
                target: Some(Version::V3_6),
            },
        ] {
            assert_eq!(decode_downgrade(&encode_downgrade(info)), Ok(info));
        }
        assert!(decode_downgrade(&[]).is_err());
    }
}
