//! One home per fault mechanism: each file applies the faults of one
//! part of the world (processes, network, disk, clocks, failpoints,
//! maintenance, versions) and heals them when their time is up.

mod clock;
mod disk;
mod failpoint;
mod maintenance;
mod network;
mod process;
mod versions;

use maintenance::compact;

use super::control::Control;
use crate::faults::Fault;
use std::sync::Arc;

/// Applies one fault and heals it when its time is up.
pub(super) async fn apply(ctl: Arc<Control>, fault: Fault) {
    let kind = fault.kind();
    let ctl = &*ctl;
    match fault {
        Fault::Crash {
            target,
            restart_after,
        }
        | Fault::TornWriteCrash {
            target,
            restart_after,
        } => process::crash(ctl, kind, target, restart_after).await,
        Fault::Pause { target, duration } => process::pause(ctl, kind, target, duration).await,
        Fault::GracefulRestart { target, down_for } => {
            process::graceful_restart(ctl, kind, target, down_for).await
        }
        Fault::MemberReplace { target } => process::member_replace(ctl, kind, target).await,
        Fault::Isolate { target, duration } => network::isolate(ctl, kind, target, duration).await,
        Fault::PartitionMinority { duration } | Fault::PartitionMajority { duration } => {
            network::partition(ctl, kind, duration).await
        }
        Fault::OneWayOut { target, duration } | Fault::OneWayIn { target, duration } => {
            network::one_way(ctl, kind, target, duration).await
        }
        Fault::Flapping {
            target,
            period,
            duration,
        } => network::flapping(ctl, kind, target, period, duration).await,
        Fault::PacketLoss { rate, duration } => {
            network::packet_loss(ctl, kind, rate, duration).await
        }
        Fault::Latency { min, max, duration } => {
            network::latency(ctl, kind, min, max, duration).await
        }
        Fault::PartitionUntilSnapshot { target, timeout } => {
            network::partition_until_snapshot(ctl, kind, target, timeout).await
        }
        Fault::FsyncEio {
            target,
            count,
            restart_after,
        } => disk::fsync_eio(ctl, kind, target, count, restart_after).await,
        Fault::Enospc {
            target,
            quota_kb,
            duration,
        } => disk::enospc(ctl, kind, target, quota_kb, duration).await,
        Fault::SlowDisk {
            target,
            min,
            max,
            duration,
        } => disk::slow_disk(ctl, kind, target, min, max, duration).await,
        Fault::BitFlip {
            target,
            rate,
            duration,
        } => disk::bit_flip(ctl, kind, target, rate, duration).await,
        Fault::ClockSkew {
            target,
            drift_ppm,
            offset_ms,
            duration,
        } => clock::clock_skew(ctl, kind, target, drift_ppm, offset_ms, duration).await,
        Fault::Failpoint {
            target,
            name,
            action,
            times,
            offset,
        } => failpoint::failpoint(ctl, kind, target, name, action, times, offset).await,
        Fault::Compact { offset } => compact(ctl, offset).await,
        Fault::Defrag { target } => maintenance::defrag(ctl, kind, target).await,
        Fault::SwapVersion {
            target,
            version,
            expect_refusal,
        } => versions::swap_version(ctl, kind, target, version, expect_refusal).await,
        Fault::RollingUpgrade { version } | Fault::RollingDowngrade { version } => {
            versions::rolling(ctl, kind, version).await
        }
        Fault::JoinMember {
            version,
            expect_refusal,
        } => versions::join_member(ctl, kind, version, expect_refusal).await,
        Fault::DowngradeEnable { version } => {
            versions::downgrade_enable_step(ctl, kind, version).await
        }
        Fault::OfflineMigrate {
            target,
            version,
            force,
            expect_refusal,
        } => versions::offline_migrate(ctl, kind, target, version, force, expect_refusal).await,
        Fault::DowngradeCancel => versions::downgrade_cancel(ctl, kind).await,
    }
}
