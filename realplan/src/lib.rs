//! The plan of one scenario run against a real etcd cluster, as
//! `faultline run --target etcd` writes it (JSON) and
//! `faultline-etcd scenario --plan FILE` reads it: the cluster's size, how
//! long the traffic runs, the traffic profiles with the simulation's
//! parameters, and each fault step a real cluster can do, with its time,
//! target and duration. Everything a real target cannot do was refused
//! before the plan was made (`scenarios::real`), so every value here is
//! one `faultline-etcd` runs as it stands.
//!
//! Times are milliseconds from the start of the traffic.
//!
//! Binaries are roles, not paths: a run has the new etcd
//! (`$FAULTLINE_ETCD`, the companion's `--etcd`) and, for version changes,
//! the old one (`$FAULTLINE_ETCD_OLD`, `--etcd-old`); the plan says which
//! each member starts with and which a version step restarts it into.

use serde::{Deserialize, Serialize};

/// In the companion's `--out` (and a real run's folder): the folder that
/// keeps each member's etcd log, as `NAME.etcd.log`.
pub const MEMBER_LOGS: &str = "members";

/// What `faultline-etcd` reads. `deny_unknown_fields` everywhere: a plan
/// from a newer `faultline` than this companion is refused, not half run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The scenario's name (for messages and annotations).
    pub scenario: String,
    /// Fixes the clients' choices and the faults' draws (targets, delays);
    /// real processes still decide the order, so it does not replay a run.
    pub seed: u64,
    /// 1, 3 or 5.
    pub members: usize,
    /// The binary each member starts with, one per member.
    pub binaries: Vec<Binary>,
    pub duration_ms: u64,
    /// How long a client waits for an answer before its outcome is unknown.
    pub client_timeout_ms: u64,
    /// How long the healed cluster has to elect a leader and answer.
    pub liveness_bound_ms: u64,
    /// Every member's `--snapshot-count` (None: etcd's default, 100,000 in
    /// 3.4). Set small when a step waits for the others to compact their
    /// raft log past a member (`PartitionUntilSnapshot`), which etcd does
    /// only after a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
    pub traffic: Vec<Traffic>,
    /// Earliest first.
    pub steps: Vec<Step>,
}

/// Which of the run's two etcd binaries: the scenario's lower version
/// runs the old one, its higher (or only) version the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binary {
    Old,
    New,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Old => "old",
            Binary::New => "new",
        }
    }
}

/// One traffic profile: `clients` sequential clients, each offering `rate`
/// requests per second (0: back to back) over `keys` keys named
/// `key_prefix` and a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub profile: Profile,
    pub clients: usize,
    pub rate: f64,
    pub keys: usize,
    pub key_prefix: String,
    /// When this profile's clients stop (default: the run's end).
    pub until_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Profile {
    /// etcd's robustness mix: each operation with its weight, and the
    /// compactor's period (None: no compactor).
    Etcd {
        mix: Vec<(Op, u32)>,
        compact_period_ms: Option<u64>,
    },
    /// Watch streams with watches around the current and the compact
    /// revision and progress requests; each stream keeps this many
    /// watches (None: 1 to 3, drawn per stream).
    Watch { watches_per_stream: Option<usize> },
}

/// The etcd profile's operations a real cluster is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A linearizable read of one key.
    Get,
    /// A linearizable read of every key (sometimes keys only).
    List,
    /// A read of one key at a revision a little before the last one seen.
    StaleGet,
    /// A read of every key at such a revision.
    StaleList,
    Put,
    Delete,
    /// A Txn that puts two keys and reads a third (half the time at a
    /// revision around the last one seen: past, compacted or future).
    MultiOpTxn,
    /// Put if the key's mod revision is the one last seen, else read it.
    CompareAndSet,
    /// A put with a lease (granted first, when the client holds none).
    PutWithLease,
    LeaseRevoke,
}

/// One fault step: the scenario's step `index` (`faults[index]`), its kind
/// as the scenario names it, and when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub index: usize,
    pub kind: String,
    pub at_ms: u64,
    pub fault: Fault,
}

/// Who a step hits, resolved when it fires (who leads changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Leader,
    Follower,
    Random,
    All,
    /// A member by index, 0-based (the scenario's `m1` is 0).
    Member(usize),
}

/// What a real cluster can do: process signals, the peer proxy's links,
/// and requests through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL, restart after `restart_after_ms` on the same data.
    Crash {
        target: Target,
        restart_after_ms: u64,
    },
    /// SIGSTOP, SIGCONT after `duration_ms`.
    Pause { target: Target, duration_ms: u64 },
    /// SIGTERM, wait for the stop, start again after `down_for_ms`.
    GracefulRestart { target: Target, down_for_ms: u64 },
    /// Every link to and from each target dropped for `duration_ms`.
    Isolate { target: Target, duration_ms: u64 },
    /// Two sides, the leader in the minority or in the majority.
    Partition {
        leader_in_minority: bool,
        duration_ms: u64,
    },
    /// Each target's every link dropped until the leader of the others has
    /// compacted its raft log past what the target holds, so that the
    /// target can only be caught up by a snapshot: until the leader's
    /// newest snapshot index is more than etcd's catch-up entries (5000 in
    /// 3.4) past the target's index; or `timeout_ms`.
    PartitionUntilSnapshot { target: Target, timeout_ms: u64 },
    /// Each target's outgoing (or incoming) links dropped.
    OneWay {
        target: Target,
        outgoing: bool,
        duration_ms: u64,
    },
    /// Isolate and heal each target every `period_ms`, for `duration_ms`.
    Flapping {
        target: Target,
        period_ms: u64,
        duration_ms: u64,
    },
    /// Every directed peer link delayed by its own fixed delay, drawn in
    /// `min_ms..=max_ms` (the proxy delays a byte stream, so one link's
    /// delay cannot vary per message without reordering its bytes).
    Latency {
        min_ms: u64,
        max_ms: u64,
        duration_ms: u64,
    },
    /// Compact at `offset` revisions below the current one (None: 0 to 4,
    /// drawn).
    Compact { offset: Option<i64> },
    /// Defragment each target's backend.
    Defrag { target: Target },
    /// Remove each target, wipe its data, add it back as a new member.
    MemberReplace { target: Target },
    /// Each target stopped (SIGTERM) and started on its data with
    /// `binary` (`swap_version`).
    Swap { target: Target, binary: Binary },
    /// Every member in turn, followers first and the leader last, stopped
    /// and started with `binary`, the cluster agreeing on a leader before
    /// the next (`rolling_upgrade`, `rolling_downgrade`).
    Rolling { binary: Binary },
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("not a plan: {0}")]
    Json(#[from] serde_json::Error),
    #[error("members: a real cluster has 1, 3 or 5 members, not {0}")]
    Members(usize),
    #[error("traffic: no client")]
    NoClients,
    #[error("steps[{0}]: targets member {1}, but the cluster has {2}")]
    NoSuchMember(usize, usize, usize),
    #[error("binaries: {0} for {1} members")]
    Binaries(usize, usize),
    #[error(
        "{0} runs the old etcd binary, but none was given (--etcd-old, or $FAULTLINE_ETCD_OLD)"
    )]
    NoOldBinary(String),
}

impl Plan {
    /// Reads a plan and checks what JSON cannot say.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan = serde_json::from_str(text)?;
        if ![1, 3, 5].contains(&plan.members) {
            return Err(PlanError::Members(plan.members));
        }
        if plan.binaries.len() != plan.members {
            return Err(PlanError::Binaries(plan.binaries.len(), plan.members));
        }
        if plan.traffic.iter().map(|t| t.clients).sum::<usize>() == 0 {
            return Err(PlanError::NoClients);
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if let Some(Target::Member(m)) = step.fault.target()
                && m >= plan.members
            {
                return Err(PlanError::NoSuchMember(i, m + 1, plan.members));
            }
        }
        Ok(plan)
    }

    /// Refuses a plan that names the old binary when the companion was
    /// given none: the first member or step that needs it.
    pub fn check_binaries(&self, old_given: bool) -> Result<(), PlanError> {
        if old_given {
            return Ok(());
        }
        if let Some(i) = self.binaries.iter().position(|b| *b == Binary::Old) {
            return Err(PlanError::NoOldBinary(format!(
                "binaries[{i}] (m{})",
                i + 1
            )));
        }
        if let Some((i, step)) = self
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.fault.binary() == Some(Binary::Old))
        {
            return Err(PlanError::NoOldBinary(format!(
                "steps[{i}] ({})",
                step.kind
            )));
        }
        Ok(())
    }

    /// Whether any member or step runs the old binary.
    pub fn uses_old(&self) -> bool {
        self.check_binaries(false).is_err()
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: encoding cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Fault {
    /// The step's target, for the kinds that have one.
    pub fn target(&self) -> Option<Target> {
        match self {
            Fault::Crash { target, .. }
            | Fault::Pause { target, .. }
            | Fault::GracefulRestart { target, .. }
            | Fault::Isolate { target, .. }
            | Fault::PartitionUntilSnapshot { target, .. }
            | Fault::OneWay { target, .. }
            | Fault::Flapping { target, .. }
            | Fault::Defrag { target }
            | Fault::MemberReplace { target }
            | Fault::Swap { target, .. } => Some(*target),
            Fault::Partition { .. }
            | Fault::Latency { .. }
            | Fault::Compact { .. }
            | Fault::Rolling { .. } => None,
        }
    }

    /// The binary a version step restarts members into.
    pub fn binary(&self) -> Option<Binary> {
        match self {
            Fault::Swap { binary, .. } | Fault::Rolling { binary } => Some(*binary),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            scenario: "partitions".into(),
            seed: 3,
            members: 3,
            binaries: vec![Binary::New; 3],
            duration_ms: 12_000,
            client_timeout_ms: 2000,
            liveness_bound_ms: 20_000,
            snapshot_count: None,
            traffic: vec![Traffic {
                profile: Profile::Etcd {
                    mix: vec![(Op::Get, 15), (Op::Put, 23)],
                    compact_period_ms: Some(200),
                },
                clients: 4,
                rate: 50.0,
                keys: 10,
                key_prefix: "key".into(),
                until_ms: None,
            }],
            steps: vec![Step {
                index: 0,
                kind: "crash".into(),
                at_ms: 1500,
                fault: Fault::Crash {
                    target: Target::Member(2),
                    restart_after_ms: 1000,
                },
            }],
        }
    }

    #[test]
    fn a_plan_reads_back_equal() {
        let p = plan();
        assert_eq!(Plan::from_json(&p.to_json()).expect("reads back"), p);
    }

    #[test]
    fn a_snapshot_wait_reads_back_and_an_old_plan_has_etcd_s_snapshot_count() {
        let mut p = plan();
        p.snapshot_count = Some(100);
        p.steps.push(Step {
            index: 1,
            kind: "partition_until_snapshot".into(),
            at_ms: 2000,
            fault: Fault::PartitionUntilSnapshot {
                target: Target::Follower,
                timeout_ms: 30_000,
            },
        });
        let text = p.to_json();
        assert!(text.contains("\"snapshot_count\": 100"), "{text}");
        assert_eq!(Plan::from_json(&text).expect("reads back"), p);
        assert_eq!(p.steps[1].fault.target(), Some(Target::Follower));
        // A plan without the field (every plan before it) runs with etcd's
        // own snapshot count.
        let old = plan().to_json();
        assert!(!old.contains("snapshot_count"), "{old}");
        assert_eq!(Plan::from_json(&old).expect("reads").snapshot_count, None);
    }

    #[test]
    fn what_json_cannot_say_is_refused() {
        let mut p = plan();
        p.members = 4;
        assert!(matches!(
            Plan::from_json(&p.to_json()),
            Err(PlanError::Members(4))
        ));
        let mut p = plan();
        p.traffic[0].clients = 0;
        assert!(matches!(
            Plan::from_json(&p.to_json()),
            Err(PlanError::NoClients)
        ));
        let mut p = plan();
        p.steps[0].fault = Fault::Defrag {
            target: Target::Member(3),
        };
        let e = Plan::from_json(&p.to_json()).expect_err("no m4");
        assert_eq!(
            e.to_string(),
            "steps[0]: targets member 4, but the cluster has 3"
        );
        let e = Plan::from_json("{\"scenario\": 1}").expect_err("not a plan");
        assert!(e.to_string().starts_with("not a plan:"), "{e}");
        let mut p = plan();
        p.binaries.pop();
        let e = Plan::from_json(&p.to_json()).expect_err("one binary short");
        assert_eq!(e.to_string(), "binaries: 2 for 3 members");
    }

    /// A plan with an old-binary member and both version steps.
    fn versioned() -> Plan {
        let mut p = plan();
        p.binaries = vec![Binary::New, Binary::Old, Binary::New];
        p.steps.push(Step {
            index: 1,
            kind: "rolling_upgrade".into(),
            at_ms: 3000,
            fault: Fault::Rolling {
                binary: Binary::New,
            },
        });
        p.steps.push(Step {
            index: 2,
            kind: "swap_version".into(),
            at_ms: 6000,
            fault: Fault::Swap {
                target: Target::Follower,
                binary: Binary::Old,
            },
        });
        p
    }

    #[test]
    fn binaries_are_roles_that_read_back() {
        let p = versioned();
        let text = p.to_json();
        assert!(text.contains("\"old\""), "{text}");
        assert_eq!(Plan::from_json(&text).expect("reads back"), p);
        // A binary that is neither role is not a plan.
        let bad = text.replacen("\"old\"", "\"/usr/bin/etcd\"", 1);
        assert!(Plan::from_json(&bad).is_err());
        assert_eq!(p.steps[2].fault.target(), Some(Target::Follower));
        assert_eq!(p.steps[1].fault.target(), None);
        assert!(p.uses_old());
        assert!(!plan().uses_old());
    }

    #[test]
    fn a_plan_naming_the_old_binary_is_refused_without_one() {
        let p = versioned();
        assert!(p.check_binaries(true).is_ok());
        let e = p.check_binaries(false).expect_err("m2 is old");
        assert_eq!(
            e.to_string(),
            "binaries[1] (m2) runs the old etcd binary, but none was given (--etcd-old, or $FAULTLINE_ETCD_OLD)"
        );
        let mut p = versioned();
        p.binaries = vec![Binary::New; 3];
        let e = p.check_binaries(false).expect_err("the swap is to old");
        assert!(
            e.to_string()
                .starts_with("steps[2] (swap_version) runs the old"),
            "{e}"
        );
        // Every member and step new: no old binary needed.
        p.steps.pop();
        assert!(p.check_binaries(false).is_ok());
    }
}
