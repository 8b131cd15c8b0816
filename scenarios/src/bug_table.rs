//! The bug table: every bug that can be switched on (`--bug NAME`), what it
//! is, where it comes from, how to trigger it and which rules must catch
//! it. The one source for `faultline list bugs`, hunting, the detection
//! tests, the README's table (`faultline list bugs --markdown`) and the
//! dashboard's hunt table.

use checker::rules;
use checker::{Anomaly, Signature, Subject};
use node::bugs::Bug;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Where a bug comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An etcd issue (or, for 14685, the pull request etcd's robustness
    /// track record lists); the switch reverts what its fix changed.
    Etcd {
        issue: u32,
        /// The fix the switch reverts (PR and commit).
        fix: &'static str,
        /// The first etcd version with the bug, as etcd's robustness track
        /// record gives it.
        introduced_in: &'static str,
    },
    /// Not an etcd issue: a plausible mistake this project models.
    Synthetic {
        /// What it models.
        models: &'static str,
        /// Why no general rule catches it yet, when none does (a synthetic
        /// bug should be caught by linearizability, a watch, end-state or
        /// liveness rule, not only by a check written for it).
        general_rule_gap: Option<&'static str>,
    },
}

/// Whether the faithful mechanism produces a failure in this store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reproduction {
    /// It does: `detecting` names a seed that fails with an expected rule.
    Reproduced {
        /// A catalog scenario and seed that fail with the bug switched on
        /// and pass without it.
        detecting: (&'static str, u64),
    },
    /// The faithful mechanism is switchable but no run of this store has
    /// been seen to fail with it; why.
    NotReproduced { why: &'static str },
}

/// One switchable bug.
#[derive(Debug, Clone, Copy)]
pub struct BugEntry {
    pub bug: Bug,
    pub origin: Origin,
    /// What goes wrong when switched on, in one line.
    pub mechanism: &'static str,
    /// Catalog scenarios written to trigger it (what `hunt` runs without
    /// `--blind`).
    pub triggers: &'static [&'static str],
    /// The rules that may fire when it is caught; any other rule firing on
    /// its detecting seed fails the detection test.
    pub expected_rules: &'static [&'static str],
    pub reproduction: Reproduction,
}

impl BugEntry {
    pub fn name(&self) -> &'static str {
        self.bug.name()
    }

    pub fn is_synthetic(&self) -> bool {
        matches!(self.origin, Origin::Synthetic { .. })
    }

    /// "etcd #15220" (etcd's robustness track record numbers; 14685 is a
    /// pull request there), or "synthetic".
    pub fn origin_label(&self) -> String {
        match self.origin {
            Origin::Etcd { issue, .. } => format!("etcd #{issue}"),
            Origin::Synthetic { .. } => "synthetic".to_string(),
        }
    }

    pub fn detecting(&self) -> Option<(&'static str, u64)> {
        match self.reproduction {
            Reproduction::Reproduced { detecting } => Some(detecting),
            Reproduction::NotReproduced { .. } => None,
        }
    }

    pub fn expects(&self, rule: &str) -> bool {
        self.expected_rules.contains(&rule)
    }

    /// For a synthetic bug no general rule catches yet: why.
    pub fn general_rule_gap(&self) -> Option<&'static str> {
        match self.origin {
            Origin::Synthetic {
                general_rule_gap, ..
            } => general_rule_gap,
            Origin::Etcd { .. } => None,
        }
    }
}

/// An etcd issue from the robustness track record that has no switch, and why.
#[derive(Debug, Clone, Copy)]
pub struct NotCatalogued {
    pub issue: u32,
    pub title: &'static str,
    pub why: &'static str,
}

pub const BUGS: &[BugEntry] = &[
    BugEntry {
        bug: Bug::Etcd13766,
        origin: Origin::Etcd {
            issue: 13766,
            fix: "PR 13854 (merge c83b1ad9b; 3.5: PR 13908), fixed in v3.5.3",
            introduced_in: "v3.5.0",
        },
        mechanism: "the consistent index is set before the entry's data is applied, so a backend commit in between persists an index whose entry is missing",
        triggers: &["bug-write-load-crashes"],
        // The restarted member's backend holds less than its consistent
        // index says (store.invariant, recovery.state-agrees) and then
        // disagrees with the others (end.hashkv); when it answers, an
        // acknowledged write is gone (linearizability, or end.durability in
        // the final reads).
        expected_rules: &[
            rules::STORE_INVARIANT,
            rules::END_HASHKV,
            rules::LINEARIZABILITY,
            rules::END_DURABILITY,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-write-load-crashes", 120),
        },
    },
    BugEntry {
        bug: Bug::Etcd14370,
        origin: Origin::Etcd {
            issue: 14370,
            fix: "PR 14424 / 14423 (etcd server side, v3.5.5 / v3.4.21); main: raft PR 14413 (31d9664cb)",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "a single-member cluster applies and answers a write before its WAL entry is fsynced",
        triggers: &["bug-single-member-save-crash"],
        expected_rules: &[
            rules::LINEARIZABILITY,
            rules::END_DURABILITY,
            rules::STORE_INVARIANT,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-single-member-save-crash", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd14685,
        origin: Origin::Etcd {
            issue: 14685,
            fix: "PR 14730 (merge 0e4bf4ac4; 3.5: PR 14733), fixed in v3.5.6 (14685 is the pull request that reported it)",
            introduced_in: "v3.5.0",
        },
        mechanism: "defragmentation commits data without the matching consistent index; restart re-applies entries",
        triggers: &["bug-defrag-crash"],
        // The restarted member's backend holds more than its consistent
        // index says (store.invariant, recovery.state-agrees), it applies
        // entries twice and disagrees with the others.
        expected_rules: &[
            rules::STORE_INVARIANT,
            rules::LINEARIZABILITY,
            rules::END_HASHKV,
            rules::END_DURABILITY,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-defrag-crash", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd15220,
        origin: Origin::Etcd {
            issue: 15220,
            fix: "PR 15237 (merge f6bb87429), fixed in v3.5.8 / v3.4.25",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "a requested progress notification is sent out of band and can overtake pending events of an unsynced watcher",
        triggers: &["bug-slow-watchers-progress"],
        expected_rules: &[
            rules::WATCH_BOOKMARKABLE,
            rules::WATCH_RELIABLE,
            rules::STORE_INVARIANT,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-slow-watchers-progress", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd15271,
        origin: Origin::Etcd {
            issue: 15271,
            fix: "PR 15492 (merge 6d01ab641), fixed in v3.5.8 / v3.4.25",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "on snapshot restore synced watchers move to unsynced with a stale minimum revision and old events are sent again",
        triggers: &["bug-watch-snapshot-restore"],
        // With compactions going on, a watcher moved with a stale minimum
        // revision below the compact revision is cancelled for compaction
        // although it needed only newer revisions (etcd's syncWatchers
        // does that to any unsynced watcher behind the compact revision).
        expected_rules: &[
            rules::WATCH_ORDERED,
            rules::WATCH_UNIQUE,
            rules::WATCH_ATOMIC,
            rules::WATCH_BOOKMARKABLE,
            rules::WATCH_CANCEL_ON_COMPACTION,
            rules::STORE_INVARIANT,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-watch-snapshot-restore", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd17247,
        origin: Origin::Etcd {
            issue: 17247,
            fix: "revert PR 17285 (8bd34cf23) of PR 17228 (ed994248e); never released",
            introduced_in: "main branch only (PR 17228)",
        },
        mechanism: "the write-back buffer duplicates an entry when merging into an empty read buffer, so a watch sees an event twice",
        triggers: &["bug-buffer-writeback"],
        expected_rules: &[rules::WATCH_UNIQUE],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-buffer-writeback", 194),
        },
    },
    BugEntry {
        bug: Bug::Etcd17529,
        origin: Origin::Etcd {
            issue: 17529,
            fix: "PR 17555 (merge fca3e8a9b), fixed in v3.5.13 / v3.4.31",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "a compaction-cancel response that could not be sent is dropped while the watcher's minimum revision still advances",
        triggers: &["bug-slow-watchers-compaction"],
        expected_rules: &[
            rules::WATCH_RELIABLE,
            rules::WATCH_RESUMABLE,
            rules::WATCH_CANCEL_ON_COMPACTION,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-slow-watchers-compaction", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd17780,
        origin: Origin::Etcd {
            issue: 17780,
            fix: "PR 17815 (merge dd4e35a58, commit 9ea234913) and PR 17862 (94c83a962): restore raises the current revision to the scheduled compact revision",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "restore takes the current revision from the newest key left, without raising it to the scheduled compact revision: when compaction removed the newest revision (a tombstone) and the member crashed before the finished compact revision was persisted, the revision goes back",
        triggers: &["bug-compaction-tombstone-crash"],
        expected_rules: &[
            rules::LINEARIZABILITY,
            rules::MEMBER_NO_UNEXPECTED_EXIT,
            rules::STORE_INVARIANT,
        ],
        reproduction: Reproduction::NotReproduced {
            why: "alone it cannot fail here: with etcd-18089 fixed, compacting at a tombstone keeps it, so compaction never removes the newest revision and the restore guard this switch reverts is never needed. With --bug etcd-18089 as well it fails (bug-compaction-tombstone-crash seed 97, member.no-unexpected-exit, and store.invariant: the restored revision is below the compaction, mvcc.compact-not-past-current)",
        },
    },
    BugEntry {
        bug: Bug::Etcd18055,
        origin: Origin::Etcd {
            issue: 18055,
            fix: "none merged: the etcd issue is open; the switch restores what etcd does (its raft loop, having saved a received snapshot, deletes every older received snapshot database, ReleaseSnapDBs), the store without it keeps a file until it is applied, as the open PR 22046 proposes",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "two snapshots received in quick succession: saving the second releases the first one's file while the apply loop has not opened it yet, and the member panics opening it",
        triggers: &["bug-snapshot-purge"],
        expected_rules: &[rules::MEMBER_NO_UNEXPECTED_EXIT],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-snapshot-purge", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd18089,
        origin: Origin::Etcd {
            issue: 18089,
            fix: "PR 18274 (merge 1d0a6b397, commit bbdc94181), fixed in v3.5.16 / v3.4.34",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "compacting exactly at a delete's revision removes that tombstone, so a watch from the compact revision loses the delete event",
        triggers: &["bug-watch-at-compact-revision"],
        expected_rules: &[rules::WATCH_RESUMABLE, rules::WATCH_RELIABLE],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-watch-at-compact-revision", 8),
        },
    },
    BugEntry {
        bug: Bug::Etcd18667,
        origin: Origin::Etcd {
            issue: 18667,
            fix: "PR 21432 (merge bb5725264, commit cb56c8ad0): members keep every read of a Txn (made cheap, its revision still checked); on etcd main, in no release yet",
            introduced_in: "v3.1.0 (PR 5689, commit 009057374, which dropped the reads nobody waits for); etcd's track record says v3.4 or earlier",
        },
        mechanism: "only the member answering the client checks a Txn's reads: at a compacted or future revision it refuses the whole Txn, while the other members, having dropped the reads, apply its writes",
        triggers: &["bug-txn-compacted-range"],
        // The answering member refuses the Txn the others apply: their
        // revisions part at that entry (store.invariant,
        // apply.replicas-agree).
        expected_rules: &[
            rules::STORE_INVARIANT,
            rules::LINEARIZABILITY,
            rules::END_HASHKV,
            rules::END_DURABILITY,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-txn-compacted-range", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd19179,
        origin: Origin::Etcd {
            issue: 19179,
            fix: "PR 19188 (merge 83cf7bb4f, commit d8b419257), fixed in v3.5.18 / v3.4.36",
            introduced_in: "v3.4 or earlier (visible once 18089 is fixed)",
        },
        mechanism: "index restore skips keys whose only surviving revision is a tombstone; resumed batched compaction drops it",
        triggers: &["bug-batched-compaction-crash"],
        expected_rules: &[
            rules::END_HASHKV,
            rules::WATCH_RELIABLE,
            rules::WATCH_RESUMABLE,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-batched-compaction-crash", 364),
        },
    },
    BugEntry {
        bug: Bug::Etcd20221,
        origin: Origin::Etcd {
            issue: 20221,
            fix: "PR 20229 (merge 1a2efc3c4, commit 973847aa2): no progress notification while the store is below a watch's start revision; fixed in v3.6.2 / v3.5.22 / v3.4.38",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "a watch on a future revision gets progress notifications (periodic or requested) at the store's current revision, below its start, so a client resuming from the notification receives events older than it asked for",
        triggers: &["bug-watch-snapshot-restore"],
        expected_rules: &[rules::WATCH_BOOKMARKABLE],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-watch-snapshot-restore", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd20221Restore,
        origin: Origin::Etcd {
            issue: 20221,
            fix: "PR 20281 (merge 9fb8c3685, commit cf0369e4a): resync keeps a future watch's next revision (max of it and the current revision + 1); fixed in v3.6.2 / v3.5.22 / v3.4.38",
            introduced_in: "v3.4 or earlier",
        },
        mechanism: "a snapshot restore moves every watcher to the unsynced group; resync then sets a future watch's next revision to the current revision + 1, so it receives events from before its start revision",
        triggers: &["bug-watch-snapshot-restore"],
        expected_rules: &[
            rules::WATCH_RESUMABLE,
            rules::WATCH_RELIABLE,
            rules::WATCH_BOOKMARKABLE,
            rules::WATCH_ORDERED,
            rules::STORE_INVARIANT,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-watch-snapshot-restore", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd20418,
        origin: Origin::Etcd {
            issue: 20418,
            fix: "PR 21399 (merge 5944c74e3, commit e2f4f485e): a fresh request id per ReadIndex retry, any id of the round accepted; PR 21375 (merge 5e19d9a04, commit 9f83a29b3): a leader change wins over a ReadState that arrives with it; fixed in v3.6.9 / v3.5.28 / v3.4.42",
            introduced_in: "v3.5.0 and v3.4.20 (the 500 ms ReadIndex retry, PR 12780)",
        },
        mechanism: "every ReadIndex retry of a read round re-sends the round's first request id (raft's read-only queue keys pending reads by that id, so a stale leader can confirm a re-added duplicate with old heartbeat acks), and a ReadState that arrives together with a leader change is accepted",
        triggers: &["bug-paused-leader-reads"],
        expected_rules: &[rules::LINEARIZABILITY],
        reproduction: Reproduction::NotReproduced {
            why: "no stale read in 1,000 seeds of its trigger (bug-paused-leader-reads 30..1030) nor in blind hunts: the stale read needs a leader that resumes from a pause still leading and then takes, in this order, a newer read, the re-sent duplicate id and heartbeat acks from before the pause; the simulated pause has not produced that order",
        },
    },
    BugEntry {
        bug: Bug::Etcd22376,
        origin: Origin::Etcd {
            issue: 22376,
            fix: "none merged: the etcd issue is open; the switch restores what etcd does since PR 18274 (its compaction keeps a tombstone at the compact revision even when the key was created again in that revision, and deletes the new value's row while the index still names it), the store without it keeps the new value instead, as the open PR 22377 proposes; the switch also restores etcd's duplicate-key check (etcd-22445), through which alone a client reaches the shape",
            introduced_in: "v3.5.16 / v3.4.34 (PR 18274, commit bbdc94181, the etcd-18089 fix)",
        },
        mechanism: "a Txn deletes every key from one on (range end \"\\0\", which etcd's duplicate-key check lets through) and puts that key again; compacting at exactly that revision deletes the new value from the backend while the index still names it, and the next read of the key ends the member (\"range failed to find revision pair\")",
        triggers: &["bug-compact-recreated-key"],
        // The member's end, then what its restart lost: the index rebuilt
        // from the backend no longer holds the key.
        expected_rules: &[
            rules::MEMBER_NO_UNEXPECTED_EXIT,
            rules::LINEARIZABILITY,
            rules::END_DURABILITY,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-compact-recreated-key", 0),
        },
    },
    BugEntry {
        bug: Bug::Etcd22445,
        origin: Origin::Etcd {
            issue: 22445,
            fix: "none merged: the issue was closed as a duplicate of the open PR 22395 (a from-key delete reaches the end of the keyspace in the duplicate-key check), which the store without the switch follows; the crash at apply is faultline's own finding (faultline diff against etcd 3.4.23), reported in no etcd issue we found",
            introduced_in: "v3.x: checkIntervals has built [key, \"\\0\") since it was written",
        },
        mechanism: "etcd's duplicate-key check reads a from-key delete (range end \"\\0\") as the empty interval, so a Txn may delete every key from one on and put a key in that range; when the put keeps the key's value or lease, the key is gone at apply and the member panics (\"unexpected error during txn: etcdserver: key not found\"), every member, since the entry is committed",
        triggers: &["bug-rewrite-keeping-lease"],
        // Every member applies the entry and ends: nothing answers after.
        expected_rules: &[
            rules::MEMBER_NO_UNEXPECTED_EXIT,
            rules::ERRORS_KIND_ANSWERED,
            rules::END_LIVENESS,
        ],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-rewrite-keeping-lease", 0),
        },
    },
    BugEntry {
        bug: Bug::StaleLocalRead,
        origin: Origin::Synthetic {
            models: "etcd 2's quorum=false reads, which Jepsen found stale: not an etcd v3 issue",
            general_rule_gap: None,
        },
        mechanism: "linearizable reads are served from local state without ReadIndex",
        triggers: &["default", "partitions"],
        expected_rules: &[rules::LINEARIZABILITY],
        reproduction: Reproduction::Reproduced {
            detecting: ("partitions", 3),
        },
    },
    BugEntry {
        bug: Bug::DowngradeNoSnapshot,
        origin: Origin::Synthetic {
            models: "forgetting etcd's forced snapshot when the cluster version is lowered (etcd does force one: PR 13686, commit a0f26ff4e)",
            general_rule_gap: Some(
                "only the engine's checks do: version.downgraded-fields in its trigger, and plan.required-step where a downgrade's storage version must follow (without the snapshot the WAL's newer entries hold it back until a regular one: 2 of seeds 0..10 each in downgrade, downgrade-3.5 and downgrade-cancel); the general catalog's detections until 90214b2 came from a swap_version that the engine carried out after a rolling upgrade had raised the cluster version, not from this mechanism",
            ),
        },
        mechanism: "lowering the cluster version does not force a snapshot, so a downgraded member replays entries it cannot decode",
        triggers: &["bug-downgrade-with-ttl"],
        expected_rules: &[
            rules::MEMBER_NO_UNEXPECTED_EXIT,
            rules::END_LIVENESS,
            rules::PLAN_REQUIRED_STEP,
            rules::VERSION_DOWNGRADED_FIELDS,
        ],
        // downgrade-cancel 27 detected it until 90214b2, by a swap into
        // a cluster version a rolling upgrade had raised meanwhile (the
        // engine's doing, not this mechanism): the trigger's seed now.
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-downgrade-with-ttl", 0),
        },
    },
    BugEntry {
        bug: Bug::DowngradeKeepsFields,
        origin: Origin::Synthetic {
            models: "a storage downgrade that forgets a newer version's field; 3.7's per-key TTL is this project's invention, not etcd's",
            general_rule_gap: Some(
                "only version.downgraded-fields (the end-of-run check for leftover fields) catches it: the leftover TTL changes nothing a 3.6 member serves, and the checker treats key expiry as something that may happen, so an expiry after an upgrade back is not a violation",
            ),
        },
        mechanism: "storage downgrade leaves the newer version's fields in place",
        triggers: &["bug-downgrade-with-ttl"],
        expected_rules: &[rules::VERSION_DOWNGRADED_FIELDS],
        reproduction: Reproduction::Reproduced {
            detecting: ("bug-downgrade-with-ttl", 0),
        },
    },
    BugEntry {
        bug: Bug::TxnRefused,
        origin: Origin::Synthetic {
            models: "a store change that only alters answers: every Txn refused with etcd's too-many-operations error (an error answer was once always taken as \"did not happen\")",
            general_rule_gap: None,
        },
        mechanism: "every Txn is refused with \"etcdserver: too many operations in txn request\", whatever its size",
        triggers: &["default", "kubernetes"],
        expected_rules: &[rules::ERRORS_NO_FALSE_REFUSAL],
        reproduction: Reproduction::Reproduced {
            detecting: ("default", 0),
        },
    },
    BugEntry {
        bug: Bug::LeasePutRefused,
        origin: Origin::Synthetic {
            models: "a store change that only alters answers: a Put naming a live lease refused as if the lease were gone",
            general_rule_gap: None,
        },
        mechanism: "every Put that attaches a lease is refused with \"etcdserver: requested lease not found\"",
        triggers: &["default", "leases"],
        expected_rules: &[rules::ERRORS_NO_FALSE_REFUSAL],
        reproduction: Reproduction::Reproduced {
            detecting: ("default", 0),
        },
    },
    BugEntry {
        bug: Bug::DeleteRefused,
        origin: Origin::Synthetic {
            models: "a store change that only alters answers: every DeleteRange refused with an error that names no reason",
            general_rule_gap: None,
        },
        mechanism: "every DeleteRange is refused with \"etcdserver: too many requests\"",
        triggers: &["default"],
        expected_rules: &[rules::ERRORS_KIND_ANSWERED],
        reproduction: Reproduction::Reproduced {
            detecting: ("default", 0),
        },
    },
];

/// etcd's robustness track record entries with no switch here.
pub const NOT_CATALOGUED: &[NotCatalogued] = &[
    NotCatalogued {
        issue: 14571,
        title: "enabling auth can lead to inconsistency",
        why: "out of scope: the store has no auth",
    },
    NotCatalogued {
        issue: 20271,
        title: "panic from a db page expected to be 5 (bbolt)",
        why: "out of scope: the backend is not bbolt",
    },
];

/// Each reproduced bug's problem signature: the problem its detecting run
/// is filed under on the dashboard (its first violation in filing order,
/// `checker::rules::filing_order`:
/// rule, anomaly class, request kind where it is the problem, site). The
/// dashboard labels a problem with one of these "looks like <bug>", so a
/// regression of a fixed bug is named. Recorded here as data rather than
/// recomputed per report (a run each); `scenarios/tests/bug_detection.rs`
/// replays every detecting seed and fails when this table disagrees.
pub const KNOWN_SIGNATURES: &[(Bug, Signature)] = &[
    (
        Bug::Etcd13766,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("recovery.state-agrees")),
            },
        },
    ),
    (
        Bug::Etcd14370,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("raft.one-voter-applies-only-durable")),
            },
        },
    ),
    (
        Bug::Etcd14685,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("recovery.state-agrees")),
            },
        },
    ),
    (
        Bug::Etcd15220,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("watch.progress-only-for-delivered")),
            },
        },
    ),
    (
        Bug::Etcd15271,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("watch.progress-only-for-delivered")),
            },
        },
    ),
    (
        Bug::Etcd17247,
        Signature {
            rule: Cow::Borrowed(rules::WATCH_UNIQUE),
            class: Anomaly::DuplicateEvent,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::Etcd17529,
        Signature {
            rule: Cow::Borrowed(rules::WATCH_RELIABLE),
            class: Anomaly::MissingEvent,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::Etcd18055,
        Signature {
            rule: Cow::Borrowed(rules::MEMBER_NO_UNEXPECTED_EXIT),
            class: Anomaly::MemberExit,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("applying snapshot N")),
            },
        },
    ),
    (
        Bug::Etcd18089,
        Signature {
            rule: Cow::Borrowed(rules::WATCH_RESUMABLE),
            class: Anomaly::WrongFirstEvent,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::Etcd18667,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("apply.replicas-agree")),
            },
        },
    ),
    (
        Bug::Etcd19179,
        Signature {
            rule: Cow::Borrowed(rules::END_HASHKV),
            class: Anomaly::HashDivergence,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::Etcd20221,
        Signature {
            rule: Cow::Borrowed(rules::WATCH_BOOKMARKABLE),
            class: Anomaly::ProgressBackwards,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::Etcd20221Restore,
        Signature {
            rule: Cow::Borrowed(rules::STORE_INVARIANT),
            class: Anomaly::InvariantBroken,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("watch.next-revision-never-decreases")),
            },
        },
    ),
    (
        Bug::Etcd22376,
        Signature {
            rule: Cow::Borrowed(rules::MEMBER_NO_UNEXPECTED_EXIT),
            class: Anomaly::MemberExit,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("range failed to find revision pair")),
            },
        },
    ),
    (
        Bug::Etcd22445,
        Signature {
            rule: Cow::Borrowed(rules::MEMBER_NO_UNEXPECTED_EXIT),
            class: Anomaly::MemberExit,
            subject: Subject {
                request: None,
                site: Some(Cow::Borrowed("unexpected error during txn")),
            },
        },
    ),
    (
        Bug::StaleLocalRead,
        Signature {
            rule: Cow::Borrowed(rules::LINEARIZABILITY),
            class: Anomaly::StaleRead,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::DowngradeNoSnapshot,
        Signature {
            rule: Cow::Borrowed(rules::VERSION_DOWNGRADED_FIELDS),
            class: Anomaly::DowngradedFieldLeft,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::DowngradeKeepsFields,
        Signature {
            rule: Cow::Borrowed(rules::VERSION_DOWNGRADED_FIELDS),
            class: Anomaly::DowngradedFieldLeft,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::TxnRefused,
        Signature {
            rule: Cow::Borrowed(rules::ERRORS_NO_FALSE_REFUSAL),
            class: Anomaly::FalseRefusal,
            subject: Subject {
                request: Some(Cow::Borrowed("txn")),
                site: None,
            },
        },
    ),
    (
        Bug::LeasePutRefused,
        Signature {
            rule: Cow::Borrowed(rules::ERRORS_NO_FALSE_REFUSAL),
            class: Anomaly::FalseRefusal,
            subject: Subject {
                request: None,
                site: None,
            },
        },
    ),
    (
        Bug::DeleteRefused,
        Signature {
            rule: Cow::Borrowed(rules::ERRORS_KIND_ANSWERED),
            class: Anomaly::KindNeverAnswered,
            subject: Subject {
                request: Some(Cow::Borrowed("delete")),
                site: None,
            },
        },
    ),
];

/// The known signatures, as (bug, signature).
pub fn known_signatures() -> impl Iterator<Item = (Bug, Signature)> {
    KNOWN_SIGNATURES.iter().map(|(b, s)| (*b, s.clone()))
}

/// The signature recorded for a bug, if it is reproduced.
pub fn known_signature(bug: Bug) -> Option<Signature> {
    known_signatures().find(|(b, _)| *b == bug).map(|(_, s)| s)
}

/// The table's entry for a bug.
pub fn entry(bug: Bug) -> &'static BugEntry {
    BUGS.iter()
        .find(|e| e.bug == bug)
        .expect("every switch has a bug table entry (checked by a test)")
}

/// The table as `faultline list bugs` prints it.
pub fn text() -> String {
    let mut out = String::new();
    for e in BUGS {
        let _ = writeln!(
            out,
            "{:<24} {} — {}",
            e.name(),
            e.origin_label(),
            e.mechanism
        );
        match e.origin {
            Origin::Etcd {
                fix, introduced_in, ..
            } => {
                let _ = writeln!(
                    out,
                    "{:<24}   fix reverted: {fix}; introduced in: {introduced_in}",
                    ""
                );
            }
            Origin::Synthetic {
                models,
                general_rule_gap,
            } => {
                let _ = writeln!(out, "{:<24}   models: {models}", "");
                if let Some(gap) = general_rule_gap {
                    let _ = writeln!(out, "{:<24}   no general rule catches it yet: {gap}", "");
                }
            }
        }
        let _ = writeln!(
            out,
            "{:<24}   triggers: {}; expected rules: {}",
            "",
            e.triggers.join(", "),
            e.expected_rules.join(", ")
        );
        let _ = match e.reproduction {
            Reproduction::Reproduced {
                detecting: (scenario, seed),
            } => writeln!(
                out,
                "{:<24}   detecting seed: faultline replay --scenario {scenario} --seed {seed} --bug {}",
                "",
                e.name()
            ),
            Reproduction::NotReproduced { why } => {
                writeln!(out, "{:<24}   not reproduced: {why}", "")
            }
        };
    }
    let _ = writeln!(out, "\nNot catalogued:");
    for n in NOT_CATALOGUED {
        let _ = writeln!(out, "etcd-{:<19} {} — {}", n.issue, n.title, n.why);
    }
    out
}

/// The table as the README shows it (`faultline list bugs --markdown`).
pub fn markdown() -> String {
    let mut out = String::from(
        "| bug | origin | mechanism when switched on | fix it reverts | introduced in | expected rules | detecting seed |\n|---|---|---|---|---|---|---|\n",
    );
    for e in BUGS {
        let (fix, introduced) = match e.origin {
            Origin::Etcd {
                fix, introduced_in, ..
            } => (fix.to_string(), introduced_in.to_string()),
            Origin::Synthetic {
                models,
                general_rule_gap,
            } => {
                let gap = general_rule_gap
                    .map(|g| format!("; no general rule catches it yet: {g}"))
                    .unwrap_or_default();
                (format!("— (models {models}{gap})"), "—".to_string())
            }
        };
        let seed = match e.reproduction {
            Reproduction::Reproduced {
                detecting: (scenario, seed),
            } => format!("{scenario} {seed}"),
            Reproduction::NotReproduced { why } => format!("not reproduced: {why}"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {fix} | {introduced} | {} | {seed} |",
            e.name(),
            e.origin_label(),
            e.mechanism,
            e.expected_rules.join(", "),
        );
    }
    for n in NOT_CATALOGUED {
        let _ = writeln!(
            out,
            "| — | etcd #{} | {} | — | — | — | {} |",
            n.issue, n.title, n.why
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reproduced_bug_has_one_known_signature_with_a_registered_rule() {
        for e in BUGS {
            let recorded = KNOWN_SIGNATURES.iter().filter(|(b, _)| *b == e.bug).count();
            let expected = usize::from(e.detecting().is_some());
            assert_eq!(recorded, expected, "{}", e.name());
        }
        for (bug, s) in KNOWN_SIGNATURES {
            assert_eq!(rules::lookup(&s.rule), Some(&*s.rule), "{}", bug.name());
        }
        // The review meeting's two-bug campaign must show two problems.
        assert_ne!(
            known_signature(Bug::Etcd15220),
            known_signature(Bug::StaleLocalRead)
        );
    }

    #[test]
    fn every_switch_has_one_entry_in_switch_order() {
        let table: Vec<Bug> = BUGS.iter().map(|e| e.bug).collect();
        let switches: Vec<Bug> = node::bugs::ALL.iter().map(|(b, _)| *b).collect();
        assert_eq!(table, switches);
    }

    #[test]
    fn expected_rules_are_registered_and_triggers_load() {
        for e in BUGS {
            assert!(!e.expected_rules.is_empty(), "{}", e.name());
            for rule in e.expected_rules {
                assert_eq!(rules::lookup(rule), Some(*rule), "{}: {rule}", e.name());
            }
            for t in e.triggers {
                crate::catalog::load(t).unwrap_or_else(|err| panic!("{}: {err}", e.name()));
            }
            if let Some((scenario, _)) = e.detecting() {
                crate::catalog::load(scenario).unwrap_or_else(|err| panic!("{}: {err}", e.name()));
            }
        }
    }

    #[test]
    fn synthetic_bugs_say_so_and_etcd_bugs_name_their_fix() {
        for e in BUGS {
            match e.origin {
                Origin::Etcd {
                    issue,
                    fix,
                    introduced_in,
                } => {
                    // One switch per fix: a second fix of the same issue
                    // carries a suffix (etcd-20221-restore).
                    assert!(
                        e.name() == format!("etcd-{issue}")
                            || e.name().starts_with(&format!("etcd-{issue}-")),
                        "{}",
                        e.name()
                    );
                    assert!(!fix.is_empty() && !introduced_in.is_empty(), "{}", e.name());
                }
                Origin::Synthetic { models, .. } => {
                    assert!(!e.name().starts_with("etcd-"));
                    assert!(!models.is_empty());
                }
            }
        }
        assert!(text().contains("stale-local-read         synthetic"));
    }

    #[test]
    fn synthetic_bugs_are_expected_to_be_caught_by_a_general_rule_or_say_why_not() {
        for e in BUGS
            .iter()
            .filter(|e| e.is_synthetic() && e.general_rule_gap().is_none())
        {
            assert!(
                e.expected_rules.iter().any(|r| rules::rules()
                    .iter()
                    .any(|info| info.name == *r && info.decided_by == rules::DecidedBy::Checker)),
                "{} must be caught by a checker rule, not only an engine check",
                e.name()
            );
        }
    }
}
