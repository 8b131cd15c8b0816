//! Field-by-field comparison of two answers to the same step.
//!
//! Every difference is reported with its field path; the ones that are
//! differences by design are matched to a named [`Exclusion`] and counted
//! apart, never dropped silently.

use crate::answer::{Answer, Body, Kv, Reply, WatchLog};
use crate::exclusions::{Exclusion, matching};
use crate::step::{Kind, Range, SortTarget, Step, TxnOp};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// One field on which the two answers differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Where, e.g. `responses[1].kvs[0].mod_revision`.
    pub field: String,
    /// The simulated store's value.
    pub ours: String,
    /// Real etcd's value.
    pub theirs: String,
    /// The exclusion this difference falls under, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

/// How the two answers to one step compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: Kind,
    pub differences: Vec<Difference>,
}

impl Verdict {
    /// The answers agree on every field no exclusion (by design or open)
    /// covers.
    pub fn agrees(&self) -> bool {
        self.differences.iter().all(|d| d.excluded.is_some())
    }

    /// The exclusions that made this step agree.
    pub fn exclusions(&self) -> impl Iterator<Item = &str> {
        self.differences
            .iter()
            .filter_map(|d| d.excluded.as_deref())
    }
}

/// Compares the simulated store's answer with real etcd's.
pub fn compare(step: &Step, ours: &Answer, theirs: &Answer) -> Verdict {
    let mut walk = Walk {
        kind: step.kind(),
        answers: (ours, theirs),
        out: Vec::new(),
    };
    walk.answer(step, ours, theirs);
    Verdict {
        kind: step.kind(),
        differences: walk.out,
    }
}

struct Walk<'a> {
    kind: Kind,
    /// The two whole answers, for exclusions that judge them together.
    answers: (&'a Answer, &'a Answer),
    out: Vec<Difference>,
}

impl Walk<'_> {
    fn field<T: PartialEq + Debug>(&mut self, path: &str, ours: &T, theirs: &T) {
        if ours == theirs {
            return;
        }
        let excluded: Option<&Exclusion> = matching(self.kind, path, &|e| {
            e.tolerates(&format!("{ours:?}"), &format!("{theirs:?}"), self.answers)
        });
        self.out.push(Difference {
            field: path.to_string(),
            ours: format!("{ours:?}"),
            theirs: format!("{theirs:?}"),
            excluded: excluded.map(|e| e.name.to_string()),
        });
    }

    fn answer(&mut self, step: &Step, ours: &Answer, theirs: &Answer) {
        match (ours, theirs) {
            (Answer::Ok(a), Answer::Ok(b)) => self.reply("", Shape::of(step), a, b),
            (
                Answer::Error { code, message },
                Answer::Error {
                    code: their_code,
                    message: their_message,
                },
            ) => {
                self.field("error.code", code, their_code);
                self.field("error.message", message, their_message);
            }
            (a, b) => self.field("outcome", &outcome(a), &outcome(b)),
        }
    }

    fn reply(&mut self, at: &str, shape: Shape<'_>, a: &Reply, b: &Reply) {
        self.field(&format!("{at}revision"), &a.revision, &b.revision);
        self.body(at, shape, &a.body, &b.body);
    }

    fn body(&mut self, at: &str, shape: Shape<'_>, a: &Body, b: &Body) {
        let p = |f: &str| format!("{at}{f}");
        match (a, b) {
            (
                Body::Range { kvs, more, count },
                Body::Range {
                    kvs: kvs2,
                    more: more2,
                    count: count2,
                },
            ) => {
                let target = match shape {
                    Shape::Range(r) => r.sort_target,
                    _ => SortTarget::Key,
                };
                self.kvs(
                    &p("kvs"),
                    &ties_by_key(kvs, target),
                    &ties_by_key(kvs2, target),
                );
                self.field(&p("more"), more, more2);
                self.field(&p("count"), count, count2);
            }
            (Body::Put { prev_kv }, Body::Put { prev_kv: prev2 }) => {
                self.opt_kv(&p("prev_kv"), prev_kv, prev2)
            }
            (
                Body::Delete { deleted, prev_kvs },
                Body::Delete {
                    deleted: deleted2,
                    prev_kvs: prev2,
                },
            ) => {
                self.field(&p("deleted"), deleted, deleted2);
                self.kvs(&p("prev_kvs"), prev_kvs, prev2);
            }
            (
                Body::Txn {
                    succeeded,
                    responses,
                },
                Body::Txn {
                    succeeded: succeeded2,
                    responses: responses2,
                },
            ) => {
                self.field(&p("succeeded"), succeeded, succeeded2);
                self.field(&p("responses.len"), &responses.len(), &responses2.len());
                if succeeded != succeeded2 {
                    return;
                }
                let ops: &[TxnOp] = match shape {
                    Shape::Txn(t) if *succeeded => &t.success,
                    Shape::Txn(t) => &t.failure,
                    _ => &[],
                };
                for (i, (x, y)) in responses.iter().zip(responses2).enumerate() {
                    let shape = ops.get(i).map(Shape::of_op).unwrap_or(Shape::Other);
                    self.reply(&format!("{at}responses[{i}]."), shape, x, y);
                }
            }
            (Body::LeaseGrant { id, ttl }, Body::LeaseGrant { id: id2, ttl: ttl2 })
            | (Body::LeaseKeepAlive { id, ttl }, Body::LeaseKeepAlive { id: id2, ttl: ttl2 }) => {
                self.field(&p("id"), id, id2);
                self.field(&p("ttl"), ttl, ttl2);
            }
            (
                Body::LeaseTimeToLive {
                    id,
                    ttl,
                    granted_ttl,
                    keys,
                },
                Body::LeaseTimeToLive {
                    id: id2,
                    ttl: ttl2,
                    granted_ttl: granted2,
                    keys: keys2,
                },
            ) => {
                self.field(&p("id"), id, id2);
                self.field(&p("ttl"), ttl, ttl2);
                self.field(&p("granted_ttl"), granted_ttl, granted2);
                self.field(&p("keys"), &sorted(keys), &sorted(keys2));
            }
            (Body::LeaseLeases { leases }, Body::LeaseLeases { leases: leases2 }) => {
                self.field(&p("leases"), leases, leases2)
            }
            (
                Body::Status {
                    version,
                    db_size,
                    raft_index,
                    raft_term,
                    is_learner,
                    errors,
                },
                Body::Status {
                    version: version2,
                    db_size: db_size2,
                    raft_index: raft_index2,
                    raft_term: raft_term2,
                    is_learner: is_learner2,
                    errors: errors2,
                },
            ) => {
                self.field(&p("version"), version, version2);
                self.field(&p("db_size"), db_size, db_size2);
                self.field(&p("raft_index"), raft_index, raft_index2);
                self.field(&p("raft_term"), raft_term, raft_term2);
                self.field(&p("is_learner"), is_learner, is_learner2);
                self.field(&p("errors"), errors, errors2);
            }
            (
                Body::HashKv {
                    hash,
                    compact_revision,
                    hash_revision,
                },
                Body::HashKv {
                    hash: hash2,
                    compact_revision: compact2,
                    hash_revision: hash_revision2,
                },
            ) => {
                self.field(&p("hash"), hash, hash2);
                self.field(&p("compact_revision"), compact_revision, compact2);
                self.field(&p("hash_revision"), hash_revision, hash_revision2);
            }
            (
                Body::WatchCreated {
                    canceled,
                    cancel_reason,
                },
                Body::WatchCreated {
                    canceled: canceled2,
                    cancel_reason: reason2,
                },
            ) => {
                self.field(&p("canceled"), canceled, canceled2);
                self.field(&p("cancel_reason"), cancel_reason, reason2);
            }
            (
                Body::WatchStream { progress, watches },
                Body::WatchStream {
                    progress: progress2,
                    watches: watches2,
                },
            ) => {
                self.field(&p("progress"), progress, progress2);
                self.field(&p("watches"), &watched(watches), &watched(watches2));
                for w in watches {
                    if let Some(w2) = watches2.iter().find(|x| x.watch == w.watch) {
                        self.watch_log(&p(&format!("watch[{}]", w.watch)), w, w2);
                    }
                }
            }
            (Body::Compact, Body::Compact) | (Body::LeaseRevoke, Body::LeaseRevoke) => {}
            _ => self.field(&p("body"), a, b),
        }
    }

    fn watch_log(&mut self, path: &str, a: &WatchLog, b: &WatchLog) {
        self.field(
            &format!("{path}.events.len"),
            &a.events.len(),
            &b.events.len(),
        );
        for (i, (x, y)) in a.events.iter().zip(&b.events).enumerate() {
            let at = format!("{path}.events[{i}]");
            self.field(&format!("{at}.kind"), &x.kind, &y.kind);
            self.kv(&format!("{at}.kv"), &x.kv, &y.kv);
            self.opt_kv(&format!("{at}.prev_kv"), &x.prev_kv, &y.prev_kv);
        }
        self.field(&format!("{path}.progress"), &a.progress, &b.progress);
        self.field(&format!("{path}.canceled"), &a.canceled, &b.canceled);
        self.field(
            &format!("{path}.compact_revision"),
            &a.compact_revision,
            &b.compact_revision,
        );
        self.field(
            &format!("{path}.cancel_reason"),
            &a.cancel_reason,
            &b.cancel_reason,
        );
    }

    fn opt_kv(&mut self, path: &str, a: &Option<Kv>, b: &Option<Kv>) {
        match (a, b) {
            (Some(x), Some(y)) => self.kv(path, x, y),
            _ => self.field(path, a, b),
        }
    }

    fn kvs(&mut self, path: &str, a: &[Kv], b: &[Kv]) {
        self.field(&format!("{path}.len"), &a.len(), &b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            self.kv(&format!("{path}[{i}]"), x, y);
        }
    }

    fn kv(&mut self, path: &str, a: &Kv, b: &Kv) {
        self.field(&format!("{path}.key"), &a.key, &b.key);
        self.field(&format!("{path}.value"), &a.value, &b.value);
        self.field(
            &format!("{path}.create_revision"),
            &a.create_revision,
            &b.create_revision,
        );
        self.field(
            &format!("{path}.mod_revision"),
            &a.mod_revision,
            &b.mod_revision,
        );
        self.field(&format!("{path}.version"), &a.version, &b.version);
        self.field(&format!("{path}.lease"), &a.lease, &b.lease);
    }
}

/// Which watches a stream answer has something for.
fn watched(logs: &[WatchLog]) -> Vec<usize> {
    logs.iter().map(|w| w.watch).collect()
}

/// What a reply answers, as far as comparing it needs.
#[derive(Clone, Copy)]
enum Shape<'a> {
    Range(&'a Range),
    Txn(&'a crate::step::Txn),
    Other,
}

impl<'a> Shape<'a> {
    fn of(step: &'a Step) -> Self {
        match step {
            Step::Range(r) => Shape::Range(r),
            Step::Txn(t) => Shape::Txn(t),
            _ => Shape::Other,
        }
    }

    fn of_op(op: &'a TxnOp) -> Self {
        match op {
            TxnOp::Range(r) => Shape::Range(r),
            TxnOp::Txn(t) => Shape::Txn(t),
            _ => Shape::Other,
        }
    }
}

/// Lease keys in etcd's answer come in map order.
fn sorted(keys: &[String]) -> Vec<String> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys
}

fn outcome(a: &Answer) -> String {
    match a {
        Answer::Ok(_) => "ok".into(),
        Answer::Error { code, message } => format!("error {code:?}: {message}"),
    }
}

/// Orders keys whose sort values are equal by key: etcd's unstable sort
/// leaves their order undefined (the generator never cuts such a result
/// with a limit, so the set is the same).
fn ties_by_key(kvs: &[Kv], target: SortTarget) -> Vec<Kv> {
    let value = |kv: &Kv| -> (i64, String) {
        match target {
            SortTarget::Key => (0, kv.key.clone()),
            SortTarget::Version => (kv.version, String::new()),
            SortTarget::Create => (kv.create_revision, String::new()),
            SortTarget::Mod => (kv.mod_revision, String::new()),
            SortTarget::Value => (0, kv.value.clone()),
        }
    };
    let mut out: Vec<Kv> = Vec::with_capacity(kvs.len());
    let mut start = 0;
    for i in 1..=kvs.len() {
        if i == kvs.len() || value(&kvs[i]) != value(&kvs[start]) {
            let mut run = kvs[start..i].to_vec();
            run.sort_by(|x, y| x.key.cmp(&y.key));
            out.extend(run);
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Code;
    use crate::step::{Put, Rev};

    fn kv(key: &str, version: i64) -> Kv {
        Kv {
            key: key.into(),
            create_revision: 1,
            mod_revision: version,
            version,
            value: "v".into(),
            lease: 0,
        }
    }

    fn range_step(target: SortTarget) -> Step {
        Step::Range(Range {
            key: "a".into(),
            range_end: "\0".into(),
            limit: 0,
            revision: Rev::Zero,
            serializable: false,
            keys_only: false,
            count_only: false,
            sort_order: crate::step::SortOrder::Ascend,
            sort_target: target,
            min_mod_revision: 0,
            max_mod_revision: 0,
            min_create_revision: 0,
            max_create_revision: 0,
        })
    }

    fn range(kvs: Vec<Kv>) -> Answer {
        Answer::Ok(Reply {
            revision: 5,
            body: Body::Range {
                count: kvs.len() as i64,
                kvs,
                more: false,
            },
        })
    }

    #[test]
    fn equal_answers_agree() {
        let a = range(vec![kv("a", 1), kv("b", 2)]);
        assert!(compare(&range_step(SortTarget::Key), &a, &a).agrees());
    }

    #[test]
    fn a_field_that_differs_is_named() {
        let a = range(vec![kv("a", 1)]);
        let b = range(vec![kv("a", 2)]);
        let v = compare(&range_step(SortTarget::Key), &a, &b);
        assert!(!v.agrees());
        let fields: Vec<&str> = v.differences.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["kvs[0].mod_revision", "kvs[0].version"]);
    }

    #[test]
    fn ties_of_a_sort_by_version_may_come_in_any_order() {
        let a = range(vec![kv("b", 1), kv("a", 1), kv("c", 2)]);
        let b = range(vec![kv("a", 1), kv("b", 1), kv("c", 2)]);
        assert!(compare(&range_step(SortTarget::Version), &a, &b).agrees());
        // Sorted by key, the order is the answer.
        assert!(!compare(&range_step(SortTarget::Key), &a, &b).agrees());
    }

    #[test]
    fn a_refusal_against_a_success_is_a_difference() {
        let step = Step::Put(Put {
            key: "a".into(),
            value: "v".into(),
            padding: Default::default(),
            lease: 0,
            prev_kv: false,
            ignore_value: false,
            ignore_lease: false,
        });
        let ok = Answer::Ok(Reply {
            revision: 2,
            body: Body::Put { prev_kv: None },
        });
        let refused = Answer::Error {
            code: Code::InvalidArgument,
            message: "etcdserver: too many operations in txn request".into(),
        };
        let v = compare(&step, &refused, &ok);
        assert!(!v.agrees());
        assert_eq!(v.differences[0].field, "outcome");
    }
}
