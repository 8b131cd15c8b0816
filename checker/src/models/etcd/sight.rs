//! The store's fingerprint for the search cache: a hash of what the requests
//! not yet linearized can still observe, not of the whole past.
//!
//! Live versions and leases always count. A version that is no longer the
//! key's last one (a replaced value, a tombstone) can only be seen by a read
//! at a past revision, so it counts only while some read still to be answered
//! asks for a revision it was visible at. Two configurations with the same
//! linearized operations have the same reads left, so when their fingerprints
//! agree no remaining request can tell them apart: two orders of lease
//! expiries that differ only in when keys nobody looks at any more were
//! deleted meet in the cache.
//!
//! Values are XORed in and out, so the same call undoes a change.

use std::collections::BTreeMap;

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

#[derive(Debug, Clone, Default)]
pub(super) struct Sight {
    /// Leases and the live last version of every key.
    present: u128,
    /// Versions no longer last, filed at the revision their visibility ends:
    /// a replaced live version at the revision that replaced it, a tombstone
    /// at its own revision (it tells a read at or after it that the key is gone).
    past: RevisionXor,
    /// Revisions that reads still to be answered ask for, with how many.
    pending_reads: BTreeMap<i64, u32>,
}

impl Sight {
    pub(super) fn with_pending_reads(revisions: impl IntoIterator<Item = i64>) -> Self {
        let mut sight = Sight::default();
        for r in revisions {
            *sight.pending_reads.entry(r).or_default() += 1;
        }
        sight
    }

    pub(super) fn fingerprint(&self) -> u128 {
        let horizon = self
            .pending_reads
            .first_key_value()
            .map_or(i64::MAX, |(r, _)| *r);
        self.present ^ self.past.above(horizon)
    }

    pub(super) fn toggle_present(&mut self, value: u128) {
        self.present ^= value;
    }

    pub(super) fn toggle_past(&mut self, until: i64, value: u128) {
        self.past.toggle(until, value);
    }

    /// A read at past revision `rev` was answered; false if none was pending.
    pub(super) fn read_answered(&mut self, rev: i64) -> bool {
        match self.pending_reads.get_mut(&rev) {
            Some(1) => {
                self.pending_reads.remove(&rev);
                true
            }
            Some(n) => {
                *n -= 1;
                true
            }
            None => false,
        }
    }

    pub(super) fn read_unanswered(&mut self, rev: i64) {
        *self.pending_reads.entry(rev).or_default() += 1;
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
        let mut s = Sight::with_pending_reads([5, 9]);
        s.toggle_present(1);
        s.toggle_past(4, 2);
        s.toggle_past(8, 4);
        assert_eq!(s.fingerprint(), 1 ^ 4);
        assert!(s.read_answered(5));
        assert_eq!(s.fingerprint(), 1);
        assert!(s.read_answered(9));
        assert_eq!(s.fingerprint(), 1);
        assert!(!s.read_answered(9));
        s.read_unanswered(3);
        assert_eq!(s.fingerprint(), 1 ^ 2 ^ 4);
    }
}
