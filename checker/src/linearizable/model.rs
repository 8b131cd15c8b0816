//! The sequential specification the engine checks histories against.

use std::fmt::Debug;

/// One operation as the engine sees it: a call, maybe a return, and what it
/// answered (or that nobody knows whether it took effect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op<I, O> {
    pub id: u64,
    pub client: u64,
    pub call: u64,
    /// None = never returned (only meaningful for `Outcome::Unknown`).
    pub ret: Option<u64>,
    pub input: I,
    pub outcome: Outcome<O>,
}

/// A definite answer, or none: an operation with an unknown outcome may or may
/// not have taken effect, at any time after its call.
///
/// Operations that certainly did not take effect and say nothing about the state
/// are left out of the engine's input altogether.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<O> {
    Ok(O),
    Unknown,
}

/// A sequential specification, applied in place with an undo token so large
/// states (the etcd key space with all its versions) are never copied.
///
/// Contract the engine relies on:
/// - `apply` and `apply_unknown` leave the state unchanged when they return None;
/// - `undo` with the token of the most recent successful apply restores the state
///   exactly (tokens are undone in reverse order);
/// - `fingerprint` is equal for equal states and distinct (with overwhelming
///   probability) otherwise;
/// - `is_read_only` is true only for an (input, output) that never changes the
///   state wherever it is valid: such operations are linearized greedily.
///
/// A model and its operations are shared between the threads that search
/// independent partitions (`Sync`); each thread builds its own states.
pub trait Model: Sync {
    type Input: Debug + Sync;
    type Output: Debug + Sync;
    type State;
    type Undo;

    /// Model name for messages ("etcd", "register", "kv").
    fn name(&self) -> &'static str;

    fn init(&self) -> Self::State;

    fn is_read_only(&self, input: &Self::Input, output: &Self::Output) -> bool;

    /// Whether an operation with an unknown outcome could change the state at all;
    /// if not, it is dropped before the search.
    fn may_have_effect(&self, _input: &Self::Input) -> bool {
        true
    }

    /// Applies an operation with a definite output; None if the output is not
    /// what the specification answers in this state.
    fn apply(
        &self,
        state: &mut Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::Undo>;

    /// How many distinct effects an operation with an unknown outcome may have
    /// (for example which lease id a grant without a requested id obtained).
    fn unknown_branches(&self, _input: &Self::Input) -> u32 {
        1
    }

    /// Applies effect `branch` of an operation with an unknown outcome; None if
    /// that effect is impossible here or would change nothing.
    fn apply_unknown(
        &self,
        state: &mut Self::State,
        input: &Self::Input,
        branch: u32,
    ) -> Option<Self::Undo>;

    /// Whether an operation with an unknown outcome can take effect neither
    /// in `state` nor in any state the search can reach from it (a lease
    /// expiry once the lease, granted only once, is gone). The engine then
    /// stops offering it until it backtracks past `state`: without this, a
    /// history with thousands of such steps pays a look at each of them at
    /// every revision the search has to fill. Must be false unless that is
    /// certain.
    fn retired(&self, _state: &Self::State, _input: &Self::Input) -> bool {
        false
    }

    /// Whether the engine should call [`Model::may_still_hold`] after each
    /// state-changing step (it costs a scan of the pending reads).
    fn checks_pending_reads(&self) -> bool {
        false
    }

    /// Whether `op` (with a definite answer) fits in no configuration the
    /// search could reach from `state` or any alternative to it: true only
    /// when no choice of the search can change what the model answers it. A
    /// dead end on such an operation ends the search.
    fn hopeless(&self, _state: &Self::State, _op: &Op<Self::Input, Self::Output>) -> bool {
        false
    }

    /// At least how many more steps of operations with an unknown outcome
    /// (the model's own steps included) every linearization from `state`
    /// still has to take: for etcd, the revisions up to the highest one an
    /// answer reported that no definite write claimed. The engine drops a
    /// configuration in which fewer of the pending such operations
    /// [`Model::may_still_step`]. 0: no bound.
    fn steps_still_needed(&self, _state: &Self::State) -> usize {
        0
    }

    /// Whether a pending operation with an unknown outcome may still take
    /// one of the steps [`Model::steps_still_needed`] counts, now or in any
    /// state the search can reach from `state`. Must be true unless that is
    /// certain.
    fn may_still_step(&self, _state: &Self::State, _input: &Self::Input) -> bool {
        true
    }

    /// Whether a step of `last` can matter to a pending `read` at all (same
    /// key, for kv); unrelated reads are not checked.
    fn related(&self, _last: &Self::Input, _read: &Self::Input) -> bool {
        true
    }

    /// Whether a pending read-only operation (`read`, answered `answer`) can still
    /// be linearized later, given that the last step was `last` and that only
    /// `writes` may take effect before it. Must be true whenever some order of
    /// some of `writes` leads to a state where the answer fits; returning false
    /// prunes the step that was just taken.
    fn may_still_hold(
        &self,
        _state: &Self::State,
        _last: &Self::Input,
        _read: &Self::Input,
        _answer: &Self::Output,
        _writes: &mut dyn Iterator<Item = &Self::Input>,
    ) -> bool {
        true
    }

    /// The independent part of the state an operation touches (the key, for
    /// kv), if the model can tell. Operations of different footprints must
    /// commute and never affect each other's answers. Used for backjumping.
    fn footprint(&self, _input: &Self::Input) -> Option<u64> {
        None
    }

    /// Fingerprint of the part of the state `input`'s footprint covers (the
    /// key's value, for kv), to remember which component configurations were
    /// already found infeasible. None: not remembered.
    fn footprint_fingerprint(&self, _state: &Self::State, _input: &Self::Input) -> Option<u128> {
        None
    }

    /// When the next state change most likely happened, if the model can
    /// estimate it: operations with unknown outcomes called nearest before it
    /// are tried first.
    fn unknown_time_hint(&self, _state: &Self::State) -> Option<u64> {
        None
    }

    /// When an operation with an unknown outcome most likely took effect, if
    /// it did (it may still be placed anywhere after its call): candidates are
    /// tried nearest first to [`Model::unknown_time_hint`]. Its call by default.
    fn unknown_expected_time(&self, op: &Op<Self::Input, Self::Output>) -> u64 {
        op.call
    }

    /// Order in which operations with unknown outcomes are tried (lower
    /// first); `u8::MAX`: it certainly cannot take effect in this state, so it
    /// is not tried at all.
    fn unknown_rank(&self, _state: &Self::State, _input: &Self::Input) -> u8 {
        0
    }

    /// What an operation with an unknown outcome waits for, if the model
    /// can tell: it can take effect only in a state whose
    /// [`Model::open_gates`] include this gate. The engine then looks at it
    /// only while its gate is open, instead of ranking it at every choice
    /// (a lease-heavy etcd history has thousands of expiries waiting for
    /// their lease to get keys or their key's turn). None: looked at always.
    fn gate(&self, _input: &Self::Input) -> Option<u64> {
        None
    }

    /// Calls `open` with every gate that may be open in `state`: at least the
    /// gate of each gated operation that could take effect here (more, or the
    /// same gate twice, only costs a look).
    fn open_gates(&self, _state: &Self::State, _open: &mut dyn FnMut(u64)) {}

    fn undo(&self, state: &mut Self::State, undo: Self::Undo);

    fn fingerprint(&self, state: &Self::State) -> u128;

    /// Rough heap size of the state, for the memory bound.
    fn state_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// Independent parts of the history (each a list of operation indices) that
    /// can be checked separately, if the model allows it.
    fn partition(&self, _ops: &[Op<Self::Input, Self::Output>]) -> Option<Vec<Vec<usize>>> {
        None
    }

    /// One line describing an operation for humans.
    fn describe(&self, input: &Self::Input, outcome: &Outcome<Self::Output>) -> String;

    /// Why `output` cannot be the answer to `input` in `state`, for humans.
    fn explain(&self, state: &Self::State, input: &Self::Input, output: &Self::Output) -> String;

    /// Whether `output` is not the answer to `input` in `state` and can only
    /// be the answer in a state no later than it (revisions never go back),
    /// judged on the operation alone, not on the others it would hold up: it
    /// fits nowhere from here on. Explanations blame such an operation rather
    /// than one it holds up. A probe: `state` is left as it was.
    fn too_late(
        &self,
        _state: &mut Self::State,
        _input: &Self::Input,
        _output: &Self::Output,
    ) -> bool {
        false
    }
}
