//! Conditions a fault step can wait for (`when = "revision >= 100"`).

use crate::cluster;
use node::version::Version;
use node::wire::api::StatusResponse;
use sim::World;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The leader's revision reached N.
    RevisionAtLeast(i64),
    /// Some running member is at least N entries behind the commit index.
    LaggingAtLeast(u64),
    DowngradeEnabled,
    ClusterVersion(Version),
    /// Every member reports this storage version: one that does not
    /// answer (down, restarting, cut off) may hold another, so the
    /// condition waits for it.
    StorageVersion(Version),
    LeaderKnown,
    /// Every one of these holds, judged on the same statuses (`a && b`).
    All(Vec<Condition>),
}

impl std::fmt::Display for Condition {
    /// As a scenario file writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::RevisionAtLeast(n) => write!(f, "revision >= {n}"),
            Condition::LaggingAtLeast(n) => write!(f, "lagging >= {n}"),
            Condition::DowngradeEnabled => f.write_str("downgrade_enabled"),
            Condition::ClusterVersion(v) => write!(f, "cluster_version == {v}"),
            Condition::StorageVersion(v) => write!(f, "storage_version == {v}"),
            Condition::LeaderKnown => f.write_str("leader_known"),
            Condition::All(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" && ")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parses a condition, or several joined by `&&`; the error says what
/// was expected.
pub fn parse(s: &str) -> Result<Condition, String> {
    if s.contains("&&") {
        return s
            .split("&&")
            .map(one)
            .collect::<Result<Vec<_>, _>>()
            .map(Condition::All);
    }
    one(s)
}

fn one(s: &str) -> Result<Condition, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let number = |w: &str| {
        w.parse::<i64>()
            .map_err(|_| format!("expected a number, got {w:?}"))
    };
    match words.as_slice() {
        ["revision", ">=", n] => Ok(Condition::RevisionAtLeast(number(n)?)),
        ["lagging", ">=", n] => Ok(Condition::LaggingAtLeast(number(n)?.max(0) as u64)),
        ["downgrade_enabled"] => Ok(Condition::DowngradeEnabled),
        ["leader_known"] => Ok(Condition::LeaderKnown),
        ["cluster_version", "==", v] => v
            .parse()
            .map(Condition::ClusterVersion)
            .map_err(|e: node::version::ParseVersionError| e.to_string()),
        ["storage_version", "==", v] => v
            .parse()
            .map(Condition::StorageVersion)
            .map_err(|e: node::version::ParseVersionError| e.to_string()),
        _ => Err(format!(
            "expected one of `revision >= N`, `lagging >= N`, `downgrade_enabled`, `cluster_version == X.Y`, `storage_version == X.Y`, `leader_known`, or several joined by `&&`; got {s:?}"
        )),
    }
}

/// Whether the condition holds now.
pub async fn holds(world: &World, members: &[u64], cond: &Condition) -> bool {
    holds_in(
        members.len(),
        &cluster::statuses(world, members).await,
        cond,
    )
}

/// Whether `cond` holds on the statuses `st` of the `asked` members asked
/// (those that answered).
fn holds_in(asked: usize, st: &[(u64, StatusResponse)], cond: &Condition) -> bool {
    match cond {
        Condition::RevisionAtLeast(n) => st
            .iter()
            .any(|(_, s)| s.header.as_ref().is_some_and(|h| h.revision >= *n)),
        Condition::LaggingAtLeast(n) => {
            let commit = st.iter().map(|(_, s)| s.raft_index).max().unwrap_or(0);
            st.iter()
                .any(|(_, s)| commit.saturating_sub(s.raft_applied_index) >= *n)
        }
        Condition::DowngradeEnabled => st.iter().any(|(_, s)| s.downgrade_enabled),
        Condition::ClusterVersion(v) => st.iter().any(|(_, s)| s.cluster_version == v.to_string()),
        Condition::StorageVersion(v) => {
            asked > 0
                && st.len() == asked
                && st.iter().all(|(_, s)| s.storage_version == v.to_string())
        }
        Condition::LeaderKnown => st.iter().any(|(_, s)| s.leader != 0),
        Condition::All(parts) => parts.iter().all(|c| holds_in(asked, st, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        assert_eq!(
            parse("revision >= 100"),
            Ok(Condition::RevisionAtLeast(100))
        );
        assert_eq!(parse("lagging >= 5"), Ok(Condition::LaggingAtLeast(5)));
        assert_eq!(parse("downgrade_enabled"), Ok(Condition::DowngradeEnabled));
        assert_eq!(
            parse("cluster_version == 3.6"),
            Ok(Condition::ClusterVersion(Version::V3_6))
        );
        for text in [
            "revision >= 100",
            "lagging >= 5",
            "downgrade_enabled",
            "cluster_version == 3.6",
            "storage_version == 3.5",
            "leader_known",
            "cluster_version == 3.5 && storage_version == 3.5",
        ] {
            assert_eq!(parse(text).map(|c| c.to_string()).as_deref(), Ok(text));
        }
        assert_eq!(
            parse("cluster_version == 3.5 &&storage_version == 3.5"),
            Ok(Condition::All(vec![
                Condition::ClusterVersion(Version::V3_5),
                Condition::StorageVersion(Version::V3_5)
            ]))
        );
        assert!(parse("leader_known && revision > 1").is_err());
        assert!(parse("leader_known &&").is_err());
        assert!(parse("revision > 100").is_err());
        assert!(parse("revision >= x").is_err());
    }

    fn status(storage: &str, cluster: &str) -> StatusResponse {
        StatusResponse {
            storage_version: storage.into(),
            cluster_version: cluster.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_storage_version_holds_only_when_every_member_asked_answered_with_it() {
        let cond = parse("cluster_version == 3.6 && storage_version == 3.6").expect("parses");
        let two = [(1, status("3.6", "3.6")), (3, status("3.6", "3.6"))];
        assert!(holds_in(2, &two, &cond));
        // A third member asked did not answer: it may still hold 3.7.
        assert!(!holds_in(3, &two, &cond));
        let lagging = [(1, status("3.6", "3.6")), (2, status("3.7", "3.6"))];
        assert!(!holds_in(2, &lagging, &cond));
        assert!(!holds_in(0, &[], &Condition::StorageVersion(Version::V3_6)));
        // Conditions on any one member still hold without the others.
        assert!(holds_in(3, &two, &Condition::ClusterVersion(Version::V3_6)));
    }
}
