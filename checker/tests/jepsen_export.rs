//! `faultline export --format jepsen-edn | porcupine-kv`: a history exported
//! then imported holds the same register operations (computed here from the
//! original history, not by the exporter) and gets the verdict the etcd
//! model gives the original, where that is meaningful.
//!
//! What is tested, precisely:
//! - histories of single-key reads, puts, deletes and value-compare cas txns
//!   (generated, and a recorded run of puts, deletes and gets): export then
//!   import gives exactly the operations the formats hold (reads with
//!   answers, writes and cas that succeeded or whose outcome is unknown), at
//!   the same times, and the keyed register (Jepsen) or kv (porcupine) check
//!   passes exactly when the etcd model's linearizability check of the
//!   original passes;
//! - with reads answered wrongly (another written value, or one never
//!   written): a register or kv violation always means an etcd violation
//!   (the registers know only values, so the converse need not hold: an
//!   older value at the current revision fails the etcd model alone), and a
//!   never-written value fails both;
//! - writes the formats cannot hold are refused, naming the operation.

mod support;

use std::time::{Duration, Instant};

use checker::command::{CheckFileOptions, InputFormat, ModelKind, check_file};
use checker::export::{ExportFormat, export, jepsen_edn, porcupine_kv};
use checker::history::{EndState, History, OpResult, Request, Response, TxnOp};
use checker::import::independent::{KeySource, key_source, keyed_register_ops};
use checker::import::{edn, kv_ops};
use checker::linearizable::{Issuer, Linearizability, Model, Op, Outcome, SearchLimits, check};
use checker::models::Scalar;
use checker::models::keyed::Keyed;
use checker::models::kv::{KvInput, KvModel, KvOutput};
use checker::models::register::{RegisterInput, RegisterModel, RegisterOutput};
use checker::{CheckOptions, Verdict, check_run};
use proptest::prelude::*;
use support::generate::{GenConfig, Mix, Rng, generate};

fn limits() -> SearchLimits {
    SearchLimits {
        deadline: Instant::now().checked_add(Duration::from_secs(60)),
        memory_bound_bytes: 4 << 30,
    }
}

/// The etcd model's linearizability verdict on the original history.
fn etcd_linearizable(h: &History) -> bool {
    let report = check_run(h, &EndState::default(), &CheckOptions::default());
    let r = report
        .results
        .iter()
        .find(|r| r.property == "linearizability")
        .expect("a linearizability result");
    match &r.verdict {
        Verdict::Pass => true,
        Verdict::Fail(_) => false,
        Verdict::Unknown(why) => panic!("etcd check undecided: {why}"),
    }
}

fn decided<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>]) -> bool {
    match check(model, ops, true, &limits(), Issuer::Process).result {
        Linearizability::Linearizable { .. } => true,
        Linearizability::Violation(_) => false,
        Linearizability::Unknown { reason, .. } => panic!("undecided: {reason}"),
    }
}

/// One operation as the formats hold it: key, call, return, and the
/// register (or kv) input and outcome, printed for comparison.
type Held = (String, u64, Option<u64>, String, String);

/// A single-key linearizable read of the current revision with an answer:
/// the value it saw (None: absent).
fn current_read(op: &checker::history::Operation) -> Option<(String, Option<String>)> {
    match (&op.request, &op.result) {
        (Request::Range(r), OpResult::Ok(Response::Range(a)))
            if r.range_end.is_empty()
                && r.revision == 0
                && !r.serializable
                && !r.count_only
                && !r.keys_only =>
        {
            Some((
                r.key.clone(),
                a.kvs
                    .iter()
                    .find(|kv| kv.key == r.key)
                    .map(|kv| kv.value.clone()),
            ))
        }
        _ => None,
    }
}

/// What the Jepsen EDN export must hold of `h`, as keyed register operations.
fn expected_registers(h: &History) -> Vec<Held> {
    let mut held = Vec::new();
    for op in &h.operations {
        let (key, input, ok) = if let Some((key, value)) = current_read(op) {
            let v = value.map_or(Scalar::Nil, Scalar::Str);
            (key, RegisterInput::Read, RegisterOutput::Read(v))
        } else {
            match &op.request {
                Request::Put(p) => (
                    p.key.clone(),
                    RegisterInput::Write(Scalar::Str(p.value.clone())),
                    RegisterOutput::Written,
                ),
                Request::DeleteRange(d) if d.range_end.is_empty() => (
                    d.key.clone(),
                    RegisterInput::Write(Scalar::Nil),
                    RegisterOutput::Written,
                ),
                Request::Txn(t) => {
                    let (Some(c), Some(TxnOp::Put(p))) = (t.compare.first(), t.success.first())
                    else {
                        panic!("not a generated cas: {op:?}")
                    };
                    let checker::history::CompareTarget::Value(from) = &c.target else {
                        panic!("not a value compare: {op:?}")
                    };
                    let input = RegisterInput::Cas {
                        from: Scalar::Str(from.clone()),
                        to: Scalar::Str(p.value.clone()),
                    };
                    (p.key.clone(), input, RegisterOutput::Swapped)
                }
                _ => continue,
            }
        };
        let outcome = match &op.result {
            OpResult::Ok(Response::Txn(t)) if !t.succeeded => continue,
            OpResult::Ok(_) => Outcome::Ok(ok),
            OpResult::Fail(_) => continue,
            OpResult::Unknown(_) => Outcome::Unknown,
        };
        held.push((
            key,
            op.call,
            op.ret,
            format!("{input:?}"),
            format!("{outcome:?}"),
        ));
    }
    held.sort();
    held
}

/// What the porcupine kv export must hold of `h` (no cas in it).
fn expected_kv(h: &History) -> Vec<Held> {
    let mut held = Vec::new();
    for op in &h.operations {
        let (input, ok) = if let Some((key, value)) = current_read(op) {
            (
                KvInput::Get { key },
                KvOutput::Value(value.unwrap_or_default()),
            )
        } else {
            match &op.request {
                Request::Put(p) => (
                    KvInput::Put {
                        key: p.key.clone(),
                        value: p.value.clone(),
                    },
                    KvOutput::Done,
                ),
                Request::DeleteRange(d) if d.range_end.is_empty() => (
                    KvInput::Put {
                        key: d.key.clone(),
                        value: String::new(),
                    },
                    KvOutput::Done,
                ),
                _ => continue,
            }
        };
        let outcome = match &op.result {
            OpResult::Ok(_) => Outcome::Ok(ok),
            OpResult::Fail(_) => continue,
            OpResult::Unknown(_) => Outcome::Unknown,
        };
        held.push((
            input.key().to_string(),
            op.call,
            op.ret,
            format!("{input:?}"),
            format!("{outcome:?}"),
        ));
    }
    held.sort();
    held
}

fn held_registers(
    ops: &[Op<checker::models::keyed::KeyedInput<RegisterInput>, RegisterOutput>],
) -> Vec<Held> {
    let mut held: Vec<Held> = ops
        .iter()
        .map(|o| {
            let Scalar::Str(key) = &o.input.key else {
                panic!("a key that is no string: {:?}", o.input.key)
            };
            (
                key.clone(),
                o.call,
                o.ret,
                format!("{:?}", o.input.input),
                format!("{:?}", o.outcome),
            )
        })
        .collect();
    held.sort();
    held
}

fn held_kv(ops: &[Op<KvInput, KvOutput>]) -> Vec<Held> {
    let mut held: Vec<Held> = ops
        .iter()
        .map(|o| {
            (
                o.input.key().to_string(),
                o.call,
                o.ret,
                format!("{:?}", o.input),
                format!("{:?}", o.outcome),
            )
        })
        .collect();
    held.sort();
    held
}

/// Operations without their times, in one order: porcupine's layout has no
/// times, so what comes back are positions in the file.
fn untimed(held: Vec<Held>) -> Vec<(String, String, String)> {
    let mut ops: Vec<_> = held.into_iter().map(|(k, _, _, i, o)| (k, i, o)).collect();
    ops.sort();
    ops
}

/// Exports `h` as Jepsen EDN, imports it as keyed registers: the operations
/// and the verdict.
fn jepsen_round_trip(h: &History) -> (Vec<Held>, bool) {
    let (text, _) = jepsen_edn::to_edn(h).expect("exportable as jepsen-edn");
    let imported = edn::import(&text).expect("the export reads back");
    if !imported.ops.is_empty() {
        assert!(matches!(key_source(&imported), KeySource::Tuples { .. }));
    }
    let ops = keyed_register_ops(&imported).expect("keyed register operations");
    (
        held_registers(&ops),
        decided(&Keyed::new(RegisterModel), &ops),
    )
}

/// Exports `h` as porcupine kv, imports it with the kv model.
fn porcupine_round_trip(h: &History) -> (Vec<Held>, bool) {
    let (text, _) = porcupine_kv::to_text(h).expect("exportable as porcupine-kv");
    let imported = edn::import(&text).expect("the export reads back");
    let ops = kv_ops(&imported).expect("kv operations");
    (held_kv(&ops), decided(&KvModel, &ops))
}

fn generated(seed: u64, cas: bool) -> History {
    generate(&GenConfig {
        seed,
        operations: 200,
        keys: 4,
        clients: 5,
        unknown_writes: 0.05,
        mix: Mix::Registers { cas },
        ..GenConfig::default()
    })
}

/// `h` with its `nth` answered single-key read answered `value` instead.
fn misread(h: &History, nth: usize, value: Option<String>) -> Option<History> {
    let mut h = h.clone();
    let reads: Vec<usize> = (0..h.operations.len())
        .filter(|&i| current_read(&h.operations[i]).is_some())
        .collect();
    let &i = reads.get(nth % reads.len().max(1))?;
    let key = match &h.operations[i].request {
        Request::Range(r) => r.key.clone(),
        _ => return None,
    };
    if let OpResult::Ok(Response::Range(a)) = &mut h.operations[i].result {
        match (value, a.kvs.first_mut()) {
            (Some(v), Some(kv)) => kv.value = v,
            (Some(v), None) => {
                a.kvs.push(checker::history::KeyValue {
                    key,
                    value: v,
                    create_revision: a.header_revision,
                    mod_revision: a.header_revision,
                    version: 1,
                    lease: 0,
                    ttl: 0,
                });
                a.count = 1;
            }
            (None, _) => {
                a.kvs.clear();
                a.count = 0;
            }
        }
    }
    Some(h)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn jepsen_edn_round_trip_keeps_operations_and_the_verdict(seed in 0u64..1_000_000) {
        let h = generated(seed, true);
        let (held, linearizable) = jepsen_round_trip(&h);
        prop_assert_eq!(held, expected_registers(&h));
        prop_assert_eq!(linearizable, etcd_linearizable(&h));
    }

    #[test]
    fn porcupine_kv_round_trip_keeps_operations_and_the_verdict(seed in 0u64..1_000_000) {
        let h = generated(seed, false);
        let (held, linearizable) = porcupine_round_trip(&h);
        prop_assert_eq!(untimed(held), untimed(expected_kv(&h)));
        prop_assert_eq!(linearizable, etcd_linearizable(&h));
    }

    #[test]
    fn a_register_violation_is_always_an_etcd_violation(
        seed in 0u64..1_000_000,
        nth in 0usize..1000,
        pick in 0u64..1000,
    ) {
        let h = generated(seed, true);
        // Another value of the run (possibly of this key, possibly absent).
        let mut rng = Rng::new(pick);
        let value = (!rng.chance(0.15)).then(|| format!("v{}", rng.below(200)));
        let Some(bad) = misread(&h, nth, value) else { return Ok(()) };
        let (_, jepsen) = jepsen_round_trip(&bad);
        let etcd = etcd_linearizable(&bad);
        prop_assert!(jepsen || !etcd, "the registers fail where etcd passes");
        let plain = generated(seed, false);
        if let Some(bad) = misread(&plain, nth, Some(format!("v{}", pick % 200))) {
            let (_, kv) = porcupine_round_trip(&bad);
            prop_assert!(kv || !etcd_linearizable(&bad), "kv fails where etcd passes");
        }
    }

    #[test]
    fn a_value_never_written_fails_everywhere(seed in 0u64..1_000_000, nth in 0usize..1000) {
        for cas in [true, false] {
            let Some(bad) = misread(&generated(seed, cas), nth, Some("never written".into())) else {
                continue;
            };
            prop_assert!(!etcd_linearizable(&bad));
            prop_assert!(!jepsen_round_trip(&bad).1);
            if !cas {
                prop_assert!(!porcupine_round_trip(&bad).1);
            }
        }
    }
}

/// A recorded run of puts, deletes and gets under a crash and a partition
/// (`tests/data/puts-gets.toml`, seed 3): both exports keep its operations
/// and its verdict, and its faults show on the timeline of `faultline check`.
#[test]
fn a_real_run_keeps_its_operations_and_verdict() {
    let h = support::recorded::history("puts-gets-3.jsonl.gz");
    assert!(etcd_linearizable(&h));
    let (held, linearizable) = jepsen_round_trip(&h);
    assert_eq!(held, expected_registers(&h));
    assert!(linearizable);
    assert!(held.len() > 250, "{} operations kept", held.len());
    let (held, linearizable) = porcupine_round_trip(&h);
    assert_eq!(untimed(held), untimed(expected_kv(&h)));
    assert!(linearizable);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/history.edn");
    let summary = export(&h, ExportFormat::JepsenEdn, &file).expect("written");
    assert!(
        summary
            .to_string()
            .contains("a compaction (changes no key's value)"),
        "{summary}"
    );
    let out = check_file(
        &file,
        &CheckFileOptions {
            model: ModelKind::Register,
            format: InputFormat::Auto,
            ..CheckFileOptions::default()
        },
    )
    .expect("checks");
    assert_eq!(out.exit_code(), 0, "{out}");
    let shown = out.to_string();
    assert!(
        shown.contains("1.500 s  nemesis: :info :start \"crash m1\""),
        "{shown}"
    );
    assert!(
        shown.contains("2.500 s  nemesis: :info :stop \"crash m1\""),
        "{shown}"
    );
}

#[test]
fn a_planted_stale_read_in_a_real_run_fails_after_the_export() {
    let h = support::recorded::history("puts-gets-3.jsonl.gz");
    // The last read of a key that saw a value written twice before now sees
    // that key's first value: a stale read, in values alone.
    let mut bad = h.clone();
    let mut first: std::collections::HashMap<String, String> = Default::default();
    for op in &h.operations {
        if let (Request::Put(p), OpResult::Ok(_)) = (&op.request, &op.result) {
            first
                .entry(p.key.clone())
                .or_insert_with(|| p.value.clone());
        }
    }
    let i = bad
        .operations
        .iter()
        .rposition(|o| {
            current_read(o).is_some_and(|(k, v)| v.is_some() && first.get(&k) != v.as_ref())
        })
        .expect("a read of a rewritten key");
    let (key, _) = current_read(&bad.operations[i]).unwrap();
    if let OpResult::Ok(Response::Range(a)) = &mut bad.operations[i].result {
        a.kvs[0].value = first[&key].clone();
    }
    assert!(!etcd_linearizable(&bad));
    assert!(!jepsen_round_trip(&bad).1);
    assert!(!porcupine_round_trip(&bad).1);
}

#[test]
fn writes_the_formats_cannot_hold_are_refused_naming_the_operation() {
    // standard-100401 has puts attached to leases, leases-2 revokes.
    for name in ["standard-100401.jsonl.gz", "leases-2.jsonl"] {
        let h = support::recorded::history(name);
        let e = jepsen_edn::to_edn(&h).unwrap_err().to_string();
        assert!(
            e.starts_with("operation ") && e.contains("cannot be written in the jepsen-edn format"),
            "{e}"
        );
        let e = porcupine_kv::to_text(&h).unwrap_err().to_string();
        assert!(e.contains("porcupine-kv format"), "{e}");
    }
    // A cas that may have taken effect: Jepsen holds it, porcupine's kv does not.
    let h = generated(11, true);
    let cas = h
        .operations
        .iter()
        .find(|o| {
            matches!(&o.request, Request::Txn(_))
                && matches!(&o.result, OpResult::Ok(Response::Txn(t)) if t.succeeded)
        })
        .expect("a cas that succeeded");
    jepsen_edn::to_edn(&h).expect("jepsen holds a cas");
    let e = porcupine_kv::to_text(&h).unwrap_err().to_string();
    assert!(
        e.contains(&format!("operation {} ", cas.id)) && e.contains("a cas"),
        "{e}"
    );
}

#[test]
fn export_formats_are_listed() {
    let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["etcd-robustness", "jepsen-edn", "porcupine-kv"]);
    assert_eq!("porcupine-kv".parse(), Ok(ExportFormat::PorcupineKv));
    let e = "jepsen".parse::<ExportFormat>().unwrap_err();
    assert!(e.contains("jepsen-edn"), "{e}");
}

/// The layouts, line by line: jepsen.history's field order with `:time` and
/// `:index`; porcupine's exact kv lines.
#[test]
fn the_layouts_are_the_formats_own() {
    let h = generated(5, false);
    let (edn_text, _) = jepsen_edn::to_edn(&h).unwrap();
    let first = edn_text.lines().next().unwrap();
    assert!(
        first.starts_with("{:type :invoke, :f :") && first.ends_with(", :index 0}"),
        "{first}"
    );
    let (kv_text, _) = porcupine_kv::to_text(&h).unwrap();
    for line in kv_text.lines() {
        let shape = line.starts_with("{:process ")
            && [
                ", :type :invoke, :f :",
                ", :type :ok, :f :",
                ", :type :info, :f :",
            ]
            .iter()
            .any(|t| line.contains(t))
            && line.contains(", :key \"")
            && line.ends_with('}');
        assert!(shape, "{line}");
        if line.contains(":type :invoke, :f :get") {
            assert!(line.ends_with(", :value nil}"), "{line}");
        } else {
            assert!(line.ends_with("\"}"), "{line}");
        }
    }
}
