//! Histories written elsewhere: Jepsen's `jepsen.util` logs and EDN histories
//! (Jepsen, Knossos, porcupine's test data), turned into register or kv
//! operations for the engine.
//!
//! Jepsen semantics (jepsen.history): `:fail` means the operation certainly
//! did not take effect (it is dropped); `:info`, or an invocation that never
//! completes, means it may have taken effect at any time after its call.
//! Events of a non-numeric process (such as `:nemesis`) are kept as
//! annotations and not checked. An event's `:time` (nanoseconds since the test
//! began) is its time when every event has one, else its position in the
//! file; an invocation's `:index`, when every event has one, is the
//! operation's id, so reports name operations as Jepsen numbered them.

pub mod edn;
pub mod edn_reader;
pub mod etcd_robustness;
pub mod independent;
pub mod jepsen_log;

use std::collections::BTreeMap;

use crate::history::Annotation;
use crate::linearizable::{Op, Outcome};
use crate::models::Scalar;
use crate::models::kv::{KvInput, KvOutput};
use crate::models::register::{RegisterInput, RegisterOutput};
use edn_reader::Edn;

/// Bad input, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    pub line: usize,
    pub message: String,
}

impl ImportError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        ImportError {
            line,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Process {
    Client(i64),
    /// `:nemesis` or any other non-numeric process.
    Other(String),
}

/// One line (or map) of a Jepsen history.
#[derive(Debug, Clone, PartialEq)]
pub struct JepsenEvent {
    pub line: usize,
    pub process: Process,
    pub kind: EventType,
    pub f: String,
    pub key: Option<Edn>,
    pub value: Edn,
    /// `:time`: nanoseconds since the test began.
    pub time: Option<u64>,
    /// `:index`: the event's unique, ascending position in Jepsen's history.
    pub index: Option<u64>,
    /// `:error`: why an operation failed or is indeterminate.
    pub error: Option<Edn>,
}

impl JepsenEvent {
    /// An event with only the fields every format has.
    pub fn new(
        line: usize,
        process: Process,
        kind: EventType,
        f: impl Into<String>,
        value: Edn,
    ) -> Self {
        JepsenEvent {
            line,
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            time: None,
            index: None,
            error: None,
        }
    }
}

/// What an imported history's times are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// Every event had a `:time`: nanoseconds since the test began.
    Nanoseconds,
    /// No event had one: the event's position in the file (0, 1, 2, ...).
    #[default]
    Position,
}

/// How a Jepsen operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Ok,
    Fail,
    /// `:info`: indeterminate.
    Info,
    /// The history ends before the operation completes.
    Never,
}

/// An invocation paired with its completion.
#[derive(Debug, Clone, PartialEq)]
pub struct JepsenOp {
    pub id: u64,
    pub process: i64,
    pub line: usize,
    pub call: u64,
    pub ret: Option<u64>,
    pub f: String,
    pub key: Option<Edn>,
    pub invoke_value: Edn,
    pub completion: Completion,
    pub complete_value: Edn,
    /// The completion's line, once completed.
    pub completion_line: Option<usize>,
    /// The completion's `:error` (else the invocation's), kept for the
    /// operation's description.
    pub error: Option<Edn>,
}

/// Client operations and the annotations of an imported history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    pub ops: Vec<JepsenOp>,
    /// Events of non-client processes (the nemesis), each at its time.
    pub annotations: Vec<Annotation>,
    pub clock: Clock,
}

fn type_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Invoke => ":invoke",
        EventType::Ok => ":ok",
        EventType::Fail => ":fail",
        EventType::Info => ":info",
    }
}

fn annotation_text(ev: &JepsenEvent) -> String {
    let mut text = format!("{} :{} {}", type_name(ev.kind), ev.f, ev.value);
    if let Some(e) = &ev.error {
        text.push_str(&format!(" (error {e})"));
    }
    text
}

/// Which events carry a field (`:time`, `:index`): the first line with one
/// and the first without.
#[derive(Debug, Default)]
struct Presence {
    first_with: Option<usize>,
    first_without: Option<usize>,
}

impl Presence {
    fn note(&mut self, line: usize, has: bool) {
        let first = match has {
            true => &mut self.first_with,
            false => &mut self.first_without,
        };
        first.get_or_insert(line);
    }

    /// Whether every event has the field, none has, or (an error naming the
    /// first line without it) only some have.
    fn every(&self, name: &str) -> Result<bool, ImportError> {
        match (self.first_with, self.first_without) {
            (Some(_), None) => Ok(true),
            (None, _) => Ok(false),
            (Some(with), Some(without)) => Err(ImportError::new(
                without,
                format!(
                    "an event without :{name}, though the one on line {with} has one (expected :{name} on every event or on none)"
                ),
            )),
        }
    }
}

/// An operation's `:time`s and invocation `:index`, kept aside until the
/// history is read: whether they are its times and id depends on every event.
#[derive(Debug, Clone, Copy)]
struct Stamps {
    call: Option<u64>,
    ret: Option<u64>,
    index: Option<u64>,
}

/// Pairs each invocation with the next completion of the same process, one
/// event at a time as a history is read, so that no history is held as
/// events and then again as operations ([`Pairing::finish`] gives the
/// errors [`pair_events`] documents, in its order).
#[derive(Debug, Default)]
pub struct Pairing {
    out: Imported,
    /// Open operations by process: a B-tree, as hashing each event's
    /// process cost more than looking it up among a few dozen.
    pending: BTreeMap<i64, usize>,
    /// By operation, then by annotation: their events' `:time`s.
    stamps: Vec<Stamps>,
    annotation_times: Vec<Option<u64>>,
    events: u64,
    times: Presence,
    indices: Presence,
    /// The last event's `:index` and line.
    last_index: Option<(Option<u64>, usize)>,
    /// The first pair of events whose `:index`es do not ascend.
    not_ascending: Option<ImportError>,
    /// The first event that does not pair (no more are paired after it).
    unpaired: Option<ImportError>,
    /// The first completion whose `:time` is before its invocation's: an
    /// error when the history's clock is its `:time`s.
    backwards: Option<ImportError>,
}

impl Pairing {
    /// Room for about `events` events.
    pub fn with_capacity(events: usize) -> Pairing {
        let mut pairing = Pairing::default();
        pairing.out.ops.reserve(events / 2 + 1);
        pairing.stamps.reserve(events / 2 + 1);
        pairing
    }

    pub fn push(&mut self, ev: JepsenEvent) {
        let position = self.events;
        self.events += 1;
        self.times.note(ev.line, ev.time.is_some());
        self.indices.note(ev.line, ev.index.is_some());
        if let Some((last, last_line)) = self.last_index
            && ev.index <= last
            && self.not_ascending.is_none()
        {
            self.not_ascending = Some(ImportError::new(
                ev.line,
                format!(
                    "an :index of {} after {} on line {last_line} (expected ascending indices)",
                    ev.index.unwrap_or(0),
                    last.unwrap_or(0),
                ),
            ));
        }
        self.last_index = Some((ev.index, ev.line));
        if self.unpaired.is_some() {
            return;
        }
        if let Err(e) = self.pair(ev, position) {
            self.unpaired = Some(e);
        }
    }

    /// Pairs `ev`, the `position`th event; times are positions until
    /// [`Pairing::finish`] knows whether they are the `:time`s.
    fn pair(&mut self, ev: JepsenEvent, position: u64) -> Result<(), ImportError> {
        let process = match &ev.process {
            Process::Other(name) => {
                self.out.annotations.push(Annotation {
                    kind: None,
                    at: position,
                    end: None,
                    source: name.clone(),
                    text: annotation_text(&ev),
                });
                self.annotation_times.push(ev.time);
                return Ok(());
            }
            Process::Client(p) => *p,
        };
        match ev.kind {
            EventType::Invoke => {
                if let Some(&open) = self.pending.get(&process) {
                    return Err(ImportError::new(
                        ev.line,
                        format!(
                            "process {process} invokes again before its operation from line {} completed",
                            self.out.ops[open].line
                        ),
                    ));
                }
                let op = self.out.ops.len();
                self.pending.insert(process, op);
                self.stamps.push(Stamps {
                    call: ev.time,
                    ret: None,
                    index: ev.index,
                });
                self.out.ops.push(JepsenOp {
                    id: op as u64,
                    process,
                    line: ev.line,
                    call: position,
                    ret: None,
                    f: ev.f,
                    key: ev.key,
                    invoke_value: ev.value,
                    completion: Completion::Never,
                    complete_value: Edn::Nil,
                    completion_line: None,
                    error: ev.error,
                });
            }
            kind => {
                let Some(index) = self.pending.remove(&process) else {
                    return Err(ImportError::new(
                        ev.line,
                        format!(
                            "a {} completion for process {process} without a matching :invoke",
                            type_name(kind)
                        ),
                    ));
                };
                let op = &mut self.out.ops[index];
                if op.f != ev.f {
                    return Err(ImportError::new(
                        ev.line,
                        format!(
                            "process {process} completes :{} but invoked :{} on line {}",
                            ev.f, op.f, op.line
                        ),
                    ));
                }
                let stamps = &mut self.stamps[index];
                if let (Some(call), Some(time)) = (stamps.call, ev.time)
                    && time < call
                    && self.backwards.is_none()
                {
                    self.backwards = Some(ImportError::new(
                        ev.line,
                        format!(
                            "a completion at :time {time}, before its invocation's {call} on line {}",
                            op.line
                        ),
                    ));
                }
                stamps.ret = ev.time;
                op.ret = Some(position);
                op.complete_value = ev.value;
                op.completion_line = Some(ev.line);
                op.error = ev.error.or(op.error.take());
                op.completion = match kind {
                    EventType::Ok => Completion::Ok,
                    EventType::Fail => Completion::Fail,
                    _ => Completion::Info,
                };
            }
        }
        Ok(())
    }

    /// The paired history. Its times are the events' `:time`s when every
    /// event has one, else their positions (0, 1, 2, ...); operations are
    /// numbered by their invocation's `:index` when every event has one
    /// (they must ascend), else in order. Errors, the first of: only some
    /// events with a `:time`; only some with an `:index`, or indices not
    /// ascending; the first event that does not pair (an invocation while
    /// the process's operation is open, a completion without an open
    /// operation or of another `:f`, a completion `:time`d before its
    /// invocation).
    pub fn finish(mut self) -> Result<Imported, ImportError> {
        let clock = match self.times.every("time")? {
            true => Clock::Nanoseconds,
            false => Clock::Position,
        };
        let indexed = self.indices.every("index")?;
        if let (true, Some(e)) = (indexed, self.not_ascending) {
            return Err(e);
        }
        // Pairing goes on past a completion before its invocation (the
        // clock was not known yet) and stops at the first event that does
        // not pair: a completion before its invocation is the earlier.
        if let (Clock::Nanoseconds, Some(e)) = (clock, self.backwards) {
            return Err(e);
        }
        if let Some(e) = self.unpaired {
            return Err(e);
        }
        self.out.clock = clock;
        for (op, stamps) in self.out.ops.iter_mut().zip(&self.stamps) {
            if clock == Clock::Nanoseconds {
                op.call = stamps.call.unwrap_or(0);
                op.ret = op.ret.map(|_| stamps.ret.unwrap_or(0));
            }
            if let (true, Some(index)) = (indexed, stamps.index) {
                op.id = index;
            }
        }
        if clock == Clock::Nanoseconds {
            for (a, time) in self.out.annotations.iter_mut().zip(&self.annotation_times) {
                a.at = time.unwrap_or(0);
            }
        }
        Ok(self.out)
    }
}

/// Pairs each invocation with the next completion of the same process (see
/// [`Pairing`]).
pub fn pair_events(events: Vec<JepsenEvent>) -> Result<Imported, ImportError> {
    let mut pairing = Pairing::with_capacity(events.len());
    for ev in events {
        pairing.push(ev);
    }
    pairing.finish()
}

/// An EDN value as a register or key-value scalar.
pub fn scalar(v: &Edn) -> Scalar {
    match v {
        Edn::Nil => Scalar::Nil,
        Edn::Bool(b) => Scalar::Bool(*b),
        Edn::Int(i) => Scalar::Int(*i),
        Edn::Str(s) => Scalar::Str(s.clone()),
        Edn::Keyword(k) => Scalar::Keyword(k.clone()),
        other => Scalar::Other(other.to_string()),
    }
}

/// The engine operation for `op` with `input`: a failed operation took no
/// effect and is left out (None); an info one may or may not have; an ok one
/// carries the answer `output` reads from the completion.
fn engine_op<I, O>(
    op: &JepsenOp,
    input: I,
    output: impl FnOnce(&I) -> Result<O, ImportError>,
) -> Result<Option<Op<I, O>>, ImportError> {
    let outcome = match op.completion {
        Completion::Fail => return Ok(None),
        Completion::Info | Completion::Never => Outcome::Unknown,
        Completion::Ok => Outcome::Ok(output(&input)?),
    };
    Ok(Some(Op {
        id: op.id,
        client: op.process as u64,
        call: op.call,
        ret: op.ret,
        input,
        outcome,
    }))
}

/// Register operations (`:read`, `:write`, `:cas [from to]`) of a history
/// with one register. A keyed history (`:key`s, or Jepsen `independent`
/// `[key value]` tuples: [`independent::key_source`]) is refused: its
/// operations go through [`independent::keyed_register_ops`].
pub fn register_ops(
    imported: &Imported,
) -> Result<Vec<Op<RegisterInput, RegisterOutput>>, ImportError> {
    if let Some(line) = independent::key_source(imported).keyed_at() {
        return Err(ImportError::new(
            line,
            "the operations name keys: check them as keyed registers (independent::keyed_register_ops)",
        ));
    }
    let mut ops = Vec::with_capacity(imported.ops.len());
    for op in &imported.ops {
        let input = register_input(op, &op.invoke_value)?;
        ops.extend(engine_op(op, input, |input| {
            Ok(register_output(input, &op.complete_value))
        })?);
    }
    Ok(ops)
}

/// The register operation `op` invokes with `value` (its value, or a keyed
/// operation's value without the key).
fn register_input(op: &JepsenOp, value: &Edn) -> Result<RegisterInput, ImportError> {
    Ok(match op.f.as_str() {
        "read" => RegisterInput::Read,
        "write" => RegisterInput::Write(scalar(value)),
        "cas" => match value {
            Edn::Vector(pair) | Edn::List(pair) if pair.len() == 2 => RegisterInput::Cas {
                from: scalar(&pair[0]),
                to: scalar(&pair[1]),
            },
            other => {
                return Err(ImportError::new(
                    op.line,
                    format!("a :cas value must be [from to], found {other}"),
                ));
            }
        },
        f => {
            return Err(ImportError::new(
                op.line,
                format!(
                    "unknown operation :{f} for the register model (expected :read, :write or :cas)"
                ),
            ));
        }
    })
}

/// What a completed register operation answered (`value`: the read's value).
fn register_output(input: &RegisterInput, value: &Edn) -> RegisterOutput {
    match input {
        RegisterInput::Read => RegisterOutput::Read(scalar(value)),
        RegisterInput::Write(_) => RegisterOutput::Written,
        RegisterInput::Cas { .. } => RegisterOutput::Swapped,
    }
}

fn text_of(v: &Edn) -> String {
    match v {
        Edn::Nil => String::new(),
        Edn::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An EDN value as a kv text, taken out of it (no copy of a string).
fn into_text(v: Edn) -> String {
    match v {
        Edn::Nil => String::new(),
        Edn::Str(s) => s,
        other => other.to_string(),
    }
}

/// Key-value operations (`:get`, `:put`, `:append` with `:key`).
pub fn kv_ops(imported: &Imported) -> Result<Vec<Op<KvInput, KvOutput>>, ImportError> {
    let mut ops = Vec::with_capacity(imported.ops.len());
    for op in &imported.ops {
        let key = op.key.as_ref().map(text_of);
        let op = kv_op(
            op,
            key,
            || text_of(&op.invoke_value),
            || text_of(&op.complete_value),
        )?;
        ops.extend(op);
    }
    Ok(ops)
}

/// [`kv_ops`], the keys and values moved out of the history's operations
/// instead of copied: for a caller done with them (their `:error`s and
/// everything else are left).
pub fn take_kv_ops(imported: &mut Imported) -> Result<Vec<Op<KvInput, KvOutput>>, ImportError> {
    let mut ops = Vec::with_capacity(imported.ops.len());
    for op in &mut imported.ops {
        let key = op.key.take().map(into_text);
        let invoke = std::mem::replace(&mut op.invoke_value, Edn::Nil);
        let complete = std::mem::replace(&mut op.complete_value, Edn::Nil);
        ops.extend(kv_op(
            op,
            key,
            || into_text(invoke),
            || into_text(complete),
        )?);
    }
    Ok(ops)
}

/// The kv operation of `op`, with its key and (asked for only when the
/// operation has them) its invocation's value and its completion's.
fn kv_op(
    op: &JepsenOp,
    key: Option<String>,
    invoke: impl FnOnce() -> String,
    complete: impl FnOnce() -> String,
) -> Result<Option<Op<KvInput, KvOutput>>, ImportError> {
    let Some(key) = key else {
        return Err(ImportError::new(
            op.line,
            format!(
                "a :{} without :key (the kv model needs a key per operation)",
                op.f
            ),
        ));
    };
    let input = match op.f.as_str() {
        "get" | "read" => KvInput::Get { key },
        "put" | "write" => KvInput::Put {
            key,
            value: invoke(),
        },
        "append" => KvInput::Append {
            key,
            value: invoke(),
        },
        f => {
            return Err(ImportError::new(
                op.line,
                format!("unknown operation :{f} for the kv model (expected :get, :put or :append)"),
            ));
        }
    };
    engine_op(op, input, |input| {
        Ok(match input {
            KvInput::Get { .. } => KvOutput::Value(complete()),
            _ => KvOutput::Done,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whether every event has a field, none has, or (an error naming the first
    /// line without it) only some have.
    fn every_or_none(
        events: &[JepsenEvent],
        has: impl Fn(&JepsenEvent) -> bool,
        name: &str,
    ) -> Result<bool, ImportError> {
        match (
            events.iter().find(|e| has(e)),
            events.iter().find(|e| !has(e)),
        ) {
            (Some(_), None) => Ok(true),
            (None, _) => Ok(false),
            (Some(with), Some(without)) => Err(ImportError::new(
                without.line,
                format!(
                    "an event without :{name}, though the one on line {} has one (expected :{name} on every event or on none)",
                    with.line
                ),
            )),
        }
    }

    /// Each event's time: its `:time` when every event has one, else its position.
    fn event_times(events: &[JepsenEvent]) -> Result<(Clock, Vec<u64>), ImportError> {
        if every_or_none(events, |e| e.time.is_some(), "time")? {
            Ok((
                Clock::Nanoseconds,
                events.iter().map(|e| e.time.unwrap_or(0)).collect(),
            ))
        } else {
            Ok((Clock::Position, (0..events.len() as u64).collect()))
        }
    }

    /// Whether the events carry `:index`es to name operations by; they must
    /// ascend, as jepsen.history's do (gaps allowed: a filtered history has them).
    fn indexed(events: &[JepsenEvent]) -> Result<bool, ImportError> {
        if !every_or_none(events, |e| e.index.is_some(), "index")? {
            return Ok(false);
        }
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.index <= a.index {
                return Err(ImportError::new(
                    b.line,
                    format!(
                        "an :index of {} after {} on line {} (expected ascending indices)",
                        b.index.unwrap_or(0),
                        a.index.unwrap_or(0),
                        a.line
                    ),
                ));
            }
        }
        Ok(true)
    }

    /// The pairing as it was before [`Pairing`] (all events first, then
    /// operations): the reference it must agree with.
    fn batch_pair_events(events: Vec<JepsenEvent>) -> Result<Imported, ImportError> {
        let (clock, times) = event_times(&events)?;
        let indexed = indexed(&events)?;
        let mut out = Imported {
            clock,
            ops: Vec::with_capacity(events.len() / 2 + 1),
            ..Imported::default()
        };
        // Open operations by process: a B-tree, as hashing each event's process
        // cost more than looking it up among a few dozen.
        let mut pending: BTreeMap<i64, usize> = BTreeMap::new();
        for (ev, time) in events.into_iter().zip(times) {
            let process = match &ev.process {
                Process::Other(name) => {
                    out.annotations.push(Annotation {
                        kind: None,
                        at: time,
                        end: None,
                        source: name.clone(),
                        text: annotation_text(&ev),
                    });
                    continue;
                }
                Process::Client(p) => *p,
            };
            match ev.kind {
                EventType::Invoke => {
                    if let Some(&open) = pending.get(&process) {
                        return Err(ImportError::new(
                            ev.line,
                            format!(
                                "process {process} invokes again before its operation from line {} completed",
                                out.ops[open].line
                            ),
                        ));
                    }
                    pending.insert(process, out.ops.len());
                    let id = match ev.index {
                        Some(index) if indexed => index,
                        _ => out.ops.len() as u64,
                    };
                    out.ops.push(JepsenOp {
                        id,
                        process,
                        line: ev.line,
                        call: time,
                        ret: None,
                        f: ev.f,
                        key: ev.key,
                        invoke_value: ev.value,
                        completion: Completion::Never,
                        complete_value: Edn::Nil,
                        completion_line: None,
                        error: ev.error,
                    });
                }
                kind => {
                    let Some(index) = pending.remove(&process) else {
                        return Err(ImportError::new(
                            ev.line,
                            format!(
                                "a {} completion for process {process} without a matching :invoke",
                                type_name(kind)
                            ),
                        ));
                    };
                    let op = &mut out.ops[index];
                    if op.f != ev.f {
                        return Err(ImportError::new(
                            ev.line,
                            format!(
                                "process {process} completes :{} but invoked :{} on line {}",
                                ev.f, op.f, op.line
                            ),
                        ));
                    }
                    if time < op.call {
                        return Err(ImportError::new(
                            ev.line,
                            format!(
                                "a completion at :time {time}, before its invocation's {} on line {}",
                                op.call, op.line
                            ),
                        ));
                    }
                    op.ret = Some(time);
                    op.complete_value = ev.value;
                    op.completion_line = Some(ev.line);
                    op.error = ev.error.or(op.error.take());
                    op.completion = match kind {
                        EventType::Ok => Completion::Ok,
                        EventType::Fail => Completion::Fail,
                        _ => Completion::Info,
                    };
                }
            }
        }
        Ok(out)
    }

    /// Events of three client processes and a nemesis, with `:time`s and
    /// `:index`es on every event, on none or on some, in or out of order.
    fn events() -> impl Strategy<Value = Vec<JepsenEvent>> {
        let event = (
            0..4i64,
            0..4u8,
            any::<bool>(),
            0..6i64,
            0..30u64,
            0..30u64,
            0..5u8,
            0..5u8,
        );
        (prop::collection::vec(event, 0..24), 0..3u8, 0..3u8).prop_map(|(raw, times, indices)| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (p, kind, write, value, time, index, t, x))| {
                    let process = match p {
                        3 => Process::Other("nemesis".into()),
                        p => Process::Client(p),
                    };
                    let kind = [
                        EventType::Invoke,
                        EventType::Ok,
                        EventType::Fail,
                        EventType::Info,
                    ][kind as usize];
                    let f = if write { "write" } else { "read" };
                    let mut ev = JepsenEvent::new(i + 1, process, kind, f, Edn::Int(value));
                    // 0: none, 1: every event (ascending), 2: some, in any order.
                    ev.time = match times {
                        0 => None,
                        1 => Some(i as u64 * 10 + time % 10),
                        _ => (t > 0).then_some(time),
                    };
                    ev.index = match indices {
                        0 => None,
                        1 => Some(i as u64 * 2),
                        _ => (x > 0).then_some(index),
                    };
                    if value == 5 {
                        ev.error = Some(Edn::Keyword("timeout".into()));
                    }
                    ev
                })
                .collect()
        })
    }

    proptest! {
        /// Pairing events as they are read gives what pairing them all at
        /// once did: the same operations, times, ids and annotations, or the
        /// same first error.
        #[test]
        fn pairing_as_read_agrees_with_pairing_at_once(events in events()) {
            prop_assert_eq!(pair_events(events.clone()), batch_pair_events(events));
        }
    }

    fn ev(line: usize, p: i64, kind: EventType, f: &str, value: Edn) -> JepsenEvent {
        JepsenEvent::new(line, Process::Client(p), kind, f, value)
    }

    #[test]
    fn pairs_invocations_with_completions() {
        let imported = pair_events(vec![
            ev(1, 0, EventType::Invoke, "write", Edn::Int(1)),
            ev(2, 1, EventType::Invoke, "read", Edn::Nil),
            JepsenEvent::new(
                3,
                Process::Other("nemesis".into()),
                EventType::Info,
                "start",
                Edn::Nil,
            ),
            ev(
                4,
                0,
                EventType::Info,
                "write",
                Edn::Keyword("timed-out".into()),
            ),
            ev(5, 1, EventType::Ok, "read", Edn::Int(1)),
        ])
        .unwrap();
        assert_eq!(imported.ops.len(), 2);
        assert_eq!(imported.ops[0].completion, Completion::Info);
        assert_eq!(imported.ops[1].ret, Some(4));
        assert_eq!(imported.annotations.len(), 1);
        let ops = register_ops(&imported).unwrap();
        assert_eq!(ops[0].outcome, Outcome::Unknown);
        assert_eq!(
            ops[1].outcome,
            Outcome::Ok(RegisterOutput::Read(Scalar::Int(1)))
        );
    }

    #[test]
    fn rejects_a_completion_without_invocation() {
        let err = pair_events(vec![ev(7, 2, EventType::Ok, "read", Edn::Nil)]).unwrap_err();
        assert_eq!(err.line, 7);
        assert!(err.message.contains("without a matching :invoke"));
    }

    /// Taking the kv operations out of a history gives the ones read from it.
    #[test]
    fn kv_operations_taken_are_the_ones_read() {
        let text = "{:process 0, :type :invoke, :f :put, :key \"a\", :value \"x\"}\n\
                    {:process 1, :type :invoke, :f :get, :key \"a\", :value nil}\n\
                    {:process 0, :type :ok, :f :put, :key \"a\", :value \"x\"}\n\
                    {:process 2, :type :invoke, :f :append, :key 3, :value [1 2]}\n\
                    {:process 1, :type :ok, :f :get, :key \"a\", :value \"x\"}\n\
                    {:process 2, :type :fail, :f :append, :key 3, :value [1 2]}\n\
                    {:process 3, :type :invoke, :f :put, :key :k, :value 7}\n";
        let mut imported = edn::import(text).unwrap();
        let read = kv_ops(&imported).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[1].outcome, Outcome::Ok(KvOutput::Value("x".into())));
        assert_eq!(take_kv_ops(&mut imported).unwrap(), read);
        let mut keyless = edn::import("{:process 0, :type :invoke, :f :get}").unwrap();
        assert_eq!(kv_ops(&keyless), take_kv_ops(&mut keyless));
    }

    #[test]
    fn rejects_unknown_operations() {
        let imported = pair_events(vec![ev(1, 0, EventType::Invoke, "frob", Edn::Nil)]).unwrap();
        let err = register_ops(&imported).unwrap_err();
        assert!(err.message.contains("unknown operation :frob"));
    }
}
