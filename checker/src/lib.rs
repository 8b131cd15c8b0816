//! faultline's history checker: decides whether a recorded run of an
//! etcd-like store kept its promises.
//!
//! - [`history`]: operations, watch streams, annotations and the end state;
//!   [`jsonl`] reads and writes them as JSON lines.
//! - [`models`]: the etcd model, a Jepsen register and porcupine's kv.
//! - [`linearizable`]: the linearizability engine (WGL search with a
//!   configuration cache, greedy reads, revision-guided pruning, time and
//!   memory bounds).
//! - [`check_run`]: every property of a run (linearizability, watch
//!   guarantees, serializable reads, the Kubernetes contract, end state),
//!   named in [`rules`] and reported as a [`Report`].
//! - [`anomaly`] and [`signature`]: the class of each violation and what
//!   makes two failing runs the same problem (the dashboard groups by it).
//! - [`import`] and [`command`]: Jepsen logs and EDN histories, and the
//!   `faultline check FILE` command behind the CLI.

pub mod active_faults;
pub mod anomaly;
mod check;
pub mod command;
pub mod export;
pub mod history;
pub mod import;
pub mod input;
pub mod jsonl;
pub mod linearizable;
pub mod models;
pub mod options;
pub mod report;
pub mod rules;
pub mod signature;

pub use anomaly::Anomaly;
pub use check::{EtcdLinearizability, check_linearizability, check_run};
pub use options::CheckOptions;
pub use report::{Overall, PropertyResult, Report, SearchSummary, Verdict, Violation};
pub use signature::{Signature, Subject};
