//! Clock faults: a member's clock drifts and jumps.

use super::fields::field;
use super::{FaultKind, Fields, Inject};
use crate::control::Control;
use crate::target::Target;
use std::time::Duration;

/// `clock_skew`: the target's clock drifts by `drift_ppm` and jumps by
/// `offset_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSkew {
    pub target: Target,
    pub drift_ppm: i64,
    pub offset_ms: i64,
    pub duration: Duration,
}

impl Inject for ClockSkew {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(ClockSkew {
            target: f.target()?,
            drift_ppm: field!(f, drift_ppm).unwrap_or(200_000),
            offset_ms: field!(f, offset_ms).unwrap_or(0),
            duration: f.duration(2.0),
        })
    }

    /// Sets each target's clock drift and offset for `duration`.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let ClockSkew {
            target,
            drift_ppm,
            offset_ms,
            duration,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            ctl.note(
                kind,
                format!("m{m} drift={drift_ppm}ppm offset={offset_ms}ms"),
            );
            world.skew_clock(m, drift_ppm, offset_ms);
            world.trace().record(
                format!("m{m}"),
                "clock",
                format!("drift={drift_ppm}ppm offset={offset_ms}ms"),
            );
            ctl.hold(duration).await;
            world.reset_clock(m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{assert_applied_and_healed, traced, with_cluster};

    #[test]
    fn a_skewed_clock_is_traced_and_made_true_again() {
        let (_, trace) = with_cluster(3, 1, |ctl| async move {
            Fault::ClockSkew(ClockSkew {
                target: Target::Member(3),
                drift_ppm: 300_000,
                offset_ms: -250,
                duration: Duration::from_millis(400),
            })
            .inject(&ctl)
            .await;
        });
        assert!(traced(
            &trace,
            "m3",
            "clock",
            "drift=300000ppm offset=-250ms"
        ));
        assert!(traced(&trace, "m3", "clock", "true again"));
        assert_applied_and_healed(&trace, FaultKind::ClockSkew, "m3");
    }
}
