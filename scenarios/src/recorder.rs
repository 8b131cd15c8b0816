//! Records every request and response (and watch stream) of a run into a
//! checker history, stamped with simulated time.

use crate::translate;
use checker::history::{Annotation, History, K8sTag, Operation, WatchRecord};
use node::client::{Client, ClientError};
use node::wire::api::{client_request, client_response};
use parking_lot::Mutex;
use sim::SharedTrace;
use std::sync::Arc;

/// Nanoseconds of simulated time since the run started.
pub fn now_ns() -> u64 {
    madsim::time::TimeHandle::try_current()
        .map(|t| t.elapsed().as_nanos() as u64)
        .unwrap_or(0)
}

#[derive(Default)]
struct Inner {
    next_op: u64,
    next_watch: u64,
    next_list: u64,
    ops: Vec<Operation>,
    watches: Vec<WatchRecord>,
    annotations: Vec<Annotation>,
}

#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
    /// Every finished operation also becomes a trace line.
    trace: Option<SharedTrace>,
}

/// An operation as a trace line: its id, then the request and the outcome
/// as they print everywhere (violation explanations, the HTML report).
fn describe(op: &Operation) -> String {
    use checker::history::describe;
    use std::fmt::Write as _;
    // Written into one string: every operation of a run is described.
    let mut text = String::with_capacity(128);
    let _ = write!(text, "#{} ", op.id);
    describe::push_request(&mut text, &op.request);
    text.push_str(" -> ");
    describe::push_result(&mut text, &op.result);
    text
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A recorder that also writes each operation to the run's trace.
    pub fn with_trace(trace: SharedTrace) -> Arc<Self> {
        Arc::new(Recorder {
            inner: Mutex::default(),
            trace: Some(trace),
        })
    }

    /// Reserves an operation id at call time (ids follow call order).
    pub fn begin(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.next_op += 1;
        inner.next_op
    }

    pub fn finish(&self, op: Operation) {
        if let Some(trace) = &self.trace {
            trace.record(format!("c{}", op.client), "request", describe(&op));
        }
        self.inner.lock().ops.push(op);
    }

    pub fn next_watch_id(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.next_watch += 1;
        inner.next_watch
    }

    /// A fresh id for a Kubernetes-style list (its pages share it).
    pub fn next_list_id(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.next_list += 1;
        inner.next_list
    }

    pub fn add_watch(&self, watch: WatchRecord) {
        self.inner.lock().watches.push(watch);
    }

    pub fn annotate(
        &self,
        at: u64,
        end: Option<u64>,
        source: impl Into<String>,
        text: impl Into<String>,
    ) {
        self.inner.lock().annotations.push(Annotation {
            at,
            end,
            source: source.into(),
            text: text.into(),
            kind: None,
        });
    }

    /// An injected fault of `kind` begins (closed by [`Self::fault_healed`]).
    pub fn fault_began(&self, at: u64, kind: &str, text: String) {
        self.inner.lock().annotations.push(Annotation {
            at,
            end: None,
            source: Annotation::FAULT.into(),
            text,
            kind: Some(kind.to_string()),
        });
    }

    /// Closes the last fault of `kind` still on.
    pub fn fault_healed(&self, kind: &str, end: u64) {
        let mut inner = self.inner.lock();
        if let Some(a) = inner
            .annotations
            .iter_mut()
            .rev()
            .find(|a| a.is_fault() && a.end.is_none() && a.kind.as_deref() == Some(kind))
        {
            a.end = Some(end);
        }
    }

    pub fn op_count(&self) -> usize {
        self.inner.lock().ops.len()
    }

    /// The history so far, operations in call order.
    pub fn history(&self) -> History {
        let inner = self.inner.lock();
        in_call_order(
            inner.ops.clone(),
            inner.watches.clone(),
            inner.annotations.clone(),
        )
    }

    /// The finished history, taken out instead of copied (a run's end:
    /// nothing recorded later would have been part of it).
    pub fn take_history(&self) -> History {
        let mut inner = self.inner.lock();
        in_call_order(
            std::mem::take(&mut inner.ops),
            std::mem::take(&mut inner.watches),
            std::mem::take(&mut inner.annotations),
        )
    }
}

/// `items` sorted by id (stably), each moved only a couple of times: an
/// operation is large, and a run records thousands of them, finished in an
/// order close to but not quite that of their ids.
fn in_id_order<T>(items: Vec<T>, id: impl Fn(&T) -> u64) -> Vec<T> {
    let mut order: Vec<(u64, usize)> = items.iter().map(id).zip(0..).collect();
    order.sort_unstable();
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, at)| slots[at].take())
        .collect()
}

fn in_call_order(
    operations: Vec<Operation>,
    mut watches: Vec<WatchRecord>,
    annotations: Vec<Annotation>,
) -> History {
    let operations = in_id_order(operations, |o| o.id);
    watches.sort_by_key(|w| w.id);
    History {
        operations,
        watches,
        annotations,
        ..Default::default()
    }
}

/// A client whose every request lands in the history.
pub struct RecordingClient {
    pub id: u64,
    pub client: Client,
    recorder: Arc<Recorder>,
}

impl RecordingClient {
    pub fn new(id: u64, client: Client, recorder: Arc<Recorder>) -> Self {
        RecordingClient {
            id,
            client,
            recorder,
        }
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Sends a request and records it with its outcome.
    pub async fn call(
        &mut self,
        body: client_request::Body,
        k8s: Option<K8sTag>,
    ) -> Result<client_response::Body, ClientError> {
        let request = translate::request(&body);
        let id = self.recorder.begin();
        let call = now_ns();
        let result = self.client.request(body).await;
        let ret = now_ns();
        if let Some(request) = request {
            let outcome = translate::outcome(&result);
            self.recorder.finish(Operation {
                id,
                client: self.id,
                call,
                ret: Some(ret),
                request,
                result: outcome,
                k8s,
            });
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::history::{OpResult, Request};

    fn op(id: u64) -> Operation {
        Operation {
            id,
            client: 1,
            call: id * 10,
            ret: Some(id * 10 + 5),
            request: Request::Compact { revision: 1 },
            result: OpResult::Unknown("timeout".into()),
            k8s: None,
        }
    }

    #[test]
    fn id_order_is_a_stable_sort() {
        let items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        let mut want = items.clone();
        want.sort_by_key(|(id, _)| *id);
        assert_eq!(in_id_order(items, |(id, _)| *id), want);
    }

    #[test]
    fn a_taken_history_is_the_copied_one_in_call_order() {
        let recorder = Recorder::new();
        for id in [2, 1, 3] {
            recorder.finish(op(id));
        }
        let copied = recorder.history();
        let ids: Vec<u64> = copied.operations.iter().map(|o| o.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(recorder.op_count(), 3, "copying leaves the records");
        let taken = recorder.take_history();
        assert_eq!(taken.operations, copied.operations);
        assert_eq!(recorder.op_count(), 0, "taking leaves none");
    }
}
