//! The anomaly class of a linearizability failure. The search only says
//! which operation it could not place; this reads the answers themselves
//! for the pattern that makes the history impossible: a value nobody
//! wrote, a value only a failed write wrote, one write's value at a second
//! revision, a revision acknowledged to two writes (the first lost, or,
//! when its value is still read later, the revision went backwards), a
//! read from before an acknowledged write. The values returned are looked
//! at first (all of them, the most telling class winning), then a reissued
//! revision anywhere, then each operation's answer (the operations the
//! search named first, the stuck one and those concurrent with it, then
//! the whole history);
//! with no pattern found the class is the rule's fallback,
//! `not-linearizable`. Only writes that took effect count as writes: a Txn
//! whose taken branch only reads is answered like a read.

use std::collections::{HashMap, HashSet};

use crate::anomaly::Anomaly;
use crate::history::{
    History, KeyValue, OpResult, Operation, RangeResponse, Request, Response, TxnOp, TxnOpResponse,
};

/// The class of the failure.
pub(crate) fn classify(history: &History, named: &[u64]) -> Anomaly {
    let facts = Facts::of(history);
    // A wrong value is the surest evidence, wherever it is; when a history
    // shows several kinds, the most telling wins (a value nobody wrote,
    // then one only a failed write wrote, then one applied twice), so the
    // runs of one bug get one class whichever value the search met first.
    let found = history
        .operations
        .iter()
        .filter_map(|op| facts.value_anomaly_of(op))
        .min_by_key(value_rank);
    if let Some(class) = found {
        return class;
    }
    if let Some(class) = facts.reissued(history) {
        return class;
    }
    let mut all: Vec<&Operation> = history.operations.iter().collect();
    all.sort_by_key(|o| (o.call, o.id));
    let named_ops = named.iter().filter_map(|&id| history.operation(id));
    named_ops
        .chain(all)
        .find_map(|op| facts.anomaly_of(op))
        .unwrap_or(Anomaly::NotLinearizable)
}

/// The classes a wrong value shows, most telling first: a value no request
/// wrote, then one only a definitely failed write wrote (the failure was a
/// lie), then one applied at a second revision.
const VALUE_CLASSES: &[Anomaly] = &[
    Anomaly::ValueNeverWritten,
    Anomaly::FailedWriteObserved,
    Anomaly::DoubleWrite,
];

fn value_rank(class: &Anomaly) -> Option<usize> {
    VALUE_CLASSES.iter().position(|c| c == class)
}

/// How a request that may have written a value ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged at this revision.
    Ok(i64),
    Failed,
    Unknown,
}

/// What the whole history says, gathered once.
struct Facts {
    /// (key, value) -> how each request that may have written it ended.
    writers: HashMap<(String, String), Vec<Outcome>>,
    /// Acknowledged writes as (return time, revision), by return time.
    acked: Vec<(u64, i64)>,
    /// Acknowledged plain puts per key, as (return time, revision).
    acked_puts: HashMap<String, Vec<(u64, i64)>>,
    /// Every answered read of a key, as (call time, mod revision, value shown).
    seen: HashMap<String, Vec<(u64, i64, String)>>,
    /// Keys some request may have put again keeping their value
    /// (`ignore_value`): their value may rightly show at a later revision.
    kept: HashSet<String>,
}

impl Facts {
    fn of(history: &History) -> Self {
        let mut writers: HashMap<(String, String), Vec<Outcome>> = HashMap::new();
        let mut acked = Vec::new();
        let mut acked_puts: HashMap<String, Vec<(u64, i64)>> = HashMap::new();
        let mut kept = HashSet::new();
        for op in &history.operations {
            kept_values_of(&op.request, &mut kept);
            let outcome = match &op.result {
                OpResult::Ok(r) => Outcome::Ok(r.header_revision()),
                OpResult::Fail(_) => Outcome::Failed,
                OpResult::Unknown(_) => Outcome::Unknown,
            };
            let mut puts = Vec::new();
            puts_of(&op.request, &mut puts);
            for (key, value) in puts {
                writers
                    .entry((key.to_string(), value.to_string()))
                    .or_default()
                    .push(outcome);
            }
            if let (OpResult::Ok(r), Some(ret)) = (&op.result, op.ret)
                && wrote(&op.request, r)
            {
                acked.push((ret, r.header_revision()));
                if let Request::Put(p) = &op.request {
                    acked_puts
                        .entry(p.key.clone())
                        .or_default()
                        .push((ret, r.header_revision()));
                }
            }
        }
        acked.sort_unstable();
        let mut seen: HashMap<String, Vec<(u64, i64, String)>> = HashMap::new();
        for op in &history.operations {
            let OpResult::Ok(response) = &op.result else {
                continue;
            };
            let mut reads = Vec::new();
            reads_of(&op.request, response, &mut reads);
            for kv in reads.iter().flat_map(|r| &r.kvs) {
                seen.entry(kv.key.clone()).or_default().push((
                    op.call,
                    kv.mod_revision,
                    kv.value.clone(),
                ));
            }
        }
        Facts {
            writers,
            acked,
            acked_puts,
            seen,
            kept,
        }
    }

    /// The highest revision acknowledged to a write that returned before `t`.
    fn acked_before(&self, t: u64) -> i64 {
        self.acked
            .iter()
            .take_while(|(ret, _)| *ret < t)
            .map(|(_, rev)| *rev)
            .max()
            .unwrap_or(0)
    }

    /// A value an answered request returned that is wrong by its writers.
    fn value_anomaly_of(&self, op: &Operation) -> Option<Anomaly> {
        let OpResult::Ok(response) = &op.result else {
            return None;
        };
        let mut reads = Vec::new();
        reads_of(&op.request, response, &mut reads);
        reads
            .iter()
            .flat_map(|r| &r.kvs)
            .filter_map(|kv| self.value_anomaly(kv))
            .min_by_key(value_rank)
    }

    /// A write acknowledged at a revision at or below one already
    /// acknowledged to a write that returned before it was sent: the store
    /// gave a revision out twice. The earlier write is lost unless a read
    /// sent after the later one returned still shows a value it wrote;
    /// then the revision itself went backwards.
    fn reissued(&self, history: &History) -> Option<Anomaly> {
        // Acknowledged writes by return time, with the running maximum.
        let mut acked: Vec<(u64, i64, &Operation)> = history
            .operations
            .iter()
            .filter_map(|op| match (&op.result, op.ret) {
                (OpResult::Ok(r), Some(ret))
                    if r.header_revision() > 0 && wrote(&op.request, r) =>
                {
                    Some((ret, r.header_revision(), op))
                }
                _ => None,
            })
            .collect();
        acked.sort_by_key(|(ret, rev, op)| (*ret, *rev, op.id));
        let mut best: Vec<(i64, &Operation)> = Vec::with_capacity(acked.len());
        for &(_, rev, op) in &acked {
            let top = match best.last() {
                Some(&(top, top_op)) if top >= rev => (top, top_op),
                _ => (rev, op),
            };
            best.push(top);
        }
        let mut by_call: Vec<&(u64, i64, &Operation)> = acked.iter().collect();
        by_call.sort_by_key(|(_, _, op)| (op.call, op.id));
        for &&(ret2, rev2, op2) in &by_call {
            let returned_before = acked.partition_point(|(ret, _, _)| *ret < op2.call);
            let Some(&(top, first)) = returned_before.checked_sub(1).map(|i| &best[i]) else {
                continue;
            };
            if rev2 > top {
                continue;
            }
            let mut puts = Vec::new();
            puts_of(&first.request, &mut puts);
            let still_read = puts.iter().any(|(key, value)| {
                self.seen.get(*key).is_some_and(|reads| {
                    reads
                        .iter()
                        .any(|(call, _, v)| *call > ret2 && v.as_str() == *value)
                })
            });
            return Some(if still_read {
                Anomaly::RevisionBackwards
            } else {
                Anomaly::LostWrite
            });
        }
        None
    }

    fn anomaly_of(&self, op: &Operation) -> Option<Anomaly> {
        if let Some(class) = self.value_anomaly_of(op) {
            return Some(class);
        }
        let OpResult::Ok(response) = &op.result else {
            return None;
        };
        let mut reads = Vec::new();
        reads_of(&op.request, response, &mut reads);
        let header = response.header_revision();
        let before = self.acked_before(op.call);
        if wrote(&op.request, response) {
            return (header > 0 && header <= before).then_some(Anomaly::RevisionBackwards);
        }
        let linearizable_read = match &op.request {
            Request::Range(r) => !r.serializable,
            Request::Txn(_) => true,
            _ => false,
        };
        if !linearizable_read {
            return None;
        }
        // A read answered below a revision already acknowledged is from the
        // past, whatever it returned (a count, keys only, nothing).
        if header > 0 && header < before {
            return Some(Anomaly::StaleRead);
        }
        // A read at or past an acknowledged write's revision that shows an
        // older version of its key: if a read sent after this one returned
        // shows the key at or past that write, the write was still there
        // and this read was stale; if none does, the write is lost.
        let missed = reads.iter().flat_map(|r| &r.kvs).find_map(|kv| {
            self.acked_puts
                .get(&kv.key)?
                .iter()
                .find_map(|&(ret, rev)| {
                    (ret < op.call && rev > kv.mod_revision && rev <= header).then_some((kv, rev))
                })
        })?;
        let (kv, rev) = missed;
        let ret = op.ret.unwrap_or(u64::MAX);
        let seen_later = self
            .seen
            .get(&kv.key)
            .is_some_and(|reads| reads.iter().any(|(call, m, _)| *call > ret && *m >= rev));
        if seen_later {
            Some(Anomaly::StaleRead)
        } else {
            Some(Anomaly::LostWrite)
        }
    }

    /// What is wrong with a value a read returned, judged by its writers.
    fn value_anomaly(&self, kv: &KeyValue) -> Option<Anomaly> {
        let Some(outcomes) = self.writers.get(&(kv.key.clone(), kv.value.clone())) else {
            // Keys-only and count-only reads carry no value.
            return (!kv.value.is_empty()).then_some(Anomaly::ValueNeverWritten);
        };
        if outcomes.iter().all(|o| *o == Outcome::Failed) {
            return Some(Anomaly::FailedWriteObserved);
        }
        // A value one acknowledged write wrote, read back at a later
        // revision than that write's: it was applied again.
        if let [Outcome::Ok(rev)] = outcomes.as_slice()
            && kv.mod_revision > *rev
            && !self.kept.contains(&kv.key)
        {
            return Some(Anomaly::DoubleWrite);
        }
        None
    }
}

/// Whether an answered request made a new revision: a Put, a DeleteRange
/// that deleted something, or a Txn whose taken branch did either (a Txn
/// that only read, or a delete of nothing, is answered at the revision the
/// member had, like a read).
fn wrote(request: &Request, response: &Response) -> bool {
    fn txn_wrote(responses: &[TxnOpResponse]) -> bool {
        responses.iter().any(|r| match r {
            TxnOpResponse::Range(_) => false,
            TxnOpResponse::Put(_) => true,
            TxnOpResponse::DeleteRange(d) => d.deleted > 0,
            TxnOpResponse::Txn(t) => txn_wrote(&t.responses),
        })
    }
    match (request, response) {
        (Request::Put(_), _) => true,
        (Request::DeleteRange(_), Response::DeleteRange(d)) => d.deleted > 0,
        (Request::Txn(_), Response::Txn(t)) => txn_wrote(&t.responses),
        _ => false,
    }
}

/// Every (key, value) a request may write (both branches of a Txn; a put
/// that keeps the old value writes none).
fn puts_of<'a>(request: &'a Request, out: &mut Vec<(&'a str, &'a str)>) {
    fn from_ops<'a>(ops: &'a [TxnOp], out: &mut Vec<(&'a str, &'a str)>) {
        for op in ops {
            match op {
                TxnOp::Put(p) if !p.ignore_value => out.push((&p.key, &p.value)),
                TxnOp::Txn(t) => {
                    from_ops(&t.success, out);
                    from_ops(&t.failure, out);
                }
                _ => {}
            }
        }
    }
    match request {
        Request::Put(p) if !p.ignore_value => out.push((&p.key, &p.value)),
        Request::Txn(t) => {
            from_ops(&t.success, out);
            from_ops(&t.failure, out);
        }
        _ => {}
    }
}

/// The keys a request puts keeping their value (`ignore_value`).
fn kept_values_of(request: &Request, out: &mut HashSet<String>) {
    fn from_ops(ops: &[TxnOp], out: &mut HashSet<String>) {
        for op in ops {
            match op {
                TxnOp::Put(p) if p.ignore_value => {
                    out.insert(p.key.clone());
                }
                TxnOp::Txn(t) => {
                    from_ops(&t.success, out);
                    from_ops(&t.failure, out);
                }
                _ => {}
            }
        }
    }
    match request {
        Request::Put(p) if p.ignore_value => {
            out.insert(p.key.clone());
        }
        Request::Txn(t) => {
            from_ops(&t.success, out);
            from_ops(&t.failure, out);
        }
        _ => {}
    }
}

/// The range answers of an answered request (a Range, or a Txn's ranges).
fn reads_of<'a>(request: &Request, response: &'a Response, out: &mut Vec<&'a RangeResponse>) {
    fn from_txn<'a>(responses: &'a [TxnOpResponse], out: &mut Vec<&'a RangeResponse>) {
        for r in responses {
            match r {
                TxnOpResponse::Range(r) => out.push(r),
                TxnOpResponse::Txn(t) => from_txn(&t.responses, out),
                _ => {}
            }
        }
    }
    match (request, response) {
        (Request::Range(q), Response::Range(r)) if !q.keys_only && !q.count_only => out.push(r),
        (Request::Txn(_), Response::Txn(t)) => from_txn(&t.responses, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{PutRequest, PutResponse, RangeRequest};

    fn put(id: u64, call: u64, ret: u64, key: &str, value: &str, rev: Option<i64>) -> Operation {
        Operation {
            id,
            client: id,
            call,
            ret: Some(ret),
            request: Request::Put(PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            }),
            result: match rev {
                Some(rev) => OpResult::Ok(Response::Put(PutResponse {
                    header_revision: rev,
                    prev_kv: None,
                })),
                None => OpResult::Fail(crate::history::EtcdError::Other("no leader".into())),
            },
            k8s: None,
        }
    }

    fn get(id: u64, call: u64, key: &str, value: &str, mod_rev: i64, header: i64) -> Operation {
        Operation {
            id,
            client: id,
            call,
            ret: Some(call + 1),
            request: Request::Range(RangeRequest {
                key: key.into(),
                ..Default::default()
            }),
            result: OpResult::Ok(Response::Range(RangeResponse {
                header_revision: header,
                kvs: vec![KeyValue {
                    key: key.into(),
                    value: value.into(),
                    create_revision: 2,
                    mod_revision: mod_rev,
                    version: 1,
                    lease: 0,
                    ttl: 0,
                }],
                more: false,
                count: 1,
            })),
            k8s: None,
        }
    }

    fn class_of(ops: Vec<Operation>, named: &[u64]) -> Anomaly {
        let history = History {
            operations: ops,
            ..Default::default()
        };
        classify(&history, named)
    }

    #[test]
    fn a_read_below_an_acknowledged_write_is_stale() {
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 20, 30, "a", "2", Some(3)),
            get(3, 40, "a", "1", 2, 2),
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::StaleRead);
    }

    #[test]
    fn values_judged_by_who_wrote_them() {
        let never = vec![put(1, 0, 10, "a", "1", Some(2)), get(2, 20, "a", "9", 2, 2)];
        assert_eq!(class_of(never, &[2]), Anomaly::ValueNeverWritten);
        let failed = vec![put(1, 0, 10, "a", "1", None), get(2, 20, "a", "1", 2, 2)];
        assert_eq!(class_of(failed, &[2]), Anomaly::FailedWriteObserved);
        let twice = vec![put(1, 0, 10, "a", "1", Some(2)), get(2, 20, "a", "1", 3, 3)];
        assert_eq!(class_of(twice, &[2]), Anomaly::DoubleWrite);
        // A put keeping the value (ignore_value) rightly shows it again at
        // a later revision: that is no double write.
        let mut keep = put(3, 12, 14, "a", "", Some(3));
        if let Request::Put(p) = &mut keep.request {
            p.ignore_value = true;
        }
        let kept = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            keep,
            get(2, 20, "a", "1", 3, 3),
        ];
        assert_ne!(class_of(kept, &[2]), Anomaly::DoubleWrite);
    }

    #[test]
    fn the_most_telling_wrong_value_wins() {
        let mut read = get(3, 20, "a", "1", 3, 3);
        if let OpResult::Ok(Response::Range(r)) = &mut read.result {
            r.kvs.push(KeyValue {
                key: "b".into(),
                value: "2".into(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                lease: 0,
                ttl: 0,
            });
        }
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 0, 10, "b", "2", None),
            read,
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::FailedWriteObserved);
    }

    #[test]
    fn a_revision_given_out_twice_loses_a_write_or_goes_backwards() {
        let reissued = || {
            vec![
                put(1, 0, 10, "a", "1", Some(5)),
                put(2, 20, 30, "b", "2", Some(4)),
            ]
        };
        assert_eq!(class_of(reissued(), &[2]), Anomaly::LostWrite);
        // The first write's value is still read afterwards: not lost.
        let mut ops = reissued();
        ops.push(get(3, 40, "a", "1", 5, 5));
        assert_eq!(class_of(ops, &[2]), Anomaly::RevisionBackwards);
    }

    #[test]
    fn a_read_at_a_later_revision_without_the_write_lost_it() {
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 20, 30, "a", "2", Some(3)),
            get(3, 40, "a", "1", 2, 3),
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::LostWrite);
    }

    #[test]
    fn a_missed_write_another_read_saw_makes_a_stale_read() {
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 20, 30, "a", "2", Some(3)),
            get(3, 40, "a", "1", 2, 3),
            get(4, 50, "a", "2", 3, 3),
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::StaleRead);
        // Seen only before the read that misses it: lost (a crash took it).
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 20, 30, "a", "2", Some(3)),
            get(4, 35, "a", "2", 3, 3),
            get(3, 40, "a", "1", 2, 3),
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::LostWrite);
    }

    #[test]
    fn a_count_below_an_acknowledged_write_is_stale_too() {
        let mut count = get(3, 40, "a", "1", 2, 2);
        if let Request::Range(r) = &mut count.request {
            r.count_only = true;
        }
        if let OpResult::Ok(Response::Range(r)) = &mut count.result {
            r.kvs.clear();
        }
        let ops = vec![
            put(1, 0, 10, "a", "1", Some(2)),
            put(2, 20, 30, "a", "2", Some(3)),
            count,
        ];
        assert_eq!(class_of(ops, &[3]), Anomaly::StaleRead);
    }

    #[test]
    fn nothing_found_falls_back() {
        let ops = vec![put(1, 0, 10, "a", "1", Some(2)), get(2, 20, "a", "1", 2, 2)];
        assert_eq!(class_of(ops, &[2]), Anomaly::NotLinearizable);
    }
}
