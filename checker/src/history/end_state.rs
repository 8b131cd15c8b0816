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
}

/// etcd's HashKV: a hash of the key space between the compact revision and `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HashKv {
    pub revision: i64,
    pub compact_revision: i64,
    pub hash: u32,
}
