//! Sequential specifications: etcd (the full KV API with leases), a
//! compare-and-set register (Jepsen), a map of such objects by key (Jepsen's
//! `independent`) and a per-key string store (porcupine's kv).

pub mod etcd;
pub mod keyed;
pub mod kv;
pub mod register;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value in imported (Jepsen/EDN) histories.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Keyword(String),
    /// Anything else, as written.
    Other(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Nil => write!(f, "nil"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Keyword(k) => write!(f, ":{k}"),
            Scalar::Other(o) => write!(f, "{o}"),
        }
    }
}

/// Shortens long values (appended strings grow) for one-line messages.
pub(crate) fn abbreviate(s: &str) -> String {
    const MAX: usize = 48;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(MAX)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("\"…{}\" ({} chars)", tail.escape_debug(), s.chars().count())
    }
}
