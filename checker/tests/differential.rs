//! Differential tests: the engine against a brute-force checker (every
//! real-time-respecting order) on random small histories of every model, and
//! against stateright's LinearizabilityTester (an independent model) where it
//! fits; planted violations are always found.

mod support;

use checker::linearizable::{Issuer, Linearizability, Model, Op, Outcome, SearchLimits, check};
use checker::models::Scalar;
use checker::models::etcd::prepare;
use checker::models::kv::{KvInput, KvModel, KvOutput};
use checker::models::register::{RegisterInput, RegisterModel, RegisterOutput};
use proptest::prelude::*;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use support::brute;
use support::generate::{GenConfig, generate};

fn engine<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>], partition: bool) -> bool {
    match check(
        model,
        ops,
        partition,
        &SearchLimits::default(),
        Issuer::Client,
    )
    .result
    {
        Linearizability::Linearizable { .. } => true,
        Linearizability::Violation(_) => false,
        Linearizability::Unknown { reason, .. } => panic!("no limits, yet unknown: {reason}"),
    }
}

/// A raw random operation: who, what, how it ended, and its timing.
#[derive(Debug, Clone)]
struct Raw {
    client: u64,
    kind: u8,
    a: u8,
    b: u8,
    unknown: bool,
    answer: u8,
    gap: u64,
    len: u64,
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        0..3u64,
        0..3u8,
        0..3u8,
        0..3u8,
        prop::bool::weighted(0.2),
        0..5u8,
        0..3u64,
        1..4u64,
    )
        .prop_map(|(client, kind, a, b, unknown, answer, gap, len)| Raw {
            client,
            kind,
            a,
            b,
            unknown,
            answer,
            gap,
            len,
        })
}

/// Call and return times: each client runs one operation after another; all
/// event times are distinct.
fn timed(raws: &[Raw]) -> Vec<(u64, Option<u64>)> {
    let mut cursor = [0u64; 3];
    raws.iter()
        .map(|r| {
            let c = r.client as usize;
            let call = cursor[c] + r.gap + 1;
            let ret = call + r.len;
            cursor[c] = ret;
            (call * 4 + r.client, Some(ret * 4 + r.client))
        })
        .collect()
}

fn register_ops(raws: &[Raw]) -> Vec<Op<RegisterInput, RegisterOutput>> {
    let value = |v: u8| Scalar::Int(i64::from(v));
    timed(raws)
        .into_iter()
        .zip(raws)
        .enumerate()
        .map(|(i, ((call, ret), r))| {
            let (input, output) = match r.kind {
                0 => (
                    RegisterInput::Read,
                    RegisterOutput::Read(if r.answer > 2 {
                        Scalar::Nil
                    } else {
                        value(r.answer)
                    }),
                ),
                1 => (RegisterInput::Write(value(r.a)), RegisterOutput::Written),
                _ => (
                    RegisterInput::Cas {
                        from: value(r.a),
                        to: value(r.b),
                    },
                    RegisterOutput::Swapped,
                ),
            };
            Op {
                id: i as u64,
                client: r.client,
                call,
                ret,
                input,
                outcome: if r.unknown {
                    Outcome::Unknown
                } else {
                    Outcome::Ok(output)
                },
            }
        })
        .collect()
}

fn kv_ops(raws: &[Raw]) -> Vec<Op<KvInput, KvOutput>> {
    const ANSWERS: [&str; 5] = ["", "1", "12", "x", "x2"];
    timed(raws)
        .into_iter()
        .zip(raws)
        .enumerate()
        .map(|(i, ((call, ret), r))| {
            let key = if r.b % 2 == 0 { "a" } else { "b" }.to_string();
            let (input, output) = match r.kind {
                0 => (
                    KvInput::Get { key },
                    KvOutput::Value(ANSWERS[r.answer as usize].into()),
                ),
                1 => (
                    KvInput::Append {
                        key,
                        value: (r.a + 1).to_string(),
                    },
                    KvOutput::Done,
                ),
                _ => (
                    KvInput::Put {
                        key,
                        value: "x".into(),
                    },
                    KvOutput::Done,
                ),
            };
            Op {
                id: i as u64,
                client: r.client,
                call,
                ret,
                input,
                outcome: if r.unknown {
                    Outcome::Unknown
                } else {
                    Outcome::Ok(output)
                },
            }
        })
        .collect()
}

/// Runs the operations in an order inside their intervals and answers them
/// from a real register: linearizable by construction.
fn linearizable_register(raws: &[Raw], points: &[u8]) -> Vec<Op<RegisterInput, RegisterOutput>> {
    let mut ops = register_ops(raws);
    let mut order: Vec<usize> = (0..ops.len()).collect();
    let point = |i: usize| {
        let (call, ret) = (ops[i].call, ops[i].ret.unwrap_or(ops[i].call));
        call + (ret - call) * u64::from(points.get(i).copied().unwrap_or(0)) / 255
    };
    order.sort_by_key(|&i| point(i));
    let mut reg = Scalar::Nil;
    for i in order {
        let op = &mut ops[i];
        op.outcome = match &op.input {
            RegisterInput::Read => Outcome::Ok(RegisterOutput::Read(reg.clone())),
            RegisterInput::Write(v) => {
                reg = v.clone();
                Outcome::Ok(RegisterOutput::Written)
            }
            RegisterInput::Cas { from, to } => {
                if *from == reg {
                    reg = to.clone();
                    Outcome::Ok(RegisterOutput::Swapped)
                } else {
                    // A failed cas did not take effect: as an unknown outcome
                    // that (here) never applies.
                    Outcome::Unknown
                }
            }
        };
    }
    ops
}

/// The same for kv: gets answered from a real store in a random order inside
/// the operations' intervals.
fn linearizable_kv(raws: &[Raw], points: &[u8]) -> Vec<Op<KvInput, KvOutput>> {
    let mut ops = kv_ops(raws);
    let point = |op: &Op<KvInput, KvOutput>, i: usize| {
        let (call, ret) = (op.call, op.ret.unwrap_or(op.call));
        call + (ret - call) * u64::from(points.get(i).copied().unwrap_or(0)) / 255
    };
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| point(&ops[i], i));
    let mut store = std::collections::HashMap::<String, String>::new();
    for i in order {
        let op = &mut ops[i];
        let applied = op.outcome != Outcome::Unknown || points.get(i).is_some_and(|p| p % 2 == 0);
        match &op.input {
            KvInput::Get { key } if op.outcome != Outcome::Unknown => {
                op.outcome =
                    Outcome::Ok(KvOutput::Value(store.get(key).cloned().unwrap_or_default()));
            }
            KvInput::Put { key, value } if applied => {
                store.insert(key.clone(), value.clone());
            }
            KvInput::Append { key, value } if applied => {
                store.entry(key.clone()).or_default().push_str(value);
            }
            _ => {}
        }
    }
    ops
}

/// stateright's register, for the cross-check.
#[derive(Clone, Debug, Default)]
struct Register(Option<u8>);

#[derive(Clone, Debug)]
enum RegOp {
    Read,
    Write(u8),
    Cas(u8, u8),
}

#[derive(Clone, Debug, PartialEq)]
enum RegRet {
    Read(Option<u8>),
    Written,
    Swapped,
    Unswapped,
}

impl SequentialSpec for Register {
    type Op = RegOp;
    type Ret = RegRet;
    fn invoke(&mut self, op: &RegOp) -> RegRet {
        match op {
            RegOp::Read => RegRet::Read(self.0),
            RegOp::Write(v) => {
                self.0 = Some(*v);
                RegRet::Written
            }
            RegOp::Cas(from, to) => {
                if self.0 == Some(*from) {
                    self.0 = Some(*to);
                    RegRet::Swapped
                } else {
                    RegRet::Unswapped
                }
            }
        }
    }
}

/// stateright's verdict on a register history whose unknown operations are
/// each client's last (still in flight at the end).
fn stateright_register(raws: &[Raw]) -> bool {
    let times = timed(raws);
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, (call, ret)) in times.iter().enumerate() {
        events.push((*call, false, i));
        if !raws[i].unknown {
            events.push((ret.unwrap_or(u64::MAX), true, i));
        }
    }
    events.sort_unstable();
    let mut tester = LinearizabilityTester::new(Register::default());
    for (_, is_return, i) in events {
        let r = &raws[i];
        let client = r.client as usize;
        let result = if is_return {
            let ret = match r.kind {
                0 => RegRet::Read(if r.answer > 2 { None } else { Some(r.answer) }),
                1 => RegRet::Written,
                _ => RegRet::Swapped,
            };
            tester.on_return(client, ret).map(|_| ())
        } else {
            let op = match r.kind {
                0 => RegOp::Read,
                1 => RegOp::Write(r.a),
                _ => RegOp::Cas(r.a, r.b),
            };
            tester.on_invoke(client, op).map(|_| ())
        };
        if result.is_err() {
            return false;
        }
    }
    tester.is_consistent()
}

/// Keeps unknown outcomes only on each client's last operation.
fn unknown_only_last(mut raws: Vec<Raw>) -> Vec<Raw> {
    for i in 0..raws.len() {
        let later = raws[i + 1..].iter().any(|r| r.client == raws[i].client);
        if later {
            raws[i].unknown = false;
        }
    }
    raws
}

fn with_unknown_never_returning<I: Clone, O: Clone>(mut ops: Vec<Op<I, O>>) -> Vec<Op<I, O>> {
    for op in &mut ops {
        if matches!(op.outcome, Outcome::Unknown) {
            op.ret = None;
        }
    }
    ops
}

proptest! {
    // A fixed seed: the same 1,000 cases on every run. With a random seed a
    // rare planted history sends the unpartitioned search (exponential in
    // the worst case) into minutes, which made the gate's time depend on luck.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_d1ff),
        ..ProptestConfig::default()
    })]

    #[test]
    fn register_matches_brute_force(raws in prop::collection::vec(raw(), 1..8)) {
        let ops = register_ops(&raws);
        prop_assert_eq!(engine(&RegisterModel, &ops, true), brute::linearizable(&RegisterModel, &ops));
    }

    #[test]
    fn register_matches_stateright(raws in prop::collection::vec(raw(), 1..7)) {
        let raws = unknown_only_last(raws);
        let ops = with_unknown_never_returning(register_ops(&raws));
        prop_assert_eq!(engine(&RegisterModel, &ops, true), stateright_register(&raws));
    }

    #[test]
    fn kv_matches_brute_force(raws in prop::collection::vec(raw(), 1..8)) {
        let ops = kv_ops(&raws);
        let truth = brute::linearizable(&KvModel, &ops);
        prop_assert_eq!(engine(&KvModel, &ops, true), truth);
        // Unpartitioned: one search, with backjumping across keys.
        prop_assert_eq!(engine(&KvModel, &ops, false), truth);
    }

    #[test]
    fn simulated_kv_matches_brute_force(
        raws in prop::collection::vec(raw(), 1..9),
        points in prop::collection::vec(any::<u8>(), 9),
        victim in any::<prop::sample::Index>(),
        answer in 0..5usize,
        mutate in any::<bool>(),
    ) {
        let mut ops = linearizable_kv(&raws, &points);
        prop_assert!(engine(&KvModel, &ops, false));
        if mutate {
            let gets: Vec<usize> = (0..ops.len())
                .filter(|&i| matches!(ops[i].outcome, Outcome::Ok(KvOutput::Value(_))))
                .collect();
            if !gets.is_empty() {
                let i = gets[victim.index(gets.len())];
                ops[i].outcome = Outcome::Ok(KvOutput::Value(["", "1", "12", "x", "x2"][answer].into()));
            }
        }
        let truth = brute::linearizable(&KvModel, &ops);
        prop_assert_eq!(engine(&KvModel, &ops, true), truth);
        prop_assert_eq!(engine(&KvModel, &ops, false), truth);
    }

    #[test]
    fn kv_unpartitioned_matches_partitioned_on_longer_histories(
        raws in prop::collection::vec(raw(), 10..60),
        points in prop::collection::vec(any::<u8>(), 60),
        victims in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        answers in prop::collection::vec(0..5usize, 3),
    ) {
        // Too long for brute force: the partitioned search (checked against
        // brute force above) is the reference for the single search with
        // backjumping across keys.
        let mut ops = linearizable_kv(&raws, &points);
        let gets: Vec<usize> = (0..ops.len())
            .filter(|&i| matches!(ops[i].outcome, Outcome::Ok(KvOutput::Value(_))))
            .collect();
        for (victim, answer) in victims.iter().zip(&answers) {
            if !gets.is_empty() {
                let i = gets[victim.index(gets.len())];
                ops[i].outcome = Outcome::Ok(KvOutput::Value(["", "1", "12", "x", "x2"][*answer].into()));
            }
        }
        prop_assert_eq!(engine(&KvModel, &ops, false), engine(&KvModel, &ops, true));
    }

    #[test]
    fn register_planted_stale_value_is_found(
        raws in prop::collection::vec(raw(), 2..10),
        points in prop::collection::vec(any::<u8>(), 10),
        victim in any::<prop::sample::Index>(),
    ) {
        let mut ops = linearizable_register(&raws, &points);
        prop_assert!(engine(&RegisterModel, &ops, true));
        let reads: Vec<usize> = (0..ops.len())
            .filter(|&i| matches!(ops[i].outcome, Outcome::Ok(RegisterOutput::Read(_))))
            .collect();
        if !reads.is_empty() {
            let i = reads[victim.index(reads.len())];
            ops[i].outcome = Outcome::Ok(RegisterOutput::Read(Scalar::Int(99)));
            prop_assert!(!engine(&RegisterModel, &ops, true));
        }
    }

    #[test]
    fn etcd_matches_brute_force(seed in any::<u64>(), ops in 2..7usize, mutate in 0..4u8, victim in any::<prop::sample::Index>()) {
        let mut history = generate(&GenConfig {
            seed,
            clients: 3,
            operations: ops,
            keys: 2,
            unknown_writes: 0.25,
            unknown_applied: 0.5,
            leases: seed % 3 == 0,
            final_read: false,
            watches: 0,
            mix: Default::default(),
        });
        // Sometimes break one answer in a way that may or may not stay linearizable.
        let answered: Vec<usize> = (0..history.operations.len())
            .filter(|&i| history.operations[i].result.response().is_some())
            .collect();
        if mutate > 0 && !answered.is_empty() {
            let i = answered[victim.index(answered.len())];
            if let checker::history::OpResult::Ok(resp) = &mut history.operations[i].result {
                mutate_response(resp, mutate);
            }
        }
        let prepared = prepare(&history);
        let truth = brute::linearizable(&prepared.model, &prepared.ops);
        prop_assert_eq!(engine(&prepared.model, &prepared.ops, false), truth);
    }

    #[test]
    fn etcd_planted_unwritten_value_is_found(seed in any::<u64>(), ops in 3..40usize, victim in any::<prop::sample::Index>()) {
        let mut history = generate(&GenConfig {
            seed,
            clients: 4,
            operations: ops,
            keys: 3,
            unknown_writes: 0.1,
            unknown_applied: 0.5,
            leases: false,
            final_read: true,
            watches: 0,
            mix: Default::default(),
        });
        let prepared = prepare(&history);
        prop_assert!(engine(&prepared.model, &prepared.ops, false));
        let reads: Vec<usize> = (0..history.operations.len())
            .filter(|&i| matches!(history.operations[i].result.response(),
                Some(checker::history::Response::Range(r)) if !r.kvs.is_empty()))
            .collect();
        if !reads.is_empty() {
            let i = reads[victim.index(reads.len())];
            if let checker::history::OpResult::Ok(checker::history::Response::Range(r)) = &mut history.operations[i].result {
                r.kvs[0].value = "never written".into();
            }
            let prepared = prepare(&history);
            prop_assert!(!engine(&prepared.model, &prepared.ops, false));
        }
    }
}

fn mutate_response(resp: &mut checker::history::Response, how: u8) {
    use checker::history::Response;
    match (resp, how) {
        (Response::Range(r), 1) if !r.kvs.is_empty() => r.kvs[0].version += 1,
        (Response::Range(r), 2) => r.header_revision += 1,
        (Response::Range(r), _) => r.count += 1,
        (Response::Txn(t), _) => t.succeeded = !t.succeeded,
        (Response::Put(p), 1) => p.header_revision += 1,
        (Response::Put(p), _) => p.header_revision -= 1,
        (Response::DeleteRange(d), _) => d.header_revision += 1,
        (other, _) => {
            let _ = other;
        }
    }
}
