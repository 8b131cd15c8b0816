//! The fault library: every kind of fault a plan can use. Each family of
//! kinds has one file (process, network, disk, clock, failpoint,
//! maintenance, versions, corruption) holding, per kind, a type with its parameters,
//! how they are read from a scenario step (`Inject::parse`) and how the
//! fault is applied to the world and healed (`Inject::inject`), in the
//! spirit of etcd's robustness `failpoint/` package. The registry below
//! lists the kinds; adding one is a line there and a type in its family
//! file.

mod clock;
mod corruption;
mod disk;
mod failpoint;
mod fields;
mod maintenance;
mod network;
mod process;
#[cfg(test)]
pub(crate) mod testing;
mod versions;

pub use fields::Fields;

use crate::control::Control;
use crate::schema::FaultStep;
use std::fmt;

/// What a kind of fault is: read from a step, then applied.
pub(crate) trait Inject: Sized {
    /// The kind's parameters from a step's fields; an error names the
    /// field (`rate: ...`). Fields it does not read are refused after.
    fn parse(fields: &Fields) -> Result<Self, String>;

    /// Applies the fault to the world through `ctl` and heals it when its
    /// time is up, writing its own trace events (`Control::note`, `healed`).
    async fn inject(self, ctl: &Control, kind: FaultKind);
}

/// Every kind: its variant, its name in scenario files, the type that
/// reads and applies it, whether swarm mode draws it when a scenario names
/// no kinds, and what it does (for `faultline list faults`). The order is
/// the listing's and swarm's (changing it changes which kinds a swarm seed
/// draws).
macro_rules! fault_kinds {
    ($( $variant:ident $name:literal $ty:ty, swarm: $swarm:literal, $about:literal; )*) => {
        /// A kind of fault, as named in scenario files.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FaultKind {
            $($variant),*
        }

        impl FaultKind {
            pub const ALL: &'static [FaultKind] = &[$(FaultKind::$variant),*];

            /// Its position in [`FaultKind::ALL`]: the tag the world pairs
            /// coverage points with (`sim::World::fault_began`).
            pub fn tag(self) -> u16 {
                self as u16
            }

            pub fn from_tag(tag: u16) -> Option<FaultKind> {
                FaultKind::ALL.get(usize::from(tag)).copied()
            }

            /// The kind's name in scenario files.
            pub fn name(self) -> &'static str {
                match self {
                    $(FaultKind::$variant => $name),*
                }
            }

            /// What it does, in one line.
            pub fn about(self) -> &'static str {
                match self {
                    $(FaultKind::$variant => $about),*
                }
            }

            /// Whether swarm mode draws it when a scenario names no kinds.
            pub fn swarm_default(self) -> bool {
                match self {
                    $(FaultKind::$variant => $swarm),*
                }
            }

            fn parse_fields(self, fields: &Fields) -> Result<Fault, String> {
                match self {
                    $(FaultKind::$variant => <$ty as Inject>::parse(fields).map(Fault::$variant)),*
                }
            }
        }

        /// A fault with its parameters, ready to apply.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Fault {
            $($variant($ty)),*
        }

        impl Fault {
            pub fn kind(&self) -> FaultKind {
                match self {
                    $(Fault::$variant(_) => FaultKind::$variant),*
                }
            }

            /// Applies the fault and heals it when its time is up.
            pub(crate) async fn inject(self, ctl: &Control) {
                let kind = self.kind();
                match self {
                    $(Fault::$variant(f) => f.inject(ctl, kind).await),*
                }
            }
        }
    };
}

fault_kinds! {
    Crash "crash" process::Crash, swarm: true,
        "kill a member (unsynced writes lost), restart it after restart_after_s";
    TornWriteCrash "torn_write_crash" process::Crash, swarm: true,
        "kill a member with torn tails on: a prefix of its last unsynced append survives";
    Pause "pause" process::Pause, swarm: true,
        "stall a member's process for duration_s";
    GracefulRestart "graceful_restart" process::GracefulRestart, swarm: true,
        "stop a member cleanly and start it again";
    Isolate "isolate" network::Isolate, swarm: true,
        "cut a member off from all others for duration_s";
    PartitionMinority "partition_minority" network::Partition, swarm: true,
        "split members so the leader is in the minority";
    PartitionMajority "partition_majority" network::Partition, swarm: true,
        "split members so the leader keeps a majority";
    OneWayOut "one_way_out" network::OneWay, swarm: true,
        "a member's outgoing messages to other members are dropped";
    OneWayIn "one_way_in" network::OneWay, swarm: true,
        "a member's incoming messages from other members are dropped";
    Flapping "flapping" network::Flapping, swarm: true,
        "isolate and heal a member every period_s";
    PacketLoss "packet_loss" network::PacketLoss, swarm: true,
        "drop messages with probability rate";
    Latency "latency" network::Latency, swarm: true,
        "delay every message by latency_ms = [min, max]";
    FsyncEio "fsync_eio" disk::FsyncEio, swarm: false,
        "the next count fsyncs of a member fail with EIO (pages dropped)";
    Enospc "enospc" disk::Enospc, swarm: false,
        "a member's writes past quota_kb fail with ENOSPC";
    SlowDisk "slow_disk" disk::SlowDisk, swarm: true,
        "every disk operation of a member takes latency_ms = [min, max]";
    BitFlip "bit_flip" disk::BitFlip, swarm: false,
        "reads of a member's files flip a bit with probability rate";
    ClockSkew "clock_skew" clock::ClockSkew, swarm: true,
        "a member's clock drifts by drift_ppm and jumps by offset_ms";
    Compact "compact" maintenance::Compact, swarm: true,
        "compact history up to a recent revision";
    Defrag "defrag" maintenance::Defrag, swarm: true,
        "defragment a member's backend";
    PartitionUntilSnapshot "partition_until_snapshot" network::PartitionUntilSnapshot, swarm: true,
        "isolate a member until the others compacted their log past it";
    Failpoint "failpoint" failpoint::Failpoint, swarm: true,
        "arm a failpoint (failpoint, action crash|sleep|error, sleep_ms, times)";
    MemberReplace "member_replace" process::MemberReplace, swarm: false,
        "remove a member, wipe it, add it back as a new member";
    SwapVersion "swap_version" versions::SwapVersion, swarm: false,
        "restart a member as another version";
    RollingUpgrade "rolling_upgrade" versions::Rolling, swarm: false,
        "restart every member as version, leader last";
    RollingDowngrade "rolling_downgrade" versions::Rolling, swarm: false,
        "restart every member as an older version, leader last";
    JoinMember "join_member" versions::JoinMember, swarm: false,
        "add a new member running version (expect_refusal: it must be refused)";
    DowngradeEnable "downgrade_enable" versions::DowngradeEnable, swarm: false,
        "downgrade validate + enable to version";
    DowngradeCancel "downgrade_cancel" versions::DowngradeCancel, swarm: false,
        "cancel the downgrade in progress";
    OfflineMigrate "offline_migrate" versions::OfflineMigrate, swarm: false,
        "stop a member, migrate its data offline to version (force to skip the WAL check), restart it as that version";
    AlarmDisarm "alarm_disarm" maintenance::AlarmDisarm, swarm: false,
        "wait up to duration_s for the alarm named by expect (nospace, corrupt), hold it hold_s, disarm every alarm, check all members cleared them";
    MemberReplaceLearner "member_replace_learner" process::MemberReplace, swarm: true,
        "add a fresh member as a learner, promote it once in sync, then remove and wipe the target";
    CorruptBackend "corrupt_backend" corruption::CorruptBackend, swarm: false,
        "stop the target, rewrite its key records behind its back (checksums valid), restart it; expect a CORRUPT alarm within duration_s, then replace it and disarm";
}

impl Fault {
    /// The store version a version step runs members as, or asks the
    /// cluster to downgrade to; None for every other fault.
    pub fn version(&self) -> Option<node::version::Version> {
        match self {
            Fault::SwapVersion(f) => Some(f.version),
            Fault::RollingUpgrade(f) | Fault::RollingDowngrade(f) => Some(f.version),
            Fault::JoinMember(f) => Some(f.version),
            Fault::DowngradeEnable(f) => Some(f.version),
            Fault::OfflineMigrate(f) => Some(f.version),
            _ => None,
        }
    }
}

impl FaultKind {
    /// Whether it is a step of an operator's procedure (binary swaps,
    /// rolling changes, the downgrade API, joins, offline migration, a
    /// corrupted member's recovery). An operator runs those in order, each
    /// after the one before finished, and etcd refuses them out of order
    /// (a binary older than the cluster version, a swap while a downgrade
    /// is being cancelled): the engine starts one only once the procedure
    /// steps before it have ended.
    pub fn is_procedure(self) -> bool {
        matches!(
            self,
            FaultKind::SwapVersion
                | FaultKind::RollingUpgrade
                | FaultKind::RollingDowngrade
                | FaultKind::JoinMember
                | FaultKind::DowngradeEnable
                | FaultKind::DowngradeCancel
                | FaultKind::OfflineMigrate
                | FaultKind::CorruptBackend
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultKind, String> {
        FaultKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown fault kind {s:?} (see `faultline list faults`)"))
    }
}

impl serde::Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FaultKind, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Builds a fault from a step; errors name the field (`field: problem`).
/// A field the kind does not use is refused, not ignored.
pub fn parse(step: &FaultStep) -> Result<Fault, String> {
    let kind: FaultKind = step.kind.parse().map_err(|e| format!("kind: {e}"))?;
    let fields = Fields::of(step);
    let fault = kind.parse_fields(&fields)?;
    if let Some(field) = set_fields(step).into_iter().find(|f| !fields.was_read(f)) {
        return Err(format!(
            "{field}: a {:?} step does not use this field (see `faultline list faults`)",
            step.kind
        ));
    }
    Ok(fault)
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
    files,
    expect,
    hold_s,
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
    let Ok(kind) = step.kind.parse::<FaultKind>() else {
        return;
    };
    let fields = Fields::of(step);
    // A step that does not parse keeps its fields: parse names the problem.
    if kind.parse_fields(&fields).is_err() {
        return;
    }
    let unused: Vec<&str> = set_fields(step)
        .into_iter()
        .filter(|f| !fields.was_read(f))
        .collect();
    for field in unused {
        clear_field(step, field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    #[test]
    fn kind_names_are_unique_and_read_back() {
        for &kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
            assert!(!kind.about().is_empty());
        }
        let names: std::collections::BTreeSet<&str> =
            FaultKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), FaultKind::ALL.len());
        assert!("meteor".parse::<FaultKind>().is_err());
    }

    fn step(kind: &str) -> FaultStep {
        FaultStep {
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_listed_kind_parses_with_defaults_or_names_its_missing_field() {
        for &kind in FaultKind::ALL {
            match parse(&step(kind.name())) {
                Ok(f) => assert_eq!(f.kind(), kind),
                Err(e) => assert!(
                    e.starts_with("version:")
                        || e.starts_with("failpoint:")
                        || e.starts_with("target:"),
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
