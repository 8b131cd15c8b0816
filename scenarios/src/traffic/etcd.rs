//! The etcd robustness mix over a few keys: reads (linearizable, at a past
//! revision, lists with and without values), puts, deletes, multi-op
//! transactions (etcd's, generalized as `multi_op_txn` describes: reads at
//! a past, compacted or future revision, prefix and from-key ranges, puts
//! with a lease or keeping the key's lease or value) and compare-and-set
//! transactions, puts with leases and lease revokes. After a failed request
//! (a refusal included) the client re-lists, as etcd's clients do.

use super::requests::{
    Read, Txn, delete, delete_from_op, lease_grant, lease_revoke, mod_revision_is, put,
};
use super::{TrafficContext, multi_op_txn, weighted};
use crate::recorder::RecordingClient;
use node::wire::api::{SortOrder, SortTarget, client_response};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Get,
    List,
    StaleGet,
    StaleList,
    Put,
    Delete,
    /// A Txn of up to four operations on different keys (etcd's
    /// multiOpTxn, generalized: see `multi_op_txn`).
    MultiOpTxn,
    CompareAndSet,
    PutWithLease,
    LeaseRevoke,
    PutWithTtl,
    /// A Txn without writes: a range over the key prefix and one key, read
    /// at one revision (served without raft, like a read).
    RangeTxn,
    /// A Txn that deletes every key from one on and puts that key again:
    /// "rewrite the keyspace in one transaction". etcd's duplicate-key
    /// check lets it through (to it [key, "\0") is empty, etcd #22445),
    /// so one revision holds a key's tombstone and its new value; a store
    /// with that check fixed refuses it as a duplicate key.
    Rewrite,
    /// A rewrite whose put keeps the key's lease (`ignore_lease`): the key
    /// is gone when the put runs, which etcd's apply does not expect.
    RewriteKeepingLease,
    /// A list pruned by mod or create revision and sorted by any target,
    /// sometimes with a limit: etcd's apply Range reads the whole range,
    /// prunes, sorts, then cuts ("what changed since revision R", "the
    /// newest keys first").
    FilteredList,
}

/// The operations and their default weights (etcd's robustness mix; no
/// per-key TTLs, read-only range Txns, rewrites or filtered lists unless a
/// scenario asks for them).
pub const OPS: [(Op, u32); 15] = [
    (Op::Get, 15),
    (Op::List, 15),
    (Op::StaleGet, 10),
    (Op::StaleList, 10),
    (Op::Put, 23),
    (Op::Delete, 5),
    (Op::MultiOpTxn, 5),
    (Op::CompareAndSet, 7),
    (Op::PutWithLease, 5),
    (Op::LeaseRevoke, 5),
    (Op::PutWithTtl, 0),
    (Op::RangeTxn, 0),
    (Op::Rewrite, 0),
    (Op::RewriteKeepingLease, 0),
    (Op::FilteredList, 0),
];

impl Op {
    /// The name a scenario's `weights` list gives it, in the order of [`OPS`].
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::List => "list",
            Op::StaleGet => "stale_get",
            Op::StaleList => "stale_list",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::MultiOpTxn => "multi_op_txn",
            Op::CompareAndSet => "compare_and_set",
            Op::PutWithLease => "put_with_lease",
            Op::LeaseRevoke => "lease_revoke",
            Op::PutWithTtl => "put_with_ttl",
            Op::RangeTxn => "range_txn",
            Op::Rewrite => "rewrite",
            Op::RewriteKeepingLease => "rewrite_keeping_lease",
            Op::FilteredList => "filtered_list",
        }
    }
}

/// Lease TTL long enough that leases of this profile never expire in a run.
const LEASE_TTL: i64 = 600;

struct State {
    writes: u64,
    last_rev: i64,
    /// Last mod_revision seen per key (0 = seen absent).
    seen: BTreeMap<String, i64>,
    leases: Vec<i64>,
}

pub async fn run(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut st = State {
        writes: 0,
        last_rev: 0,
        seen: BTreeMap::new(),
        leases: Vec::new(),
    };
    let weights: Vec<u32> = match &ctx.weights {
        Some(w) => OPS
            .iter()
            .enumerate()
            .map(|(i, _)| w.get(i).copied().unwrap_or(0))
            .collect(),
        None => OPS.iter().map(|(_, w)| *w).collect(),
    };
    while !ctx.stopped() {
        let op = OPS[weighted(&mut rng, &weights)].0;
        let ok = step(&ctx, &mut client, &mut st, &mut rng, op).await;
        if !ok && !ctx.stopped() {
            ctx.pace(&mut rng).await;
            relist(&ctx, &mut client, &mut st).await;
        }
        ctx.pace(&mut rng).await;
    }
}

/// A list with revision bounds near the revisions this client saw last
/// (one side or both, on mod or create revision), a sort, and sometimes a
/// small limit or keys only.
fn filtered_list(ctx: &TrafficContext, st: &State, rng: &mut ChaCha8Rng) -> Read {
    let near = |rng: &mut ChaCha8Rng| (st.last_rev - rng.gen_range(0..12)).max(1);
    let bounds = |rng: &mut ChaCha8Rng| match rng.gen_range(0..4) {
        0 => (0, 0),
        1 => (near(rng), 0),
        2 => (0, near(rng)),
        _ => {
            let (a, b) = (near(rng), near(rng));
            (a.min(b), a.max(b))
        }
    };
    let (min_mod, max_mod) = bounds(rng);
    let (min_create, max_create) = bounds(rng);
    const TARGETS: [SortTarget; 5] = [
        SortTarget::Key,
        SortTarget::Version,
        SortTarget::Create,
        SortTarget::Mod,
        SortTarget::Value,
    ];
    const ORDERS: [SortOrder; 3] = [SortOrder::None, SortOrder::Ascend, SortOrder::Descend];
    let limit = if rng.gen_bool(0.4) {
        rng.gen_range(1..4)
    } else {
        0
    };
    list(ctx)
        .modified_within(min_mod, max_mod)
        .created_within(min_create, max_create)
        .sorted(
            TARGETS[rng.gen_range(0..TARGETS.len())],
            ORDERS[rng.gen_range(0..ORDERS.len())],
        )
        .limit(limit)
        .keys_only(rng.gen_bool(0.2))
}

/// Every key of the profile (its prefix).
fn list(ctx: &TrafficContext) -> Read {
    let (key, range_end) = ctx.key_range();
    Read::range(key, range_end)
}

async fn relist(ctx: &TrafficContext, client: &mut RecordingClient, st: &mut State) {
    if let Ok(client_response::Body::Range(r)) = client.call(list(ctx).body(), None).await {
        note_range(st, &r);
    }
}

fn note_range(st: &mut State, r: &node::wire::api::RangeResponse) {
    if let Some(h) = &r.header {
        st.last_rev = st.last_rev.max(h.revision);
    }
    for kv in &r.kvs {
        st.seen.insert(
            String::from_utf8_lossy(&kv.key).into_owned(),
            kv.mod_revision,
        );
    }
}

fn value(id: u64, st: &mut State) -> Vec<u8> {
    st.writes += 1;
    format!("c{id}-{}", st.writes).into_bytes()
}

fn note_header(st: &mut State, body: &client_response::Body) {
    let rev = match body {
        client_response::Body::Put(p) => p.header.as_ref().map(|h| h.revision),
        client_response::Body::DeleteRange(d) => d.header.as_ref().map(|h| h.revision),
        client_response::Body::Txn(t) => t.header.as_ref().map(|h| h.revision),
        client_response::Body::Range(r) => r.header.as_ref().map(|h| h.revision),
        _ => None,
    };
    if let Some(rev) = rev {
        st.last_rev = st.last_rev.max(rev);
    }
}

/// Runs one operation; false when it failed (the client then re-lists).
async fn step(
    ctx: &TrafficContext,
    client: &mut RecordingClient,
    st: &mut State,
    rng: &mut ChaCha8Rng,
    op: Op,
) -> bool {
    let id = client.id;
    let key = ctx.key(rng.gen_range(0..ctx.keys.max(1)));
    let past = |st: &State, rng: &mut ChaCha8Rng| (st.last_rev - rng.gen_range(0..8)).max(1);
    let body = match op {
        Op::Get => Read::key(key).body(),
        Op::List => list(ctx).keys_only(rng.gen_bool(0.3)).body(),
        Op::StaleGet => Read::key(key).at(past(st, rng)).body(),
        Op::StaleList => list(ctx).at(past(st, rng)).body(),
        Op::Put => put(key, value(id, st)).body(),
        Op::Delete => delete(key),
        Op::MultiOpTxn => {
            let key_of = |i: usize| ctx.key(i);
            let keys = multi_op_txn::Keys {
                key: &key_of,
                prefix: ctx.key_range(),
            };
            let plan = multi_op_txn::draw(rng, ctx.keys, st.last_rev);
            let lease = st.leases.last().copied();
            let ops = multi_op_txn::requests(&plan, &keys, lease, || value(id, st));
            Txn::always().then(ops).body()
        }
        Op::CompareAndSet => {
            let expected = st.seen.get(&key).copied().unwrap_or(0);
            Txn::when(mod_revision_is(&key, expected))
                .then([put(key.clone(), value(id, st)).op()])
                .otherwise([Read::key(key).op()])
                .body()
        }
        Op::PutWithLease => {
            let lease = match st.leases.last() {
                Some(l) => *l,
                None => match client.call(lease_grant(LEASE_TTL), None).await {
                    Ok(client_response::Body::LeaseGrant(g)) => {
                        st.leases.push(g.id);
                        g.id
                    }
                    _ => return false,
                },
            };
            put(key, value(id, st)).lease(lease).body()
        }
        Op::LeaseRevoke => match st.leases.pop() {
            Some(lease) => lease_revoke(lease),
            None => Read::key(key).body(),
        },
        // Refused with "unsupported" until the cluster version is 3.7.
        Op::PutWithTtl => put(key, value(id, st)).ttl(ctx.key_ttl_s).body(),
        Op::RangeTxn => Txn::always()
            .then([Read::prefix(&ctx.key_prefix).op(), Read::key(key).op()])
            .body(),
        Op::Rewrite => Txn::always()
            .then([delete_from_op(key.clone()), put(key, value(id, st)).op()])
            .body(),
        Op::RewriteKeepingLease => Txn::always()
            .then([
                delete_from_op(key.clone()),
                put(key, value(id, st)).keep_lease().op(),
            ])
            .body(),
        Op::FilteredList => filtered_list(ctx, st, rng).body(),
    };
    match client.call(body, None).await {
        Ok(resp) => {
            note_header(st, &resp);
            if let client_response::Body::Range(r) = &resp {
                note_range(st, r);
            }
            true
        }
        Err(_) => false,
    }
}
