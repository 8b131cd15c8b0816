//! The backend's buckets (etcd's bbolt buckets).

/// A named key space in the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Bucket {
    /// MVCC revisions -> key values.
    Key = 1,
    /// Consistent index, term, compaction marks, storage version...
    Meta = 2,
    /// Lease id -> lease record.
    Lease = 3,
    /// Member id -> member record.
    Members = 4,
    /// Cluster version and downgrade info.
    Cluster = 5,
    /// (member id, alarm type) -> nothing: the active alarms.
    Alarm = 6,
}

impl Bucket {
    pub const ALL: [Bucket; 6] = [
        Bucket::Key,
        Bucket::Meta,
        Bucket::Lease,
        Bucket::Members,
        Bucket::Cluster,
        Bucket::Alarm,
    ];

    pub fn from_byte(b: u8) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|bucket| *bucket as u8 == b)
    }

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Key => "key",
            Bucket::Meta => "meta",
            Bucket::Lease => "lease",
            Bucket::Members => "members",
            Bucket::Cluster => "cluster",
            Bucket::Alarm => "alarm",
        }
    }
}

/// Well-known keys of the meta and cluster buckets.
pub mod keys {
    pub const CONSISTENT_INDEX: &[u8] = b"consistent_index";
    pub const TERM: &[u8] = b"term";
    pub const CONF_STATE: &[u8] = b"confState";
    pub const SCHEDULED_COMPACT_REV: &[u8] = b"scheduledCompactRev";
    pub const FINISHED_COMPACT_REV: &[u8] = b"finishedCompactRev";
    pub const STORAGE_VERSION: &[u8] = b"storageVersion";
    pub const CLUSTER_VERSION: &[u8] = b"clusterVersion";
    pub const DOWNGRADE: &[u8] = b"downgrade";
}
