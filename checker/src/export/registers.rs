//! A faultline history read as operations on registers, one per key: what
//! Jepsen's keyed-register workload (`jepsen.independent`) and porcupine's kv
//! test data can hold of it.
//!
//! - a put (no lease, no per-key TTL, no ignore flags) writes its value;
//! - a delete of one key writes nothing (nil): the register of an absent key;
//! - a linearizable read of one key at the current revision (neither count-
//!   nor keys-only) with an answer reads the key's value, or nil;
//! - a txn comparing one key's value for equality whose success branch is
//!   one plain put of that key, and whose failure branch only reads, is a
//!   cas from the compared value to the put's (a compare that failed is a
//!   definite failure: nothing changed);
//! - compactions and lease grants change no key's value; keep-alives,
//!   time-to-lives, other reads, reads without an answer and operations
//!   that certainly changed nothing (a definite refusal; a txn that took a
//!   branch without writes) are left out and counted.
//!
//! Anything else that may have changed a value (a range delete, a put with a
//! lease that may expire, a revoke, a txn of another shape) cannot be held:
//! the caller refuses the export, naming it, as the etcd-robustness exporter
//! does. The registers say nothing of revisions: a read's mod revision and a
//! write's header revision are not kept, so checking the exported history is
//! weaker than the etcd model's check of the original, never stronger.

use std::collections::BTreeMap;

use crate::history::{
    CompareResult, CompareTarget, History, OpResult, Operation, PutRequest, RangeRequest, Request,
    Response, TxnOp, TxnRequest, describe,
};

/// What a register operation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A read that answered `value` (None: the key was absent).
    Read { value: Option<String> },
    /// A write of `value` (None: a delete).
    Write { value: Option<String> },
    /// Compare-and-set: `from` is what the key had to hold, `to` its new value.
    Cas { from: String, to: String },
}

/// How a register operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Ok,
    /// Certainly took no effect; why.
    Failed(String),
    /// May or may not have taken effect; why.
    Unknown(String),
}

/// One operation of the original history as a register operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOp {
    /// The original operation's id.
    pub id: u64,
    pub client: u64,
    pub call: u64,
    /// None: it never returned (its outcome is unknown).
    pub ret: Option<u64>,
    pub key: String,
    pub action: Action,
    pub ending: Ending,
}

/// An operation no register operation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unheld {
    /// It changed no value, or certainly nothing: left out, counted under this why.
    LeftOut(String),
    /// It may have changed a value: the export must stop, for this why.
    Refused(String),
}

/// A history as register operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// In the history's order.
    pub ops: Vec<RegisterOp>,
    /// What was left out, counted by why.
    pub left_out: BTreeMap<String, usize>,
}

/// An operation that may have changed a value and that no register
/// operation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: u64,
    /// The request, as `history::describe` prints it.
    pub request: String,
    pub why: String,
}

/// The register operations of `history`, or the first operation that cannot
/// be held.
pub fn project(history: &History) -> Result<Projection, Refusal> {
    let mut ops = Vec::new();
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    for op in &history.operations {
        match register_op(op) {
            Ok(r) => {
                note_losses(op, &mut left_out);
                ops.push(r);
            }
            Err(Unheld::LeftOut(why)) => *left_out.entry(why).or_default() += 1,
            Err(Unheld::Refused(why)) => {
                return Err(Refusal {
                    id: op.id,
                    request: describe::request(&op.request),
                    why,
                });
            }
        }
    }
    if !history.watches.is_empty() {
        left_out.insert(
            "a watch (the format has none)".into(),
            history.watches.len(),
        );
    }
    Ok(Projection { ops, left_out })
}

fn note_losses(op: &Operation, left_out: &mut BTreeMap<String, usize>) {
    let mut note = |why: &str| *left_out.entry(why.to_string()).or_default() += 1;
    match &op.request {
        Request::Put(p) if p.prev_kv => note("a put's prev_kv (a write answers nothing)"),
        Request::DeleteRange(d) if d.prev_kv => {
            note("a delete's prev_kvs (a write answers nothing)")
        }
        Request::Txn(t) if !t.failure.is_empty() && cas_failed(op) => {
            note("a cas's failure-branch reads (a failed cas answers nothing)")
        }
        _ => {}
    }
}

fn cas_failed(op: &Operation) -> bool {
    matches!(&op.result, OpResult::Ok(Response::Txn(r)) if !r.succeeded)
}

/// Whether the operation certainly changed nothing: refused, or a txn that
/// took a branch without writes.
fn changed_nothing(op: &Operation) -> bool {
    match (&op.request, &op.result) {
        (_, OpResult::Fail(_)) => true,
        (Request::Txn(t), OpResult::Ok(Response::Txn(r))) => {
            let taken = if r.succeeded { &t.success } else { &t.failure };
            !taken.iter().any(TxnOp::may_write)
        }
        _ => !op.request.may_write(),
    }
}

fn register_op(op: &Operation) -> Result<RegisterOp, Unheld> {
    let (key, action) = match &op.request {
        Request::Range(r) => read(r, op)?,
        Request::Put(p) => (p.key.clone(), write(p).map_err(|why| refuse(op, why))?),
        Request::DeleteRange(d) if d.range_end.is_empty() => {
            (d.key.clone(), Action::Write { value: None })
        }
        Request::DeleteRange(_) => {
            return Err(refuse(
                op,
                "a delete of a key range (a register is one key)",
            ));
        }
        Request::Txn(t) => cas(t).map_err(|why| refuse(op, why))?,
        Request::Compact { .. } => {
            return Err(Unheld::LeftOut(
                "a compaction (changes no key's value)".into(),
            ));
        }
        Request::LeaseGrant { .. } => {
            return Err(Unheld::LeftOut(
                "a lease grant (changes no key's value)".into(),
            ));
        }
        Request::LeaseRevoke { .. } => {
            return Err(refuse(
                op,
                "a lease revoke (it deletes the lease's keys, which no register operation names)",
            ));
        }
        Request::LeaseKeepAlive { .. } | Request::LeaseTimeToLive { .. } => {
            return Err(Unheld::LeftOut(
                "a lease keep-alive or time-to-live (changes no key's value)".into(),
            ));
        }
    };
    let ending = match &op.result {
        OpResult::Ok(Response::Txn(t)) if !t.succeeded => {
            Ending::Failed("the compared value did not match".into())
        }
        OpResult::Ok(_) => Ending::Ok,
        OpResult::Fail(e) => Ending::Failed(describe::error(e)),
        OpResult::Unknown(reason) if reason.is_empty() => Ending::Unknown("unknown".into()),
        OpResult::Unknown(reason) => Ending::Unknown(reason.clone()),
    };
    Ok(RegisterOp {
        id: op.id,
        client: op.client,
        call: op.call,
        ret: op.ret,
        key,
        action,
        ending,
    })
}

/// Refused when the operation may have changed a value, else left out.
fn refuse(op: &Operation, why: impl Into<String>) -> Unheld {
    let why = why.into();
    if changed_nothing(op) {
        Unheld::LeftOut(format!("{why}, which changed nothing"))
    } else {
        Unheld::Refused(why)
    }
}

fn read(r: &RangeRequest, op: &Operation) -> Result<(String, Action), Unheld> {
    let left_out = |why: &str| Err(Unheld::LeftOut(why.to_string()));
    if !r.range_end.is_empty() {
        return left_out("a read of a key range (a register read names one key)");
    }
    if r.revision != 0 {
        return left_out("a read at a past revision (a register has no past)");
    }
    if r.serializable {
        return left_out("a serializable read (not linearizable)");
    }
    if r.count_only || r.keys_only {
        return left_out("a count-only or keys-only read (no value)");
    }
    if r.prunes() {
        return left_out("a read pruned by revision (may leave the value out)");
    }
    match &op.result {
        OpResult::Ok(Response::Range(answer)) => {
            let value = answer
                .kvs
                .iter()
                .find(|kv| kv.key == r.key)
                .map(|kv| kv.value.clone());
            Ok((r.key.clone(), Action::Read { value }))
        }
        _ => left_out("a read without an answer (changes nothing)"),
    }
}

fn write(p: &PutRequest) -> Result<Action, String> {
    if p.lease != 0 {
        return Err(
            "a put attached to a lease (its key goes when the lease does, which no register operation names)"
                .into(),
        );
    }
    if p.ttl != 0 {
        return Err("a put with a per-key TTL (its key goes when the TTL runs out)".into());
    }
    if p.ignore_value || p.ignore_lease {
        return Err("a put with ignore_value or ignore_lease".into());
    }
    Ok(Action::Write {
        value: Some(p.value.clone()),
    })
}

/// A txn as a cas: one equality compare of a key's value, a success branch
/// of one put of that key, a failure branch of reads only.
fn cas(t: &TxnRequest) -> Result<(String, Action), String> {
    const SHAPE: &str = "a txn other than a cas (one equality compare of a key's value, then one put of that key; reads only otherwise)";
    let ([compare], [TxnOp::Put(put)]) = (t.compare.as_slice(), t.success.as_slice()) else {
        return Err(SHAPE.into());
    };
    let CompareTarget::Value(from) = &compare.target else {
        return Err(SHAPE.into());
    };
    let failure_reads = t.failure.iter().all(|o| matches!(o, TxnOp::Range(_)));
    if compare.result != CompareResult::Equal
        || !compare.range_end.is_empty()
        || put.key != compare.key
        || !failure_reads
    {
        return Err(SHAPE.into());
    }
    let Action::Write { value: Some(to) } = write(put)? else {
        return Err(SHAPE.into());
    };
    Ok((
        put.key.clone(),
        Action::Cas {
            from: from.clone(),
            to,
        },
    ))
}
