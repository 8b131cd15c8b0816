//! Clock faults: a member's clock drifts and jumps.

use super::super::control::Control;
use crate::faults::Target;
use std::time::Duration;

/// Sets each target's clock drift and offset for `duration`.
pub(super) async fn clock_skew(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    drift_ppm: i64,
    offset_ms: i64,
    duration: Duration,
) {
    let world = ctl.world.clone();
    for m in ctl.targets(kind, target).await {
        ctl.note(
            kind,
            format!("m{m} drift={drift_ppm}ppm offset={offset_ms}ms"),
        );
        world.clocks.set_drift(m, drift_ppm);
        world.clocks.set_offset(
            m,
            Duration::from_millis(offset_ms.unsigned_abs()),
            offset_ms >= 0,
        );
        world.trace.record(
            format!("m{m}"),
            "clock",
            format!("drift={drift_ppm}ppm offset={offset_ms}ms"),
        );
        ctl.hold(duration).await;
        world.clocks.reset(m);
        ctl.healed(kind, format!("m{m}"));
    }
}
