//! Deadlines of the operations with a definite answer not yet linearized:
//! the highest store revision each can still be applied at (a range answered
//! at revision R needs the store at R; a put answered at R needs it at R - 1).
//! Revisions never go back, so a step that moves the store past a pending
//! deadline leaves that operation nowhere to go: the model rejects it at once
//! instead of letting the search find out much later.

/// Pending deadlines counted by revision, with the earliest found lazily.
#[derive(Debug, Clone, Default)]
pub(super) struct Deadlines {
    counts: Vec<u32>,
    /// No pending deadline below this index.
    first: usize,
}

impl Deadlines {
    pub(super) fn with(revisions: impl IntoIterator<Item = i64>) -> Self {
        let mut d = Deadlines::default();
        for r in revisions {
            d.add(r);
        }
        d.first = 0;
        d
    }

    fn index(rev: i64) -> usize {
        usize::try_from(rev.max(0)).unwrap_or(0)
    }

    fn add(&mut self, rev: i64) {
        let i = Self::index(rev);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.first = self.first.min(i);
    }

    /// An operation with this deadline was linearized; false if none was pending.
    pub(super) fn met(&mut self, rev: i64) -> bool {
        match self.counts.get_mut(Self::index(rev)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Takes back [`Deadlines::met`].
    pub(super) fn unmet(&mut self, rev: i64) {
        self.add(rev);
    }

    /// The earliest pending deadline (`i64::MAX` when none is left).
    pub(super) fn earliest(&mut self) -> i64 {
        while self.counts.get(self.first) == Some(&0) {
            self.first += 1;
        }
        if self.first < self.counts.len() {
            i64::try_from(self.first).unwrap_or(i64::MAX)
        } else {
            i64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_follows_met_and_unmet() {
        let mut d = Deadlines::with([5, 3, 5]);
        assert_eq!(d.earliest(), 3);
        assert!(d.met(3));
        assert_eq!(d.earliest(), 5);
        assert!(d.met(5));
        assert_eq!(d.earliest(), 5);
        assert!(d.met(5));
        assert_eq!(d.earliest(), i64::MAX);
        assert!(!d.met(5));
        d.unmet(3);
        assert_eq!(d.earliest(), 3);
    }
}
