//! Silent corruption of a member's data, and what an operator does about
//! it. The data is changed the way etcd's own test does it
//! (`TestPeriodicCheckDetectsCorruption`: stop a member, rewrite the key
//! bucket of its bbolt file with `testutil.CorruptBBolt`, start it): the
//! records keep their revisions and valid checksums, so nothing but the
//! leader's periodic corruption check (`corrupt_check_interval_ms`, off by
//! default as in etcd) can tell, by comparing the members' HashKV. Once it
//! raised the CORRUPT alarm, the operator follows etcd's recovery: remove
//! the member, add it back with an empty data directory, disarm.

use super::maintenance::{await_alarm, disarm};
use super::process::{claim_replacement, remove_wipe_add};
use super::{FaultKind, Fields, Inject};
use crate::control::{Control, wait_down};
use crate::target::Target;
use node::wire::api::AlarmType;
use std::sync::Arc;
use std::time::Duration;

/// `corrupt_backend`: corrupt the target's data while it is stopped,
/// restart it, expect a CORRUPT alarm within `duration_s` (default 5),
/// then replace the member and disarm. No alarm in time breaks rule
/// `operator.alarm-cleared`. The clients' reads of the corrupt member
/// would be wrong answers the fault caused, so a scenario stops its
/// traffic before this step (`until_s`), as etcd's test writes its keys
/// first.
#[derive(Debug, Clone, PartialEq)]
pub struct CorruptBackend {
    pub target: Target,
    pub wait: Duration,
}

impl Inject for CorruptBackend {
    fn parse(f: &Fields) -> Result<Self, String> {
        // Required: a step that picks its member at random would let swarm
        // and the explorer draw it into any scenario, traffic running.
        if f.step().target.is_none() {
            return Err(
                "target: required for this kind (the member whose data is corrupted)".into(),
            );
        }
        Ok(CorruptBackend {
            target: f.target()?,
            wait: f.duration(5.0),
        })
    }

    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let CorruptBackend { target, wait } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            let Some(disk) = world.member_disk(m) else {
                ctl.not_applied(kind.name(), &format!("m{m} has no disk"));
                continue;
            };
            if !claim_replacement(ctl, kind, m) {
                continue;
            }
            ctl.note(kind, format!("m{m}"));
            world.stop(m);
            wait_down(&world, m).await;
            let corrupted = node::migrate::corrupt_values(Arc::new(disk)).await;
            world.trace().record(
                "engine",
                "corrupt",
                match &corrupted {
                    Ok(n) => format!("m{m}: {n} key records rewritten"),
                    Err(e) => format!("m{m}: {e}"),
                },
            );
            world.restart(m);
            let why_not = match corrupted {
                Err(e) => Some(format!("m{m}'s data could not be rewritten: {e}")),
                // Nothing differs, so there is nothing to find.
                Ok(0) => Some(format!("m{m} has no key records to corrupt")),
                Ok(_) => None,
            };
            if let Some(why) = why_not {
                ctl.not_applied(kind.name(), &why);
                ctl.release_replacement(m);
                ctl.healed(kind, format!("m{m} (not corrupted)"));
                continue;
            }
            let deadline = madsim::time::Instant::now() + wait;
            // Whatever the listing shows, the operator's recovery follows;
            // `disarm` below judges whether the alarm was raised.
            let _ = await_alarm(ctl, Some(AlarmType::Corrupt), deadline).await;
            let replaced = match remove_wipe_add(ctl, m).await {
                Some(new_id) => format!("m{m} -> m{new_id}"),
                None => format!("m{m} (remove failed)"),
            };
            let disarmed = disarm(ctl, Some(AlarmType::Corrupt), wait, Duration::ZERO).await;
            ctl.release_replacement(m);
            ctl.healed(
                kind,
                format!("{replaced}, disarmed [{}]", disarmed.join(", ")),
            );
        }
    }
}
