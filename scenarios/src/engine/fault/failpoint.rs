//! Failpoints: arm a named point in the store with crash, sleep or error,
//! and ask for what reaches the point when the workload would not.

use super::super::control::Control;
use super::maintenance::compact;
use crate::faults::Target;
use node::failpoint::FailAction;
use node::wire::api::{DefragmentRequest, client_request};

/// Arms the failpoint on each target.
pub(super) async fn failpoint(
    ctl: &Control,
    kind: &'static str,
    target: Target,
    name: String,
    action: FailAction,
    times: u32,
    offset: Option<i64>,
) {
    let world = ctl.world.clone();
    let ms = ctl.targets(kind, target).await;
    for &m in &ms {
        match world
            .failpoints(m)
            .map(|fp| fp.arm(&name, action, Some(times)))
        {
            Some(Ok(())) => ctl.note(kind, format!("m{m} {name} {action:?} x{times}")),
            Some(Err(e)) => ctl.not_applied(kind, &format!("m{m} {name}: {e}")),
            None => ctl.not_applied(kind, &format!("m{m} has no process")),
        }
    }
    // Some points are only reached when something asks for it.
    if name.starts_with("compact") {
        compact(ctl, offset).await;
    } else if name.starts_with("defrag") {
        for &m in &ms {
            let _ = ctl
                .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                .await;
        }
    }
}
