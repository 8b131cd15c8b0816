//! The fault library: every kind of fault a plan can use, checked from
//! the scenario file, and how each is applied to (and healed in) the world.

use crate::schema::FaultStep;
use node::failpoint::FailAction;
use node::version::Version;
use std::cell::RefCell;
use std::time::Duration;

/// Who a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Leader,
    Follower,
    Random,
    All,
    Member(u64),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        Ok(match s {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "random" => Target::Random,
            "all" => Target::All,
            m if m.starts_with('m') => Target::Member(m[1..].parse().map_err(|_| {
                format!("expected leader, follower, random, all or m1..m5, got {s:?}")
            })?),
            _ => {
                return Err(format!(
                    "expected leader, follower, random, all or m1..m5, got {s:?}"
                ));
            }
        })
    }
}

/// A fault with its parameters, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Kill the process (unsynced writes are lost), restart it later.
    Crash {
        target: Target,
        restart_after: Duration,
    },
    /// Kill with torn tails on: part of an unsynced append survives.
    TornWriteCrash {
        target: Target,
        restart_after: Duration,
    },
    /// Stop the process (a stalled process), resume it later.
    Pause {
        target: Target,
        duration: Duration,
    },
    /// Graceful stop and start.
    GracefulRestart {
        target: Target,
        down_for: Duration,
    },
    /// Cut the target off from every other member.
    Isolate {
        target: Target,
        duration: Duration,
    },
    /// Split the members so the leader is in the minority.
    PartitionMinority {
        duration: Duration,
    },
    /// Split the members so the leader keeps a majority.
    PartitionMajority {
        duration: Duration,
    },
    /// The target cannot send to other members (it still receives).
    OneWayOut {
        target: Target,
        duration: Duration,
    },
    /// The target cannot receive from other members (it still sends).
    OneWayIn {
        target: Target,
        duration: Duration,
    },
    /// Isolate and heal the target repeatedly.
    Flapping {
        target: Target,
        period: Duration,
        duration: Duration,
    },
    PacketLoss {
        rate: f64,
        duration: Duration,
    },
    Latency {
        min: Duration,
        max: Duration,
        duration: Duration,
    },
    /// The next `count` fsyncs of the target fail with EIO.
    FsyncEio {
        target: Target,
        count: u32,
        restart_after: Duration,
    },
    /// Writes past the quota fail with ENOSPC.
    Enospc {
        target: Target,
        quota_kb: u64,
        duration: Duration,
    },
    SlowDisk {
        target: Target,
        min: Duration,
        max: Duration,
        duration: Duration,
    },
    /// Reads return a flipped bit with this probability.
    BitFlip {
        target: Target,
        rate: f64,
        duration: Duration,
    },
    ClockSkew {
        target: Target,
        drift_ppm: i64,
        offset_ms: i64,
        duration: Duration,
    },
    /// Arm a failpoint; the engine issues what reaches it when needed
    /// (a compaction `offset` revisions back for compaction points).
    Failpoint {
        target: Target,
        name: String,
        action: FailAction,
        times: u32,
        offset: Option<i64>,
    },
    /// Isolate the target until the others compacted their log past it.
    PartitionUntilSnapshot {
        target: Target,
        timeout: Duration,
    },
    /// Remove the target, wipe it, add it back as a new member.
    MemberReplace {
        target: Target,
    },
    /// The engine compacts history up to a recent revision (`offset`
    /// below the current one; drawn when not given).
    Compact {
        offset: Option<i64>,
    },
    /// The engine asks the target to defragment its backend.
    Defrag {
        target: Target,
    },
    /// Restart the target as another version (one member of a rolling
    /// change). With `expect_refusal` the new binary must refuse to start;
    /// the operator then starts the old one again.
    SwapVersion {
        target: Target,
        version: Version,
        expect_refusal: bool,
    },
    /// Restart every member as `version`, leader last.
    RollingUpgrade {
        version: Version,
    },
    /// The same, to an older version (after a downgrade was enabled).
    RollingDowngrade {
        version: Version,
    },
    /// Add a new member running `version` (refused when it is too old for
    /// the cluster: the operator then removes it).
    JoinMember {
        version: Version,
        expect_refusal: bool,
    },
    DowngradeEnable {
        version: Version,
    },
    DowngradeCancel,
    /// Stop the target, migrate its data offline to `version` (checking the
    /// WAL unless `force`), and restart it as that version.
    OfflineMigrate {
        target: Target,
        version: Version,
        force: bool,
        expect_refusal: bool,
    },
}

/// Every kind with a one-line description, for `faultline list faults`.
pub const KINDS: &[(&str, &str)] = &[
    (
        "crash",
        "kill a member (unsynced writes lost), restart it after restart_after_s",
    ),
    (
        "torn_write_crash",
        "kill a member with torn tails on: a prefix of its last unsynced append survives",
    ),
    ("pause", "stall a member's process for duration_s"),
    (
        "graceful_restart",
        "stop a member cleanly and start it again",
    ),
    ("isolate", "cut a member off from all others for duration_s"),
    (
        "partition_minority",
        "split members so the leader is in the minority",
    ),
    (
        "partition_majority",
        "split members so the leader keeps a majority",
    ),
    (
        "one_way_out",
        "a member's outgoing messages to other members are dropped",
    ),
    (
        "one_way_in",
        "a member's incoming messages from other members are dropped",
    ),
    ("flapping", "isolate and heal a member every period_s"),
    ("packet_loss", "drop messages with probability rate"),
    ("latency", "delay every message by latency_ms = [min, max]"),
    (
        "fsync_eio",
        "the next count fsyncs of a member fail with EIO (pages dropped)",
    ),
    ("enospc", "a member's writes past quota_kb fail with ENOSPC"),
    (
        "slow_disk",
        "every disk operation of a member takes latency_ms = [min, max]",
    ),
    (
        "bit_flip",
        "reads of a member's files flip a bit with probability rate",
    ),
    (
        "clock_skew",
        "a member's clock drifts by drift_ppm and jumps by offset_ms",
    ),
    (
        "failpoint",
        "arm a failpoint (failpoint, action crash|sleep|error, sleep_ms, times)",
    ),
    (
        "partition_until_snapshot",
        "isolate a member until the others compacted their log past it",
    ),
    (
        "member_replace",
        "remove a member, wipe it, add it back as a new member",
    ),
    ("compact", "compact history up to a recent revision"),
    ("defrag", "defragment a member's backend"),
    ("swap_version", "restart a member as another version"),
    (
        "rolling_upgrade",
        "restart every member as version, leader last",
    ),
    (
        "rolling_downgrade",
        "restart every member as an older version, leader last",
    ),
    (
        "join_member",
        "add a new member running version (expect_refusal: it must be refused)",
    ),
    ("downgrade_enable", "downgrade validate + enable to version"),
    ("downgrade_cancel", "cancel the downgrade in progress"),
    (
        "offline_migrate",
        "stop a member, migrate its data offline to version (force to skip the WAL check), restart it as that version",
    ),
];

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Builds a fault from a step; errors name the field (`field: problem`).
/// A field the kind does not use is refused, not ignored.
pub fn parse(step: &FaultStep) -> Result<Fault, String> {
    let reads = Reads::default();
    let fault = parse_reading(step, &reads)?;
    if let Some(field) = set_fields(step).into_iter().find(|f| !reads.read(f)) {
        return Err(format!(
            "{field}: a {:?} step does not use this field (see `faultline list faults`)",
            step.kind
        ));
    }
    Ok(fault)
}

/// The fault a step describes, noting in `reads` each field its kind uses.
fn parse_reading(step: &FaultStep, reads: &Reads) -> Result<Fault, String> {
    // A field of the step, noted as used by this kind.
    macro_rules! field {
        ($name:ident) => {
            reads.take(stringify!($name), &step.$name)
        };
    }
    let target = || -> Result<Target, String> {
        match &field!(target) {
            Some(t) => Target::parse(t).map_err(|e| format!("target: {e}")),
            None => Ok(Target::Random),
        }
    };
    let duration = || secs(field!(duration_s).unwrap_or(2.0));
    let restart_after = || secs(field!(restart_after_s).unwrap_or(1.0));
    let need_version =
        || field!(version).ok_or_else(|| "version: required for this kind".to_string());
    let latency = |default: [u64; 2]| -> Result<(Duration, Duration), String> {
        let [lo, hi] = field!(latency_ms).unwrap_or(default);
        if lo > hi {
            return Err(format!("latency_ms: min {lo} is above max {hi}"));
        }
        Ok((
            Duration::from_millis(lo),
            Duration::from_millis(hi.max(lo + 1)),
        ))
    };
    let rate = |default: f64| -> Result<f64, String> {
        let r = field!(rate).unwrap_or(default);
        if !(0.0..=1.0).contains(&r) {
            return Err(format!(
                "rate: expected a probability between 0 and 1, got {r}"
            ));
        }
        Ok(r)
    };
    Ok(match step.kind.as_str() {
        "crash" => Fault::Crash {
            target: target()?,
            restart_after: restart_after(),
        },
        "torn_write_crash" => Fault::TornWriteCrash {
            target: target()?,
            restart_after: restart_after(),
        },
        "pause" => Fault::Pause {
            target: target()?,
            duration: duration(),
        },
        "graceful_restart" => Fault::GracefulRestart {
            target: target()?,
            down_for: restart_after(),
        },
        "isolate" => Fault::Isolate {
            target: target()?,
            duration: duration(),
        },
        "partition_minority" => Fault::PartitionMinority {
            duration: duration(),
        },
        "partition_majority" => Fault::PartitionMajority {
            duration: duration(),
        },
        "one_way_out" => Fault::OneWayOut {
            target: target()?,
            duration: duration(),
        },
        "one_way_in" => Fault::OneWayIn {
            target: target()?,
            duration: duration(),
        },
        "flapping" => Fault::Flapping {
            target: target()?,
            period: secs(field!(period_s).unwrap_or(0.5)),
            duration: duration(),
        },
        "packet_loss" => Fault::PacketLoss {
            rate: rate(0.2)?,
            duration: duration(),
        },
        "latency" => {
            let (min, max) = latency([20, 200])?;
            Fault::Latency {
                min,
                max,
                duration: duration(),
            }
        }
        "fsync_eio" => Fault::FsyncEio {
            target: target()?,
            count: field!(count).unwrap_or(1),
            restart_after: restart_after(),
        },
        "enospc" => Fault::Enospc {
            target: target()?,
            quota_kb: field!(quota_kb).unwrap_or(0),
            duration: duration(),
        },
        "slow_disk" => {
            let (min, max) = latency([5, 50])?;
            Fault::SlowDisk {
                target: target()?,
                min,
                max,
                duration: duration(),
            }
        }
        "bit_flip" => Fault::BitFlip {
            target: target()?,
            rate: rate(0.05)?,
            duration: duration(),
        },
        "clock_skew" => Fault::ClockSkew {
            target: target()?,
            drift_ppm: field!(drift_ppm).unwrap_or(200_000),
            offset_ms: field!(offset_ms).unwrap_or(0),
            duration: duration(),
        },
        "failpoint" => {
            let name = field!(failpoint).ok_or("failpoint: required for kind \"failpoint\"")?;
            if node::failpoint::lookup(&name).is_none() {
                return Err(format!(
                    "failpoint: unknown failpoint {name:?} (see `faultline list failpoints`)"
                ));
            }
            let action = match field!(action).as_deref().unwrap_or("crash") {
                "crash" => FailAction::Crash,
                "error" => FailAction::Error,
                "sleep" => {
                    FailAction::Sleep(Duration::from_millis(field!(sleep_ms).unwrap_or(100)))
                }
                other => {
                    return Err(format!(
                        "action: expected crash, sleep or error, got {other:?}"
                    ));
                }
            };
            Fault::Failpoint {
                target: target()?,
                name,
                action,
                times: field!(times).unwrap_or(1),
                offset: field!(offset),
            }
        }
        "partition_until_snapshot" => Fault::PartitionUntilSnapshot {
            target: target()?,
            timeout: secs(field!(duration_s).unwrap_or(30.0)),
        },
        "member_replace" => Fault::MemberReplace { target: target()? },
        "compact" => Fault::Compact {
            offset: field!(offset),
        },
        "defrag" => Fault::Defrag { target: target()? },
        "swap_version" => Fault::SwapVersion {
            target: target()?,
            version: need_version()?,
            expect_refusal: field!(expect_refusal).unwrap_or(false),
        },
        "rolling_upgrade" => Fault::RollingUpgrade {
            version: need_version()?,
        },
        "rolling_downgrade" => Fault::RollingDowngrade {
            version: need_version()?,
        },
        "join_member" => Fault::JoinMember {
            version: need_version()?,
            expect_refusal: field!(expect_refusal).unwrap_or(false),
        },
        "downgrade_enable" => Fault::DowngradeEnable {
            version: need_version()?,
        },
        "downgrade_cancel" => Fault::DowngradeCancel,
        "offline_migrate" => Fault::OfflineMigrate {
            target: target()?,
            version: need_version()?,
            force: field!(force).unwrap_or(false),
            expect_refusal: field!(expect_refusal).unwrap_or(false),
        },
        other => {
            return Err(format!(
                "kind: unknown fault kind {other:?} (see `faultline list faults`)"
            ));
        }
    })
}

/// Which fields of a step its kind read while parsing it.
#[derive(Default)]
struct Reads(RefCell<Vec<&'static str>>);

impl Reads {
    fn take<T: Clone>(&self, name: &'static str, value: &Option<T>) -> Option<T> {
        self.0.borrow_mut().push(name);
        value.clone()
    }

    fn read(&self, name: &str) -> bool {
        self.0.borrow().contains(&name)
    }
}

/// The fields of a step that only some kinds use (`kind`, `at_s`, `when`
/// and `required` apply to every step): which are set, and clearing one.
macro_rules! kind_fields {
    ($($field:ident),* $(,)?) => {
        fn set_fields(step: &FaultStep) -> Vec<&'static str> {
            let mut set = Vec::new();
            $(if step.$field.is_some() {
                set.push(stringify!($field));
            })*
            set
        }

        fn clear_field(step: &mut FaultStep, name: &str) {
            $(if name == stringify!($field) {
                step.$field = None;
            })*
        }

        #[cfg(test)]
        const KIND_FIELDS: &[&str] = &[$(stringify!($field)),*];
    };
}

kind_fields!(
    target,
    duration_s,
    restart_after_s,
    failpoint,
    action,
    sleep_ms,
    times,
    rate,
    latency_ms,
    drift_ppm,
    offset_ms,
    count,
    quota_kb,
    version,
    period_s,
    force,
    expect_refusal,
    offset,
);

/// Clears the fields a step's kind does not use (swarm mode draws every
/// common parameter for every kind, so that each seed's draws stay the same
/// whichever kinds it picks).
pub fn clear_unused(step: &mut FaultStep) {
    let reads = Reads::default();
    // A step that does not parse keeps its fields: parse names the problem.
    if parse_reading(step, &reads).is_err() {
        return;
    }
    for field in set_fields(step) {
        if !reads.read(field) {
            clear_field(step, field);
        }
    }
}

impl Fault {
    /// The kind's name as in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::TornWriteCrash { .. } => "torn_write_crash",
            Fault::Pause { .. } => "pause",
            Fault::GracefulRestart { .. } => "graceful_restart",
            Fault::Isolate { .. } => "isolate",
            Fault::PartitionMinority { .. } => "partition_minority",
            Fault::PartitionMajority { .. } => "partition_majority",
            Fault::OneWayOut { .. } => "one_way_out",
            Fault::OneWayIn { .. } => "one_way_in",
            Fault::Flapping { .. } => "flapping",
            Fault::PacketLoss { .. } => "packet_loss",
            Fault::Latency { .. } => "latency",
            Fault::FsyncEio { .. } => "fsync_eio",
            Fault::Enospc { .. } => "enospc",
            Fault::SlowDisk { .. } => "slow_disk",
            Fault::BitFlip { .. } => "bit_flip",
            Fault::ClockSkew { .. } => "clock_skew",
            Fault::Failpoint { .. } => "failpoint",
            Fault::PartitionUntilSnapshot { .. } => "partition_until_snapshot",
            Fault::MemberReplace { .. } => "member_replace",
            Fault::Compact { .. } => "compact",
            Fault::Defrag { .. } => "defrag",
            Fault::SwapVersion { .. } => "swap_version",
            Fault::RollingUpgrade { .. } => "rolling_upgrade",
            Fault::RollingDowngrade { .. } => "rolling_downgrade",
            Fault::JoinMember { .. } => "join_member",
            Fault::DowngradeEnable { .. } => "downgrade_enable",
            Fault::DowngradeCancel => "downgrade_cancel",
            Fault::OfflineMigrate { .. } => "offline_migrate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: &str) -> FaultStep {
        FaultStep {
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_listed_kind_parses_with_defaults_or_names_its_missing_field() {
        for (kind, _) in KINDS {
            match parse(&step(kind)) {
                Ok(f) => assert_eq!(f.kind(), *kind),
                Err(e) => assert!(
                    e.starts_with("version:") || e.starts_with("failpoint:"),
                    "{kind}: {e}"
                ),
            }
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let mut s = step("crash");
        s.target = Some("leaderr".into());
        assert!(parse(&s).unwrap_err().starts_with("target:"));
        let mut s = step("packet_loss");
        s.rate = Some(1.5);
        assert!(parse(&s).unwrap_err().starts_with("rate:"));
        let mut s = step("failpoint");
        s.failpoint = Some("nope".into());
        assert!(parse(&s).unwrap_err().starts_with("failpoint:"));
        let mut s = step("failpoint");
        s.failpoint = Some("beforeCommit".into());
        s.action = Some("explode".into());
        assert!(parse(&s).unwrap_err().starts_with("action:"));
        assert!(parse(&step("meteor")).unwrap_err().starts_with("kind:"));
        assert_eq!(Target::parse("m3"), Ok(Target::Member(3)));
    }

    #[test]
    fn a_field_the_kind_does_not_use_is_refused() {
        let mut s = step("crash");
        s.quota_kb = Some(5);
        assert!(
            parse(&s)
                .unwrap_err()
                .starts_with("quota_kb: a \"crash\" step"),
            "{:?}",
            parse(&s)
        );
        let mut s = step("compact");
        s.target = Some("leader".into());
        assert!(parse(&s).unwrap_err().starts_with("target:"));
        // A sleep's length means nothing to a failpoint that crashes.
        let mut s = step("failpoint");
        s.failpoint = Some("beforeCommit".into());
        s.action = Some("crash".into());
        s.sleep_ms = Some(100);
        assert!(parse(&s).unwrap_err().starts_with("sleep_ms:"));
        s.action = Some("sleep".into());
        assert!(parse(&s).is_ok());
    }

    #[test]
    fn clearing_unused_fields_keeps_what_the_kind_uses() {
        let mut s = step("crash");
        s.target = Some("leader".into());
        s.duration_s = Some(2.0);
        s.restart_after_s = Some(1.5);
        let before = parse(&{
            let mut t = s.clone();
            t.duration_s = None;
            t
        });
        clear_unused(&mut s);
        assert_eq!(s.duration_s, None);
        assert_eq!(s.restart_after_s, Some(1.5));
        assert_eq!(parse(&s), before);
    }

    /// Every field of a step is either one all kinds share or in the list
    /// the unused-field check walks: a new field cannot slip past it.
    #[test]
    fn every_step_field_is_checked() {
        let json = serde_json::to_value(FaultStep::default()).expect("serializes");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut expected: Vec<&str> = ["kind", "at_s", "when", "required"]
            .into_iter()
            .chain(KIND_FIELDS.iter().copied())
            .collect();
        expected.sort_unstable();
        assert_eq!(fields, expected);
    }
}
