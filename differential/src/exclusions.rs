//! Differences by design: each has a name, a reason, the request kind and
//! field it covers, and (for timing) how far apart the values may be.
//! `faultline diff` counts every difference an exclusion covers under its
//! name, and the README lists them all; nothing else is ever left out.

use crate::answer::{Answer, Body, Code};
use crate::step::Kind;

/// Which values an exclusion covers.
#[derive(Debug, Clone, Copy)]
pub enum Tolerance {
    /// Any values.
    Any,
    /// Integers at most this far apart.
    Within(i64),
    /// Ours is anything, etcd did not send the field (it reads as 0).
    TheirsAbsent,
    /// The two whole answers (ours, etcd's) fit this description.
    Answers(fn(&Answer, &Answer) -> bool),
}

/// Why answers may differ there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The store differs on purpose, or the real server's version does.
    ByDesign,
    /// A gap in the store, known and to be closed; listed so it is never
    /// silent, and printed as open.
    Open,
}

#[derive(Debug, Clone, Copy)]
pub struct Exclusion {
    pub name: &'static str,
    pub why: Why,
    pub kind: Kind,
    /// The field path (as in a [`crate::Difference`]) it covers.
    pub field: &'static str,
    pub tolerance: Tolerance,
    pub reason: &'static str,
}

impl Exclusion {
    /// Whether the two values (as printed), of these two answers, are
    /// within this exclusion.
    pub fn tolerates(&self, ours: &str, theirs: &str, answers: (&Answer, &Answer)) -> bool {
        match self.tolerance {
            Tolerance::Any => true,
            Tolerance::TheirsAbsent => theirs == "0",
            Tolerance::Answers(fits) => fits(answers.0, answers.1),
            Tolerance::Within(bound) => match (ours.parse::<i64>(), theirs.parse::<i64>()) {
                (Ok(a), Ok(b)) => a.abs_diff(b) <= bound.unsigned_abs(),
                _ => false,
            },
        }
    }
}

pub const EXCLUSIONS: [Exclusion; 6] = [
    Exclusion {
        why: Why::ByDesign,
        name: "status.version",
        kind: Kind::Status,
        field: "version",
        tolerance: Tolerance::Any,
        reason: "the server's own version string: the simulated member runs as 3.5, the real binary says its own",
    },
    Exclusion {
        why: Why::ByDesign,
        name: "status.db-size",
        kind: Kind::Status,
        field: "db_size",
        tolerance: Tolerance::Any,
        reason: "bytes of the backend file: bbolt's page layout is not modelled, only the data in it",
    },
    Exclusion {
        why: Why::ByDesign,
        name: "status.raft-index",
        kind: Kind::Status,
        field: "raft_index",
        tolerance: Tolerance::Within(1),
        reason: "etcd's member publishes its name and client URLs through raft when it starts, an entry this store's members (which have neither) never write",
    },
    Exclusion {
        why: Why::ByDesign,
        name: "hash_kv.hash-revision",
        kind: Kind::HashKv,
        field: "hash_revision",
        tolerance: Tolerance::TheirsAbsent,
        reason: "the revision a HashKV answer covers: a field etcd added in 3.5, which 3.4 does not send",
    },
    Exclusion {
        why: Why::ByDesign,
        name: "hash_kv.at-compact-revision",
        kind: Kind::HashKv,
        field: "outcome",
        tolerance: Tolerance::Answers(hashed_at_compact_revision),
        reason: "HashKV at exactly the compact revision: answered since etcd PR 14457 (v3.5.10, v3.4.27), refused as compacted before it, as by 3.4.23",
    },
    Exclusion {
        why: Why::ByDesign,
        name: "lease.remaining-ttl",
        kind: Kind::LeaseTimeToLive,
        field: "ttl",
        tolerance: Tolerance::Within(1),
        reason: "seconds left on a lease: simulated and real time pass differently between grant and question; one second apart is allowed",
    },
];

/// Ours hashed the compact revision itself; etcd called it compacted.
fn hashed_at_compact_revision(ours: &Answer, theirs: &Answer) -> bool {
    let ours_at_compact = matches!(
        ours,
        Answer::Ok(r) if matches!(r.body, Body::HashKv { compact_revision, hash_revision, .. }
            if compact_revision > 0 && hash_revision == compact_revision)
    );
    let theirs_compacted = matches!(
        theirs,
        Answer::Error { code: Code::OutOfRange, message }
            if message == "etcdserver: mvcc: required revision has been compacted"
    );
    ours_at_compact && theirs_compacted
}

/// The exclusion covering this field of this kind's answer, when `ok` says
/// the values are within it.
pub fn matching(
    kind: Kind,
    field: &str,
    ok: &dyn Fn(&Exclusion) -> bool,
) -> Option<&'static Exclusion> {
    EXCLUSIONS
        .iter()
        .find(|e| e.kind == kind && e.field == field && ok(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = EXCLUSIONS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EXCLUSIONS.len());
    }

    #[test]
    fn a_tolerance_is_a_bound() {
        let e = EXCLUSIONS
            .iter()
            .find(|e| e.name == "lease.remaining-ttl")
            .copied()
            .unwrap_or(EXCLUSIONS[0]);
        let any = Answer::Error {
            code: Code::Unknown,
            message: String::new(),
        };
        assert!(e.tolerates("59", "60", (&any, &any)));
        assert!(!e.tolerates("58", "60", (&any, &any)));
        assert!(!e.tolerates("x", "60", (&any, &any)));
    }
}
