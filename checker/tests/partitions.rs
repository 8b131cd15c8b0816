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

#[test]
fn a_violation_found_at_once_is_not_held_up_by_other_partitions_searching_on() {
    // c50-bad: one partition shows its violation within a few hundred
    // iterations. Every other partition is searched no further than that:
    // 533 iterations in all. Letting each finish its slice first took 3,808
    // (and 5 to 6 ms instead of about 1).
    let ops = porcupine_kv("c50-bad");
    for threads in [1, 2, 8] {
        let out = check_with_threads(&KvModel, &ops, true, &limits(), Issuer::Process, threads);
        assert!(matches!(out.result, Linearizability::Violation(_)));
        assert!(
            out.stats.iterations < 1_000,
            "{threads} threads: {} iterations",
            out.stats.iterations
        );
    }
}

/// `keys` keys, each written and read back `rounds` times in turn; the last
/// read of key `stale` (if any) returns the value before the last write.
fn long_keyed(keys: u64, rounds: u64, stale: Option<u64>) -> Vec<Op<KvInput, KvOutput>> {
    let mut ops = vec![];
    for k in 0..keys {
        let key = format!("k{k}");
        for r in 0..rounds {
            let t = r * 100;
            let id = ops.len() as u64;
            let put = KvInput::Put {
                key: key.clone(),
                value: format!("v{r}"),
            };
            ops.push(op(id, t, t + 10, put, KvOutput::Done));
            let seen = if stale == Some(k) && r == rounds - 1 {
                format!("v{}", r - 1)
            } else {
                format!("v{r}")
            };
            let get = KvInput::Get { key: key.clone() };
            ops.push(op(id + 1, t + 20, t + 30, get, KvOutput::Value(seen)));
        }
    }
    ops
}

#[test]
fn a_history_past_the_inline_budget_is_searched_on_the_workers_alike() {
    // 40,000 operations on 100 keys take more iterations than the calling
    // thread searches alone: the partitions it leaves undecided go to the
    // workers, which search them anew (so more iterations in all than on
    // one thread), with the same result.
    for stale in [None, Some(70)] {
        let ops = long_keyed(100, 200, stale);
        let one = check_with_threads(&KvModel, &ops, true, &limits(), Issuer::Process, 1);
        let result = same_for_any_thread_count(&ops);
        assert_eq!(
            matches!(result, Linearizability::Violation(_)),
            stale.is_some()
        );
        let two = check_with_threads(&KvModel, &ops, true, &limits(), Issuer::Process, 2);
        if stale.is_none() {
            assert!(
                two.stats.iterations > one.stats.iterations,
                "the workers ran: {} iterations on two threads, {} on one",
                two.stats.iterations,
                one.stats.iterations
            );
        }
    }
}
