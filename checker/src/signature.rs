//! Failure signatures: what makes two failing runs the same problem. A
//! signature is the rule, the anomaly class, and what the violation is
//! about with its keys and values left out: the kind of request where the
//! kind is the problem (a refusal, a kind never answered), and for member
//! exits and broken invariants the site. Runs that differ only in which
//! key a stale read touched share one.
//!
//! What is left out on purpose, measured on soaks with one catalogued bug
//! each (`ci/bug-signatures.sh`): the kind of watch event at fault (put or
//! delete) and the kind of read that showed a linearizability anomaly
//! (range or txn) are as incidental as the key: keeping them split
//! etcd-17247, 17529, 18089 and 18667 into two rows per rule.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anomaly::Anomaly;
use crate::report::Violation;

/// What a violation is about, abstracted from keys and values. The checker
/// fills what its evidence names; the rest stays empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Subject {
    /// The kind of the request the problem is about (`txn`, `delete`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Cow<'static, str>>,
    /// Where a member exit or a broken invariant happened: the invariant's
    /// name, or the exit's error with its numbers left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<Cow<'static, str>>,
}

impl Subject {
    pub fn is_empty(&self) -> bool {
        self.request.is_none() && self.site.is_none()
    }
}

/// One distinct problem. Ordered and hashable so reports can group by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub rule: Cow<'static, str>,
    pub class: Anomaly,
    #[serde(default)]
    pub subject: Subject,
}

impl Signature {
    /// A signature with only a rule and class (what a results row alone gives).
    pub const fn bare(rule: &'static str, class: Anomaly) -> Self {
        Signature {
            rule: Cow::Borrowed(rule),
            class,
            subject: Subject {
                request: None,
                site: None,
            },
        }
    }

    /// The signature of a violation: its rule, class and subject.
    pub fn of(v: &Violation) -> Self {
        Signature {
            rule: Cow::Owned(v.rule.clone()),
            class: v.anomaly(),
            subject: v.subject.clone(),
        }
    }

    /// A short stable name for files (`sig-` and 16 hex digits of an
    /// FNV-1a hash of the display form): the same signature gets the same
    /// name in every build, so a shrink made for it can be found again.
    pub fn id(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.to_string().bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("sig-{hash:016x}")
    }
}

/// `rule · class`, then the request kind and `at <site>` when known.
impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {}", self.rule, self.class)?;
        if let Some(request) = &self.subject.request {
            write!(f, " · {request}")?;
        }
        if let Some(site) = &self.subject.site {
            write!(f, " · at {site}")?;
        }
        Ok(())
    }
}

/// An error message as an exit site: its first clause (up to the first
/// `:`), with every run of digits written `N`, so exits that differ only
/// in an index, offset or member id share a site.
pub fn exit_site(message: &str) -> String {
    let clause = message.split(':').next().unwrap_or(message).trim();
    let mut out = String::with_capacity(clause.len());
    let mut in_digits = false;
    for c in clause.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn display_leaves_out_what_is_unknown() {
        let bare = Signature::bare(rules::LINEARIZABILITY, Anomaly::StaleRead);
        assert_eq!(bare.to_string(), "linearizability · stale-read");
        let full = Signature {
            subject: Subject {
                request: Some("range".into()),
                site: Some("WAL".into()),
            },
            ..bare.clone()
        };
        assert_eq!(
            full.to_string(),
            "linearizability · stale-read · range · at WAL"
        );
        assert_ne!(bare.id(), full.id());
        assert_eq!(
            bare.id(),
            Signature::bare(rules::LINEARIZABILITY, Anomaly::StaleRead).id()
        );
        assert_eq!(bare.id().len(), 20);
    }

    #[test]
    fn exit_sites_forget_numbers_and_details() {
        assert_eq!(exit_site("entry 1234: bad checksum at 77"), "entry N");
        assert_eq!(exit_site("WAL write failed: EIO"), "WAL write failed");
        assert_eq!(
            exit_site("releasing snapshot 12: x"),
            exit_site("releasing snapshot 9: y")
        );
    }

    #[test]
    fn round_trips_through_json() {
        let s = Signature {
            subject: Subject {
                request: Some("delete".into()),
                ..Subject::default()
            },
            ..Signature::bare(rules::ERRORS_KIND_ANSWERED, Anomaly::KindNeverAnswered)
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), s);
    }
}
