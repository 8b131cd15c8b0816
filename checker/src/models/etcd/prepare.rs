//! A history made ready for the engine: the client requests (serializable
//! reads left out, failures that certainly changed nothing and say nothing
//! dropped) and the steps the store takes on its own: one possible expiry
//! per granted lease and per put with a TTL.

use super::fast_hash::{FastMap as HashMap, FastSet as HashSet};

use super::analysis::{Analysis, for_each_put};
use super::pinned::PinnedReads;
use super::removals::Removals;
use super::slots::Slots;
use super::{EtcdInput, EtcdModel, EtcdOp, EtcdOutput};
use crate::history::{History, OpResult, Operation, Request, Response};
use crate::linearizable::{Op, Outcome};

/// A history made ready for the engine (borrowing it: nothing is copied).
#[derive(Debug, Clone)]
pub struct PreparedHistory<'h> {
    pub model: EtcdModel<'h>,
    pub ops: Vec<EtcdOp<'h>>,
    /// Engine operations from this index on are lease and key expiries, not
    /// client operations.
    pub first_synthetic: usize,
    /// Serializable reads, checked separately against the linearized history.
    pub skipped_serializable: usize,
}

impl PreparedHistory<'_> {
    pub fn is_synthetic(&self, index: usize) -> bool {
        index >= self.first_synthetic
    }
}

pub fn prepare(history: &History) -> PreparedHistory<'_> {
    let analysis = Analysis::of(history);
    let mut ops = Vec::with_capacity(history.operations.len());
    let mut skipped_serializable = 0;
    let mut own = OwnSteps::default();
    for op in &history.operations {
        if op.request.is_serializable_read() {
            skipped_serializable += 1;
            continue;
        }
        let outcome = match &op.result {
            OpResult::Ok(resp) => Outcome::Ok(Ok(resp)),
            OpResult::Fail(e) if e.is_informative() => Outcome::Ok(Err(e)),
            OpResult::Fail(_) => continue,
            OpResult::Unknown(_) => Outcome::Unknown,
        };
        own.note(op, &outcome);
        ops.push(Op {
            id: op.id,
            client: op.client,
            call: op.call,
            ret: op.ret,
            input: EtcdInput::Request(&op.request),
            outcome,
        });
    }
    let first_synthetic = ops.len();
    let first_free = history.operations.iter().map(|o| o.id).max().unwrap_or(0) + 1;
    let expirable = own.grants.iter().map(|g| g.lease).collect::<HashSet<_>>();
    let mut expected_times = HashMap::default();
    for (id, step) in (first_free..).zip(own.steps()) {
        expected_times.insert(id, step.expected);
        ops.push(Op {
            id,
            client: u64::MAX,
            call: step.call,
            ret: None,
            input: step.input,
            outcome: Outcome::Unknown,
        });
    }
    PreparedHistory {
        model: EtcdModel {
            removals: Removals::of(history, &analysis),
            slots: Slots::of(history, &analysis),
            pinned: PinnedReads::of(history),
            analysis,
            expected_times,
            expirable,
            literal: false,
            heed_watches: false,
            recorded: history.recorded,
        },
        ops,
        first_synthetic,
        skipped_serializable,
    }
}

/// A step the store may take on its own: possible from `call` on, most
/// likely around `expected`.
struct OwnStep<'h> {
    input: EtcdInput<'h>,
    call: u64,
    expected: u64,
}

struct Grant {
    lease: i64,
    call: u64,
    answered: u64,
    ttl: i64,
}

struct TtlPut<'h> {
    key: &'h str,
    call: u64,
    answered: u64,
    ttl: i64,
}

/// What the client requests say about the store's own steps.
#[derive(Default)]
struct OwnSteps<'h> {
    grants: Vec<Grant>,
    ttl_puts: Vec<TtlPut<'h>>,
    /// Per lease, when a keep-alive last answered that it was alive.
    renewed: HashMap<i64, u64>,
}

impl<'h> OwnSteps<'h> {
    fn note(&mut self, op: &'h Operation, outcome: &Outcome<EtcdOutput<'h>>) {
        let answered = op.ret.unwrap_or(op.call);
        let response = match outcome {
            Outcome::Ok(Ok(resp)) => Some(*resp),
            Outcome::Ok(Err(_)) => return,
            Outcome::Unknown => None,
        };
        match (&op.request, response) {
            (Request::LeaseGrant { id, ttl }, _) => {
                let lease = match response {
                    _ if *id != 0 => *id,
                    Some(Response::LeaseGrant(g)) => g.id,
                    _ => return,
                };
                self.grants.push(Grant {
                    lease,
                    call: op.call,
                    answered,
                    ttl: *ttl,
                });
            }
            (Request::LeaseKeepAlive { id }, Some(Response::LeaseKeepAlive(_))) => {
                let last = self.renewed.entry(*id).or_default();
                *last = (*last).max(answered);
            }
            (req, response) => for_each_put(req, response, &mut |p| {
                if p.ttl > 0 {
                    self.ttl_puts.push(TtlPut {
                        key: &p.key,
                        call: op.call,
                        answered,
                        ttl: p.ttl,
                    });
                }
            }),
        }
    }

    /// Lease expiries, then key expiries numbered per key in call order.
    fn steps(mut self) -> Vec<OwnStep<'h>> {
        let mut steps: Vec<OwnStep<'h>> = self
            .grants
            .iter()
            .map(|g| {
                let renewed = self.renewed.get(&g.lease).copied().unwrap_or(0);
                OwnStep {
                    input: EtcdInput::LeaseExpiry { lease: g.lease },
                    call: g.call,
                    expected: g.answered.max(renewed).saturating_add(seconds(g.ttl)),
                }
            })
            .collect();
        self.ttl_puts.sort_by_key(|p| (p.key, p.call));
        let mut nth = 0;
        for (i, p) in self.ttl_puts.iter().enumerate() {
            let same_key = i > 0 && self.ttl_puts[i - 1].key == p.key;
            nth = if same_key { nth + 1 } else { 0 };
            steps.push(OwnStep {
                input: EtcdInput::KeyExpiry { key: p.key, nth },
                call: p.call,
                expected: p.answered.saturating_add(seconds(p.ttl)),
            });
        }
        steps
    }
}

/// A TTL in seconds as history time (nanoseconds).
fn seconds(ttl: i64) -> u64 {
    u64::try_from(ttl)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
}
