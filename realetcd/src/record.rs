//! Writes down real traffic in the checker's history shape: every request
//! with its call and return times (ns since the run started, from a
//! monotonic clock), etcd's answer converted to the checker's types, and
//! the faults as annotations.

use checker::history::{
    Annotation, DeleteRangeResponse, EtcdError, History, KeyValue, OpResult, Operation,
    PutResponse, RangeResponse, Request, TxnOpResponse, TxnResponse,
};
use etcd_client::proto::{
    PbDeleteResponse, PbKeyValue, PbPutResponse, PbRangeResponse, PbResponseHeader,
    PbTxnOpResponse, PbTxnResponse,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tonic::Status;

/// The shared record of one run; clones write to the same history.
#[derive(Clone)]
pub struct Recorder {
    started: Instant,
    inner: Arc<Mutex<History>>,
    watch_ids: Arc<std::sync::atomic::AtomicU64>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            inner: Arc::new(Mutex::new(History::default())),
            watch_ids: Arc::default(),
        }
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// Records one finished operation; its id is its place in the history.
    pub fn operation(&self, client: u64, call: u64, request: Request, result: OpResult) {
        let ret = self.now();
        let mut history = self.lock();
        let id = history.operations.len() as u64;
        history.operations.push(Operation {
            id,
            client,
            call,
            ret: Some(ret),
            request,
            result,
            k8s: None,
        });
    }

    pub fn annotate(&self, at: u64, end: Option<u64>, text: String) {
        self.lock().annotations.push(Annotation {
            kind: None,
            at,
            end,
            source: Annotation::FAULT.to_string(),
            text,
        });
    }

    /// A watch's id: its place among the run's watches, counted as they
    /// are requested.
    pub fn next_watch_id(&self) -> u64 {
        self.watch_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Hands a finished (or abandoned) watch to the history.
    pub fn add_watch(&self, watch: checker::history::WatchRecord) {
        let mut history = self.lock();
        history.watches.push(watch);
        history.watches.sort_by_key(|w| w.id);
    }

    pub fn operations(&self) -> usize {
        self.lock().operations.len()
    }

    pub fn history(&self) -> History {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        // A client task that panicked mid-push leaves a whole history
        // behind (the push is one step), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// What an error from etcd or the transport says about a request's effect.
/// Only refusals etcd gives before proposing anything to raft are definite
/// (`api/v3rpc/interceptor.go` answers "no leader" before the handler runs;
/// "too many requests" comes before the proposal in
/// `processInternalRaftRequestOnce`), as is a connection that was never
/// made (nothing was sent). Everything else (timeouts, "request timed out",
/// "leader changed", a connection lost mid-call) may have applied.
pub fn failed(status: &Status, read_only: bool) -> OpResult {
    let message = format!("{:?}: {}", status.code(), status.message());
    // Answers of etcd's apply (or of its read path) about the store: the
    // request ran and did nothing, which the checker holds against the
    // model (etcd's rpctypes ErrCompacted, ErrFutureRev, ErrLeaseNotFound).
    let about_the_store = [
        (
            "required revision has been compacted",
            EtcdError::Compacted {
                compact_revision: 0,
            },
        ),
        (
            "required revision is a future revision",
            EtcdError::FutureRevision,
        ),
        ("requested lease not found", EtcdError::LeaseNotFound),
    ];
    for (text, error) in about_the_store {
        if status.message().contains(text) {
            return OpResult::Fail(error);
        }
    }
    let definite = read_only
        || status.message().contains("etcdserver: no leader")
        || status.message().contains("etcdserver: too many requests")
        || status.message().contains("Connection refused")
        || status.message().contains("tcp connect error");
    if definite {
        OpResult::Fail(EtcdError::Other(message))
    } else {
        OpResult::Unknown(message)
    }
}

fn revision(header: &Option<PbResponseHeader>) -> i64 {
    header.as_ref().map_or(0, |h| h.revision)
}

pub fn key_value(kv: &PbKeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(&kv.key).into_owned(),
        value: String::from_utf8_lossy(&kv.value).into_owned(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        lease: kv.lease,
        // etcd has no per-key TTL.
        ttl: 0,
    }
}

pub fn range(a: &PbRangeResponse) -> RangeResponse {
    RangeResponse {
        header_revision: revision(&a.header),
        kvs: a.kvs.iter().map(key_value).collect(),
        more: a.more,
        count: a.count,
    }
}

pub fn put(a: &PbPutResponse) -> PutResponse {
    PutResponse {
        header_revision: revision(&a.header),
        prev_kv: a.prev_kv.as_ref().map(key_value),
    }
}

pub fn delete(a: &PbDeleteResponse) -> DeleteRangeResponse {
    DeleteRangeResponse {
        header_revision: revision(&a.header),
        deleted: a.deleted,
        prev_kvs: a.prev_kvs.iter().map(key_value).collect(),
    }
}

pub fn txn(a: &PbTxnResponse) -> TxnResponse {
    TxnResponse {
        header_revision: revision(&a.header),
        succeeded: a.succeeded,
        responses: a
            .responses
            .iter()
            .filter_map(|op| op.response.as_ref())
            .map(|op| match op {
                PbTxnOpResponse::ResponseRange(x) => TxnOpResponse::Range(range(x)),
                PbTxnOpResponse::ResponsePut(x) => TxnOpResponse::Put(put(x)),
                PbTxnOpResponse::ResponseDeleteRange(x) => TxnOpResponse::DeleteRange(delete(x)),
                PbTxnOpResponse::ResponseTxn(x) => TxnOpResponse::Txn(txn(x)),
            })
            .collect(),
    }
}
