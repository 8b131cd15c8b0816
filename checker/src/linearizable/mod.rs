//! The linearizability engine: WGL search over any [`Model`], optionally per
//! partition, with a time limit and a memory bound that end in `Unknown`.

mod fingerprint;
mod gates;
mod links;
mod model;
mod parallel;
mod search;

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use crate::history::Issuer;
pub use fingerprint::{hash128, zobrist};
pub use model::{Model, Op, Outcome};
pub use search::{DeadEnd, Run, SearchLimits, SearchOutcome, SearchStats, Step, search};

/// What the engine concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linearizability {
    /// `order` linearizes every operation with a definite answer (per partition,
    /// one partition after the other, when the history was partitioned).
    Linearizable {
        order: Vec<Step>,
    },
    Violation(Counterexample),
    /// The time limit or the memory bound was reached.
    Unknown {
        reason: String,
        longest_prefix: Vec<u64>,
    },
}

impl Linearizability {
    /// One word for logs: linearizable, violation or unknown.
    pub fn word(&self) -> &'static str {
        match self {
            Linearizability::Linearizable { .. } => "linearizable",
            Linearizability::Violation(_) => "violation",
            Linearizability::Unknown { .. } => "unknown",
        }
    }
}

/// Evidence for a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// The operation that could not be placed, then the ones concurrent with it.
    pub operations: Vec<u64>,
    /// Ids of the longest linearizable prefix, in linearization order.
    pub longest_prefix: Vec<u64>,
    /// The same prefix as engine steps (indices into the input).
    pub prefix_steps: Vec<Step>,
    /// Index (into the input) of the operation that could not be placed.
    pub stuck: Option<usize>,
    /// One or two sentences for humans.
    pub explanation: String,
    /// Which partition failed, when the history was partitioned.
    pub partition: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct CheckOutput {
    pub result: Linearizability,
    pub stats: SearchStats,
    pub elapsed: Duration,
    /// How many independent parts were searched (1 when not partitioned).
    pub partitions: usize,
}

/// Checks `ops` against `model`; with `partition` the model may split the
/// history into independent parts first, searched in parallel on the
/// available cores (see [`check_with_threads`]). A violation's explanation
/// names who issued an operation by `issuer`'s word.
pub fn check<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    partition: bool,
    limits: &SearchLimits,
    issuer: Issuer,
) -> CheckOutput {
    // Asking the system costs more than checking a small history: once.
    static CORES: OnceLock<usize> = OnceLock::new();
    let threads =
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    check_with_threads(model, ops, partition, limits, issuer, threads)
}

/// [`check`] with the parts searched on at most `threads` threads. The
/// result is the same for any number of threads (limits aside): when
/// several parts are not linearizable, the one whose search found it in the
/// fewest iterations is reported (the lower-numbered on a tie), and orders
/// are concatenated in part order.
pub fn check_with_threads<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    partition: bool,
    limits: &SearchLimits,
    issuer: Issuer,
    threads: usize,
) -> CheckOutput {
    let started = Instant::now();
    let parts = if partition {
        model.partition(ops)
    } else {
        None
    }
    .unwrap_or_else(|| vec![(0..ops.len()).collect()]);
    let (outcomes, stats) = parallel::search_parts(model, ops, &parts, limits, threads);
    let violation = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Some((SearchOutcome::NotLinearizable(dead_end), iterations)) => {
                Some((*iterations, i, dead_end))
            }
            _ => None,
        })
        .min_by_key(|(iterations, i, _)| (*iterations, *i))
        .map(|(_, i, dead_end)| (i, dead_end));
    let result = if let Some((index, dead_end)) = violation {
        let mut counterexample = explain(model, ops, dead_end, issuer);
        if parts.len() > 1 {
            counterexample.partition = Some(index);
        }
        tracing::debug!(model = model.name(), ?stats, "violation found");
        Linearizability::Violation(counterexample)
    } else if outcomes
        .iter()
        .all(|o| matches!(o, Some((SearchOutcome::Linearizable(_), _))))
    {
        let order: Vec<Step> = outcomes
            .into_iter()
            .flat_map(|o| match o {
                Some((SearchOutcome::Linearizable(steps), _)) => steps,
                _ => Vec::new(),
            })
            .collect();
        tracing::debug!(model = model.name(), ?stats, "linearizability checked");
        trace_unknown_steps(model, ops, &order, "linearization");
        Linearizability::Linearizable { order }
    } else {
        // A limit stopped the search (the time limit and the memory bound
        // are shared): the lowest-numbered part that ran into it says why.
        let (reason, furthest) = outcomes
            .iter()
            .find_map(|o| match o {
                Some((SearchOutcome::Unknown { reason, furthest }, _)) => {
                    Some((reason.clone(), furthest.clone()))
                }
                _ => None,
            })
            .unwrap_or_else(|| ("the time limit ran out".to_string(), DeadEnd::default()));
        tracing::debug!(
            model = model.name(),
            stuck = ?furthest.stuck.map(|i| ops[i].id),
            prefix = furthest.prefix.len(),
            "search stopped: the furthest prefix could not place the stuck operation"
        );
        trace_unknown_steps(model, ops, &furthest.prefix, "furthest prefix");
        Linearizability::Unknown {
            reason,
            longest_prefix: furthest.prefix.iter().map(|s| ops[s.op].id).collect(),
        }
    };
    CheckOutput {
        result,
        stats,
        elapsed: started.elapsed(),
        partitions: parts.len(),
    }
}

/// At trace level, where a linearization (or the furthest prefix of a
/// search that stopped) placed each operation with an unknown outcome and
/// each expiry: what to look at when a search runs out of time.
fn trace_unknown_steps<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    steps: &[Step],
    what: &str,
) {
    if !tracing::enabled!(tracing::Level::TRACE) {
        return;
    }
    let mut previous = None;
    for (position, step) in steps.iter().enumerate() {
        let op = &ops[step.op];
        if matches!(op.outcome, Outcome::Unknown) {
            tracing::trace!(
                what,
                position,
                op = op.id,
                after = ?previous,
                step = %model.describe(&op.input, &op.outcome),
                "unknown step placed"
            );
        }
        previous = Some(op.id);
    }
}

/// Replays a linearization (or prefix) from the initial state; None if a step
/// does not apply, which would be an engine bug.
pub fn replay<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    steps: &[Step],
) -> Option<M::State> {
    let mut state = model.init();
    for step in steps {
        let op = &ops[step.op];
        let applied = match &op.outcome {
            Outcome::Ok(out) => model.apply(&mut state, &op.input, out),
            Outcome::Unknown => model.apply_unknown(&mut state, &op.input, step.branch),
        };
        applied?;
    }
    Some(state)
}

/// Why an operation that fits the state still cannot go next: a pending read
/// it would make impossible. Returns the reason and that read's index.
fn blocked_read<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    state: &M::State,
    stuck: usize,
    linearized: &HashSet<usize>,
) -> (String, Option<usize>) {
    let pending = |i: &usize| *i != stuck && !linearized.contains(i);
    let writes_before = |deadline: u64| {
        (0..ops.len())
            .filter(pending)
            .filter(move |&i| ops[i].call <= deadline)
            .filter(|&i| match &ops[i].outcome {
                Outcome::Ok(out) => !model.is_read_only(&ops[i].input, out),
                Outcome::Unknown => true,
            })
            .map(|i| &ops[i].input)
    };
    for i in (0..ops.len()).filter(pending) {
        let read = &ops[i];
        let Outcome::Ok(answer) = &read.outcome else {
            continue;
        };
        if !model.is_read_only(&read.input, answer) {
            continue;
        }
        let mut writes = writes_before(read.ret.unwrap_or(u64::MAX));
        if !model.may_still_hold(state, &ops[stuck].input, &read.input, answer, &mut writes) {
            let reason = format!(
                "it fits, but then operation {} ({}) could no longer be satisfied by any order of the operations that remain",
                read.id,
                model.describe(&read.input, &read.outcome)
            );
            return (reason, Some(i));
        }
    }
    (
        "it fits the state, but no order of the concurrent operations can follow it".to_string(),
        None,
    )
}

/// A pending operation called after `stuck` returned whose answer fits the
/// current state, the state before `stuck`: it saw the past (a stale read).
fn read_the_past<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    state: &mut M::State,
    stuck: usize,
    linearized: &HashSet<usize>,
) -> Option<usize> {
    let returned = ops[stuck].ret?;
    (0..ops.len())
        .filter(|i| *i != stuck && !linearized.contains(i) && ops[*i].call > returned)
        .find(|&i| {
            let Outcome::Ok(out) = &ops[i].outcome else {
                return false;
            };
            match model.apply(state, &ops[i].input, out) {
                Some(undo) => {
                    model.undo(state, undo);
                    true
                }
                None => false,
            }
        })
}

/// The earliest-returning pending operation with a definite answer that the
/// model says can no longer fit, when the stuck one could still fit on its
/// own (it is only held up).
fn too_late<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    state: &mut M::State,
    stuck: usize,
    linearized: &HashSet<usize>,
) -> Option<usize> {
    let fits_nowhere = |state: &mut M::State, i: usize| match &ops[i].outcome {
        Outcome::Ok(out) => model.too_late(state, &ops[i].input, out),
        Outcome::Unknown => false,
    };
    if fits_nowhere(state, stuck) {
        return None;
    }
    let mut pending: Vec<usize> = (0..ops.len())
        .filter(|i| *i != stuck && !linearized.contains(i))
        .collect();
    pending.sort_by_key(|&i| ops[i].ret.unwrap_or(u64::MAX));
    pending.into_iter().find(|&i| fits_nowhere(state, i))
}

fn explain<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    dead_end: &DeadEnd,
    issuer: Issuer,
) -> Counterexample {
    let longest_prefix: Vec<u64> = dead_end.prefix.iter().map(|s| ops[s.op].id).collect();
    let mut state = replay(model, ops, &dead_end.prefix);
    // An operation that fits nowhere any more, held up by nothing, is the one
    // to blame, even when another operation returned first.
    let stuck = match (dead_end.stuck, state.as_mut()) {
        (Some(stuck), Some(state)) => {
            let linearized: HashSet<usize> = dead_end.prefix.iter().map(|s| s.op).collect();
            Some(too_late(model, ops, state, stuck, &linearized).unwrap_or(stuck))
        }
        (stuck, _) => stuck,
    };
    let mut operations: Vec<u64> = stuck.iter().map(|&i| ops[i].id).collect();
    if let Some(first) = dead_end.stuck
        && Some(first) != stuck
    {
        operations.push(ops[first].id);
    }
    operations.extend(
        dead_end
            .concurrent
            .iter()
            .filter(|&&i| Some(i) != stuck)
            .map(|&i| ops[i].id),
    );
    let explanation = match (stuck, state) {
        (Some(stuck), Some(mut state)) => {
            let op = &ops[stuck];
            let reason = match &op.outcome {
                Outcome::Ok(out) => match model.apply(&mut state, &op.input, out) {
                    None => {
                        let linearized = dead_end.prefix.iter().map(|s| s.op).collect();
                        match read_the_past(model, ops, &mut state, stuck, &linearized) {
                            Some(later) => {
                                if !operations.contains(&ops[later].id) {
                                    operations.insert(0, ops[later].id);
                                }
                                format!(
                                    "operation {} ({}) was called after this one returned, yet its answer fits only the state before this one took effect: it read the past",
                                    ops[later].id,
                                    model.describe(&ops[later].input, &ops[later].outcome),
                                )
                            }
                            None => model.explain(&state, &op.input, out),
                        }
                    }
                    Some(undo) => {
                        let linearized = dead_end.prefix.iter().map(|s| s.op).collect();
                        let (why, read) = blocked_read(model, ops, &state, stuck, &linearized);
                        if let Some(read) = read
                            && !operations.contains(&ops[read].id)
                        {
                            operations.push(ops[read].id);
                        }
                        model.undo(&mut state, undo);
                        why
                    }
                },
                Outcome::Unknown => "its outcome is unknown".to_string(),
            };
            let others = match dead_end.concurrent.len() {
                0 => String::new(),
                1 => " The one operation concurrent with it cannot go first either.".to_string(),
                n => format!(" None of the {n} operations concurrent with it can go first either."),
            };
            format!(
                "The longest linearizable prefix has {} operations; after it, operation {} \
                 ({issuer} {}: {}) cannot take effect: {reason}.{others}",
                longest_prefix.len(),
                op.id,
                op.client,
                model.describe(&op.input, &op.outcome),
            )
        }
        _ => "No order of the operations is consistent with the model and real time.".to_string(),
    };
    Counterexample {
        operations,
        longest_prefix,
        prefix_steps: dead_end.prefix.clone(),
        stuck: dead_end.stuck,
        explanation,
        partition: None,
    }
}
