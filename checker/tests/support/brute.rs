//! A brute-force linearizability checker: tries every order of the operations
//! that respects real time. Exponential, so only for small histories; written
//! independently of the engine (no cache, no greedy steps, no pruning).

use checker::linearizable::{Model, Op, Outcome};

pub fn linearizable<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>]) -> bool {
    let mut state = model.init();
    let mut done = vec![false; ops.len()];
    search(model, ops, &mut state, &mut done)
}

fn required<I, O>(op: &Op<I, O>) -> bool {
    matches!(op.outcome, Outcome::Ok(_))
}

fn search<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    state: &mut M::State,
    done: &mut [bool],
) -> bool {
    if ops
        .iter()
        .zip(done.iter())
        .all(|(op, d)| *d || !required(op))
    {
        return true;
    }
    for i in 0..ops.len() {
        if done[i] {
            continue;
        }
        // `i` can go next unless a pending operation returned before it was called.
        let blocked = ops.iter().enumerate().any(|(j, other)| {
            j != i && !done[j] && required(other) && other.ret.unwrap_or(u64::MAX) < ops[i].call
        });
        if blocked {
            continue;
        }
        match &ops[i].outcome {
            Outcome::Ok(out) => {
                if let Some(undo) = model.apply(state, &ops[i].input, out) {
                    done[i] = true;
                    let found = search(model, ops, state, done);
                    done[i] = false;
                    model.undo(state, undo);
                    if found {
                        return true;
                    }
                }
            }
            Outcome::Unknown => {
                for branch in 0..model.unknown_branches(&ops[i].input) {
                    if let Some(undo) = model.apply_unknown(state, &ops[i].input, branch) {
                        done[i] = true;
                        let found = search(model, ops, state, done);
                        done[i] = false;
                        model.undo(state, undo);
                        if found {
                            return true;
                        }
                    }
                }
            }
        }
    }
    false
}
