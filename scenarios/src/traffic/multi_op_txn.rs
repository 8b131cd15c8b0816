//! The etcd profile's multi-op Txn, drawn as a client fuzzing etcd's KV API
//! would draw it.
//!
//! The bulk is etcd's robustness `multiOpTxn` (tests/robustness/traffic,
//! `pickMultiTxnOps`): four operations on four different keys, each a
//! range (40 %), a put (50 %) or a delete (10 %), at least one of them a
//! put. What faultline adds to it, each at a stated share:
//!
//! - a range may read at a revision around the last one the client saw
//!   (past, compacted or up to two ahead: half the ranges), so the whole
//!   Txn may be refused for a compacted or future revision (added for
//!   etcd-18667);
//! - the key argument of a range or a delete is the key alone (80 %), the
//!   profile's prefix, every key of the profile (10 %), or every key from
//!   the drawn key on, to the end of the keyspace (range end "\0", etcd's
//!   `WithFromKey`: 10 %);
//! - a put is plain (88 %), attached to the client's lease (4 %; plain when
//!   it holds none), or keeps the key's lease (`ignore_lease`, 4 %) or its
//!   value (`ignore_value`, 4 %), with no lease or value given, as etcd's
//!   request checks demand.
//!
//! These were added while working on etcd-22376 and etcd-22445, whose Txn
//! needs a from-key delete and a put in its range. Such a Txn (or a prefix
//! delete with any put) is refused by the correct store as a duplicate key,
//! as the open etcd PR 22395 proposes, and a put that keeps the value or
//! lease of a key that does not exist is refused with "key not found":
//! both definite refusals, after which the client re-lists and goes on.

use super::requests::{FROM_KEY, Read, delete_range_op, put};
use super::weighted;
use node::wire::api::RequestOp;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Operations per Txn (etcd's `MultiOpTxnOpCount`); fewer when the profile
/// has fewer keys, since every operation names a different key.
pub const OPS_PER_TXN: usize = 4;

/// What one operation of the Txn does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Range,
    Put,
    Delete,
}

/// etcd's `pickOperationType`: delete 10, range 40, put 50 (of 100).
pub const KINDS: [(Kind, u32); 3] = [(Kind::Range, 40), (Kind::Put, 50), (Kind::Delete, 10)];

/// The keys a range or a delete names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The drawn key alone (etcd's only choice).
    Key,
    /// Every key of the profile (its prefix).
    Prefix,
    /// Every key from the drawn key on (range end "\0").
    FromKey,
}

/// faultline's shares of a range's or a delete's key argument.
pub const SPANS: [(Span, u32); 3] = [(Span::Key, 80), (Span::Prefix, 10), (Span::FromKey, 10)];

/// How a put treats the key's lease and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOption {
    /// A new value, no lease (etcd's only choice).
    Plain,
    /// A new value attached to the client's lease.
    Lease,
    /// A new value, keeping the key's lease (`ignore_lease`).
    KeepLease,
    /// The key's value kept, its lease dropped (`ignore_value`).
    KeepValue,
}

/// faultline's shares of a put's options.
pub const PUT_OPTIONS: [(PutOption, u32); 4] = [
    (PutOption::Plain, 88),
    (PutOption::Lease, 4),
    (PutOption::KeepLease, 4),
    (PutOption::KeepValue, 4),
];

/// faultline's share of ranges read at a revision around the last one seen.
pub const RANGE_AT_REVISION: f64 = 0.5;

/// One drawn operation, by the index of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// `revision` 0: the latest.
    Range {
        key: usize,
        span: Span,
        revision: i64,
    },
    Put {
        key: usize,
        option: PutOption,
    },
    Delete {
        key: usize,
        span: Span,
    },
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, choices: &[(T, u32)]) -> T {
    let weights: Vec<u32> = choices.iter().map(|(_, w)| *w).collect();
    choices[weighted(rng, &weights)].0
}

/// Draws a Txn's operations over `keys` keys; `last_rev` is the newest
/// revision the client has seen.
pub fn draw(rng: &mut ChaCha8Rng, keys: usize, last_rev: i64) -> Vec<Planned> {
    let mut order: Vec<usize> = (0..keys.max(1)).collect();
    order.shuffle(rng);
    order.truncate(OPS_PER_TXN);
    let mut kinds: Vec<Kind> = order.iter().map(|_| pick(rng, &KINDS)).collect();
    // As etcd: at least one put, so every Txn writes something its own.
    if !kinds.contains(&Kind::Put) {
        kinds[0] = Kind::Put;
    }
    let mut plan = Vec::with_capacity(order.len());
    for (key, kind) in order.into_iter().zip(kinds) {
        plan.push(match kind {
            Kind::Range => {
                let span = pick(rng, &SPANS);
                let revision = if rng.gen_bool(RANGE_AT_REVISION) {
                    (last_rev + rng.gen_range(-8..=2)).max(1)
                } else {
                    0
                };
                Planned::Range {
                    key,
                    span,
                    revision,
                }
            }
            Kind::Put => Planned::Put {
                key,
                option: pick(rng, &PUT_OPTIONS),
            },
            Kind::Delete => Planned::Delete {
                key,
                span: pick(rng, &SPANS),
            },
        });
    }
    plan
}

/// The keys the requests name: the profile's keys by index, and the
/// range holding all of them.
pub struct Keys<'a> {
    pub key: &'a dyn Fn(usize) -> String,
    /// `[start, end)` holding every key of the profile.
    pub prefix: (Vec<u8>, Vec<u8>),
}

impl Keys<'_> {
    fn span(&self, key: usize, span: Span) -> (Vec<u8>, Vec<u8>) {
        match span {
            Span::Key => ((self.key)(key).into_bytes(), Vec::new()),
            Span::Prefix => self.prefix.clone(),
            Span::FromKey => ((self.key)(key).into_bytes(), FROM_KEY.to_vec()),
        }
    }
}

/// The Txn's operations as requests, in the drawn order.
pub fn requests(
    plan: &[Planned],
    keys: &Keys<'_>,
    lease: Option<i64>,
    mut value: impl FnMut() -> Vec<u8>,
) -> Vec<RequestOp> {
    plan.iter()
        .map(|op| match *op {
            Planned::Range {
                key,
                span,
                revision,
            } => {
                let (start, end) = keys.span(key, span);
                Read::range(start, end).at(revision).op()
            }
            Planned::Put { key, option } => {
                let key = (keys.key)(key);
                match (option, lease) {
                    (PutOption::KeepValue, _) => put(key, Vec::new()).keep_value(),
                    (PutOption::KeepLease, _) => put(key, value()).keep_lease(),
                    (PutOption::Lease, Some(id)) => put(key, value()).lease(id),
                    (PutOption::Lease, None) | (PutOption::Plain, _) => put(key, value()),
                }
                .op()
            }
            Planned::Delete { key, span } => {
                let (start, end) = keys.span(key, span);
                delete_range_op(start, end)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use node::wire::api::request_op::Request;
    use rand::SeedableRng;

    fn key(i: usize) -> String {
        format!("key{i}")
    }

    fn keys() -> Keys<'static> {
        Keys {
            key: &key,
            prefix: (b"key".to_vec(), b"kez".to_vec()),
        }
    }

    fn count(plans: &[Vec<Planned>], pred: impl Fn(&Planned) -> bool) -> f64 {
        let all = plans.iter().flatten().count() as f64;
        plans.iter().flatten().filter(|p| pred(p)).count() as f64 / all
    }

    #[test]
    fn four_different_keys_and_at_least_one_put() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let plan = draw(&mut rng, 10, 50);
            assert_eq!(plan.len(), OPS_PER_TXN);
            let mut named: Vec<usize> = plan
                .iter()
                .map(|p| match *p {
                    Planned::Range { key, .. }
                    | Planned::Put { key, .. }
                    | Planned::Delete { key, .. } => key,
                })
                .collect();
            named.sort();
            named.dedup();
            assert_eq!(named.len(), OPS_PER_TXN, "{plan:?}");
            assert!(plan.iter().any(|p| matches!(p, Planned::Put { .. })));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert_eq!(draw(&mut rng, 2, 5).len(), 2, "no more ops than keys");
        assert!(matches!(draw(&mut rng, 1, 5)[..], [Planned::Put { .. }]));
    }

    #[test]
    fn the_shares_are_the_stated_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let plans: Vec<Vec<Planned>> = (0..20_000).map(|_| draw(&mut rng, 10, 50)).collect();
        let near = |x: f64, want: f64| (x - want).abs() < 0.01;
        // etcd's kinds, the put share raised a little by "at least one put"
        // (0.5^4 of the Txns have none and turn their first op into a put).
        let puts = count(&plans, |p| matches!(p, Planned::Put { .. }));
        assert!(near(puts, 0.50 + 0.5f64.powi(4) / 4.0), "{puts}");
        let deletes = count(&plans, |p| matches!(p, Planned::Delete { .. }));
        assert!(
            near(deletes, 0.10 * (1.0 - 0.5f64.powi(4) / 4.0)),
            "{deletes}"
        );
        let from_key_deletes = count(&plans, |p| {
            matches!(
                p,
                Planned::Delete {
                    span: Span::FromKey,
                    ..
                }
            )
        });
        assert!(near(from_key_deletes / deletes, 0.10), "{from_key_deletes}");
        let keep_value = count(&plans, |p| {
            matches!(
                p,
                Planned::Put {
                    option: PutOption::KeepValue,
                    ..
                }
            )
        });
        assert!(near(keep_value / puts, 0.04), "{keep_value}");
        let at_revision = count(
            &plans,
            |p| matches!(p, Planned::Range { revision, .. } if *revision != 0),
        );
        let ranges = count(&plans, |p| matches!(p, Planned::Range { .. }));
        assert!(
            near(at_revision / ranges, RANGE_AT_REVISION),
            "{at_revision}"
        );
    }

    #[test]
    fn each_plan_becomes_the_request_it_names() {
        let plan = [
            Planned::Delete {
                key: 3,
                span: Span::FromKey,
            },
            Planned::Put {
                key: 5,
                option: PutOption::KeepValue,
            },
            Planned::Put {
                key: 6,
                option: PutOption::KeepLease,
            },
            Planned::Range {
                key: 1,
                span: Span::Prefix,
                revision: 7,
            },
            Planned::Put {
                key: 2,
                option: PutOption::Lease,
            },
        ];
        let mut n = 0;
        let ops = requests(&plan, &keys(), Some(9), || {
            n += 1;
            format!("v{n}").into_bytes()
        });
        let Some(Request::DeleteRange(d)) = &ops[0].request else {
            panic!("a delete")
        };
        assert_eq!((&d.key[..], &d.range_end[..]), (&b"key3"[..], FROM_KEY));
        let Some(Request::Put(p)) = &ops[1].request else {
            panic!("a put")
        };
        // etcd refuses ignore_value with a value and ignore_lease with a lease.
        assert!(p.ignore_value && p.value.is_empty() && !p.ignore_lease);
        let Some(Request::Put(p)) = &ops[2].request else {
            panic!("a put")
        };
        assert!(p.ignore_lease && p.lease == 0 && p.value == b"v1");
        let Some(Request::Range(r)) = &ops[3].request else {
            panic!("a range")
        };
        assert_eq!(
            (&r.key[..], &r.range_end[..], r.revision),
            (&b"key"[..], &b"kez"[..], 7)
        );
        let Some(Request::Put(p)) = &ops[4].request else {
            panic!("a put")
        };
        assert_eq!((p.lease, &p.value[..]), (9, &b"v2"[..]));
        // Without a lease held, a lease put is a plain one.
        let ops = requests(&plan[4..], &keys(), None, || b"v".to_vec());
        let Some(Request::Put(p)) = &ops[0].request else {
            panic!("a put")
        };
        assert_eq!(p.lease, 0);
    }
}
