//! Requests in the shape of the etcd v3 API.

use serde::{Deserialize, Serialize};

/// One client request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact { revision: i64 },
    LeaseGrant { id: i64, ttl: i64 },
    LeaseRevoke { id: i64 },
    LeaseKeepAlive { id: i64 },
    LeaseTimeToLive { id: i64 },
}

/// Range: read one key, a key range or a prefix, now or at a past revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeRequest {
    pub key: String,
    /// "" = the single key; "\0" = every key >= `key`; otherwise `[key, range_end)`.
    pub range_end: String,
    /// 0 = no limit.
    pub limit: i64,
    /// 0 = the current revision.
    pub revision: i64,
    pub keys_only: bool,
    pub count_only: bool,
    /// Served from the member's local state (possibly stale) instead of by ReadIndex.
    pub serializable: bool,
    /// Revision bounds (0 = none): keys whose mod or create revision falls
    /// outside are pruned from the answer, but still counted in `count`.
    /// As in etcd's apply Range, pruning comes before the sort and the limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_mod_revision: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_mod_revision: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub min_create_revision: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_create_revision: i64,
    #[serde(skip_serializing_if = "SortOrder::is_none")]
    pub sort_order: SortOrder,
    #[serde(skip_serializing_if = "SortTarget::is_key")]
    pub sort_target: SortTarget,
}

/// How a range's keys are ordered: etcd's `SortOrder`. With `None` the keys
/// come in key order, unless the target is not the key: then ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

impl SortOrder {
    fn is_none(&self) -> bool {
        *self == SortOrder::None
    }
}

/// Which field a range's keys are sorted by: etcd's `SortTarget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

impl SortTarget {
    fn is_key(&self) -> bool {
        *self == SortTarget::Key
    }

    /// The name the JSON uses.
    pub fn name(self) -> &'static str {
        match self {
            SortTarget::Key => "key",
            SortTarget::Version => "version",
            SortTarget::Create => "create",
            SortTarget::Mod => "mod",
            SortTarget::Value => "value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PutRequest {
    pub key: String,
    pub value: String,
    /// 0 = no lease.
    pub lease: i64,
    pub prev_kv: bool,
    pub ignore_value: bool,
    pub ignore_lease: bool,
    /// Per-key TTL in seconds (store version 3.7; 0 = none): some time after it
    /// ran out the store deletes the key at a new revision, unless the key was
    /// written since. Left out of the JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub ttl: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteRangeRequest {
    pub key: String,
    pub range_end: String,
    pub prev_kv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

/// One operation inside a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOp {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: String,
    #[serde(default)]
    pub range_end: String,
    pub target: CompareTarget,
    pub result: CompareResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareTarget {
    Value(String),
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
    Lease(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareResult {
    Equal,
    NotEqual,
    Greater,
    Less,
}

/// The keys a request addresses, with etcd's `range_end` conventions decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpan<'a> {
    Single(&'a str),
    /// Every key >= start.
    From(&'a str),
    /// `[start, end)`.
    Between(&'a str, &'a str),
}

impl<'a> KeySpan<'a> {
    pub fn new(key: &'a str, range_end: &'a str) -> Self {
        match range_end {
            "" => KeySpan::Single(key),
            "\0" => KeySpan::From(key),
            end => KeySpan::Between(key, end),
        }
    }

    /// `[start, end)` with `None` = unbounded; a single key ends right after itself.
    fn interval(&self) -> (&'a str, Option<String>) {
        match *self {
            KeySpan::Single(k) => (k, Some(format!("{k}\0"))),
            KeySpan::From(k) => (k, None),
            KeySpan::Between(s, e) => (s, Some(e.to_string())),
        }
    }

    /// Whether two spans share at least one key.
    pub fn overlaps(&self, other: &KeySpan<'_>) -> bool {
        let (a_lo, a_hi) = self.interval();
        let (b_lo, b_hi) = other.interval();
        let below = |lo: &str, hi: &Option<String>| hi.as_deref().is_none_or(|h| lo < h);
        below(a_lo, &a_hi) && below(b_lo, &b_hi) && below(a_lo, &b_hi) && below(b_lo, &a_hi)
    }

    pub fn contains(&self, k: &str) -> bool {
        match *self {
            KeySpan::Single(s) => k == s,
            KeySpan::From(s) => k >= s,
            KeySpan::Between(s, e) => k >= s && k < e,
        }
    }
}

/// The smallest key greater than every key with this prefix ("" when none exists),
/// as clients compute `range_end` for a prefix watch or list.
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).unwrap_or_else(|_| "\0".to_string());
        }
    }
    "\0".to_string()
}

impl Request {
    /// A short name for messages: "range", "put", "txn", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Range(_) => "range",
            Request::Put(_) => "put",
            Request::DeleteRange(_) => "delete",
            Request::Txn(_) => "txn",
            Request::Compact { .. } => "compact",
            Request::LeaseGrant { .. } => "lease-grant",
            Request::LeaseRevoke { .. } => "lease-revoke",
            Request::LeaseKeepAlive { .. } => "lease-keepalive",
            Request::LeaseTimeToLive { .. } => "lease-ttl",
        }
    }

    /// Whether the request can change the store (keys, compaction or leases).
    pub fn may_write(&self) -> bool {
        match self {
            Request::Range(_)
            | Request::LeaseKeepAlive { .. }
            | Request::LeaseTimeToLive { .. } => false,
            Request::Txn(t) => t.may_write(),
            _ => true,
        }
    }

    pub fn is_serializable_read(&self) -> bool {
        matches!(self, Request::Range(r) if r.serializable)
    }
}

impl TxnRequest {
    pub fn may_write(&self) -> bool {
        self.success
            .iter()
            .chain(&self.failure)
            .any(TxnOp::may_write)
    }
}

impl TxnOp {
    pub fn may_write(&self) -> bool {
        match self {
            TxnOp::Range(_) => false,
            TxnOp::Put(_) | TxnOp::DeleteRange(_) => true,
            TxnOp::Txn(t) => t.may_write(),
        }
    }
}

impl RangeRequest {
    pub fn span(&self) -> KeySpan<'_> {
        KeySpan::new(&self.key, &self.range_end)
    }

    /// Whether any revision bound may leave keys of the span out.
    pub fn prunes(&self) -> bool {
        self.min_mod_revision != 0
            || self.max_mod_revision != 0
            || self.min_create_revision != 0
            || self.max_create_revision != 0
    }

    /// Whether a key with these revisions passes every bound (a bound of 0
    /// is none; any other, negative too, compares as etcd's does).
    pub fn keeps(&self, mod_revision: i64, create_revision: i64) -> bool {
        let above = |rev: i64, min: i64| min == 0 || rev >= min;
        let below = |rev: i64, max: i64| max == 0 || rev <= max;
        above(mod_revision, self.min_mod_revision)
            && below(mod_revision, self.max_mod_revision)
            && above(create_revision, self.min_create_revision)
            && below(create_revision, self.max_create_revision)
    }

    /// The order asked for when it is not plain key order: the target, and
    /// whether descending. Ascending by key is key order.
    pub fn ordering(&self) -> Option<(SortTarget, bool)> {
        match (self.sort_order, self.sort_target) {
            (SortOrder::None | SortOrder::Ascend, SortTarget::Key) => None,
            (SortOrder::None | SortOrder::Ascend, target) => Some((target, false)),
            (SortOrder::Descend, target) => Some((target, true)),
        }
    }

    /// Whether the answer is not simply the span's first `limit` keys in
    /// key order: pruned by revision or sorted otherwise.
    pub fn reshaped(&self) -> bool {
        self.prunes() || self.ordering().is_some()
    }
}

impl DeleteRangeRequest {
    pub fn span(&self) -> KeySpan<'_> {
        KeySpan::new(&self.key, &self.range_end)
    }
}

impl Compare {
    pub fn span(&self) -> KeySpan<'_> {
        KeySpan::new(&self.key, &self.range_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_span_decodes_range_end() {
        assert!(KeySpan::new("a", "").contains("a"));
        assert!(!KeySpan::new("a", "").contains("ab"));
        assert!(KeySpan::new("a", "\0").contains("zzz"));
        assert!(!KeySpan::new("b", "\0").contains("a"));
        let prefix = KeySpan::new("/pods/", "/pods0");
        assert!(prefix.contains("/pods/x"));
        assert!(!prefix.contains("/pods0"));
    }

    #[test]
    fn spans_overlap() {
        let a = KeySpan::new("a", "c");
        assert!(a.overlaps(&KeySpan::Single("b")));
        assert!(!a.overlaps(&KeySpan::Single("c")));
        assert!(a.overlaps(&KeySpan::From("b")));
        assert!(!KeySpan::new("d", "\0").overlaps(&a));
        assert!(KeySpan::Single("x").overlaps(&KeySpan::Single("x")));
        assert!(!KeySpan::Single("x").overlaps(&KeySpan::Single("x\0")));
        assert!(!KeySpan::new("b", "a").overlaps(&KeySpan::From("")));
    }

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/pods/"), "/pods0");
        assert_eq!(prefix_end("a"), "b");
        assert_eq!(prefix_end(""), "\0");
    }
}
