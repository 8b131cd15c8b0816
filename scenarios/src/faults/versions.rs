//! Version changes: swapping a member's binary, rolling upgrades and
//! downgrades, a member joining with another version, the downgrade API,
//! and offline storage migration, with the refusals the plan expects.

use super::fields::field;
use super::{FaultKind, Fields, Inject};
use crate::cluster;
use crate::control::{Control, restart_if_down, wait_down};
use crate::operator;
use crate::target::Target;
use checker::rules;
use node::config::MemberConfig;
use node::host::ExitReason;
use node::version::Version;
use node::wire::api::{
    DowngradeAction, DowngradeRequest, ErrorCode, MemberRemoveRequest, client_request,
};
use sim::{MemberStatus, World};
use std::sync::Arc;
use std::time::Duration;

/// `swap_version`: restart the target as another version (one member of a
/// rolling change). With `expect_refusal` the new binary must refuse to
/// start; the operator then starts the old one again.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapVersion {
    pub target: Target,
    pub version: Version,
    pub expect_refusal: bool,
}

impl Inject for SwapVersion {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(SwapVersion {
            target: f.target()?,
            version: f.version()?,
            expect_refusal: f.expect_refusal(),
        })
    }

    /// Restarts each target as `version` (the previous binary again if it must refuse).
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let SwapVersion {
            target,
            version,
            expect_refusal,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            let Some(previous) = world.version(m) else {
                continue;
            };
            // Not a member another step removed meanwhile (as for crashes).
            if ctl.is_removed(m) {
                ctl.not_applied(kind.name(), &format!("m{m} was removed meanwhile"));
                continue;
            }
            // A plan whose timing brought it here asks for what cannot happen.
            if let Some(cluster) = too_new_for(&world, m, version, expect_refusal) {
                ctl.not_applied(
                    kind.name(),
                    &format!(
                        "m{m} to {version}: its cluster version is {cluster}, and etcd refuses a member older than that (expect_refusal = true tests the refusal)"
                    ),
                );
                continue;
            }
            ctl.note(kind, format!("m{m} {previous} -> {version}"));
            world.stop(m);
            wait_down(&world, m).await;
            // Stopping a paused member waits; another step may have moved
            // the cluster version meanwhile (a cancelled downgrade, a
            // rolling upgrade): the operator looks again before swapping.
            if let Some(cluster) = too_new_for(&world, m, version, expect_refusal) {
                ctl.not_applied(
                    kind.name(),
                    &format!(
                        "m{m} to {version}: its cluster version became {cluster} while it stopped"
                    ),
                );
                restart_if_down(ctl, m);
                ctl.healed(kind, format!("m{m}"));
                continue;
            }
            world.reconfigure(m, |c| c.version = version);
            world.restart(m);
            if expect_refusal && refused(ctl, m, &format!("m{m} started as {version}")).await {
                // The operator's way out: the previous binary again.
                world.reconfigure(m, |c| c.version = previous);
                world.restart(m);
            }
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// The cluster version member `m` applied, when it is newer than `version`
/// and the step does not test the refusal: an operator swaps a binary only
/// to a version the member's data allows, since etcd refuses a server older
/// than the cluster version it applied ("invalid downgrade").
fn too_new_for(world: &World, m: u64, version: Version, expect_refusal: bool) -> Option<Version> {
    world
        .cluster_version(m)
        .filter(|cluster| version < *cluster && !expect_refusal)
}

/// `rolling_upgrade` and `rolling_downgrade`: restart every member as
/// `version`, leader last.
#[derive(Debug, Clone, PartialEq)]
pub struct Rolling {
    pub version: Version,
}

impl Inject for Rolling {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Rolling {
            version: f.version()?,
        })
    }

    /// Moves every member to `version`, followers first; a downgrade waits for each storage to reach it.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Rolling { version } = self;
        let world = ctl.world.clone();
        ctl.note(kind, format!("to {version}"));
        let running = ctl.running();
        let leader = cluster::leader(&world, &running).await;
        let mut order: Vec<u64> = ctl
            .members()
            .into_iter()
            .filter(|m| Some(*m) != leader)
            .collect();
        order.extend(leader);
        let downgrade = kind == FaultKind::RollingDowngrade;
        for m in order {
            if ctl.quiescing() {
                break;
            }
            // A member another step removed meanwhile (and wiped) stays
            // down, as for crashes: started again on its empty disk, it
            // would bootstrap from the initial members and vote with an
            // empty log for a member its removal never reached.
            if ctl.is_removed(m) {
                world.trace().record(
                    "engine",
                    kind.name(),
                    format!("m{m} was removed meanwhile; not restarted"),
                );
                continue;
            }
            // The operator swaps a member's binary down only once its
            // storage is at the target (an older binary refuses newer
            // data); a member that is down is started again first.
            if downgrade && !storage_reached(ctl, m, version).await {
                world.trace().record(
                    "engine",
                    "downgrade",
                    format!("m{m} storage never reached {version}; left on its version"),
                );
                continue;
            }
            world.stop(m);
            wait_down(&world, m).await;
            world.reconfigure(m, |c| c.version = version);
            world.restart(m);
            ctl.hold(Duration::from_millis(700)).await;
        }
        ctl.healed(kind, format!("to {version}"));
    }
}

/// `join_member`: add a new member running `version` (refused when it is
/// too old for the cluster: the operator then removes it).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinMember {
    pub version: Version,
    pub expect_refusal: bool,
}

impl Inject for JoinMember {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(JoinMember {
            version: f.version()?,
            expect_refusal: f.expect_refusal(),
        })
    }

    /// Adds a member running `version`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let JoinMember {
            version,
            expect_refusal,
        } = self;
        let world = ctl.world.clone();
        let new_id = ctl.next_member_id();
        ctl.note(kind, format!("m{new_id} version {version}"));
        let template = || {
            ctl.members()
                .first()
                .and_then(|m| world.config(*m))
                .map(|config| MemberConfig { version, ..config })
        };
        if ctl.add_member(new_id, template).await
            && expect_refusal
            && refused(ctl, new_id, &format!("m{new_id} joined as {version}")).await
        {
            // The operator removes the member that cannot serve.
            let _ = ctl
                .to_leader(client_request::Body::MemberRemove(MemberRemoveRequest {
                    id: new_id,
                }))
                .await;
            ctl.removed.lock().insert(new_id);
        }
        ctl.healed(kind, format!("m{new_id}"));
    }
}

/// `downgrade_enable`: validate and enable a downgrade to `version`.
#[derive(Debug, Clone, PartialEq)]
pub struct DowngradeEnable {
    pub version: Version,
}

impl Inject for DowngradeEnable {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(DowngradeEnable {
            version: f.version()?,
        })
    }

    /// Enables a downgrade to `version` through the cluster's API.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let DowngradeEnable { version } = self;
        let world = ctl.world.clone();
        ctl.note(kind, format!("to {version}"));
        let detail = downgrade_enable(ctl, version).await;
        world.trace().record("engine", "downgrade", detail);
        ctl.healed(kind, format!("to {version}"));
    }
}

/// `downgrade_cancel`: cancel the downgrade in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct DowngradeCancel;

impl Inject for DowngradeCancel {
    fn parse(_: &Fields) -> Result<Self, String> {
        Ok(DowngradeCancel)
    }

    async fn inject(self, ctl: &Control, kind: FaultKind) {
        downgrade_cancel(ctl, kind).await
    }
}

/// `offline_migrate`: stop the target, migrate its data offline to
/// `version` (checking the WAL unless `force`), and restart it as that
/// version.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineMigrate {
    pub target: Target,
    pub version: Version,
    pub force: bool,
    pub expect_refusal: bool,
}

impl Inject for OfflineMigrate {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(OfflineMigrate {
            target: f.target()?,
            version: f.version()?,
            force: field!(f, force).unwrap_or(false),
            expect_refusal: f.expect_refusal(),
        })
    }

    /// Stops each target, migrates its data to `version` offline, and starts it as that version.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let OfflineMigrate {
            target,
            version,
            force,
            expect_refusal,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            let (Some(disk), Some(previous)) = (world.member_disk(m), world.version(m)) else {
                continue;
            };
            ctl.note(kind, format!("m{m} to {version} force={force}"));
            world.stop(m);
            wait_down(&world, m).await;
            let disk: node::disk::DiskRef = Arc::new(disk);
            let outcome = node::migrate::migrate(disk.clone(), version, force).await;
            let detail = match &outcome {
                Ok(mig) => format!(
                    "m{m} migrated {} -> {} steps={:?} forced={}",
                    mig.from, mig.to, mig.steps, mig.forced
                ),
                Err(e) => format!("m{m} refused: {e}"),
            };
            world.trace().record("engine", "migrate", detail);
            match outcome {
                // The operator starts the member as the version its data is now.
                Ok(_) => {
                    world.reconfigure(m, |c| c.version = version);
                    world.restart(m);
                    if expect_refusal
                        && refused(
                            ctl,
                            m,
                            &format!("m{m} started as {version} after migrating"),
                        )
                        .await
                    {
                        // Undo: migrate back and start the previous binary.
                        let back = node::migrate::migrate(disk, previous, true).await;
                        world.trace().record(
                            "engine",
                            "migrate",
                            format!("m{m} back to {previous}: {:?}", back.map(|b| b.steps)),
                        );
                        world.reconfigure(m, |c| c.version = previous);
                        world.restart(m);
                    }
                }
                Err(e) => {
                    if !expect_refusal {
                        ctl.violations.lock().push((
                            rules::VERSION_EXPECTED_REFUSAL.into(),
                            format!(
                                "offline migration of m{m} to {version} was refused unexpectedly: {e}"
                            ),
                        ));
                    }
                    world.restart(m);
                }
            }
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// Cancels the downgrade in progress.
async fn downgrade_cancel(ctl: &Control, kind: FaultKind) {
    let world = ctl.world.clone();
    ctl.note(kind, String::new());
    let cancel = DowngradeRequest {
        action: DowngradeAction::Cancel as i32,
        version: String::new(),
    };
    let detail = match ctl.to_leader(client_request::Body::Downgrade(cancel)).await {
        Ok(_) => "cancelled".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    world.trace().record("engine", "downgrade", detail);
    ctl.healed(kind, String::new());
}

/// Waits (up to a bound) until member `m` reports its storage at `version`,
/// restarting it with its current binary if it is down.
async fn storage_reached(ctl: &Control, m: u64, version: Version) -> bool {
    const WAIT: Duration = Duration::from_secs(15);
    let deadline = madsim::time::Instant::now() + WAIT;
    while madsim::time::Instant::now() < deadline && !ctl.quiescing() {
        restart_if_down(ctl, m);
        if cluster::status(&ctl.world, m)
            .await
            .is_some_and(|s| s.storage_version == version.to_string())
        {
            return true;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The operator's downgrade: validate, then enable, as etcdctl does,
/// through [`operator::request`] ("already in progress" after an attempt
/// whose answer was lost means that attempt took effect). A definite
/// refusal of a downgrade the plan asks for is a violation.
async fn downgrade_enable(ctl: &Control, version: Version) -> String {
    let request = |action: DowngradeAction| {
        client_request::Body::Downgrade(DowngradeRequest {
            action: action as i32,
            version: version.to_string(),
        })
    };
    let outcome = operator::request(
        ctl.world.trace(),
        "downgrade",
        ErrorCode::DowngradeInProgress,
        || ctl.whole(),
        || async {
            ctl.to_leader(request(DowngradeAction::Validate)).await?;
            ctl.to_leader(request(DowngradeAction::Enable)).await?;
            Ok(())
        },
    )
    .await;
    ctl.settle(&format!("downgrade_enable to {version}"), &outcome);
    match outcome {
        // Only removals are judged unsafe; said as it is.
        operator::Outcome::Applied | operator::Outcome::AcceptedUnsafe => "enabled".to_string(),
        operator::Outcome::AppliedEarlier => {
            "enabled (by an earlier attempt whose answer was lost)".to_string()
        }
        operator::Outcome::Refused(e) | operator::Outcome::NoAnswer(e) => format!("refused: {e}"),
        // Only membership changes are declined as unsafe; said as it is.
        operator::Outcome::Declined(e) => format!("declined: {e}"),
    }
}

/// Messages of a member refusing to run on data or in a cluster it is too
/// old for.
const REFUSALS: &[&str] = &[
    "failed to validate schema",
    "invalid downgrade",
    "cannot downgrade storage",
];

/// Waits for the member to refuse to start, as the plan expects. A refusal
/// is recorded as expected; no refusal is a violation.
async fn refused(ctl: &Control, m: u64, what: &str) -> bool {
    let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
    while madsim::time::Instant::now() < deadline {
        if let Some(MemberStatus::Exited(ExitReason::Fatal(msg))) = ctl.world.status(m) {
            if REFUSALS.iter().any(|r| msg.contains(r)) {
                ctl.expected_refusals.lock().push((m, msg));
                return true;
            }
            ctl.violations.lock().push((
                rules::VERSION_EXPECTED_REFUSAL.into(),
                format!("{what}: expected a clean refusal, got: {msg}"),
            ));
            return false;
        }
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
    ctl.violations.lock().push((
        rules::VERSION_EXPECTED_REFUSAL.into(),
        format!("{what}: the member should have refused to start, but it runs"),
    ));
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{assert_applied_and_healed, traced, with_cluster};

    #[test]
    fn a_rolling_upgrade_moves_every_member_to_the_new_version() {
        let (versions, trace) = with_cluster(3, 1, |ctl| async move {
            Fault::RollingUpgrade(Rolling {
                version: Version::V3_7,
            })
            .inject(&ctl)
            .await;
            ctl.members()
                .into_iter()
                .map(|m| (ctl.world.version(m), ctl.world.status(m)))
                .collect::<Vec<_>>()
        });
        for (version, status) in versions {
            assert_eq!(version, Some(Version::V3_7));
            assert_eq!(status, Some(MemberStatus::Running));
        }
        assert_applied_and_healed(&trace, FaultKind::RollingUpgrade, "to 3.7");
    }

    #[test]
    fn an_enabled_downgrade_is_accepted_by_a_correct_cluster() {
        let (violations, trace) = with_cluster(3, 2, |ctl| async move {
            Fault::DowngradeEnable(DowngradeEnable {
                version: Version::V3_5,
            })
            .inject(&ctl)
            .await;
            ctl.violations.lock().clone()
        });
        assert!(violations.is_empty(), "{violations:?}");
        assert!(traced(&trace, "engine", "downgrade", "enabled"));
        assert_applied_and_healed(&trace, FaultKind::DowngradeEnable, "to 3.5");
    }

    #[test]
    fn a_member_too_old_to_join_is_refused_and_removed() {
        let ((members, refusals, violations), _) = with_cluster(3, 3, |ctl| async move {
            // The cluster refuses an old member once its version is decided.
            madsim::time::sleep(Duration::from_secs(2)).await;
            Fault::JoinMember(JoinMember {
                version: Version::V3_5,
                expect_refusal: true,
            })
            .inject(&ctl)
            .await;
            (
                ctl.members(),
                ctl.expected_refusals.lock().clone(),
                ctl.violations.lock().clone(),
            )
        });
        assert_eq!(members, vec![1, 2, 3], "the refused m4 was removed");
        assert!(refusals.iter().any(|(m, _)| *m == 4), "{refusals:?}");
        assert!(violations.is_empty(), "{violations:?}");
    }
}
