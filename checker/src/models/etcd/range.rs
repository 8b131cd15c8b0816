//! What a Range answers, as etcd's apply Range computes it: every key of
//! the span at the revision read is counted; keys outside the revision
//! bounds are pruned; the rest are sorted as asked and cut to the limit
//! (`more` when some were cut). A count-only read gets no keys.
//!
//! One quirk is etcd's own, in every version from 3.4 on: a range with a
//! limit, no bound and no order given but a sort target other than the key
//! reads only the first `limit + 1` keys in key order (etcd decides how
//! much to read from the order given, NONE), then sorts those ascending
//! (the order it implies for such a target) and cuts. The model does the
//! same ([`keys_read`]).
//!
//! etcd's sort is not stable, so keys that tie on the sort target may come
//! in any order, and a cut through a tie may keep any of them. Judging an
//! answer ([`range_answers`]) allows that; the answer the model builds
//! ([`range_snapshot`]) breaks ties by key.

use std::cmp::Ordering;

use crate::history::{
    EtcdError, KeyValue, RangeRequest, RangeResponse, Recorded, SortOrder, SortTarget,
};

use super::store::{Store, Version};

/// A range at `current` (the revision the reader sees now).
pub fn range(store: &Store, r: &RangeRequest, current: i64) -> Result<RangeResponse, EtcdError> {
    let at = read_revision(store, r, current)?;
    Ok(range_snapshot(store, r, at, store.revision()))
}

/// What a range answers from the state at revision `at`, with `header` as its
/// header revision. No compaction or future-revision check: callers decide.
pub fn range_snapshot(store: &Store, r: &RangeRequest, at: i64, header: i64) -> RangeResponse {
    let mut resp = RangeResponse {
        header_revision: header,
        ..Default::default()
    };
    let (mut kept, read) = (Vec::new(), keys_read(r));
    for (key, v) in store.range_at(r.span(), at) {
        resp.count += 1;
        if !r.count_only
            && resp.count as usize <= read
            && r.keeps(v.mod_revision, v.create_revision)
        {
            kept.push((key.as_str(), v));
        }
    }
    if r.ordering().is_some() {
        // A stable sort: ties stay in key order.
        kept.sort_by(|a, b| sort_order(r, *a, *b));
    }
    let limit = limit_of(r);
    resp.more = kept.len() > limit;
    resp.kvs = kept
        .into_iter()
        .take(limit)
        .map(|(key, v)| {
            let mut kv = v.to_key_value(key);
            if r.keys_only {
                kv.value.clear();
            }
            kv
        })
        .collect();
    resp
}

/// Whether `actual` is what the range answers now (its revision checked
/// against the store's compaction and revision first).
pub fn range_fits(
    store: &Store,
    r: &RangeRequest,
    actual: &RangeResponse,
    recorded: Recorded,
) -> bool {
    match read_revision(store, r, store.revision()) {
        Ok(at) => range_answers(store, r, at, actual, recorded),
        Err(_) => false,
    }
}

/// Whether `actual` is what the range answers from the state at `at`, in
/// every field `recorded` says the source kept.
pub fn range_answers(
    store: &Store,
    r: &RangeRequest,
    at: i64,
    actual: &RangeResponse,
    recorded: Recorded,
) -> bool {
    if r.reshaped() {
        reshaped_answers(store, r, at, actual, recorded)
    } else {
        plain_answers(store, r, at, actual, recorded)
    }
}

/// The span's keys in key order, cut to the limit: compared as they are
/// read, without building the expected answer (the hot path of the search:
/// no allocation).
fn plain_answers(
    store: &Store,
    r: &RangeRequest,
    at: i64,
    actual: &RangeResponse,
    recorded: Recorded,
) -> bool {
    let limit = limit_of(r);
    let (mut count, mut returned, mut more) = (0i64, 0usize, false);
    for (key, v) in store.range_at(r.span(), at) {
        count += 1;
        if r.count_only {
            continue;
        }
        if returned >= limit {
            more = true;
            continue;
        }
        match actual.kvs.get(returned) {
            Some(kv) if kv.key == *key && shows(v, kv, r.keys_only, recorded) => returned += 1,
            _ => return false,
        }
    }
    returned == actual.kvs.len() && count == actual.count && more == actual.more
}

/// A pruned or sorted range: the right number of keys, each one a kept key
/// of the span shown as it was at `at`, none twice, in the order asked, and
/// none left out that comes before the last one shown.
fn reshaped_answers(
    store: &Store,
    r: &RangeRequest,
    at: i64,
    actual: &RangeResponse,
    recorded: Recorded,
) -> bool {
    let (mut count, mut kept, read) = (0i64, Vec::new(), keys_read(r));
    for (key, v) in store.range_at(r.span(), at) {
        count += 1;
        if count as usize <= read && r.keeps(v.mod_revision, v.create_revision) {
            kept.push((key.as_str(), v));
        }
    }
    if count != actual.count {
        return false;
    }
    if r.count_only {
        return actual.kvs.is_empty() && !actual.more;
    }
    let limit = limit_of(r);
    if actual.more != (kept.len() > limit) || actual.kvs.len() != kept.len().min(limit) {
        return false;
    }
    let mut shown = vec![false; kept.len()];
    let mut last: Option<(&str, &Version)> = None;
    for kv in &actual.kvs {
        // `kept` is in key order, as the store reads it.
        let Ok(i) = kept.binary_search_by(|(key, _)| (*key).cmp(kv.key.as_str())) else {
            return false;
        };
        if shown[i] || !shows(kept[i].1, kv, r.keys_only, recorded) {
            return false;
        }
        if last.is_some_and(|prev| sort_order(r, prev, kept[i]) == Ordering::Greater) {
            return false;
        }
        shown[i] = true;
        last = Some(kept[i]);
    }
    match last {
        Some(last) => kept
            .iter()
            .zip(&shown)
            .all(|(key, shown)| *shown || sort_order(r, *key, last) != Ordering::Less),
        None => true,
    }
}

/// Whether `kv` shows version `v` of its key, in every recorded field (a
/// keys-only read shows no value).
fn shows(v: &Version, kv: &KeyValue, keys_only: bool, recorded: Recorded) -> bool {
    let value_ok = if keys_only {
        kv.value.is_empty()
    } else {
        v.value.as_deref() == Some(kv.value.as_str())
    };
    value_ok
        && kv.mod_revision == v.mod_revision
        && kv.version == v.version
        && recorded.create_revision_agrees(kv.create_revision, v.create_revision)
        && recorded.lease_agrees(kv.lease, v.lease)
        && recorded.key_ttl_agrees(kv.ttl, v.ttl)
}

/// How two keys compare in the order the range asks for: by the sort
/// target (ties are Equal), or by key when it asks for key order.
fn sort_order(r: &RangeRequest, a: (&str, &Version), b: (&str, &Version)) -> Ordering {
    let Some((target, descending)) = r.ordering() else {
        return a.0.cmp(b.0);
    };
    let ord = match target {
        SortTarget::Key => a.0.cmp(b.0),
        SortTarget::Version => a.1.version.cmp(&b.1.version),
        SortTarget::Create => a.1.create_revision.cmp(&b.1.create_revision),
        SortTarget::Mod => a.1.mod_revision.cmp(&b.1.mod_revision),
        SortTarget::Value => a.1.value.cmp(&b.1.value),
    };
    if descending { ord.reverse() } else { ord }
}

/// How many of the span's keys etcd reads, in key order, before it prunes
/// and sorts: all of them, unless nothing is pruned and no order is given,
/// when the limit already applies to the read (one more key read, to know
/// `more`). See the module's comment.
fn keys_read(r: &RangeRequest) -> usize {
    match limit_of(r) {
        limit if limit < usize::MAX && !r.prunes() && r.sort_order == SortOrder::None => limit + 1,
        _ => usize::MAX,
    }
}

/// The limit as a count of keys (none when 0 or below, as in etcd).
fn limit_of(r: &RangeRequest) -> usize {
    usize::try_from(r.limit)
        .ok()
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX)
}

/// The revision a range reads: now, or the one it asked for unless that is
/// in the future or compacted.
pub fn read_revision(store: &Store, r: &RangeRequest, current: i64) -> Result<i64, EtcdError> {
    if r.revision <= 0 {
        return Ok(current);
    }
    if r.revision > current {
        return Err(EtcdError::FutureRevision);
    }
    if r.revision < store.compact_revision() {
        return Err(EtcdError::Compacted {
            compact_revision: store.compact_revision(),
        });
    }
    Ok(r.revision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{PutRequest, Request, Response};
    use crate::models::etcd::exec::execute;
    use proptest::prelude::*;

    fn put(s: &mut Store, key: &str, value: &str) {
        let req = Request::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        });
        execute(s, &req, None).unwrap();
    }

    /// a, b, c put once each (revisions 2..4), then c again (5).
    fn store() -> Store {
        let mut s = Store::new();
        for (k, v) in [("a", "3"), ("b", "1"), ("c", "2"), ("c", "9")] {
            put(&mut s, k, v);
        }
        s
    }

    fn everything() -> RangeRequest {
        RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            ..Default::default()
        }
    }

    fn keys(resp: &RangeResponse) -> Vec<&str> {
        resp.kvs.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn range_fits_agrees_with_the_built_response() {
        let s = store();
        for (limit, keys_only, count_only) in [
            (0, false, false),
            (2, false, false),
            (1, true, false),
            (0, false, true),
        ] {
            let req = RangeRequest {
                limit,
                keys_only,
                count_only,
                ..everything()
            };
            let Ok(Response::Range(mut resp)) =
                execute(&mut s.clone(), &Request::Range(req.clone()), None)
            else {
                panic!("not a range response");
            };
            assert!(range_fits(&s, &req, &resp, Recorded::EVERYTHING));
            resp.count += 1;
            assert!(!range_fits(&s, &req, &resp, Recorded::EVERYTHING));
        }
    }

    #[test]
    fn pruned_keys_still_count_and_the_limit_cuts_what_is_left() {
        let s = store();
        let req = RangeRequest {
            min_mod_revision: 3,
            limit: 1,
            ..everything()
        };
        let resp = range_snapshot(&s, &req, s.revision(), s.revision());
        assert_eq!((keys(&resp), resp.count, resp.more), (vec!["b"], 3, true));
        assert!(range_answers(
            &s,
            &req,
            s.revision(),
            &resp,
            Recorded::EVERYTHING
        ));
        // A bound keeping nothing: no keys, nothing more, every key counted.
        let none = RangeRequest {
            max_create_revision: -1,
            ..everything()
        };
        let resp = range_snapshot(&s, &none, s.revision(), s.revision());
        assert_eq!((resp.kvs.len(), resp.count, resp.more), (0, 3, false));
    }

    #[test]
    fn keys_tied_on_the_sort_target_may_come_in_any_order() {
        let s = store();
        // a and b are at version 1, c at version 2.
        let req = RangeRequest {
            sort_target: SortTarget::Version,
            limit: 2,
            ..everything()
        };
        let built = range_snapshot(&s, &req, s.revision(), s.revision());
        assert_eq!(keys(&built), vec!["a", "b"]);
        let mut swapped = built.clone();
        swapped.kvs.reverse();
        assert!(range_answers(
            &s,
            &req,
            s.revision(),
            &swapped,
            Recorded::EVERYTHING
        ));
        // c (version 2) may not come before a key of version 1 left out.
        let mut with_c = built.clone();
        with_c.kvs[1] = range_snapshot(&s, &everything(), s.revision(), 0).kvs[2].clone();
        assert!(!range_answers(
            &s,
            &req,
            s.revision(),
            &with_c,
            Recorded::EVERYTHING
        ));
        let mut twice = built.clone();
        twice.kvs[1] = twice.kvs[0].clone();
        assert!(!range_answers(
            &s,
            &req,
            s.revision(),
            &twice,
            Recorded::EVERYTHING
        ));
    }

    #[test]
    fn a_descending_sort_is_checked_for_order() {
        let s = store();
        let req = RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Value,
            ..everything()
        };
        let built = range_snapshot(&s, &req, s.revision(), s.revision());
        assert_eq!(keys(&built), vec!["c", "a", "b"]);
        let mut ascending = built.clone();
        ascending.kvs.reverse();
        assert!(!range_answers(
            &s,
            &req,
            s.revision(),
            &ascending,
            Recorded::EVERYTHING
        ));
        // Ascending by key is plain key order.
        let by_key = RangeRequest {
            sort_order: SortOrder::Ascend,
            ..everything()
        };
        assert!(!by_key.reshaped());
    }

    #[test]
    fn a_target_without_an_order_sorts_only_the_keys_the_limit_read() {
        // Values fall as keys rise: b's value "1" is the smallest of all.
        let s = store();
        let implied = RangeRequest {
            sort_target: SortTarget::Value,
            limit: 1,
            ..everything()
        };
        // etcd reads a and b (the limit and one more), sorts those, keeps b.
        let built = range_snapshot(&s, &implied, s.revision(), s.revision());
        assert_eq!(
            (keys(&built), built.more, built.count),
            (vec!["b"], true, 3)
        );
        let limit_2 = RangeRequest {
            limit: 2,
            ..implied.clone()
        };
        // a, b and c read: b ("1") and a ("3") before c ("9").
        let built = range_snapshot(&s, &limit_2, s.revision(), s.revision());
        assert_eq!(keys(&built), vec!["b", "a"]);
        // With the order given, every key is read and sorted.
        let given = RangeRequest {
            sort_order: SortOrder::Descend,
            ..implied
        };
        let built = range_snapshot(&s, &given, s.revision(), s.revision());
        assert_eq!(keys(&built), vec!["c"]);
    }

    /// The order a reshaped range asks for, from the key-values alone (not
    /// the store's versions): the reference the property compares with.
    fn in_order(r: &RangeRequest, a: &KeyValue, b: &KeyValue) -> bool {
        let Some((target, descending)) = r.ordering() else {
            return a.key < b.key;
        };
        let ord = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        let ord = if descending { ord.reverse() } else { ord };
        ord != Ordering::Greater
    }

    fn request() -> impl Strategy<Value = RangeRequest> {
        let bound = prop_oneof![3 => Just(0i64), 1 => -1i64..12];
        let order = prop_oneof![
            Just(SortOrder::None),
            Just(SortOrder::Ascend),
            Just(SortOrder::Descend)
        ];
        let target = prop_oneof![
            Just(SortTarget::Key),
            Just(SortTarget::Version),
            Just(SortTarget::Create),
            Just(SortTarget::Mod),
            Just(SortTarget::Value)
        ];
        (
            (bound.clone(), bound.clone(), bound.clone(), bound),
            (order, target),
            (0i64..5, any::<bool>(), prop::bool::weighted(0.1)),
        )
            .prop_map(
                |((min_m, max_m, min_c, max_c), (order, target), (limit, ko, co))| RangeRequest {
                    key: "a".into(),
                    range_end: "\0".into(),
                    limit,
                    keys_only: ko,
                    count_only: co,
                    min_mod_revision: min_m,
                    max_mod_revision: max_m,
                    min_create_revision: min_c,
                    max_create_revision: max_c,
                    sort_order: order,
                    sort_target: target,
                    ..Default::default()
                },
            )
    }

    proptest! {
        /// The answer the model builds is one it accepts; any reordering of
        /// it is accepted exactly when it is still in the order asked for;
        /// an answer missing a key, or with a key's value changed, is not.
        #[test]
        fn built_answers_are_judged_as_the_reference_says(
            writes in prop::collection::vec((0u8..5, 0u8..4), 1..12),
            req in request(),
            rotate in 0usize..4,
        ) {
            let mut s = Store::new();
            for (k, v) in writes {
                put(&mut s, &((b'a' + k) as char).to_string(), &v.to_string());
            }
            let at = s.revision();
            let built = range_snapshot(&s, &req, at, at);
            prop_assert!(range_answers(&s, &req, at, &built, Recorded::EVERYTHING));
            let mut moved = built.clone();
            let n = moved.kvs.len();
            if n > 1 {
                moved.kvs.rotate_left(rotate % n);
                // Sorted by value before a keys-only read drops the values.
                let with_values = RangeRequest { keys_only: false, ..req.clone() };
                let mut full = range_snapshot(&s, &with_values, at, at).kvs;
                full.rotate_left(rotate % n);
                let ordered = full.windows(2).all(|w| in_order(&req, &w[0], &w[1]));
                let accepted = range_answers(&s, &req, at, &moved, Recorded::EVERYTHING);
                // A rotation may also swap in nothing new: accepted only
                // when ordered (the cut's ties aside, which it keeps).
                prop_assert_eq!(accepted, ordered);
            }
            if n > 0 {
                let mut short = built.clone();
                short.kvs.pop();
                prop_assert!(!range_answers(&s, &req, at, &short, Recorded::EVERYTHING));
                if !req.keys_only {
                    let mut changed = built.clone();
                    changed.kvs[0].value.push('x');
                    prop_assert!(!range_answers(&s, &req, at, &changed, Recorded::EVERYTHING));
                }
            }
        }
    }
}
