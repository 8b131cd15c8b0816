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

use serde::{Deserialize, Serialize};

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
    pub duration_ms: u64,
    /// How long a client waits for an answer before its outcome is unknown.
    pub client_timeout_ms: u64,
    /// How long the healed cluster has to elect a leader and answer.
    pub liveness_bound_ms: u64,
    pub traffic: Vec<Traffic>,
    /// Earliest first.
    pub steps: Vec<Step>,
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
}

impl Plan {
    /// Reads a plan and checks what JSON cannot say.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan = serde_json::from_str(text)?;
        if ![1, 3, 5].contains(&plan.members) {
            return Err(PlanError::Members(plan.members));
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
            | Fault::OneWay { target, .. }
            | Fault::Flapping { target, .. }
            | Fault::Defrag { target }
            | Fault::MemberReplace { target } => Some(*target),
            Fault::Partition { .. } | Fault::Latency { .. } | Fault::Compact { .. } => None,
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
            duration_ms: 12_000,
            client_timeout_ms: 2000,
            liveness_bound_ms: 20_000,
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
    }
}
