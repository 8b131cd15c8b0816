//! The seeded generator of request sequences: one client, no faults, a
//! small key space so requests meet each other's keys, and every option of
//! every request kind drawn now and then.
//!
//! Two restrictions keep the comparison meaningful, each for a stated
//! reason:
//! - Lease grants always name their id: etcd draws a random id for id 0.
//! - A Range sorted by anything but the key never has a limit: etcd sorts
//!   with Go's `sort.Sort`, which is not stable, so which of several equal
//!   keys a limit cuts off is not defined.

use crate::step::{
    Compare, CompareOp, CompareTarget, Delete, Padding, Put, Range, Rev, SortOrder, SortTarget,
    Step, Txn, TxnOp, Watch,
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

const KEYS: [&str; 8] = ["a", "b", "c", "k", "p/1", "p/2", "p/3", "z"];
/// Range ends: none (one key), "\0" (every key from the start key on), the
/// end of the "p/" prefix, and keys in between.
const RANGE_ENDS: [&str; 5] = ["", "\0", "p0", "c", "p/3"];
const LEASE_IDS: [i64; 4] = [101, 102, 103, 104];
/// Lease TTLs in seconds: below etcd's minimum (raised to it), ordinary,
/// and long ones. A sequence with watches takes seconds (each watch step
/// waits for its stream to fall silent), so a lease at the minimum would
/// expire at a moment that differs between the two sides: one below
/// etcd's minimum TTL is revoked by the very next step.
const LEASE_TTLS: [i64; 4] = [1, 60, 600, 3600];
/// The smallest TTL etcd grants with its default timing (1.5 election
/// timeouts of 1 s): anything below is raised to it.
const MIN_LEASE_TTL: i64 = 2;
/// etcd's default limit on operations in one Txn branch (`--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;
/// etcd's default limit on a request proposed through raft
/// (`--max-request-bytes`). A value past it, but under the gRPC receive
/// limit 512 KiB above, reaches the server and is refused there.
pub const MAX_REQUEST_BYTES: u32 = 1536 * 1024;
/// How far past the limit a too-large put goes, at most: well under the
/// gRPC receive limit, and so under what a padding may be.
const OVER_LIMIT_MAX: u32 = 64 * 1024;
const _: () = assert!(MAX_REQUEST_BYTES + OVER_LIMIT_MAX <= Padding::MAX);

/// Draws one step of a kind.
type Draw = fn(&mut Gen) -> Step;

/// How many requests of each kind, in parts of the whole.
const WEIGHTS: [(Draw, u32); 15] = [
    (Gen::put_step, 24),
    (Gen::range_step, 24),
    (Gen::delete_step, 8),
    (Gen::txn_step, 16),
    (Gen::compact_step, 3),
    (Gen::lease_grant, 5),
    (Gen::lease_revoke, 3),
    (Gen::lease_ttl, 4),
    (|_| Step::LeaseLeases, 2),
    (Gen::lease_keep_alive, 3),
    (|_| Step::Status, 2),
    (Gen::hash_kv, 3),
    (Gen::watch_step, 3),
    (|_| Step::WatchProgress, 2),
    (Gen::watch_cancel, 1),
];

/// The sequence of `requests` steps for `seed`.
pub fn sequence(seed: u64, requests: usize) -> Vec<Step> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        values: 0,
        watches: 0,
        next: None,
    };
    let total: u32 = WEIGHTS.iter().map(|w| w.1).sum();
    let mut steps: Vec<Step> = (0..requests)
        .map(|_| {
            if let Some(step) = g.next.take() {
                return step;
            }
            let mut pick = g.rng.gen_range(0..total);
            for (make, weight) in WEIGHTS {
                if pick < weight {
                    return make(&mut g);
                }
                pick -= weight;
            }
            unreachable!("the weights add up to the total")
        })
        .collect();
    // What the watches saw after the last watch answer would go
    // uncompared: a sequence with watches ends by asking for it.
    if g.watches > 0
        && let Some(last) = steps.last_mut()
        && !matches!(last, Step::WatchProgress | Step::WatchCancel { .. })
    {
        *last = Step::WatchProgress;
    }
    steps
}

struct Gen {
    rng: ChaCha8Rng,
    /// Values are numbered so every write is told apart.
    values: u64,
    /// Watches opened so far.
    watches: usize,
    /// A step that must come next (the revoke of a short lease).
    next: Option<Step>,
}

impl Gen {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.gen_range(0..100) < percent
    }

    fn key(&mut self) -> String {
        KEYS.choose(&mut self.rng)
            .copied()
            .unwrap_or("a")
            .to_string()
    }

    fn range_end(&mut self) -> String {
        RANGE_ENDS
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("")
            .to_string()
    }

    fn value(&mut self) -> String {
        self.values += 1;
        format!("v{}", self.values)
    }

    fn lease_id(&mut self) -> i64 {
        LEASE_IDS.choose(&mut self.rng).copied().unwrap_or(101)
    }

    /// A read revision: mostly the newest, else the recent past, the
    /// future, or around the compaction.
    fn read_rev(&mut self) -> Rev {
        match self.rng.gen_range(0..10) {
            0..=4 => Rev::Zero,
            5..=6 => Rev::Head(-self.rng.gen_range(0..6)),
            7 => Rev::Head(self.rng.gen_range(1..3)),
            _ => Rev::Compacted(self.rng.gen_range(-1..2)),
        }
    }

    fn put(&mut self) -> Put {
        let lease = if self.chance(20) { self.lease_id() } else { 0 };
        Put {
            key: self.key(),
            value: self.value(),
            padding: Padding::default(),
            lease,
            prev_kv: self.chance(40),
            ignore_value: self.chance(8),
            ignore_lease: self.chance(8),
        }
    }

    fn put_step(&mut self) -> Step {
        let mut put = self.put();
        if self.chance(2) {
            // Past etcd's request limit: refused with "request is too large".
            let over = self.rng.gen_range(1..OVER_LIMIT_MAX);
            put.padding = Padding::new(MAX_REQUEST_BYTES + over)
                .expect("the limit plus OVER_LIMIT_MAX is under Padding::MAX (asserted below it)");
        }
        Step::Put(put)
    }

    fn range(&mut self) -> Range {
        let sort_order = match self.rng.gen_range(0..10) {
            0 => SortOrder::Ascend,
            1 => SortOrder::Descend,
            _ => SortOrder::None,
        };
        let sort_target = match self.rng.gen_range(0..12) {
            0 => SortTarget::Version,
            1 => SortTarget::Create,
            2 => SortTarget::Mod,
            3 => SortTarget::Value,
            _ => SortTarget::Key,
        };
        let limit = if sort_target == SortTarget::Key && self.chance(25) {
            self.rng.gen_range(1..4)
        } else {
            0
        };
        let bound = |g: &mut Gen| {
            if g.chance(8) {
                g.rng.gen_range(1..40)
            } else {
                0
            }
        };
        Range {
            key: self.key(),
            range_end: self.range_end(),
            limit,
            revision: self.read_rev(),
            serializable: self.chance(30),
            keys_only: self.chance(10),
            count_only: self.chance(10),
            sort_order,
            sort_target,
            min_mod_revision: bound(self),
            max_mod_revision: bound(self),
            min_create_revision: bound(self),
            max_create_revision: bound(self),
        }
    }

    fn range_step(&mut self) -> Step {
        Step::Range(self.range())
    }

    fn delete(&mut self) -> Delete {
        Delete {
            key: self.key(),
            range_end: if self.chance(40) {
                self.range_end()
            } else {
                String::new()
            },
            prev_kv: self.chance(40),
        }
    }

    fn delete_step(&mut self) -> Step {
        Step::Delete(self.delete())
    }

    fn compare(&mut self) -> Compare {
        let op = *[
            CompareOp::Equal,
            CompareOp::Greater,
            CompareOp::Less,
            CompareOp::NotEqual,
        ]
        .choose(&mut self.rng)
        .unwrap_or(&CompareOp::Equal);
        let target = match self.rng.gen_range(0..5) {
            0 => CompareTarget::Version(self.rng.gen_range(0..4)),
            1 => CompareTarget::Create(Rev::Head(-self.rng.gen_range(0..8))),
            2 => CompareTarget::Mod(Rev::Head(-self.rng.gen_range(0..8))),
            3 => CompareTarget::Value(format!("v{}", self.values.saturating_sub(3) + 1)),
            _ => CompareTarget::Lease(if self.chance(50) { 0 } else { self.lease_id() }),
        };
        Compare {
            key: self.key(),
            range_end: if self.chance(15) {
                self.range_end()
            } else {
                String::new()
            },
            op,
            target,
        }
    }

    fn txn_op(&mut self, depth: u32) -> TxnOp {
        match self.rng.gen_range(0..10) {
            0..=3 => TxnOp::Put(self.put()),
            4..=6 => TxnOp::Range(self.range()),
            7..=8 => TxnOp::Delete(self.delete()),
            _ if depth < 1 => TxnOp::Txn(self.txn(depth + 1)),
            _ => TxnOp::Put(self.put()),
        }
    }

    fn branch(&mut self, depth: u32) -> Vec<TxnOp> {
        let n = self.rng.gen_range(0..4);
        (0..n).map(|_| self.txn_op(depth)).collect()
    }

    fn txn(&mut self, depth: u32) -> Txn {
        let compares = self.rng.gen_range(0..3);
        Txn {
            compare: (0..compares).map(|_| self.compare()).collect(),
            success: self.branch(depth),
            failure: self.branch(depth),
        }
    }

    fn txn_step(&mut self) -> Step {
        let mut txn = self.txn(0);
        if self.chance(3) {
            // One past etcd's limit: refused with "too many operations".
            txn.success = (0..=MAX_TXN_OPS)
                .map(|i| {
                    TxnOp::Range(Range {
                        key: format!("t{i}"),
                        ..self.range()
                    })
                })
                .collect();
        }
        Step::Txn(txn)
    }

    fn compact_step(&mut self) -> Step {
        let revision = match self.rng.gen_range(0..6) {
            0 => Rev::Head(1),
            1 => Rev::Compacted(0),
            2 => Rev::Compacted(-1),
            _ => Rev::Head(-self.rng.gen_range(0..5)),
        };
        Step::Compact {
            revision,
            physical: self.chance(50),
        }
    }

    fn lease_grant(&mut self) -> Step {
        let id = self.lease_id();
        let ttl = LEASE_TTLS.choose(&mut self.rng).copied().unwrap_or(60);
        if ttl <= MIN_LEASE_TTL {
            self.next = Some(Step::LeaseRevoke { id });
        }
        Step::LeaseGrant { id, ttl }
    }

    fn lease_revoke(&mut self) -> Step {
        Step::LeaseRevoke {
            id: self.lease_id(),
        }
    }

    fn lease_ttl(&mut self) -> Step {
        Step::LeaseTimeToLive {
            id: self.lease_id(),
            keys: self.chance(50),
        }
    }

    fn lease_keep_alive(&mut self) -> Step {
        Step::LeaseKeepAlive {
            id: self.lease_id(),
        }
    }

    /// A watch from now, the recent past, the future, or around the
    /// compaction (below it: cancelled with the compact revision).
    fn watch_step(&mut self) -> Step {
        self.watches += 1;
        let start = match self.rng.gen_range(0..8) {
            0..=2 => Rev::Zero,
            3..=4 => Rev::Head(-self.rng.gen_range(0..6)),
            5 => Rev::Head(self.rng.gen_range(1..4)),
            _ => Rev::Compacted(self.rng.gen_range(-1..2)),
        };
        let (no_put, no_delete) = match self.rng.gen_range(0..10) {
            0 => (true, false),
            1 => (false, true),
            _ => (false, false),
        };
        Step::Watch(Watch {
            key: self.key(),
            range_end: if self.chance(50) {
                self.range_end()
            } else {
                String::new()
            },
            start,
            prev_kv: self.chance(50),
            no_put,
            no_delete,
        })
    }

    /// Cancels one of the watches opened so far (one already cancelled
    /// too: etcd answers nothing), or opens one if there is none yet.
    fn watch_cancel(&mut self) -> Step {
        if self.watches == 0 {
            return self.watch_step();
        }
        Step::WatchCancel {
            watch: self.rng.gen_range(0..self.watches),
        }
    }

    fn hash_kv(&mut self) -> Step {
        let revision = match self.rng.gen_range(0..4) {
            0 => Rev::Zero,
            1 => Rev::Compacted(-1),
            _ => Rev::Head(-self.rng.gen_range(0..3)),
        };
        Step::HashKv { revision }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::Kind;
    use std::collections::BTreeSet;

    #[test]
    fn some_puts_are_too_large_for_etcd_and_none_past_its_grpc_limit() {
        let puts: Vec<Put> = (0..20)
            .flat_map(|seed| sequence(seed, 200))
            .filter_map(|s| match s {
                Step::Put(p) => Some(p),
                _ => None,
            })
            .collect();
        let large: Vec<usize> = puts
            .iter()
            .map(|p| p.value_bytes().len())
            .filter(|&n| n > MAX_REQUEST_BYTES as usize)
            .collect();
        assert!(
            !large.is_empty() && large.len() * 20 < puts.len(),
            "{large:?}"
        );
        let grpc_limit = MAX_REQUEST_BYTES as usize + 512 * 1024;
        assert!(large.iter().all(|&n| n < grpc_limit - 1024), "{large:?}");
    }

    #[test]
    fn a_seed_gives_one_sequence() {
        assert_eq!(sequence(7, 300), sequence(7, 300));
        assert_ne!(sequence(7, 300), sequence(8, 300));
    }

    #[test]
    fn a_sequence_with_watches_ends_by_collecting_what_they_saw() {
        for seed in 0..50 {
            let steps = sequence(seed, 100);
            let opened = steps.iter().filter(|s| matches!(s, Step::Watch(_))).count();
            if opened > 0 {
                assert!(matches!(
                    steps.last(),
                    Some(Step::WatchProgress | Step::WatchCancel { .. })
                ));
            }
            let mut seen = 0;
            for step in &steps {
                match step {
                    Step::Watch(_) => seen += 1,
                    Step::WatchCancel { watch } => assert!(*watch < seen, "seed {seed}"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn a_lease_that_could_expire_mid_sequence_is_revoked_at_once() {
        for seed in 0..50 {
            let steps = sequence(seed, 200);
            for pair in steps.windows(2) {
                if let Step::LeaseGrant { id, ttl } = &pair[0]
                    && *ttl <= MIN_LEASE_TTL
                {
                    assert_eq!(pair[1], Step::LeaseRevoke { id: *id }, "seed {seed}");
                }
            }
        }
    }

    #[test]
    fn every_kind_is_drawn() {
        let kinds: BTreeSet<Kind> = sequence(1, 2_000).iter().map(Step::kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "{kinds:?}");
    }

    fn ranges(steps: &[Step]) -> Vec<&crate::step::Range> {
        fn of_ops<'a>(ops: &'a [TxnOp], out: &mut Vec<&'a crate::step::Range>) {
            for op in ops {
                match op {
                    TxnOp::Range(r) => out.push(r),
                    TxnOp::Txn(t) => {
                        of_ops(&t.success, out);
                        of_ops(&t.failure, out);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for step in steps {
            match step {
                Step::Range(r) => out.push(r),
                Step::Txn(t) => {
                    of_ops(&t.success, &mut out);
                    of_ops(&t.failure, &mut out);
                }
                _ => {}
            }
        }
        out
    }

    proptest::proptest! {
        /// Whatever the seed: ranges sorted by anything but the key have no
        /// limit (Go's unstable sort would make the cut undefined), every
        /// lease grant names its id, and the same seed gives the same steps.
        #[test]
        fn every_seed_keeps_the_comparison_meaningful(seed in proptest::prelude::any::<u64>()) {
            let steps = sequence(seed, 300);
            for r in ranges(&steps) {
                proptest::prop_assert!(r.sort_target == SortTarget::Key || r.limit == 0, "{r:?}");
            }
            for step in &steps {
                if let Step::LeaseGrant { id, .. } = step {
                    proptest::prop_assert!(*id != 0);
                }
            }
            proptest::prop_assert_eq!(&steps, &sequence(seed, 300));
        }
    }
}
