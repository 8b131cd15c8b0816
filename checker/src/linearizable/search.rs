//! The WGL search (Wing & Gong, with Lowe's configuration cache) over one
//! history or one partition of it.
//!
//! Operations with a definite answer ("required") must all be linearized, each
//! between its call and its return. Operations with an unknown outcome
//! ("optional") may be linearized at any point after their call, or never.
//!
//! Refinements over the textbook algorithm keep real histories near linear
//! time:
//! - read-only operations that fit the current state are linearized greedily,
//!   with no backtracking point: if a completion exists, one exists that starts
//!   with them (they change nothing, and every operation that must precede them
//!   is already linearized);
//! - optional operations are only tried when no required operation fits, in the
//!   order the model prefers, and only if they change the state;
//! - the model rejects most candidates in O(1) (the etcd model compares response
//!   revisions before anything else), and may prune a step that makes a
//!   pending read impossible ([`Model::may_still_hold`]);
//! - when the model gives operations footprints (the key, for kv), a dead end
//!   whose stuck operation's component cannot be completed on its own (checked
//!   by a bounded search of that component alone) jumps back past every
//!   choice of other components: by locality (Herlihy & Wing) none of them can
//!   help. The search still builds one global linearization;
//! - a dead end on an operation the model calls hopeless (no choice of the
//!   search can make it fit) ends the search at once;
//! - optional operations the model puts behind a gate (one that can only
//!   take effect in some states: an expiry, once its lease has keys) are
//!   looked at only when the model opens their gate, not at every choice.

use std::collections::HashMap;
use std::mem::size_of;
use std::rc::Rc;
use std::time::Instant;

use super::fingerprint::{ConfigCache, ConfigKey, zobrist};
use super::gates::Gates;
use super::links::{Links, NIL};
use super::model::{Model, Op, Outcome};

/// Bounds that turn a search into `Unknown` instead of a hang or an OOM kill.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    pub deadline: Option<Instant>,
    pub memory_bound_bytes: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            deadline: None,
            memory_bound_bytes: usize::MAX,
        }
    }
}

/// One linearized operation: its index in the engine's input and, for an
/// operation with an unknown outcome, which of its effects was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub op: usize,
    pub branch: u32,
}

/// Where the search got furthest before failing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadEnd {
    /// The longest linearizable prefix found.
    pub prefix: Vec<Step>,
    /// The earliest-returning operation that could not be placed after it.
    pub stuck: Option<usize>,
    /// Operations concurrent with `stuck` that were also candidates there.
    pub concurrent: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOutcome {
    Linearizable(Vec<Step>),
    NotLinearizable(DeadEnd),
    Unknown { reason: String, furthest: DeadEnd },
}

/// Counters for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub iterations: u64,
    pub applied: u64,
    pub backtracks: u64,
    pub cache_entries: usize,
    pub peak_bytes: usize,
}

enum Cursor {
    /// A new configuration: try read-only operations greedily first.
    Fresh,
    /// Try these state-changing required operations from `idx` on.
    Required { candidates: Rc<[u32]>, idx: usize },
    /// Try optional candidates from `idx`, effect `branch`.
    Optional {
        candidates: Rc<[u32]>,
        idx: usize,
        branch: u32,
    },
}

struct Frame<U> {
    op: u32,
    branch: u32,
    /// A greedy step: nothing else to try here when backtracking.
    forced: bool,
    resume: Cursor,
    undo: U,
    /// Optional operations (their nodes) taken out of the list in the
    /// configuration this step led to, because the model retired them
    /// there ([`Model::retired`]): put back when the step is undone.
    retired: Vec<u32>,
}

/// How far `viable` looks for pending reads: at most this many events, and at
/// most this many related reads past the window.
const LOOKAHEAD_EVENTS: usize = 512;
const LOOKAHEAD_READS: usize = 8;

/// How often (in loop iterations) the clock and the memory bound are checked.
const BUDGET_INTERVAL: u64 = 1024;

/// Runs the search over `subset` (indices into `ops`) to the end.
pub fn search<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    subset: &[usize],
    limits: &SearchLimits,
    stats: &mut SearchStats,
) -> SearchOutcome {
    let mut run = Run::new(model, ops, subset);
    loop {
        if let Some(outcome) = run.advance(u64::MAX, 0, limits, stats) {
            run.finish(stats);
            return outcome;
        }
    }
}

struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Op<M::Input, M::Output>],
    /// Local index -> index in `ops`.
    global: Vec<usize>,
    read_only: Vec<bool>,
    /// Required operations: call and return events sorted by time.
    ev_op: Vec<u32>,
    ev_is_return: Vec<bool>,
    ev_time: Vec<u64>,
    call_ev: Vec<u32>,
    ret_ev: Vec<u32>,
    events: Links,
    required: usize,
    /// Optional operations sorted by call time; `opt_node[op]` is the node.
    opt_op: Vec<u32>,
    opt_call: Vec<u64>,
    /// When the model expects each optional operation took effect, if at all.
    opt_expected: Vec<u64>,
    opt_node: Vec<u32>,
    /// Every optional operation not linearized or retired, in call order.
    optional: Links,
    /// Those of them without a gate ([`Model::gate`]), walked at each choice.
    ungated: Links,
    /// Per gate, its optional operations' nodes in call order.
    gated: Gates,
    node_gated: Vec<bool>,
    zobrist: Vec<u128>,
    /// Per operation: the independent component it belongs to, if the model says.
    footprint: Vec<Option<u64>>,
    lifted: Vec<bool>,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, ops: &'a [Op<M::Input, M::Output>], subset: &[usize]) -> Self {
        let mut global = Vec::new();
        let mut read_only = Vec::new();
        let mut required_events: Vec<(u64, bool, u32)> = Vec::new();
        let mut optional_calls: Vec<(u64, u32)> = Vec::new();
        for &g in subset {
            let op = &ops[g];
            let local = global.len() as u32;
            match &op.outcome {
                Outcome::Ok(out) => {
                    read_only.push(model.is_read_only(&op.input, out));
                    required_events.push((op.call, false, local));
                    required_events.push((op.ret.unwrap_or(u64::MAX).max(op.call), true, local));
                }
                Outcome::Unknown => {
                    if !model.may_have_effect(&op.input) {
                        continue;
                    }
                    read_only.push(false);
                    optional_calls.push((op.call, local));
                }
            }
            global.push(g);
        }
        // At equal times calls sort before returns: such operations count as
        // concurrent, the permissive reading.
        required_events.sort_unstable();
        optional_calls.sort_unstable();
        let n = global.len();
        let mut call_ev = vec![NIL; n];
        let mut ret_ev = vec![NIL; n];
        let (mut ev_op, mut ev_is_return, mut ev_time) = (vec![], vec![], vec![]);
        for (i, &(t, is_ret, op)) in required_events.iter().enumerate() {
            if is_ret {
                ret_ev[op as usize] = i as u32;
            } else {
                call_ev[op as usize] = i as u32;
            }
            ev_op.push(op);
            ev_is_return.push(is_ret);
            ev_time.push(t);
        }
        let mut opt_node = vec![NIL; n];
        let (mut opt_op, mut opt_call, mut opt_expected) = (vec![], vec![], vec![]);
        for (i, &(t, op)) in optional_calls.iter().enumerate() {
            opt_node[op as usize] = i as u32;
            opt_op.push(op);
            opt_call.push(t);
            opt_expected.push(model.unknown_expected_time(&ops[global[op as usize]]));
        }
        let mut ungated = Links::new(opt_op.len());
        let mut gate_pairs = Vec::new();
        let mut node_gated = vec![false; opt_op.len()];
        for (node, &op) in opt_op.iter().enumerate() {
            if let Some(gate) = model.gate(&ops[global[op as usize]].input) {
                // Out for good: a gated node is reached through its gate.
                ungated.remove(node as u32);
                gate_pairs.push((gate, node as u32));
                node_gated[node] = true;
            }
        }
        let gated = Gates::new(gate_pairs);
        let zobrist = global.iter().map(|&g| zobrist(g as u64)).collect();
        let footprint = global
            .iter()
            .map(|&g| model.footprint(&ops[g].input))
            .collect();
        let lifted = vec![false; global.len()];
        Search {
            model,
            ops,
            events: Links::new(ev_op.len()),
            required: required_events.len() / 2,
            optional: Links::new(opt_op.len()),
            ungated,
            gated,
            node_gated,
            global,
            read_only,
            ev_op,
            ev_is_return,
            ev_time,
            call_ev,
            ret_ev,
            opt_op,
            opt_call,
            opt_expected,
            opt_node,
            zobrist,
            footprint,
            lifted,
        }
    }

    /// Whether the operations fall into more than one known component (only
    /// then is backjumping worth a component search).
    fn has_components(&self) -> bool {
        let mut first = None;
        for f in &self.footprint {
            match (f, first) {
                (None, _) => return false,
                (Some(k), None) => first = Some(*k),
                (Some(k), Some(j)) if *k != j => return true,
                _ => {}
            }
        }
        false
    }

    fn op(&self, local: u32) -> &'a Op<M::Input, M::Output> {
        &self.ops[self.global[local as usize]]
    }

    fn is_required(&self, local: u32) -> bool {
        self.call_ev[local as usize] != NIL
    }

    fn lift(&mut self, local: u32) {
        self.lifted[local as usize] = true;
        if self.is_required(local) {
            self.events.remove(self.call_ev[local as usize]);
            self.events.remove(self.ret_ev[local as usize]);
        } else {
            self.take_out(self.opt_node[local as usize]);
        }
    }

    fn unlift(&mut self, local: u32) {
        self.lifted[local as usize] = false;
        if self.is_required(local) {
            self.events.restore(self.ret_ev[local as usize]);
            self.events.restore(self.call_ev[local as usize]);
        } else {
            self.put_back(self.opt_node[local as usize]);
        }
    }

    /// Takes an optional operation's node out of the lists it is in.
    fn take_out(&mut self, node: u32) {
        self.optional.remove(node);
        if !self.is_gated(node) {
            self.ungated.remove(node);
        }
    }

    /// Puts back the node most recently taken out and still out.
    fn put_back(&mut self, node: u32) {
        if !self.is_gated(node) {
            self.ungated.restore(node);
        }
        self.optional.restore(node);
    }

    fn is_gated(&self, node: u32) -> bool {
        self.node_gated[node as usize]
    }

    fn apply_op(&self, state: &mut M::State, local: u32, branch: u32) -> Option<M::Undo> {
        let op = self.op(local);
        match &op.outcome {
            Outcome::Ok(out) => self.model.apply(state, &op.input, out),
            Outcome::Unknown => self.model.apply_unknown(state, &op.input, branch),
        }
    }

    /// The earliest pending return event, if any.
    fn first_return(&self) -> u32 {
        let mut e = self.events.first();
        while e != NIL && !self.ev_is_return[e as usize] {
            e = self.events.next(e);
        }
        e
    }

    fn dead_end(&self, stack: &[Frame<M::Undo>]) -> DeadEnd {
        let prefix = stack
            .iter()
            .map(|f| Step {
                op: self.global[f.op as usize],
                branch: f.branch,
            })
            .collect();
        let stuck_ev = self.first_return();
        let stuck = (stuck_ev != NIL).then(|| self.ev_op[stuck_ev as usize]);
        let mut concurrent = Vec::new();
        let mut e = self.events.first();
        while e != NIL && !self.ev_is_return[e as usize] {
            let op = self.ev_op[e as usize];
            if Some(op) != stuck {
                concurrent.push(self.global[op as usize]);
            }
            e = self.events.next(e);
        }
        DeadEnd {
            prefix,
            stuck: stuck.map(|op| self.global[op as usize]),
            concurrent,
        }
    }

    /// After `local` changed the state: can every pending read still be
    /// linearized? (Only for models that check pending reads.) Checks the reads
    /// of the window, then the next few related reads beyond it: any pending
    /// read may be checked, and the nearest ones prune wrong orders earliest.
    fn viable(&mut self, state: &M::State, local: u32) -> bool {
        if !self.model.checks_pending_reads() {
            return true;
        }
        self.lift(local);
        let last = &self.op(local).input;
        let mut reads: Vec<(u32, u64)> = Vec::new();
        let mut beyond_window = false;
        let mut related_beyond = 0;
        for (seen, e) in walk(&self.events).enumerate() {
            if seen >= LOOKAHEAD_EVENTS || related_beyond >= LOOKAHEAD_READS {
                break;
            }
            if self.ev_is_return[e as usize] {
                beyond_window = true;
                continue;
            }
            let op = self.ev_op[e as usize];
            if !self.read_only[op as usize] || !self.model.related(last, &self.op(op).input) {
                continue;
            }
            if beyond_window {
                related_beyond += 1;
            }
            reads.push((op, self.ev_time[self.ret_ev[op as usize] as usize]));
        }
        let horizon = reads.iter().map(|(_, d)| *d).max().unwrap_or(0);
        let mut writes: Vec<(u64, &'a M::Input)> = walk(&self.events)
            .take_while(|&e| self.ev_time[e as usize] <= horizon)
            .filter(|&e| {
                !self.ev_is_return[e as usize] && !self.read_only[self.ev_op[e as usize] as usize]
            })
            .map(|e| {
                (
                    self.ev_time[e as usize],
                    &self.op(self.ev_op[e as usize]).input,
                )
            })
            .collect();
        writes.extend(
            walk(&self.optional)
                .take_while(|&n| self.opt_call[n as usize] <= horizon)
                .map(|n| {
                    (
                        self.opt_call[n as usize],
                        &self.op(self.opt_op[n as usize]).input,
                    )
                }),
        );
        writes.sort_by_key(|(call, _)| *call);
        let ok = reads.iter().all(|&(read, deadline)| {
            let op = self.op(read);
            let Outcome::Ok(answer) = &op.outcome else {
                return true;
            };
            let mut before = writes
                .iter()
                .take_while(|(call, _)| *call <= deadline)
                .map(|(_, input)| *input);
            self.model
                .may_still_hold(state, last, &op.input, answer, &mut before)
        });
        self.unlift(local);
        ok
    }

    /// After `local`, an operation with an unknown outcome, changed the
    /// state: are there still as many pending such operations that may take
    /// a step as the model says must still be taken? (A wrong choice that
    /// uses up the last request able to fill a revision is found here, not
    /// at the read that needs that revision thousands of steps later.) Only
    /// checked after such steps: one is taken wherever the bound counts a
    /// step, so a shortfall shows at the next at the latest, and checking
    /// after every definite step would cost a walk of the pending ones each.
    fn enough_steps_left(&self, state: &M::State, local: u32) -> bool {
        let needed = self.model.steps_still_needed(state);
        if needed == 0 {
            return true;
        }
        let mut found = 0;
        // Newest first: the oldest are the likeliest to be spent (a lease
        // long revoked), the newest to be still to come.
        for node in walk_back(&self.optional) {
            let op = self.opt_op[node as usize];
            if op != local && self.model.may_still_step(state, &self.op(op).input) {
                found += 1;
                if found >= needed {
                    return true;
                }
            }
        }
        false
    }

    /// State-changing required operations in the window, earliest return first:
    /// the operation with the least slack is the likeliest to go next.
    fn required_candidates(&self) -> Rc<[u32]> {
        let mut window: Vec<(u64, u32)> = Vec::new();
        let mut e = self.events.first();
        while e != NIL && !self.ev_is_return[e as usize] {
            let local = self.ev_op[e as usize];
            if !self.read_only[local as usize] {
                window.push((self.ev_time[self.ret_ev[local as usize] as usize], local));
            }
            e = self.events.next(e);
        }
        window.sort_unstable();
        window.into_iter().map(|(_, local)| local).collect()
    }

    /// Where an optional candidate of `rank` goes among the others: by rank,
    /// then those expected before the model's time `hint` first, nearest first.
    fn order(&self, hint: Option<u64>, node: u32, rank: u8) -> (u8, bool, u64, u32) {
        let expected = self.opt_expected[node as usize];
        let (after, distance) = match hint {
            Some(t) => (expected > t, expected.abs_diff(t)),
            None => (false, expected),
        };
        (rank, after, distance, self.opt_op[node as usize])
    }

    /// Optional operations called no later than `horizon`, in the model's order,
    /// then nearest first to the time the model thinks the next step happened
    /// (a request whose outcome is unknown usually took effect soon after its
    /// call, if at all; the model may expect another time), else in call order.
    /// The ungated ones are walked; a gated one is looked at only when the
    /// model opens its gate in this state.
    ///
    /// Ungated ones the model retires in this state are taken out of the list and
    /// added to `retired`, for the caller to put back when it backtracks past
    /// this configuration (every configuration the search reaches from here
    /// extends it, so none of them could use them either).
    fn optional_candidates(
        &mut self,
        state: &M::State,
        horizon: u64,
        retired: &mut Vec<u32>,
    ) -> Rc<[u32]> {
        let hint = self.model.unknown_time_hint(state);
        let mut ranked: Vec<(u8, bool, u64, u32)> = Vec::new();
        let mut node = self.ungated.first();
        while node != NIL && self.opt_call[node as usize] <= horizon {
            let local = self.opt_op[node as usize];
            let input = &self.op(local).input;
            let rank = self.model.unknown_rank(state, input);
            if rank == u8::MAX {
                // A removed node keeps its own links: the walk goes on.
                if self.model.retired(state, input) {
                    self.take_out(node);
                    retired.push(node);
                }
                node = self.ungated.next(node);
                continue;
            }
            ranked.push(self.order(hint, node, rank));
            node = self.ungated.next(node);
        }
        if !self.gated.is_empty() {
            self.model.open_gates(state, &mut |gate| {
                for &node in self.gated.nodes(gate) {
                    if self.opt_call[node as usize] > horizon {
                        break;
                    }
                    let local = self.opt_op[node as usize];
                    if self.lifted[local as usize] {
                        continue;
                    }
                    let rank = self.model.unknown_rank(state, &self.op(local).input);
                    if rank != u8::MAX {
                        ranked.push(self.order(hint, node, rank));
                    }
                }
            });
        }
        ranked.sort_unstable();
        // A gate opened twice offers its operations twice.
        ranked.dedup();
        ranked.into_iter().map(|(_, _, _, local)| local).collect()
    }
}

/// How many iterations a component search may take when deciding whether to
/// backjump; past it the search backtracks normally.
const COMPONENT_BUDGET: u64 = 50_000;

/// One search in progress: it can be advanced in slices (partitions are
/// searched round-robin) and resumed where it stopped.
pub struct Run<'a, M: Model> {
    search: Search<'a, M>,
    /// Always Some, except while a component search borrows it.
    state: Option<M::State>,
    cache: ConfigCache,
    stack: Vec<Frame<M::Undo>>,
    linearized: u128,
    required_left: usize,
    cursor: Cursor,
    furthest: DeadEnd,
    /// Return time of the stuck operation of `furthest`.
    furthest_at: u64,
    iterations: u64,
    /// Work since the limits were last checked: this run's iterations and
    /// those of the component searches it ran (one of them may take
    /// `COMPONENT_BUDGET` iterations, so counting only this run's own would
    /// let a search overrun its deadline by minutes).
    unchecked_work: u64,
    backjump: bool,
    /// Component configurations already decided: (component, its linearized
    /// operations, its state) -> feasible.
    decided: HashMap<(u64, u128, u128), bool>,
}

impl<'a, M: Model> Run<'a, M> {
    pub fn new(model: &'a M, ops: &'a [Op<M::Input, M::Output>], subset: &[usize]) -> Self {
        let search = Search::new(model, ops, subset);
        let backjump = search.has_components();
        Run::with_state(search, model.init(), backjump)
    }

    fn with_state(search: Search<'a, M>, state: M::State, backjump: bool) -> Self {
        Run {
            required_left: search.required,
            search,
            state: Some(state),
            cache: ConfigCache::default(),
            stack: Vec::new(),
            linearized: 0,
            cursor: Cursor::Fresh,
            furthest: DeadEnd::default(),
            furthest_at: 0,
            iterations: 0,
            unchecked_work: BUDGET_INTERVAL,
            backjump,
            decided: HashMap::new(),
        }
    }

    /// Iterations of this run so far (not counting component searches):
    /// a deterministic measure of how far it got.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Memory the run holds now.
    pub fn bytes(&self) -> usize {
        let s = &self.search;
        s.events.bytes()
            + s.optional.bytes()
            + s.ungated.bytes()
            + s.gated.bytes()
            + s.global.len() * 64
            + self.cache.capacity() * (size_of::<ConfigKey>() + 1)
            + self.stack.capacity() * size_of::<Frame<M::Undo>>()
            + self.state.as_ref().map_or(0, |st| s.model.state_bytes(st))
    }

    /// Adds the run's counters to `stats` once it is over.
    pub fn finish(&self, stats: &mut SearchStats) {
        stats.iterations += self.iterations;
        stats.cache_entries += self.cache.len();
    }

    /// Undoes every linearized step and hands the state back.
    fn into_state(mut self) -> Option<M::State> {
        while self.pop().is_some() {}
        self.state.take()
    }

    fn steps(&self) -> Vec<Step> {
        self.stack
            .iter()
            .map(|f| Step {
                op: self.search.global[f.op as usize],
                branch: f.branch,
            })
            .collect()
    }

    /// Linearizes `local` (already applied to the state).
    fn push(
        &mut self,
        local: u32,
        branch: u32,
        forced: bool,
        resume: Cursor,
        undo: M::Undo,
        key: u128,
    ) {
        self.search.lift(local);
        self.linearized = key;
        if self.search.is_required(local) {
            self.required_left -= 1;
        }
        self.stack.push(Frame {
            op: local,
            branch,
            forced,
            resume,
            undo,
            retired: Vec::new(),
        });
    }

    /// Takes back the last linearized step.
    fn pop(&mut self) -> Option<Popped> {
        let Frame {
            op,
            forced,
            resume,
            undo,
            retired,
            ..
        } = self.stack.pop()?;
        if let Some(state) = self.state.as_mut() {
            self.search.model.undo(state, undo);
        }
        // Removed after `op` was lifted: put back first (the links are LIFO).
        for &node in retired.iter().rev() {
            self.search.put_back(node);
        }
        self.search.unlift(op);
        self.linearized ^= self.search.zobrist[op as usize];
        if self.search.is_required(op) {
            self.required_left += 1;
        }
        Some(Popped { op, forced, resume })
    }

    /// Runs at most `budget` iterations; None if the search is not over.
    /// `other_bytes` is memory other runs hold (the bound is shared).
    pub fn advance(
        &mut self,
        budget: u64,
        other_bytes: usize,
        limits: &SearchLimits,
        stats: &mut SearchStats,
    ) -> Option<SearchOutcome> {
        let mut spent: u64 = 0;
        loop {
            if spent >= budget {
                return None;
            }
            spent += 1;
            self.iterations += 1;
            self.unchecked_work += 1;
            if self.unchecked_work >= BUDGET_INTERVAL {
                self.unchecked_work = 0;
                let bytes = self.bytes() + other_bytes;
                stats.peak_bytes = stats.peak_bytes.max(bytes);
                if let Some(reason) = over_budget(limits, bytes, &self.cache) {
                    let at_least = self.search.dead_end(&self.stack);
                    let furthest = if at_least.prefix.len() > self.furthest.prefix.len() {
                        at_least
                    } else {
                        self.furthest.clone()
                    };
                    return Some(SearchOutcome::Unknown { reason, furthest });
                }
            }
            if self.required_left == 0 {
                return Some(SearchOutcome::Linearizable(self.steps()));
            }
            let Some(mut state) = self.state.take() else {
                return Some(SearchOutcome::Unknown {
                    reason: "internal error: the search lost its state".to_string(),
                    furthest: self.furthest.clone(),
                });
            };
            let moved = self.step(&mut state, stats);
            self.state = Some(state);
            match moved {
                Move::Stepped => {}
                Move::DeadEnd => {
                    stats.backtracks += 1;
                    // Keep the first dead end on the latest-returning stuck
                    // operation: the configuration the search preferred there.
                    let stuck = self.search.first_return();
                    let stuck_at = if stuck == NIL {
                        0
                    } else {
                        self.search.ev_time[stuck as usize]
                    };
                    if stuck_at > self.furthest_at || self.furthest.stuck.is_none() {
                        self.furthest_at = stuck_at;
                        self.furthest = self.search.dead_end(&self.stack);
                    }
                    if self.stuck_is_hopeless(stuck) {
                        return Some(SearchOutcome::NotLinearizable(self.furthest.clone()));
                    }
                    if self.backjump {
                        match self.jump_back(limits, stats) {
                            Jump::Exhausted => {
                                return Some(SearchOutcome::NotLinearizable(self.furthest.clone()));
                            }
                            Jump::Resumed => continue,
                            Jump::NotTaken => {}
                        }
                    }
                    if !self.backtrack() {
                        return Some(SearchOutcome::NotLinearizable(self.furthest.clone()));
                    }
                }
            }
        }
    }

    /// One move from the current cursor: a linearization step, or a dead end.
    fn step(&mut self, state: &mut M::State, stats: &mut SearchStats) -> Move {
        let model = self.search.model;
        match std::mem::replace(&mut self.cursor, Cursor::Fresh) {
            Cursor::Fresh => {
                let mut e = self.search.events.first();
                while e != NIL && !self.search.ev_is_return[e as usize] {
                    let local = self.search.ev_op[e as usize];
                    if self.search.read_only[local as usize] {
                        stats.applied += 1;
                        if let Some(undo) = self.search.apply_op(state, local, 0) {
                            let key = self.linearized ^ self.search.zobrist[local as usize];
                            self.push(local, 0, true, Cursor::Fresh, undo, key);
                            return Move::Stepped;
                        }
                    }
                    e = self.search.events.next(e);
                }
                self.cursor = Cursor::Required {
                    candidates: self.search.required_candidates(),
                    idx: 0,
                };
                Move::Stepped
            }
            Cursor::Required {
                candidates,
                mut idx,
            } => {
                while idx < candidates.len() {
                    let local = candidates[idx];
                    idx += 1;
                    stats.applied += 1;
                    if let Some(undo) = self.search.apply_op(state, local, 0) {
                        let key = ConfigKey {
                            linearized: self.linearized ^ self.search.zobrist[local as usize],
                            state: model.fingerprint(state),
                        };
                        if self.search.viable(state, local) && self.cache.insert(key) {
                            let resume = Cursor::Required {
                                candidates: candidates.clone(),
                                idx,
                            };
                            self.push(local, 0, false, resume, undo, key.linearized);
                            return Move::Stepped;
                        }
                        model.undo(state, undo);
                    }
                }
                let first_return = self.search.first_return();
                let horizon = if first_return == NIL {
                    u64::MAX
                } else {
                    self.search.ev_time[first_return as usize]
                };
                // Retired in this configuration: put back when its last
                // step is undone (at the root, never: every configuration
                // extends the root).
                let mut retired = Vec::new();
                let candidates = self
                    .search
                    .optional_candidates(state, horizon, &mut retired);
                if let Some(top) = self.stack.last_mut() {
                    top.retired.append(&mut retired);
                }
                self.cursor = Cursor::Optional {
                    candidates,
                    idx: 0,
                    branch: 0,
                };
                Move::Stepped
            }
            Cursor::Optional {
                candidates,
                mut idx,
                mut branch,
            } => {
                while idx < candidates.len() {
                    let local = candidates[idx];
                    let branches = model.unknown_branches(&self.search.op(local).input);
                    while branch < branches {
                        stats.applied += 1;
                        if let Some(undo) = self.search.apply_op(state, local, branch) {
                            let key = ConfigKey {
                                linearized: self.linearized ^ self.search.zobrist[local as usize],
                                state: model.fingerprint(state),
                            };
                            if self.search.viable(state, local)
                                && self.search.enough_steps_left(state, local)
                                && self.cache.insert(key)
                            {
                                let resume = Cursor::Optional {
                                    candidates: candidates.clone(),
                                    idx,
                                    branch: branch + 1,
                                };
                                self.push(local, branch, false, resume, undo, key.linearized);
                                return Move::Stepped;
                            }
                            model.undo(state, undo);
                        }
                        branch += 1;
                    }
                    idx += 1;
                    branch = 0;
                }
                Move::DeadEnd
            }
        }
    }

    /// Whether the model says the stuck operation (event `stuck`) fits nowhere.
    fn stuck_is_hopeless(&self, stuck: u32) -> bool {
        if stuck == NIL {
            return false;
        }
        let op = self.search.op(self.search.ev_op[stuck as usize]);
        self.state
            .as_ref()
            .is_some_and(|state| self.search.model.hopeless(state, op))
    }

    /// Pops steps back to the last choice with alternatives left; false when
    /// there is none (the search space is exhausted).
    fn backtrack(&mut self) -> bool {
        while let Some(popped) = self.pop() {
            if !popped.forced {
                self.cursor = popped.resume;
                return true;
            }
        }
        false
    }

    /// Conflict-directed backjumping. While the stuck operation's component
    /// cannot be completed on its own from the current configuration, pop back
    /// to (and past) the last step of that component: steps of other components
    /// in between cannot change that, so their alternatives are skipped.
    fn jump_back(&mut self, limits: &SearchLimits, stats: &mut SearchStats) -> Jump {
        let stuck = self.search.first_return();
        if stuck == NIL {
            return Jump::NotTaken;
        }
        let stuck = self.search.ev_op[stuck as usize];
        let Some(component) = self.search.footprint[stuck as usize] else {
            return Jump::NotTaken;
        };
        let mut outcome = Jump::NotTaken;
        while self.component_feasible(component, stuck, limits, stats) == Some(false) {
            loop {
                let Some(popped) = self.pop() else {
                    return Jump::Exhausted;
                };
                if self.search.footprint[popped.op as usize] == Some(component) {
                    // A greedy step has no alternatives: plain backtracking
                    // continues from there; a choice resumes with its next one.
                    outcome = if popped.forced {
                        Jump::NotTaken
                    } else {
                        self.cursor = popped.resume;
                        Jump::Resumed
                    };
                    break;
                }
            }
        }
        outcome
    }

    /// Whether the unlinearized operations of `component` can be linearized on
    /// their own from the current state; None if the bounded search ran out.
    fn component_feasible(
        &mut self,
        component: u64,
        stuck: u32,
        limits: &SearchLimits,
        stats: &mut SearchStats,
    ) -> Option<bool> {
        let s = &self.search;
        let mut done: u128 = 0;
        let mut subset: Vec<usize> = Vec::new();
        for l in 0..s.global.len() {
            if s.footprint[l] != Some(component) {
                continue;
            }
            if s.lifted[l] {
                done ^= s.zobrist[l];
            } else {
                subset.push(s.global[l]);
            }
        }
        let state = self.state.take()?;
        let memo = s
            .model
            .footprint_fingerprint(&state, &s.op(stuck).input)
            .map(|fp| (component, done, fp));
        if let Some(known) = memo.and_then(|m| self.decided.get(&m)) {
            let known = *known;
            self.state = Some(state);
            return Some(known);
        }
        let search = Search::new(s.model, s.ops, &subset);
        let mut sub = Run::with_state(search, state, false);
        let outcome = sub.advance(COMPONENT_BUDGET, self.bytes(), limits, stats);
        sub.finish(stats);
        self.unchecked_work += sub.iterations;
        self.state = sub.into_state();
        let feasible = match outcome {
            Some(SearchOutcome::Linearizable(_)) => Some(true),
            Some(SearchOutcome::NotLinearizable(_)) => Some(false),
            _ => None,
        };
        if let (Some(m), Some(f)) = (memo, feasible) {
            self.decided.insert(m, f);
        }
        feasible
    }
}

enum Move {
    Stepped,
    DeadEnd,
}

enum Jump {
    /// Nothing left to try anywhere.
    Exhausted,
    /// The cursor now points at the alternatives of an earlier step.
    Resumed,
    /// Backtrack normally from here.
    NotTaken,
}

struct Popped {
    op: u32,
    forced: bool,
    resume: Cursor,
}

/// The nodes of a list, first to last.
fn walk(list: &Links) -> impl Iterator<Item = u32> + '_ {
    let first = list.first();
    std::iter::successors((first != NIL).then_some(first), |&n| {
        let next = list.next(n);
        (next != NIL).then_some(next)
    })
}

fn walk_back(list: &Links) -> impl Iterator<Item = u32> + '_ {
    let last = list.last();
    std::iter::successors((last != NIL).then_some(last), |&n| {
        let prev = list.prev(n);
        (prev != NIL).then_some(prev)
    })
}

fn over_budget(limits: &SearchLimits, bytes: usize, cache: &ConfigCache) -> Option<String> {
    if let Some(deadline) = limits.deadline
        && Instant::now() >= deadline
    {
        return Some("the time limit ran out".to_string());
    }
    // The cache doubles when full: stop before that step would cross the bound.
    let growth = if cache.len() + BUDGET_INTERVAL as usize >= cache.capacity() {
        cache.capacity().max(1024) * (size_of::<ConfigKey>() + 1)
    } else {
        0
    };
    if bytes + growth > limits.memory_bound_bytes {
        return Some(format!(
            "the memory bound of {} MiB was reached",
            limits.memory_bound_bytes / (1024 * 1024)
        ));
    }
    None
}
