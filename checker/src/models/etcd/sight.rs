//! The store's fingerprint for the search cache: a hash of what the requests
//! not yet linearized can still observe, not of the whole past.
//!
//! Live versions and leases always count. A version that is no longer the
//! key's last one (a replaced value, a tombstone) can only be seen by a read
//! at a past revision whose span holds the key, so it counts only while some
//! such read still to be answered asks for a revision it was visible at. Two
//! configurations with the same linearized operations have the same reads
//! left, so when their fingerprints agree no remaining request can tell them
//! apart: two orders of lease expiries that differ only in when keys nobody
//! looks at any more were deleted meet in the cache. Keeping the past reads
//! per span matters: a history whose clients read `key*` at past revisions
//! and never read the lease keys back at all would otherwise tell every order
//! of the lease expiries apart, and the search tries them all.
//!
//! Values are XORed in and out, so the same call undoes a change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::history::KeySpan;
use crate::linearizable::zobrist;

/// XOR of values filed by revision, with "everything after revision h" in
/// O(log n) (a Fenwick tree over revisions, grown on demand).
#[derive(Debug, Clone, Default)]
struct RevisionXor {
    raw: Vec<u128>,
    tree: Vec<u128>,
    total: u128,
}

impl RevisionXor {
    fn toggle(&mut self, at: i64, value: u128) {
        let index = usize::try_from(at.max(0)).unwrap_or(0);
        if index >= self.raw.len() {
            self.grow(index + 1);
        }
        self.raw[index] ^= value;
        self.total ^= value;
        let mut p = index + 1;
        while p <= self.tree.len() {
            self.tree[p - 1] ^= value;
            p += p & p.wrapping_neg();
        }
    }

    /// XOR of the values filed at revisions > `h`.
    fn above(&self, h: i64) -> u128 {
        let Ok(upto) = usize::try_from(h) else {
            return self.total;
        };
        let mut p = upto.saturating_add(1).min(self.tree.len());
        let mut prefix = 0;
        while p > 0 {
            prefix ^= self.tree[p - 1];
            p -= p & p.wrapping_neg();
        }
        self.total ^ prefix
    }

    fn grow(&mut self, needed: usize) {
        let len = needed.max(self.raw.len() * 2).max(64).next_power_of_two();
        self.raw.resize(len, 0);
        self.tree = self.raw.clone();
        for i in 1..=len {
            let parent = i + (i & i.wrapping_neg());
            if parent <= len {
                let child = self.tree[i - 1];
                self.tree[parent - 1] ^= child;
            }
        }
    }
}

/// The keys some past read covers, owned: the store outlives no history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Span {
    Single(String),
    From(String),
    Between(String, String),
}

impl Span {
    fn of(span: &KeySpan<'_>) -> Span {
        match *span {
            KeySpan::Single(k) => Span::Single(k.to_string()),
            KeySpan::From(k) => Span::From(k.to_string()),
            KeySpan::Between(s, e) => Span::Between(s.to_string(), e.to_string()),
        }
    }

    fn contains(&self, key: &str) -> bool {
        match self {
            Span::Single(k) => key == k,
            Span::From(s) => key >= s.as_str(),
            Span::Between(s, e) => key >= s.as_str() && key < e.as_str(),
        }
    }
}

/// The past reads of one span: the versions they could see, and the
/// revisions those still to be answered ask for.
#[derive(Debug, Clone)]
struct SpanReads {
    span: Span,
    /// Multiplies a version's value before it is filed here, so a version
    /// filed in two spans never cancels out of the fingerprint (odd, random).
    salt: u128,
    /// Versions of keys in the span no longer last, filed at the revision
    /// their visibility ends: a replaced live version at the revision that
    /// replaced it, a tombstone at its own revision (it tells a read at or
    /// after it that the key is gone).
    past: RevisionXor,
    /// Revisions that reads still to be answered ask for, with how many.
    pending: BTreeMap<i64, u32>,
}

impl SpanReads {
    /// The earliest revision a pending read asks for (`i64::MAX`: none).
    fn horizon(&self) -> i64 {
        self.pending.first_key_value().map_or(i64::MAX, |(r, _)| *r)
    }

    /// What the pending reads of this span can still see.
    fn visible(&self) -> u128 {
        self.past.above(self.horizon())
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Sight {
    /// Leases and the live last version of every key.
    present: u128,
    spans: Vec<SpanReads>,
    span_index: HashMap<Span, usize>,
    /// Per key seen so far, the spans that hold it (a memo: a key's spans
    /// never change).
    covering: HashMap<String, Arc<[usize]>>,
    /// XOR of every span's [`SpanReads::visible`], kept up to date.
    visible: u128,
}

impl Sight {
    /// A sight expecting reads at these past revisions, each over its span.
    pub(super) fn with_pending_reads<'a>(
        reads: impl IntoIterator<Item = (i64, KeySpan<'a>)>,
    ) -> Self {
        let mut sight = Sight::default();
        for (revision, span) in reads {
            let span = Span::of(&span);
            let next = sight.spans.len();
            let index = *sight.span_index.entry(span.clone()).or_insert(next);
            if index == next {
                sight.spans.push(SpanReads {
                    span,
                    salt: zobrist(next as u64) | 1,
                    past: RevisionXor::default(),
                    pending: BTreeMap::new(),
                });
            }
            *sight.spans[index].pending.entry(revision).or_default() += 1;
        }
        sight
    }

    pub(super) fn fingerprint(&self) -> u128 {
        self.present ^ self.visible
    }

    pub(super) fn toggle_present(&mut self, value: u128) {
        self.present ^= value;
    }

    /// Files (or takes back) a version of `key` that stopped being visible
    /// to current reads at `until`, in every span that holds the key.
    pub(super) fn toggle_past(&mut self, key: &str, until: i64, value: u128) {
        if self.spans.is_empty() {
            return;
        }
        let covering = match self.covering.get(key) {
            Some(c) => Arc::clone(c),
            None => {
                let c: Arc<[usize]> = (0..self.spans.len())
                    .filter(|&i| self.spans[i].span.contains(key))
                    .collect();
                self.covering.insert(key.to_string(), Arc::clone(&c));
                c
            }
        };
        for &i in covering.iter() {
            let reads = &mut self.spans[i];
            let salted = value.wrapping_mul(reads.salt);
            reads.past.toggle(until, salted);
            if until > reads.horizon() {
                self.visible ^= salted;
            }
        }
    }

    /// A read at past revision `rev` over `span` was answered; the index of
    /// its span for [`Sight::read_unanswered`], None if none was pending.
    pub(super) fn read_answered(&mut self, span: &KeySpan<'_>, rev: i64) -> Option<usize> {
        let index = *self.span_index.get(&Span::of(span))?;
        let reads = &mut self.spans[index];
        let before = reads.visible();
        match reads.pending.get_mut(&rev) {
            Some(1) => {
                reads.pending.remove(&rev);
            }
            Some(n) => *n -= 1,
            None => return None,
        }
        self.visible ^= before ^ reads.visible();
        Some(index)
    }

    /// Takes back [`Sight::read_answered`].
    pub(super) fn read_unanswered(&mut self, index: usize, rev: i64) {
        let Some(reads) = self.spans.get_mut(index) else {
            return;
        };
        let before = reads.visible();
        *reads.pending.entry(rev).or_default() += 1;
        self.visible ^= before ^ reads.visible();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above_is_the_xor_of_later_revisions() {
        let mut x = RevisionXor::default();
        let values = [(3, 0x11u128), (7, 0x220), (100, 0x4400), (7, 0x8)];
        for (at, v) in values {
            x.toggle(at, v);
        }
        for h in [-1, 0, 2, 3, 6, 7, 50, 99, 100, 5000, i64::MAX] {
            let expected = values
                .iter()
                .filter(|(at, _)| *at > h)
                .fold(0, |acc, (_, v)| acc ^ v);
            assert_eq!(x.above(h), expected, "h = {h}");
        }
        x.toggle(100, 0x4400);
        assert_eq!(x.above(99), 0);
    }

    #[test]
    fn the_horizon_follows_the_pending_reads() {
        let span = KeySpan::Single("k");
        let mut s = Sight::with_pending_reads([(5, span), (9, span)]);
        s.toggle_present(1);
        s.toggle_past("k", 4, 2);
        s.toggle_past("k", 8, 4);
        let only_8 = s.fingerprint();
        assert_ne!(
            only_8, 1,
            "the version visible until 8 counts for the read at 5"
        );
        assert!(s.read_answered(&span, 5).is_some());
        assert_eq!(s.fingerprint(), 1);
        assert!(s.read_answered(&span, 9).is_some());
        assert_eq!(s.fingerprint(), 1);
        assert!(s.read_answered(&span, 9).is_none());
        s.read_unanswered(0, 9);
        s.read_unanswered(0, 5);
        assert_eq!(s.fingerprint(), only_8);
        s.read_unanswered(0, 3);
        assert_ne!(s.fingerprint(), only_8, "now both past versions count");
    }

    #[test]
    fn past_versions_count_only_for_reads_whose_span_holds_the_key() {
        let mut s = Sight::with_pending_reads([(2, KeySpan::new("key", "kez"))]);
        let empty = s.fingerprint();
        s.toggle_past("lease/a", 7, 0x10);
        assert_eq!(s.fingerprint(), empty, "no past read covers lease keys");
        s.toggle_past("key1", 7, 0x10);
        assert_ne!(s.fingerprint(), empty);
        s.toggle_past("key1", 7, 0x10);
        assert_eq!(s.fingerprint(), empty, "the same call takes it back");
    }

    #[test]
    fn a_version_in_two_spans_does_not_cancel_out() {
        let mut s =
            Sight::with_pending_reads([(1, KeySpan::new("a", "c")), (1, KeySpan::Single("b"))]);
        let empty = s.fingerprint();
        s.toggle_past("b", 5, 0x30);
        s.toggle_past("b", 6, 0x30 ^ 0x1);
        assert_ne!(s.fingerprint(), empty);
    }
}
