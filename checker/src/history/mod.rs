//! Histories: client operations, watch streams and annotations of one run.
//!
//! Times are nanoseconds since the run started. Keys and values are UTF-8
//! strings; revisions, lease ids and TTLs are `i64` as in etcd.

pub mod describe;
pub mod end_state;
pub mod recorded;
pub mod request;
pub mod response;
pub mod watch;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

pub use end_state::{EndState, HashKv, ListedMember, MemberEndState, Membership};
pub use recorded::Recorded;
pub use request::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeySpan, PutRequest, RangeRequest,
    Request, SortOrder, SortTarget, TxnOp, TxnRequest, prefix_end,
};
pub use response::{
    CompactResponse, DeleteRangeResponse, KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, PutResponse, RangeResponse, Response,
    TxnOpResponse, TxnResponse,
};
pub use watch::{Event, EventKind, WatchRecord, WatchRequest, WatchResponse};

/// Everything recorded during one run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    pub operations: Vec<Operation>,
    pub watches: Vec<WatchRecord>,
    pub annotations: Vec<Annotation>,
    /// What the history's source recorded of the key-values it reports
    /// (everything, unless it was imported from a format that leaves
    /// fields out). Not part of the JSON lines format.
    #[serde(skip)]
    pub recorded: Recorded,
    /// Who issued the operations, in the source's own word (faultline's
    /// runs and etcd's robustness reports: clients). Not part of the JSON
    /// lines format.
    #[serde(skip)]
    pub issuer: Issuer,
}

/// Who issues a history's operations, named as the history's source names
/// them, so explanations and reports speak its language: Jepsen calls them
/// processes (`:process`), etcd's robustness tests and faultline clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Issuer {
    #[default]
    Client,
    Process,
}

impl Issuer {
    /// The source's word: "client" or "process".
    pub fn word(self) -> &'static str {
        match self {
            Issuer::Client => "client",
            Issuer::Process => "process",
        }
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// One client request and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub id: u64,
    pub client: u64,
    /// When the request was sent.
    pub call: u64,
    /// When the answer (or the client's give-up) arrived; None = never returned.
    pub ret: Option<u64>,
    pub request: Request,
    pub result: OpResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8sTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    Ok(Response),
    /// The request certainly did not take effect.
    Fail(EtcdError),
    /// The request may have taken effect at any time after its call (timeout, lost connection).
    Unknown(String),
}

/// Errors a request can certainly fail with. Compacted, FutureRevision and
/// LeaseNotFound say something about the store and are checked against the
/// model; Invalid says something about the request and is checked against
/// its shape (rule `errors.no-false-refusal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtcdError {
    /// 0 = the compact revision was not reported.
    Compacted {
        compact_revision: i64,
    },
    FutureRevision,
    LeaseNotFound,
    /// Refused for its shape alone by etcd's request checks, before raft.
    Invalid(Invalid),
    /// A write refused because a member's backend is out of space (etcd's
    /// "etcdserver: mvcc: database space exceeded", the NOSPACE alarm):
    /// justified only while the disk is or was full and the alarm was not
    /// yet disarmed (rule `errors.no-false-refusal`).
    NoSpace,
    Other(String),
}

impl EtcdError {
    /// etcd's ErrGRPCNoSpace, the text of [`EtcdError::NoSpace`].
    pub const NO_SPACE: &str = "etcdserver: mvcc: database space exceeded";
}

/// What etcd's request checks (`api/v3rpc/key.go`: checkPutRequest,
/// checkTxnRequest, checkIntervals) and its size limit on a proposal
/// (`etcdserver/v3_server.go`: processInternalRaftRequestOnce) refuse, one
/// variant per error they answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalid {
    EmptyKey,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    /// The request, encoded for raft, is over `--max-request-bytes`.
    RequestTooLarge,
}

impl Invalid {
    /// Each refusal with the message etcd answers it with
    /// (`api/v3rpc/rpctypes/error.go`).
    pub const MESSAGES: &[(Invalid, &str)] = &[
        (Invalid::EmptyKey, "etcdserver: key is not provided"),
        (Invalid::ValueProvided, "etcdserver: value is provided"),
        (Invalid::LeaseProvided, "etcdserver: lease is provided"),
        (
            Invalid::TooManyOps,
            "etcdserver: too many operations in txn request",
        ),
        (
            Invalid::DuplicateKey,
            "etcdserver: duplicate key given in txn request",
        ),
        (Invalid::RequestTooLarge, "etcdserver: request is too large"),
    ];

    /// The refusal an error message of etcd's names: the message itself, or
    /// any text ending with it (a client's prefix such as a status code).
    pub fn from_message(message: &str) -> Option<Invalid> {
        Self::MESSAGES
            .iter()
            .find(|(_, m)| message.trim_end().ends_with(m))
            .map(|(invalid, _)| *invalid)
    }

    pub fn message(self) -> &'static str {
        Self::MESSAGES
            .iter()
            .find(|(invalid, _)| *invalid == self)
            .map_or("etcdserver: invalid request", |(_, m)| m)
    }
}

/// What a Kubernetes-style client meant by an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum K8sTag {
    /// One page of a list; later pages use the first page's revision and continue
    /// from the last key + "\0".
    ListPage {
        list: u64,
        page: u32,
    },
    /// Txn: if mod_revision(key) == expected then Put else Get (0 = create if absent).
    OptimisticPut {
        expected_mod_revision: i64,
    },
    /// Txn: if mod_revision(key) == expected then Delete else Get.
    OptimisticDelete {
        expected_mod_revision: i64,
    },
    Get,
    Count,
    Compactor,
}

/// A fault, a member event or any note for the report. Never checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Annotation {
    pub at: u64,
    pub end: Option<u64>,
    pub source: String,
    pub text: String,
    /// For a fault: its kind, as the tool that injected it names it (reports
    /// say which kinds were on at a violation; never checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Annotation {
    /// The source of annotations that mark an injected fault, from when it
    /// began to when it healed (no end: it never healed).
    pub const FAULT: &str = "fault";

    /// The source of annotations that mark what an operator did to the
    /// cluster, at the moment the cluster accepted it (no end).
    pub const OPERATOR: &str = "operator";

    /// How an operator annotation begins that says every alarm an `alarm
    /// list` showed was disarmed (the alarms follow, as etcd shows them).
    pub const ALARM_DISARMED: &str = "alarm disarmed";

    /// How an operator annotation begins that spans a time the cluster
    /// held a NOSPACE alarm for certain: from the answer of an `alarm
    /// list` that showed it to the moment the first disarm was sent (the
    /// alarms listed follow, as etcd shows them).
    pub const NOSPACE_HELD: &str = "nospace alarm held";

    pub fn is_fault(&self) -> bool {
        self.source == Self::FAULT
    }

    /// Whether this marks the moment the cluster had accepted to disarm
    /// every alarm the operator listed.
    pub fn is_alarm_disarmed(&self) -> bool {
        self.source == Self::OPERATOR && self.text.starts_with(Self::ALARM_DISARMED)
    }

    /// The span this annotation says a NOSPACE alarm was certainly active,
    /// if it says so.
    pub fn nospace_held(&self) -> Option<(u64, u64)> {
        (self.source == Self::OPERATOR && self.text.starts_with(Self::NOSPACE_HELD))
            .then(|| (self.at, self.end.unwrap_or(self.at)))
    }
}

impl EtcdError {
    /// Whether the error says something about the store state worth checking
    /// against the model.
    pub fn is_informative(&self) -> bool {
        !matches!(
            self,
            EtcdError::Other(_) | EtcdError::Invalid(_) | EtcdError::NoSpace
        )
    }
}

impl OpResult {
    pub fn response(&self) -> Option<&Response> {
        match self {
            OpResult::Ok(r) => Some(r),
            _ => None,
        }
    }

    /// A definite error that claims something about the store's state
    /// (compacted, future revision, lease not found): the model judges it.
    pub fn is_state_refusal(&self) -> bool {
        matches!(self, OpResult::Fail(e) if e.is_informative())
    }
}

impl Operation {
    /// Checks what can be checked of one operation on its own.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(ret) = self.ret {
            if ret < self.call {
                return Err(format!(
                    "operation {} returns at {ret} before its call at {}",
                    self.id, self.call
                ));
            }
        } else if !matches!(self.result, OpResult::Unknown(_)) {
            return Err(format!(
                "operation {} has a result but no return time (\"ret\"); an operation that never returned must have an \"unknown\" result",
                self.id
            ));
        }
        if let OpResult::Ok(resp) = &self.result {
            response_fits(&self.request, resp)
                .map_err(|e| format!("operation {}: {e}", self.id))?;
        }
        Ok(())
    }
}

/// A response must be of the request's kind, and a transaction must answer every
/// operation of the branch it reports.
fn response_fits(request: &Request, response: &Response) -> Result<(), String> {
    let ok = match (request, response) {
        (Request::Txn(t), Response::Txn(r)) => return txn_fits(t, r),
        (Request::Range(_), Response::Range(_))
        | (Request::Put(_), Response::Put(_))
        | (Request::DeleteRange(_), Response::DeleteRange(_))
        | (Request::Compact { .. }, Response::Compact(_))
        | (Request::LeaseGrant { .. }, Response::LeaseGrant(_))
        | (Request::LeaseRevoke { .. }, Response::LeaseRevoke(_))
        | (Request::LeaseKeepAlive { .. }, Response::LeaseKeepAlive(_))
        | (Request::LeaseTimeToLive { .. }, Response::LeaseTimeToLive(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a {} request has a {} response",
            request.kind(),
            response.kind()
        ))
    }
}

fn txn_fits(txn: &TxnRequest, resp: &TxnResponse) -> Result<(), String> {
    let branch = if resp.succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    if branch.len() != resp.responses.len() {
        return Err(format!(
            "the txn's {} branch has {} operations but {} responses",
            if resp.succeeded { "success" } else { "failure" },
            branch.len(),
            resp.responses.len()
        ));
    }
    for (op, r) in branch.iter().zip(&resp.responses) {
        match (op, r) {
            (TxnOp::Txn(t), TxnOpResponse::Txn(r)) => txn_fits(t, r)?,
            (TxnOp::Range(_), TxnOpResponse::Range(_))
            | (TxnOp::Put(_), TxnOpResponse::Put(_))
            | (TxnOp::DeleteRange(_), TxnOpResponse::DeleteRange(_)) => {}
            _ => {
                return Err(format!(
                    "a txn operation is answered by a {} response",
                    r.kind()
                ));
            }
        }
    }
    Ok(())
}

impl WatchRecord {
    pub fn validate(&self) -> Result<(), String> {
        let mut last_at = self.created;
        for r in &self.responses {
            if r.at < last_at {
                return Err(format!(
                    "watch {}: a response at {} arrives before the previous one at {last_at}",
                    self.id, r.at
                ));
            }
            last_at = r.at;
        }
        Ok(())
    }
}

/// A history that cannot be checked, with the item at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HistoryError {
    pub message: String,
}

impl History {
    /// Checks the history is well formed: unique ids, consistent times, responses
    /// that answer their requests.
    pub fn validate(&self) -> Result<(), HistoryError> {
        let mut ids = HashSet::new();
        for op in &self.operations {
            op.validate().map_err(|message| HistoryError { message })?;
            if !ids.insert(op.id) {
                return Err(HistoryError {
                    message: format!("operation id {} is used twice", op.id),
                });
            }
        }
        let mut watch_ids = HashSet::new();
        for w in &self.watches {
            w.validate().map_err(|message| HistoryError { message })?;
            if !watch_ids.insert(w.id) {
                return Err(HistoryError {
                    message: format!("watch id {} is used twice", w.id),
                });
            }
        }
        Ok(())
    }

    pub fn operation(&self, id: u64) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(id: u64, call: u64, ret: Option<u64>, result: OpResult) -> Operation {
        Operation {
            id,
            client: 1,
            call,
            ret,
            request: Request::Put(PutRequest {
                key: "a".into(),
                value: "1".into(),
                ..Default::default()
            }),
            result,
            k8s: None,
        }
    }

    #[test]
    fn rejects_return_before_call() {
        let op = put(1, 10, Some(5), OpResult::Unknown("timeout".into()));
        assert!(op.validate().unwrap_err().contains("before its call"));
    }

    #[test]
    fn rejects_a_result_without_return() {
        let op = put(
            1,
            10,
            None,
            OpResult::Ok(Response::Put(PutResponse::default())),
        );
        assert!(op.validate().unwrap_err().contains("no return time"));
    }

    #[test]
    fn rejects_mismatched_response() {
        let op = put(
            1,
            10,
            Some(20),
            OpResult::Ok(Response::Range(RangeResponse::default())),
        );
        assert!(
            op.validate()
                .unwrap_err()
                .contains("put request has a range")
        );
    }

    #[test]
    fn rejects_duplicate_ids() {
        let h = History {
            operations: vec![
                put(1, 1, Some(2), OpResult::Unknown(String::new())),
                put(1, 3, Some(4), OpResult::Unknown(String::new())),
            ],
            ..Default::default()
        };
        assert!(h.validate().unwrap_err().message.contains("used twice"));
    }
}
