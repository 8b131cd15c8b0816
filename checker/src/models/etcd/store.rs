//! The etcd key space as the model sees it: every version of every key (so past
//! revisions can be read), leases with their attached keys, the revision and
//! the compact revision. Changes go through an undo log so the search can
//! backtrack without copying, and a fingerprint is kept up to date.
//!
//! Compaction only moves the compact revision: old versions stay, because the
//! checker still needs them to say what a watch should have seen.
//!
//! The fingerprint covers what the requests not yet linearized can still
//! observe (see `sight`), with the revision and the compact revision.
use std::collections::{BTreeMap, BTreeSet};

use super::fast_hash::{FastMap as HashMap, FastSet as HashSet};

use super::deadlines::Deadlines;
use super::sight::Sight;
use crate::history::{KeySpan, KeyValue, Recorded};
use crate::linearizable::hash128;

/// One version of a key; `value: None` is a tombstone (the key was deleted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub mod_revision: i64,
    /// Position among the writes of its revision (etcd's sub-revision): the
    /// order a transaction wrote its keys in, which is the order watches deliver.
    pub sub: u32,
    pub create_revision: i64,
    pub version: i64,
    pub value: Option<String>,
    pub lease: i64,
    /// Per-key TTL in seconds the put asked for (0 = none): the store may
    /// delete this version once it ran out, unless the key was written since.
    pub ttl: i64,
}

impl Version {
    pub fn is_live(&self) -> bool {
        self.value.is_some()
    }

    /// A live version put with a TTL: the store may expire it.
    pub fn has_ttl(&self) -> bool {
        self.is_live() && self.ttl > 0
    }

    pub fn to_key_value(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: self.value.clone().unwrap_or_default(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
            lease: self.lease,
            ttl: self.ttl,
        }
    }

    /// Whether a reported key-value is exactly this version, in every
    /// field its source recorded. A key-value may come from a watch event
    /// (observations heeding watches): where the source left events'
    /// versions out, its version reads 0, which no live key has.
    pub fn matches(&self, kv: &KeyValue, recorded: Recorded) -> bool {
        let version_ok = self.version == kv.version || (kv.version == 0 && !recorded.event_version);
        self.value.as_deref() == Some(kv.value.as_str())
            && self.mod_revision == kv.mod_revision
            && recorded.create_revision_agrees(kv.create_revision, self.create_revision)
            && version_ok
            && recorded.lease_agrees(kv.lease, self.lease)
            && recorded.key_ttl_agrees(kv.ttl, self.ttl)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ttl: i64,
    pub keys: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum UndoEntry {
    /// A version was pushed; the sub-revision counter before it.
    PushedVersion(String, (i64, u32)),
    Revision(i64),
    Compact(i64),
    /// A lease was granted; whether it had been removed before.
    LeaseAdded(i64, bool),
    LeaseRemoved(i64, Lease),
    Attached(i64, String),
    Detached(i64, String),
    LeaseUsed(i64),
    KeyExpired(String),
    /// A past read was answered: its span's index in the sight, its revision.
    ReadAnswered(usize, i64),
    DeadlineMet(i64),
}

/// A position in the undo log to roll back to.
pub type Mark = usize;

#[derive(Debug, Clone)]
pub struct Store {
    keys: BTreeMap<String, Vec<Version>>,
    leases: HashMap<i64, Lease>,
    revision: i64,
    compact_revision: i64,
    /// What pending requests can still see; revisions are mixed in on demand.
    sight: Sight,
    log: Vec<UndoEntry>,
    versions: usize,
    /// The revision of the last write and how many versions it wrote so far.
    sub_revision: (i64, u32),
    /// Per lease: how many definite answers that need it alive were applied.
    lease_uses: HashMap<i64, u32>,
    /// Leases removed (revoked or expired) and not granted again since.
    removed_leases: HashSet<i64>,
    /// Per key: how many times the store expired it for its TTL.
    key_expiries: HashMap<String, u32>,
    /// The leases with keys attached now, and the keys whose live version
    /// has a TTL now: where the store's own steps can happen (derived from
    /// the state, kept up to date on every change and undo).
    keyed_leases: HashSet<i64>,
    ttl_keys: HashSet<String>,
    /// The latest revision each definite answer not yet applied fits at.
    deadlines: Deadlines,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A fresh store is at revision 1, with nothing in it; no operation is
    /// expected (see [`Store::expecting`]).
    pub fn new() -> Self {
        Store::expecting([], [])
    }

    /// A fresh store told what the operations to linearize need: its
    /// fingerprint keeps the past versions that reads at `past_reads` (one
    /// entry per read: its revision and span) can see until each is answered
    /// ([`Store::note_read_answered`]), and it tracks `deadlines`, the latest
    /// revision each definite answer fits at ([`Store::note_deadline_met`]).
    pub fn expecting<'a>(
        past_reads: impl IntoIterator<Item = (i64, KeySpan<'a>)>,
        deadlines: impl IntoIterator<Item = i64>,
    ) -> Self {
        Store {
            keys: BTreeMap::new(),
            leases: HashMap::default(),
            revision: 1,
            compact_revision: 0,
            sight: Sight::with_pending_reads(past_reads),
            log: Vec::new(),
            versions: 0,
            sub_revision: (0, 0),
            lease_uses: HashMap::default(),
            removed_leases: HashSet::default(),
            key_expiries: HashMap::default(),
            keyed_leases: HashSet::default(),
            ttl_keys: HashSet::default(),
            deadlines: Deadlines::with(deadlines),
        }
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// Equal for two stores (reached by the same operations) that no pending
    /// request can tell apart.
    pub fn fingerprint(&self) -> u128 {
        self.sight.fingerprint() ^ hash128(&(self.revision, self.compact_revision))
    }

    pub fn mark(&self) -> Mark {
        self.log.len()
    }

    /// Whether anything changed since `mark`.
    pub fn changed_since(&self, mark: Mark) -> bool {
        self.log.len() > mark
    }

    /// Keys that got a new version (put or delete) after `mark`.
    pub fn keys_written_since(&self, mark: Mark) -> impl Iterator<Item = &str> {
        self.log[mark.min(self.log.len())..]
            .iter()
            .filter_map(|e| match e {
                UndoEntry::PushedVersion(key, _) => Some(key.as_str()),
                _ => None,
            })
    }

    /// Undoes every change made after `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        while self.log.len() > mark {
            let Some(entry) = self.log.pop() else { break };
            match entry {
                UndoEntry::PushedVersion(key, sub_revision) => {
                    self.sub_revision = sub_revision;
                    let mut ttl_changed = None;
                    if let Some(versions) = self.keys.get_mut(&key) {
                        if let Some(v) = versions.pop() {
                            see_version(&mut self.sight, &key, &v);
                            let prev = versions.last();
                            if let Some(prev) = prev {
                                see_replaced(&mut self.sight, &key, prev, v.mod_revision);
                            }
                            let had_ttl = prev.is_some_and(Version::has_ttl);
                            if had_ttl != v.has_ttl() {
                                ttl_changed = Some(had_ttl);
                            }
                            self.versions -= 1;
                        }
                        if versions.is_empty() {
                            self.keys.remove(&key);
                        }
                    }
                    if let Some(has_ttl) = ttl_changed {
                        self.set_ttl_key(&key, has_ttl);
                    }
                }
                UndoEntry::Revision(r) => self.revision = r,
                UndoEntry::Compact(r) => self.compact_revision = r,
                UndoEntry::LeaseAdded(id, was_removed) => {
                    if let Some(lease) = self.leases.remove(&id) {
                        self.sight.toggle_present(lease_hash(id, &lease));
                    }
                    if was_removed {
                        self.removed_leases.insert(id);
                    }
                    self.keyed_leases.remove(&id);
                }
                UndoEntry::LeaseRemoved(id, lease) => {
                    self.sight.toggle_present(lease_hash(id, &lease));
                    if !lease.keys.is_empty() {
                        self.keyed_leases.insert(id);
                    }
                    self.leases.insert(id, lease);
                    self.removed_leases.remove(&id);
                }
                UndoEntry::Attached(id, key) => {
                    if let Some(l) = self.leases.get_mut(&id) {
                        l.keys.remove(&key);
                        if l.keys.is_empty() {
                            self.keyed_leases.remove(&id);
                        }
                    }
                }
                UndoEntry::Detached(id, key) => {
                    if let Some(l) = self.leases.get_mut(&id) {
                        l.keys.insert(key);
                        if l.keys.len() == 1 {
                            self.keyed_leases.insert(id);
                        }
                    }
                }
                UndoEntry::LeaseUsed(id) => {
                    if let Some(n) = self.lease_uses.get_mut(&id) {
                        *n -= 1;
                    }
                }
                UndoEntry::KeyExpired(key) => {
                    if let Some(n) = self.key_expiries.get_mut(&key) {
                        *n -= 1;
                    }
                }
                UndoEntry::ReadAnswered(span, rev) => self.sight.read_unanswered(span, rev),
                UndoEntry::DeadlineMet(rev) => self.deadlines.unmet(rev),
            }
        }
    }

    /// The live version of a key now.
    pub fn get(&self, key: &str) -> Option<&Version> {
        self.keys
            .get(key)
            .and_then(|v| v.last())
            .filter(|v| v.is_live())
    }

    /// The live version of a key at revision `rev`.
    pub fn get_at(&self, key: &str, rev: i64) -> Option<&Version> {
        self.keys.get(key).and_then(|vs| latest_at(vs, rev))
    }

    /// The last version (live or tombstone) of `key` written at or before `rev`.
    pub fn last_write_at(&self, key: &str, rev: i64) -> Option<&Version> {
        let vs = self.keys.get(key)?;
        let i = vs.partition_point(|v| v.mod_revision <= rev);
        i.checked_sub(1).and_then(|i| vs.get(i))
    }

    /// The version (live or tombstone) of `key` written exactly at `rev`.
    pub fn written_at(&self, key: &str, rev: i64) -> Option<&Version> {
        let vs = self.keys.get(key)?;
        let i = vs.partition_point(|v| v.mod_revision < rev);
        vs.get(i).filter(|v| v.mod_revision == rev)
    }

    /// Live keys in `span` at revision `rev`, in key order.
    pub fn range_at<'a>(
        &'a self,
        span: KeySpan<'a>,
        rev: i64,
    ) -> impl Iterator<Item = (&'a String, &'a Version)> + 'a {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let bounds = match span {
            KeySpan::Single(k) => (Included(k), Included(k)),
            KeySpan::From(k) => (Included(k), Unbounded),
            KeySpan::Between(s, e) if s < e => (Included(s), Excluded(e)),
            // An empty interval: etcd returns nothing.
            KeySpan::Between(s, _) => (Included(s), Excluded(s)),
        };
        self.keys
            .range::<str, _>(bounds)
            .filter_map(move |(k, vs)| latest_at(vs, rev).map(|v| (k, v)))
    }

    /// Every version of every key, for building the event log.
    pub fn all_versions(&self) -> impl Iterator<Item = (&String, &[Version])> {
        self.keys.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// The leases alive now.
    pub fn leases(&self) -> impl Iterator<Item = (&i64, &Lease)> {
        self.leases.iter()
    }

    pub fn lease(&self, id: i64) -> Option<&Lease> {
        self.leases.get(&id)
    }

    pub fn set_revision(&mut self, rev: i64) {
        self.log.push(UndoEntry::Revision(self.revision));
        self.revision = rev;
    }

    pub fn set_compact_revision(&mut self, rev: i64) {
        self.log.push(UndoEntry::Compact(self.compact_revision));
        self.compact_revision = rev;
    }

    /// Writes `value` to `key` at revision `rev` (versions, create revision and
    /// lease attachment as etcd computes them), with a per-key TTL (0 = none).
    pub fn put(&mut self, key: &str, value: String, lease: i64, ttl: i64, rev: i64) {
        let (create_revision, version, old_lease) = match self.get(key) {
            Some(v) => (v.create_revision, v.version + 1, v.lease),
            None => (rev, 1, 0),
        };
        if old_lease != lease {
            self.detach(old_lease, key);
            self.attach(lease, key);
        }
        self.push_version(
            key,
            Version {
                mod_revision: rev,
                sub: 0,
                create_revision,
                version,
                value: Some(value),
                lease,
                ttl,
            },
        );
    }

    /// Deletes `key` (which must be live) at revision `rev`.
    pub fn delete(&mut self, key: &str, rev: i64) {
        if let Some(old_lease) = self.get(key).map(|v| v.lease) {
            self.detach(old_lease, key);
            self.push_version(
                key,
                Version {
                    mod_revision: rev,
                    sub: 0,
                    create_revision: 0,
                    version: 0,
                    value: None,
                    lease: 0,
                    ttl: 0,
                },
            );
        }
    }

    pub fn grant(&mut self, id: i64, ttl: i64) {
        let lease = Lease {
            ttl,
            keys: BTreeSet::new(),
        };
        self.sight.toggle_present(lease_hash(id, &lease));
        self.leases.insert(id, lease);
        let was_removed = self.removed_leases.remove(&id);
        self.log.push(UndoEntry::LeaseAdded(id, was_removed));
    }

    /// Whether `id` was removed (revoked or expired) and not granted again
    /// since. (A function of which operations were applied: not in the
    /// fingerprint.)
    pub fn was_removed(&self, id: i64) -> bool {
        self.removed_leases.contains(&id)
    }

    /// Removes a lease (its keys must have been deleted first).
    pub fn remove_lease(&mut self, id: i64) {
        if let Some(lease) = self.leases.remove(&id) {
            self.sight.toggle_present(lease_hash(id, &lease));
            self.removed_leases.insert(id);
            if !lease.keys.is_empty() {
                self.keyed_leases.remove(&id);
            }
            self.log.push(UndoEntry::LeaseRemoved(id, lease));
        }
    }

    /// Records that a definite answer whose deadline was `rev` was applied.
    pub fn note_deadline_met(&mut self, rev: i64) {
        if self.deadlines.met(rev) {
            self.log.push(UndoEntry::DeadlineMet(rev));
        }
    }

    /// The earliest deadline of the definite answers not yet applied
    /// (`i64::MAX` when none is left): the store must not move past it.
    pub fn earliest_deadline(&mut self) -> i64 {
        self.deadlines.earliest()
    }

    /// Records that a read at past revision `rev` over `span` was answered:
    /// the versions only it could see no longer count in the fingerprint.
    pub fn note_read_answered(&mut self, span: &KeySpan<'_>, rev: i64) {
        if let Some(index) = self.sight.read_answered(span, rev) {
            self.log.push(UndoEntry::ReadAnswered(index, rev));
        }
    }

    /// How many definite answers that need `lease` alive were applied.
    pub fn lease_uses(&self, lease: i64) -> u32 {
        self.lease_uses.get(&lease).copied().unwrap_or(0)
    }

    /// Records that a definite answer that needs `lease` alive was applied.
    /// (A function of which operations were applied: not in the fingerprint.)
    pub fn note_lease_use(&mut self, lease: i64) {
        *self.lease_uses.entry(lease).or_default() += 1;
        self.log.push(UndoEntry::LeaseUsed(lease));
    }

    /// How many times `key` was expired for its TTL.
    pub fn key_expiries(&self, key: &str) -> u32 {
        self.key_expiries.get(key).copied().unwrap_or(0)
    }

    /// The leases with keys attached now.
    pub fn keyed_leases(&self) -> impl Iterator<Item = i64> + '_ {
        self.keyed_leases.iter().copied()
    }

    /// The keys whose live version was put with a TTL.
    pub fn ttl_keys(&self) -> impl Iterator<Item = &str> {
        self.ttl_keys.iter().map(String::as_str)
    }

    /// Called only when a key's last version changed between one with a
    /// TTL and one without (the set is asked only then: most histories
    /// have no TTLs).
    fn set_ttl_key(&mut self, key: &str, has_ttl: bool) {
        if has_ttl {
            self.ttl_keys.insert(key.to_string());
        } else {
            self.ttl_keys.remove(key);
        }
    }

    /// Deletes `key` at a new revision because its TTL ran out; false (and
    /// nothing changes) unless its live version was put with a TTL.
    pub fn expire_key(&mut self, key: &str) -> bool {
        if self.get(key).is_none_or(|v| v.ttl <= 0) {
            return false;
        }
        let rev = self.revision + 1;
        self.delete(key, rev);
        self.set_revision(rev);
        match self.key_expiries.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                self.key_expiries.insert(key.to_string(), 1);
            }
        }
        self.log.push(UndoEntry::KeyExpired(key.to_string()));
        true
    }

    fn push_version(&mut self, key: &str, mut v: Version) {
        let rev = v.mod_revision;
        let before = self.sub_revision;
        v.sub = if before.0 == rev { before.1 } else { 0 };
        self.sub_revision = (rev, v.sub + 1);
        let prev = self.keys.get(key).and_then(|vs| vs.last());
        if let Some(prev) = prev {
            see_replaced(&mut self.sight, key, prev, rev);
        }
        let ttl_changed = prev.is_some_and(Version::has_ttl) != v.has_ttl();
        let has_ttl = v.has_ttl();
        see_version(&mut self.sight, key, &v);
        self.versions += 1;
        match self.keys.get_mut(key) {
            Some(vs) => vs.push(v),
            None => {
                self.keys.insert(key.to_string(), vec![v]);
            }
        }
        self.log
            .push(UndoEntry::PushedVersion(key.to_string(), before));
        if ttl_changed {
            self.set_ttl_key(key, has_ttl);
        }
    }

    fn attach(&mut self, lease: i64, key: &str) {
        if lease == 0 {
            return;
        }
        if let Some(l) = self.leases.get_mut(&lease)
            && l.keys.insert(key.to_string())
        {
            self.log.push(UndoEntry::Attached(lease, key.to_string()));
            if l.keys.len() == 1 {
                self.keyed_leases.insert(lease);
            }
        }
    }

    fn detach(&mut self, lease: i64, key: &str) {
        if lease == 0 {
            return;
        }
        if let Some(l) = self.leases.get_mut(&lease)
            && l.keys.remove(key)
        {
            self.log.push(UndoEntry::Detached(lease, key.to_string()));
            if l.keys.is_empty() {
                self.keyed_leases.remove(&lease);
            }
        }
    }

    /// Rough heap size, for the memory bound.
    pub fn approx_bytes(&self) -> usize {
        self.keys.len() * 96
            + self.versions * 96
            + self.log.capacity() * 40
            + self.leases.len() * 96
    }
}

/// Files a key's new last version (or takes it back): a live one among the
/// present, a tombstone as past from its revision.
fn see_version(sight: &mut Sight, key: &str, v: &Version) {
    let h = hash128(&(key, v));
    if v.is_live() {
        sight.toggle_present(h);
    } else {
        sight.toggle_past(key, v.mod_revision, h);
    }
}

/// A live version replaced at `until` moves from the present to the past
/// (or back).
fn see_replaced(sight: &mut Sight, key: &str, v: &Version, until: i64) {
    if v.is_live() {
        let h = hash128(&(key, v));
        sight.toggle_present(h);
        sight.toggle_past(key, until, h);
    }
}

fn lease_hash(id: i64, lease: &Lease) -> u128 {
    hash128(&("lease", id, lease.ttl))
}

fn latest_at(versions: &[Version], rev: i64) -> Option<&Version> {
    let i = versions.partition_point(|v| v.mod_revision <= rev);
    if i == 0 {
        return None;
    }
    versions.get(i - 1).filter(|v| v.is_live())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_rollback() {
        let mut s = Store::new();
        let fp0 = s.fingerprint();
        let m = s.mark();
        s.put("a", "1".into(), 0, 0, 2);
        s.set_revision(2);
        s.put("a", "2".into(), 0, 0, 3);
        s.set_revision(3);
        let v = s.get("a").unwrap();
        assert_eq!((v.create_revision, v.version, v.mod_revision), (2, 2, 3));
        assert_eq!(s.get_at("a", 2).unwrap().value.as_deref(), Some("1"));
        assert!(s.get_at("a", 1).is_none());
        s.delete("a", 4);
        s.set_revision(4);
        assert!(s.get("a").is_none());
        assert!(s.written_at("a", 4).is_some());
        s.put("a", "3".into(), 0, 0, 5);
        assert_eq!(s.get("a").unwrap().create_revision, 5);
        s.rollback(m);
        assert!(s.get("a").is_none());
        assert_eq!(s.revision(), 1);
        assert_eq!(s.fingerprint(), fp0);
    }

    #[test]
    fn leases_track_attached_keys() {
        let mut s = Store::new();
        s.grant(7, 10);
        let m = s.mark();
        s.put("a", "1".into(), 7, 0, 2);
        s.put("b", "1".into(), 7, 0, 2);
        assert_eq!(s.lease(7).unwrap().keys.len(), 2);
        s.put("a", "2".into(), 0, 0, 3);
        assert_eq!(s.lease(7).unwrap().keys.len(), 1);
        s.rollback(m);
        assert!(s.lease(7).unwrap().keys.is_empty());
    }

    #[test]
    fn keyed_leases_and_ttl_keys_follow_changes_and_rollback() {
        let mut s = Store::new();
        let keyed = |s: &Store| s.keyed_leases().collect::<Vec<_>>();
        let ttl = |s: &Store| {
            let mut keys: Vec<String> = s.ttl_keys().map(str::to_string).collect();
            keys.sort();
            keys
        };
        s.grant(7, 10);
        assert!(keyed(&s).is_empty());
        let m = s.mark();
        s.put("a", "1".into(), 7, 0, 2);
        s.put("b", "1".into(), 0, 5, 2);
        assert_eq!(keyed(&s), vec![7]);
        assert_eq!(ttl(&s), vec!["b"]);
        let m2 = s.mark();
        s.put("a", "2".into(), 0, 3, 3);
        s.delete("b", 4);
        assert!(keyed(&s).is_empty());
        assert_eq!(ttl(&s), vec!["a"]);
        s.rollback(m2);
        assert_eq!(keyed(&s), vec![7]);
        assert_eq!(ttl(&s), vec!["b"]);
        s.delete("a", 3);
        s.remove_lease(7);
        assert!(keyed(&s).is_empty());
        s.rollback(m);
        assert!(keyed(&s).is_empty());
        assert!(ttl(&s).is_empty());
        assert!(s.lease(7).is_some());
    }

    #[test]
    fn range_reads_a_past_revision() {
        let mut s = Store::new();
        s.put("a", "1".into(), 0, 0, 2);
        s.put("b", "1".into(), 0, 0, 3);
        s.delete("a", 4);
        let at3: Vec<_> = s
            .range_at(KeySpan::From(""), 3)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(at3, vec!["a", "b"]);
        let at4: Vec<_> = s
            .range_at(KeySpan::From(""), 4)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(at4, vec!["b"]);
    }
}
