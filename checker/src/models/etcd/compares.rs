//! When a transaction whose outcome is unknown certainly could not have
//! written: its writes are all in the success branch, and at that revision
//! a compare certainly failed (what definite answers show of the key then
//! contradicts it). A Kubernetes optimistic write is such a transaction:
//! "create if absent" cannot succeed where the key is known to exist, and
//! "update if the mod revision is still X" cannot succeed once the key was
//! rewritten after X. The free revisions such a request may still fill
//! ([`super::slots`]) end where it certainly cannot write.

use super::analysis::Analysis;
use crate::history::{
    Compare, CompareResult, CompareTarget, KeySpan, TxnOp, TxnRequest, TxnResponse,
};

/// What a definite transaction's compares show of its keys: for each
/// "mod revision equals x" (x > 0) that held, the key existed with mod
/// revision x from x to the revision the compares ran at. Reported as
/// `(key, mod revision, current at)`.
pub fn versions_compared<'h>(
    t: &'h TxnRequest,
    got: &TxnResponse,
    f: &mut impl FnMut(&'h str, i64, i64),
) {
    if !got.succeeded || got.header_revision <= 0 {
        return;
    }
    let evaluated_at = if super::read_only_txn(t, got) {
        got.header_revision
    } else {
        got.header_revision - 1
    };
    for c in &t.compare {
        if let (KeySpan::Single(key), CompareResult::Equal, CompareTarget::ModRevision(x)) =
            (c.span(), c.result, &c.target)
            && *x > 0
            && *x <= evaluated_at
        {
            f(key, *x, evaluated_at);
        }
    }
}

/// Whether `t` certainly wrote nothing had it run with its compares
/// evaluated at revision `at` (the revision before the one its write takes).
pub fn cannot_write_at(analysis: &Analysis<'_>, t: &TxnRequest, at: i64) -> bool {
    if t.failure.iter().any(TxnOp::may_write) {
        return false;
    }
    t.compare.iter().any(|c| fails_at(analysis, c, at))
}

/// Whether compare `c` certainly fails at revision `at`, by the versions
/// of its key definite answers reported as current.
fn fails_at(analysis: &Analysis<'_>, c: &Compare, at: i64) -> bool {
    let (KeySpan::Single(key), CompareResult::Equal) = (c.span(), c.result) else {
        return false;
    };
    let Some(versions) = analysis.current.get(key) else {
        return false;
    };
    // The version the key certainly had at `at`, if a definite answer shows
    // one current on both sides of it: (create revision, mod revision).
    let held = versions
        .iter()
        .find(|(_, m, seen)| *m <= at && at <= *seen)
        .map(|(c, m, _)| (*c, *m));
    match c.target {
        // A missing key compares as 0: the key existing fails it (from its
        // create revision on, or its mod revision where that is not known).
        CompareTarget::ModRevision(0)
        | CompareTarget::CreateRevision(0)
        | CompareTarget::Version(0) => versions
            .iter()
            .any(|(c, m, seen)| if *c > 0 { *c } else { *m } <= at && at <= *seen),
        // A mod revision only grows: once the key was written after `x`,
        // it never is `x` again.
        CompareTarget::ModRevision(x) => {
            at < x
                || held.is_some_and(|(_, m)| m != x)
                || versions.iter().any(|(_, m, _)| x < *m && *m <= at)
        }
        CompareTarget::CreateRevision(x) => {
            at < x
                || versions
                    .iter()
                    .any(|(c, _, seen)| *c > 0 && *c <= at && (at <= *seen || x < *c) && *c != x)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{DeleteRangeRequest, History, PutRequest, RangeRequest, Request};
    use crate::models::etcd::store::Store;
    use crate::models::etcd::testing::{read_everything, run};

    fn put(key: &str) -> PutRequest {
        PutRequest {
            key: key.into(),
            value: "v".into(),
            ..Default::default()
        }
    }

    fn compare(key: &str, target: CompareTarget) -> Compare {
        Compare {
            key: key.into(),
            range_end: String::new(),
            target,
            result: CompareResult::Equal,
        }
    }

    /// Kubernetes' optimistic write: `compare` holds, put `key`; else read it.
    fn optimistic(key: &str, target: CompareTarget) -> TxnRequest {
        TxnRequest {
            compare: vec![compare(key, target)],
            success: vec![TxnOp::Put(put(key))],
            failure: vec![TxnOp::Range(RangeRequest {
                key: key.into(),
                ..Default::default()
            })],
        }
    }

    /// /p created at 2 and rewritten at 4, /x at 3, everything read at 4.
    fn rewritten() -> History {
        let mut store = Store::new();
        let mut h = History::default();
        run(&mut store, &mut h, Request::Put(put("/p")));
        run(&mut store, &mut h, Request::Put(put("/x")));
        run(&mut store, &mut h, Request::Put(put("/p")));
        read_everything(&mut store, &mut h);
        h
    }

    #[test]
    fn a_create_cannot_write_where_the_key_is_known_to_exist() {
        let h = rewritten();
        let a = Analysis::of(&h);
        let create = optimistic("/p", CompareTarget::ModRevision(0));
        assert!(
            !cannot_write_at(&a, &create, 1),
            "nothing says /p existed at 1"
        );
        assert!(
            cannot_write_at(&a, &create, 2),
            "the read at 4 shows it created at 2"
        );
        assert!(cannot_write_at(&a, &create, 4), "the read shows /p at 4");
        assert!(!cannot_write_at(&a, &create, 5), "nothing is known after 4");
        let other = optimistic("/q", CompareTarget::CreateRevision(0));
        assert!(!cannot_write_at(&a, &other, 4), "/q was never seen");
    }

    #[test]
    fn an_update_cannot_write_before_its_revision_or_after_a_rewrite() {
        let h = rewritten();
        let a = Analysis::of(&h);
        let update = optimistic("/p", CompareTarget::ModRevision(2));
        assert!(
            cannot_write_at(&a, &update, 1),
            "mod revision 2 is not there yet"
        );
        assert!(!cannot_write_at(&a, &update, 2));
        assert!(!cannot_write_at(&a, &update, 3));
        assert!(cannot_write_at(&a, &update, 4), "rewritten at 4");
        assert!(
            cannot_write_at(&a, &update, 9),
            "a mod revision never comes back"
        );
        let current = optimistic("/p", CompareTarget::ModRevision(4));
        assert!(!cannot_write_at(&a, &current, 4));
    }

    #[test]
    fn a_compare_that_held_shows_the_key_existed_since_its_mod_revision() {
        let mut store = Store::new();
        let mut h = History::default();
        run(&mut store, &mut h, Request::Put(put("/p")));
        run(&mut store, &mut h, Request::Put(put("/x")));
        run(&mut store, &mut h, Request::Put(put("/y")));
        // Delete /p if its mod revision is still 2: it is, at 4.
        let delete = TxnRequest {
            compare: vec![compare("/p", CompareTarget::ModRevision(2))],
            success: vec![TxnOp::DeleteRange(DeleteRangeRequest {
                key: "/p".into(),
                ..Default::default()
            })],
            failure: vec![],
        };
        run(&mut store, &mut h, Request::Txn(delete));
        let a = Analysis::of(&h);
        let create = optimistic("/p", CompareTarget::ModRevision(0));
        assert!(!cannot_write_at(&a, &create, 1));
        assert!(cannot_write_at(&a, &create, 2));
        assert!(cannot_write_at(&a, &create, 4), "the compare ran at 4");
        assert!(!cannot_write_at(&a, &create, 5), "deleted at 5");
    }

    #[test]
    fn a_transaction_whose_failure_branch_writes_may_always_write() {
        let h = rewritten();
        let a = Analysis::of(&h);
        let mut either = optimistic("/p", CompareTarget::ModRevision(0));
        either.failure = vec![TxnOp::Put(put("/other"))];
        assert!(!cannot_write_at(&a, &either, 4));
    }
}
