//! The requests a differential sequence is made of, in etcd's v3 terms.
//!
//! A step names revisions relative to what the client has seen so far
//! ([`Rev`]), because the generator runs before either store does: the
//! same step then means "two revisions behind the newest" on both sides,
//! and each side resolves it against its own answers ([`crate::Resolver`]).

use serde::{Deserialize, Serialize};

/// A revision as the generator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rev {
    /// 0: "the newest" in a Range, "none" in a Compact or HashKV.
    Zero,
    /// The newest header revision the client has seen, plus an offset
    /// (negative: the past; positive: the future).
    Head(i64),
    /// The revision of the last successful Compact, plus an offset.
    Compacted(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortTarget {
    Key,
    Version,
    Create,
    Mod,
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    None,
    Ascend,
    Descend,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub value: String,
    /// Bytes added to the value when it is sent: a value too large for
    /// etcd stays short in step files and reports.
    #[serde(default, skip_serializing_if = "Padding::is_none")]
    pub padding: Padding,
    /// 0: no lease.
    pub lease: i64,
    pub prev_kv: bool,
    pub ignore_value: bool,
    pub ignore_lease: bool,
}

impl Put {
    /// The value as sent: `value`, then `padding` bytes of "x".
    pub fn value_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.value.len() + self.padding.bytes());
        bytes.extend_from_slice(self.value.as_bytes());
        bytes.resize(self.value.len() + self.padding.bytes(), b'x');
        bytes
    }
}

/// How many bytes pad a value: at most [`Padding::MAX`], so a step file
/// cannot ask for more memory than a request etcd could ever receive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Padding(u32);

impl Padding {
    /// Twice etcd's gRPC receive limit (--max-request-bytes + 512 KiB).
    pub const MAX: u32 = 4 << 20;

    pub fn new(bytes: u32) -> Result<Padding, PaddingTooLarge> {
        if bytes > Self::MAX {
            return Err(PaddingTooLarge(bytes.into()));
        }
        Ok(Padding(bytes))
    }

    pub fn bytes(self) -> usize {
        self.0 as usize
    }

    fn is_none(&self) -> bool {
        self.0 == 0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("padding: {0} bytes is more than {max}", max = Padding::MAX)]
pub struct PaddingTooLarge(u64);

impl TryFrom<u64> for Padding {
    type Error = PaddingTooLarge;

    fn try_from(bytes: u64) -> Result<Padding, PaddingTooLarge> {
        u32::try_from(bytes)
            .map_err(|_| PaddingTooLarge(bytes))
            .and_then(Padding::new)
    }
}

impl From<Padding> for u64 {
    fn from(p: Padding) -> u64 {
        p.0.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub key: String,
    /// Empty: the key alone; "\0": every key from `key` on.
    pub range_end: String,
    pub limit: i64,
    pub revision: Rev,
    pub serializable: bool,
    pub keys_only: bool,
    pub count_only: bool,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    pub min_mod_revision: i64,
    pub max_mod_revision: i64,
    pub min_create_revision: i64,
    pub max_create_revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delete {
    pub key: String,
    pub range_end: String,
    pub prev_kv: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// What a Txn compare looks at, with the value it compares against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareTarget {
    Version(i64),
    Create(Rev),
    Mod(Rev),
    Value(String),
    Lease(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: String,
    pub range_end: String,
    pub op: CompareOp,
    pub target: CompareTarget,
}

/// One operation of a Txn branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOp {
    Range(Range),
    Put(Put),
    Delete(Delete),
    Txn(Txn),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    pub compare: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

/// A watch opened on the sequence's one watch stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    pub key: String,
    pub range_end: String,
    /// Where it starts: `Rev::Zero` is "from now" (the next revision).
    pub start: Rev,
    pub prev_kv: bool,
    /// etcd's NOPUT and NODELETE filters.
    pub no_put: bool,
    pub no_delete: bool,
}

/// One request of a sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Put(Put),
    Range(Range),
    Delete(Delete),
    Txn(Txn),
    Compact {
        revision: Rev,
        physical: bool,
    },
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke {
        id: i64,
    },
    LeaseTimeToLive {
        id: i64,
        keys: bool,
    },
    LeaseLeases,
    LeaseKeepAlive {
        id: i64,
    },
    Status,
    HashKv {
        revision: Rev,
    },
    /// Opens a watch; the answer is its creation response.
    Watch(Watch),
    /// A progress request on the watch stream; the answer is everything
    /// the stream delivered since the last watch answer.
    WatchProgress,
    /// Cancels the `watch`-th watch the sequence opened; the answer is
    /// everything the stream delivered since the last watch answer.
    WatchCancel {
        watch: usize,
    },
}

/// The kinds agreement is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Put,
    Range,
    Delete,
    Txn,
    Compact,
    LeaseGrant,
    LeaseRevoke,
    LeaseTimeToLive,
    LeaseLeases,
    LeaseKeepAlive,
    Status,
    HashKv,
    Watch,
    WatchProgress,
    WatchCancel,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Put,
        Kind::Range,
        Kind::Delete,
        Kind::Txn,
        Kind::Compact,
        Kind::LeaseGrant,
        Kind::LeaseRevoke,
        Kind::LeaseTimeToLive,
        Kind::LeaseLeases,
        Kind::LeaseKeepAlive,
        Kind::Status,
        Kind::HashKv,
        Kind::Watch,
        Kind::WatchProgress,
        Kind::WatchCancel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Put => "put",
            Kind::Range => "range",
            Kind::Delete => "delete",
            Kind::Txn => "txn",
            Kind::Compact => "compact",
            Kind::LeaseGrant => "lease_grant",
            Kind::LeaseRevoke => "lease_revoke",
            Kind::LeaseTimeToLive => "lease_time_to_live",
            Kind::LeaseLeases => "lease_leases",
            Kind::LeaseKeepAlive => "lease_keep_alive",
            Kind::Status => "status",
            Kind::HashKv => "hash_kv",
            Kind::Watch => "watch",
            Kind::WatchProgress => "watch_progress",
            Kind::WatchCancel => "watch_cancel",
        }
    }
}

impl Step {
    pub fn kind(&self) -> Kind {
        match self {
            Step::Put(_) => Kind::Put,
            Step::Range(_) => Kind::Range,
            Step::Delete(_) => Kind::Delete,
            Step::Txn(_) => Kind::Txn,
            Step::Compact { .. } => Kind::Compact,
            Step::LeaseGrant { .. } => Kind::LeaseGrant,
            Step::LeaseRevoke { .. } => Kind::LeaseRevoke,
            Step::LeaseTimeToLive { .. } => Kind::LeaseTimeToLive,
            Step::LeaseLeases => Kind::LeaseLeases,
            Step::LeaseKeepAlive { .. } => Kind::LeaseKeepAlive,
            Step::Status => Kind::Status,
            Step::HashKv { .. } => Kind::HashKv,
            Step::Watch(_) => Kind::Watch,
            Step::WatchProgress => Kind::WatchProgress,
            Step::WatchCancel { .. } => Kind::WatchCancel,
        }
    }
}

/// One seed's sequence: what both stores are sent, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub seed: u64,
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_written_only_when_there_is_some_and_bounded_when_read() {
        let put = Put {
            key: "a".into(),
            value: "v1".into(),
            padding: Padding::new(3).unwrap(),
            lease: 0,
            prev_kv: false,
            ignore_value: false,
            ignore_lease: false,
        };
        assert_eq!(put.value_bytes(), b"v1xxx");
        let text = serde_json::to_string(&put).unwrap();
        assert!(text.contains("\"padding\":3"), "{text}");
        assert_eq!(serde_json::from_str::<Put>(&text).unwrap(), put);
        let plain = Put {
            padding: Padding::default(),
            ..put
        };
        assert!(!serde_json::to_string(&plain).unwrap().contains("padding"));
        let huge = text.replace("\"padding\":3", "\"padding\":18446744073709551615");
        let err = serde_json::from_str::<Put>(&huge).unwrap_err().to_string();
        assert!(
            err.starts_with("padding: 18446744073709551615 bytes is more than"),
            "{err}"
        );
    }
}
