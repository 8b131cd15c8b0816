//! Partitions are searched in parallel: the result (verdict, the violation
//! reported and its explanation, the linearization) is the same whatever the
//! number of threads.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use checker::import::{edn, kv_ops};
use checker::linearizable::{
    Issuer, Linearizability, Model, Op, Outcome, SearchLimits, check_with_threads,
};
use checker::models::kv::{KvInput, KvModel, KvOutput};

fn limits() -> SearchLimits {
    SearchLimits {
        deadline: Some(Instant::now() + Duration::from_secs(60)),
        memory_bound_bytes: 4 << 30,
    }
}

fn porcupine_kv(name: &str) -> Vec<Op<KvInput, KvOutput>> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/oracles"))
        .join("porcupine-kv")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    kv_ops(&edn::import(&text).expect("parses")).expect("kv operations")
}

fn op(id: u64, call: u64, ret: u64, input: KvInput, output: KvOutput) -> Op<KvInput, KvOutput> {
    Op {
        id,
        client: id,
        call,
        ret: Some(ret),
        input,
        outcome: Outcome::Ok(output),
    }
}

/// Per key `k0`..`k{keys}`: a put, then a get; the gets of `stale` keys
/// return the value from before the put (a stale read).
fn keyed(keys: u64, stale: &[u64]) -> Vec<Op<KvInput, KvOutput>> {
    let mut ops = vec![];
    for k in 0..keys {
        let key = format!("k{k}");
        let t = k * 100;
        ops.push(op(
            2 * k,
            t,
            t + 10,
            KvInput::Put {
                key: key.clone(),
                value: format!("v{k}"),
            },
            KvOutput::Done,
        ));
        let seen = if stale.contains(&k) {
            String::new()
        } else {
            format!("v{k}")
        };
        ops.push(op(
            2 * k + 1,
            t + 20,
            t + 30,
            KvInput::Get { key },
            KvOutput::Value(seen),
        ));
    }
    ops
}

fn same_for_any_thread_count(ops: &[Op<KvInput, KvOutput>]) -> Linearizability {
    let sequential = check_with_threads(&KvModel, ops, true, &limits(), Issuer::Process, 1);
    assert!(
        sequential.partitions > 1,
        "the history has independent keys"
    );
    for threads in [2, 3, 8] {
        let parallel = check_with_threads(&KvModel, ops, true, &limits(), Issuer::Process, threads);
        assert_eq!(parallel.result, sequential.result, "{threads} threads");
        assert_eq!(parallel.partitions, sequential.partitions);
    }
    sequential.result
}

#[test]
fn porcupine_histories_get_the_same_result_on_any_number_of_threads() {
    for name in ["c10-ok", "c10-bad", "c50-ok", "c50-bad"] {
        let result = same_for_any_thread_count(&porcupine_kv(name));
        assert_eq!(
            matches!(result, Linearizability::Violation(_)),
            name.ends_with("bad"),
            "{name}"
        );
    }
}

#[test]
fn on_a_tie_the_lower_failing_partition_is_reported_whatever_finishes_first() {
    // Stale reads of k3 and k11, each found in as many search steps:
    // whichever thread finds its violation first, the one of the
    // lower-numbered part is reported.
    let ops = keyed(16, &[3, 11]);
    let stale_gets = [7u64, 23];
    let parts = KvModel.partition(&ops).expect("kv partitions by key");
    let lowest = parts
        .iter()
        .position(|p| p.iter().any(|&i| stale_gets.contains(&ops[i].id)))
        .expect("a part holds a stale get");
    let Linearizability::Violation(c) = same_for_any_thread_count(&ops) else {
        panic!("a stale read is a violation");
    };
    assert_eq!(c.partition, Some(lowest));
    let get = parts[lowest]
        .iter()
        .map(|&i| ops[i].id)
        .find(|id| stale_gets.contains(id))
        .expect("the stale get of that part");
    assert!(c.operations.contains(&get), "{c:?}");
    let Linearizability::Linearizable { order } = same_for_any_thread_count(&keyed(16, &[])) else {
        panic!("no stale read: linearizable");
    };
    assert_eq!(order.len(), 32);
}
