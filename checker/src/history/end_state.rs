//! What the run saw after it quiesced: per-member hashes and liveness times.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndState {
    pub members: Vec<MemberEndState>,
    /// When the last fault healed.
    pub heal_time: Option<u64>,
    /// When the first request after healing succeeded (derived from the history when absent).
    pub first_success_after_heal: Option<u64>,
    /// How long after healing the cluster may take to answer again (ns).
    pub liveness_bound: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberEndState {
    pub member: u64,
    pub alive: bool,
    pub hash_kv: Option<HashKv>,
    /// The member's own member list, when it answered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
}

/// A member's own view of the cluster membership (etcd's MemberList as the
/// member itself serves it, not forwarded) and the raft index it had
/// applied when it answered: two members that applied the same index hold
/// the same configuration, as they hold the same keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Membership {
    pub applied_index: u64,
    /// Sorted by id.
    pub members: Vec<ListedMember>,
}

/// One entry of a member list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListedMember {
    pub id: u64,
    /// Where its peers reach it (the simulated member's address, a real
    /// member's peer URLs joined by commas).
    pub peer: String,
    pub is_learner: bool,
}

impl Membership {
    /// A member list as answered, sorted so that two lists compare by content.
    pub fn new(applied_index: u64, mut members: Vec<ListedMember>) -> Membership {
        members.sort();
        Membership {
            applied_index,
            members,
        }
    }
}

/// etcd's HashKV: a hash of the key space between the compact revision and `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HashKv {
    pub revision: i64,
    pub compact_revision: i64,
    pub hash: u32,
}
