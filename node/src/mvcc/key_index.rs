//! The in-memory index from a key to its revisions, in generations: a
//! generation runs from the key's creation to its deletion (tombstone), as
//! in etcd's keyIndex.

use super::revision::Revision;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    /// Number of puts in this generation.
    pub ver: i64,
    pub created: Revision,
    /// Revisions in order; the last one is the tombstone once deleted.
    pub revs: Vec<Revision>,
}

impl Generation {
    fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndex {
    pub modified: Revision,
    /// The last generation is the current one (empty after a delete).
    pub generations: Vec<Generation>,
}

/// What a key looked like at some revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAt {
    pub modified: Revision,
    pub created: Revision,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyIndexError {
    #[error("put at {0:?} is not after the key's last revision")]
    NotNewer(Revision),
    #[error("cannot delete a key that does not exist")]
    NotLive,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex {
            modified: Revision::default(),
            generations: vec![Generation::default()],
        }
    }
}

/// What a compaction at `at` does with a generation whose tombstone is
/// exactly at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtCompactRevision {
    /// Keeps the tombstone (etcd PR 18274), so a watch from `at` still
    /// sees the delete; but when the key was created again in the same
    /// revision, keeps the new generation's value instead, as the open
    /// etcd PR 22377 proposes for etcd issue 22376.
    #[default]
    KeepTombstone,
    /// etcd-22376 (etcd since PR 18274): keeps the tombstone even over a
    /// value written in the same revision, whose backend row compaction
    /// then deletes while the index still points at it.
    KeepTombstoneOverValue,
    /// etcd-18089 (etcd before PR 18274): passes the generation over, so
    /// the tombstone goes.
    DropTombstone,
}

impl KeyIndex {
    pub fn put(&mut self, rev: Revision) -> Result<(), KeyIndexError> {
        if rev <= self.modified && self.modified != Revision::default() {
            return Err(KeyIndexError::NotNewer(rev));
        }
        let g = self.generations.last_mut().ok_or(KeyIndexError::NotLive)?;
        if g.is_empty() {
            g.created = rev;
        }
        g.revs.push(rev);
        g.ver += 1;
        self.modified = rev;
        Ok(())
    }

    /// Records a delete and starts a new, empty generation.
    pub fn tombstone(&mut self, rev: Revision) -> Result<(), KeyIndexError> {
        if self.generations.last().is_none_or(Generation::is_empty) {
            return Err(KeyIndexError::NotLive);
        }
        self.put(rev)?;
        self.generations.push(Generation::default());
        Ok(())
    }

    /// Restores a tombstone seen on disk without a put before it (the puts
    /// were compacted away): the generation holds just the tombstone.
    pub fn restore_tombstone(&mut self, rev: Revision) {
        let g = self.generations.last_mut();
        if let Some(g) = g {
            if g.is_empty() {
                g.created = rev;
            }
            g.revs.push(rev);
        }
        self.modified = rev;
        self.generations.push(Generation::default());
    }

    /// Whether the key exists (is not deleted) at the current revision.
    pub fn is_live(&self) -> bool {
        self.generations.last().is_some_and(|g| !g.is_empty())
    }

    /// The generation covering revision `at`, if the key existed then.
    fn find_generation(&self, at: i64) -> Option<&Generation> {
        let last = self.generations.len().checked_sub(1)?;
        for (i, g) in self.generations.iter().enumerate().rev() {
            if g.is_empty() {
                continue;
            }
            // A generation that ended (not the current one) ends with its
            // tombstone; at or after the tombstone the key did not exist.
            if i != last {
                let tomb = g.revs.last()?.main;
                if tomb <= at {
                    return None;
                }
            }
            if g.revs.first()?.main <= at {
                return Some(g);
            }
        }
        None
    }

    /// The key as of revision `at`, if it existed.
    pub fn get(&self, at: i64) -> Option<KeyAt> {
        let g = self.find_generation(at)?;
        let idx = g.revs.iter().rposition(|r| r.main <= at)?;
        Some(KeyAt {
            modified: g.revs[idx],
            created: g.created,
            version: g.ver - (g.revs.len() - idx - 1) as i64,
        })
    }

    /// Compacts away history before `at`: keeps, per generation that still
    /// matters, the newest revision at or before `at`; adds the revisions
    /// that stay in the backend to `available`. A tombstone whose revision
    /// is below `at` goes away with its generation; one exactly at `at`
    /// stays, so a watch starting at `at` still sees the delete, unless the
    /// key was created again in that same revision ([`AtCompactRevision`]).
    pub fn compact(
        &mut self,
        at: i64,
        available: &mut BTreeSet<Revision>,
        rule: AtCompactRevision,
    ) {
        let (gen_idx, rev_idx) = self.do_compact(at, available, rule);
        let last = self.generations.len() - 1;
        let mut first_kept = gen_idx;
        let g = &mut self.generations[gen_idx];
        if !g.is_empty() {
            if let Some(i) = rev_idx {
                g.revs.drain(..i);
            }
            // A generation reduced to a tombstone below `at` is gone.
            if g.revs.len() == 1 && gen_idx != last && g.revs[0].main < at {
                available.remove(&g.revs[0]);
                first_kept += 1;
            }
        }
        self.generations.drain(..first_kept);
    }

    /// The revisions HashKV at `at` counts as kept (etcd's keyIndex.keep):
    /// the newest at or before `at` of the generation that still matters,
    /// but never a tombstone that ends a generation, whether it is below
    /// `at` or exactly at it (unlike `compact`, which keeps the latter):
    /// members before and after the etcd-18089 fix must hash alike. The
    /// generation looked at is chosen as `compact` chooses it, by the same
    /// rule (etcd's fixes changed the one function both use).
    pub fn keep(&self, at: i64, available: &mut BTreeSet<Revision>, rule: AtCompactRevision) {
        if self.is_empty() {
            return;
        }
        let (gen_idx, rev_idx) = self.do_compact(at, available, rule);
        let g = &self.generations[gen_idx];
        if let Some(i) = rev_idx
            && i == g.revs.len() - 1
            && gen_idx != self.generations.len() - 1
        {
            available.remove(&g.revs[i]);
        }
    }

    /// Finds the first generation that still matters at `at` (one whose
    /// tombstone is after `at`, or exactly at it as `rule` says) and marks
    /// its newest revision at or before `at` as kept.
    fn do_compact(
        &self,
        at: i64,
        available: &mut BTreeSet<Revision>,
        rule: AtCompactRevision,
    ) -> (usize, Option<usize>) {
        let mut gen_idx = 0;
        while gen_idx < self.generations.len() - 1 {
            let g = &self.generations[gen_idx];
            let matters = match g.revs.last() {
                Some(tomb) if tomb.main > at => true,
                Some(tomb) if tomb.main == at => match rule {
                    AtCompactRevision::KeepTombstone => {
                        // Created again within the compact revision (a Txn
                        // that deletes from a key on and puts it): the next
                        // generation holds the value live at `at`.
                        let next = &self.generations[gen_idx + 1];
                        next.revs.first().is_none_or(|r| r.main != at)
                    }
                    AtCompactRevision::KeepTombstoneOverValue => true,
                    AtCompactRevision::DropTombstone => false,
                },
                _ => false,
            };
            if matters {
                break;
            }
            gen_idx += 1;
        }
        let g = &self.generations[gen_idx];
        let rev_idx = g.revs.iter().rposition(|r| r.main <= at);
        if let Some(i) = rev_idx {
            available.insert(g.revs[i]);
        }
        (gen_idx, rev_idx)
    }

    /// True when nothing is left (the key can leave the index).
    pub fn is_empty(&self) -> bool {
        self.generations.len() == 1 && self.generations[0].is_empty()
    }

    /// Every revision the index still holds, oldest first.
    pub fn revisions(&self) -> impl Iterator<Item = Revision> + '_ {
        self.generations.iter().flat_map(|g| g.revs.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    fn history() -> KeyIndex {
        // put@2, put@4, delete@6, put@8, put@10
        let mut ki = KeyIndex::default();
        ki.put(r(2)).expect("put");
        ki.put(r(4)).expect("put");
        ki.tombstone(r(6)).expect("delete");
        ki.put(r(8)).expect("put");
        ki.put(r(10)).expect("put");
        ki
    }

    #[test]
    fn get_sees_each_generation() {
        let ki = history();
        assert_eq!(ki.get(1), None);
        let at3 = ki.get(3).expect("live at 3");
        assert_eq!((at3.modified, at3.created, at3.version), (r(2), r(2), 1));
        let at5 = ki.get(5).expect("live at 5");
        assert_eq!((at5.modified, at5.version), (r(4), 2));
        assert_eq!(ki.get(6), None);
        assert_eq!(ki.get(7), None);
        let at9 = ki.get(9).expect("live at 9");
        assert_eq!((at9.modified, at9.created, at9.version), (r(8), r(8), 1));
        assert_eq!(ki.get(100).map(|k| k.version), Some(2));
    }

    #[test]
    fn compaction_keeps_latest_and_tombstone_at_rev() {
        let mut ki = history();
        let mut avail = BTreeSet::new();
        ki.compact(6, &mut avail, AtCompactRevision::KeepTombstone);
        assert_eq!(
            avail,
            BTreeSet::from([r(6)]),
            "tombstone at the compact revision stays"
        );
        assert_eq!(ki.get(7), None);
        let mut ki = history();
        let mut avail = BTreeSet::new();
        ki.compact(6, &mut avail, AtCompactRevision::DropTombstone);
        assert!(avail.is_empty(), "etcd-18089 drops it");
        let mut ki = history();
        let mut avail = BTreeSet::new();
        ki.compact(7, &mut avail, AtCompactRevision::KeepTombstone);
        assert!(
            avail.is_empty(),
            "tombstone below the compact revision goes"
        );
        assert_eq!(ki.revisions().collect::<Vec<_>>(), vec![r(8), r(10)]);
        let mut avail = BTreeSet::new();
        ki.compact(9, &mut avail, AtCompactRevision::KeepTombstone);
        assert_eq!(avail, BTreeSet::from([r(8)]));
        assert_eq!(ki.get(10).map(|k| (k.version, k.created)), Some((2, r(8))));
    }

    #[test]
    fn hash_keep_never_counts_a_generation_ending_tombstone() {
        // history(): puts at 2 and 4, tombstone at 6, puts at 8 and 10.
        let ki = history();
        let keep = |at| {
            let mut avail = BTreeSet::new();
            ki.keep(at, &mut avail, AtCompactRevision::KeepTombstone);
            avail
        };
        assert_eq!(keep(5), BTreeSet::from([r(4)]));
        // Compaction at 6 keeps the tombstone; HashKV's keep does not.
        assert!(keep(6).is_empty());
        assert!(keep(7).is_empty());
        assert_eq!(keep(9), BTreeSet::from([r(8)]));
        // Under etcd-18089 (etcd before the fix) a generation whose
        // tombstone is exactly at `at` is passed over for the next one.
        let mut avail = BTreeSet::new();
        ki.keep(6, &mut avail, AtCompactRevision::DropTombstone);
        assert!(avail.is_empty());
        let mut ki = KeyIndex::default();
        ki.put(r(5)).expect("put");
        ki.tombstone(r(6)).expect("delete");
        ki.put(Revision { main: 6, sub: 1 }).expect("put again");
        let mut avail = BTreeSet::new();
        ki.keep(6, &mut avail, AtCompactRevision::DropTombstone);
        assert_eq!(avail, BTreeSet::from([Revision { main: 6, sub: 1 }]));
        // The key created again at 6 is live there: HashKV counts its
        // value, unless the value is passed over as etcd since PR 18274
        // passes it over (etcd-22376).
        let mut avail = BTreeSet::new();
        ki.keep(6, &mut avail, AtCompactRevision::KeepTombstone);
        assert_eq!(avail, BTreeSet::from([Revision { main: 6, sub: 1 }]));
        let mut avail = BTreeSet::new();
        ki.keep(6, &mut avail, AtCompactRevision::KeepTombstoneOverValue);
        assert!(avail.is_empty());
    }

    /// etcd issue 22376: a Txn deletes a key and puts it again, and the
    /// store is compacted at exactly that revision.
    #[test]
    fn a_key_created_again_in_the_compact_revision_keeps_its_value() {
        let recreated = || {
            let mut ki = KeyIndex::default();
            ki.put(r(5)).expect("put");
            ki.tombstone(r(6)).expect("delete");
            ki.put(Revision { main: 6, sub: 1 }).expect("put again");
            ki
        };
        let mut ki = recreated();
        let mut avail = BTreeSet::new();
        ki.compact(6, &mut avail, AtCompactRevision::KeepTombstone);
        assert_eq!(avail, BTreeSet::from([Revision { main: 6, sub: 1 }]));
        let at6 = ki.get(6).expect("the key lives at 6");
        assert_eq!(at6.modified, Revision { main: 6, sub: 1 });
        assert_eq!(ki.get(7).map(|k| k.version), Some(1));
        // etcd since PR 18274: the tombstone is kept, the value is not,
        // and the index still names the value.
        let mut ki = recreated();
        let mut avail = BTreeSet::new();
        ki.compact(6, &mut avail, AtCompactRevision::KeepTombstoneOverValue);
        assert_eq!(avail, BTreeSet::from([r(6)]));
        let named = ki.get(6).expect("the index names the value").modified;
        assert!(!avail.contains(&named));
        // A tombstone at 6 with no new generation at 6 stays either way.
        let mut ki = history();
        let mut avail = BTreeSet::new();
        ki.compact(6, &mut avail, AtCompactRevision::KeepTombstoneOverValue);
        assert_eq!(avail, BTreeSet::from([r(6)]));
    }

    #[test]
    fn deleted_key_compacts_to_empty() {
        let mut ki = KeyIndex::default();
        ki.put(r(1)).expect("put");
        ki.tombstone(r(2)).expect("delete");
        let mut avail = BTreeSet::new();
        ki.compact(3, &mut avail, AtCompactRevision::KeepTombstone);
        assert!(ki.is_empty());
        assert!(avail.is_empty());
        assert!(KeyIndex::default().tombstone(r(1)).is_err());
    }
}
