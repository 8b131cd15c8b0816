//! Member rows (and the engine's row) from the trace: when each member was
//! down, paused or leader, and markers for crashes, exits, process starts,
//! version changes, snapshots, compactions and failpoints.

use std::collections::BTreeMap;

use crate::artefacts::TraceLine;
use crate::describe::seconds;

use super::lane::Lane;
use super::scale::Scale;

/// An interval being drawn: (start, description).
type Open = Option<(u64, String)>;

struct MemberState {
    lane: Lane,
    down: Open,
    paused: Open,
    leader: Open,
}

impl MemberState {
    fn close(&mut self, which: Which, at: u64, scale: &Scale) {
        let (slot, class) = match which {
            Which::Down => (&mut self.down, "down"),
            Which::Paused => (&mut self.paused, "paused"),
            Which::Leader => (&mut self.leader, "leader"),
        };
        if let Some((from, what)) = slot.take() {
            let title = format!("{what}: {} to {}", seconds(from), seconds(at));
            self.lane.bar(scale, (from, at), class, &title, "");
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Down,
    Paused,
    Leader,
}

fn open(slot: &mut Open, at: u64, what: String) {
    if slot.is_none() {
        *slot = Some((at, what));
    }
}

/// One row per member (`m1`, `m2`, ...) in member order.
pub(crate) fn member_lanes(trace: &[TraceLine], scale: &Scale) -> Vec<Lane> {
    let mut members: BTreeMap<u64, MemberState> = BTreeMap::new();
    for line in trace {
        let Some(id) = line.member() else { continue };
        let state = members.entry(id).or_insert_with(|| MemberState {
            lane: Lane::new(format!("m{id}"), "member"),
            down: None,
            paused: None,
            leader: None,
        });
        let at = line.at_ns;
        let title = format!("{} m{id} {} {}", seconds(at), line.kind, line.detail);
        let detail = line.detail.as_str();
        match line.kind.as_str() {
            "crash" | "exit" => {
                state.close(Which::Leader, at, scale);
                state.close(Which::Paused, at, scale);
                let class = if detail == "stopped" { "stop" } else { "crash" };
                open(&mut state.down, at, format!("m{id} down ({detail})"));
                state.lane.marker(scale, at, class, "✕", &title);
            }
            "process" if detail.starts_with("started") || detail.starts_with("restarted") => {
                state.close(Which::Down, at, scale);
                state.lane.marker(scale, at, "start", "▲", &title);
            }
            "process" if detail.starts_with("paused") => {
                open(&mut state.paused, at, format!("m{id} paused"));
                state.lane.marker(scale, at, "pause", "⏸", &title);
            }
            "process" if detail.starts_with("resumed") => {
                state.close(Which::Paused, at, scale);
                state.lane.marker(scale, at, "pause", "▶", &title);
            }
            "process" => state.lane.marker(scale, at, "stop", "■", &title),
            "role" if detail.starts_with("leader") => {
                open(&mut state.leader, at, format!("m{id} {detail}"));
                state.lane.marker(scale, at, "lead", "★", &title);
            }
            "role" => state.close(Which::Leader, at, scale),
            "version" => state.lane.marker(scale, at, "version", "◆", &title),
            "snapshot" => state.lane.marker(scale, at, "snap", "▪", &title),
            "compact" => state.lane.marker(scale, at, "compact", "•", &title),
            "failpoint" => state.lane.marker(scale, at, "fp", "⚑", &title),
            "start" => state.lane.marker(scale, at, "ready", "△", &title),
            "disk" | "downgrade" | "members" | "defrag" => {
                state.lane.marker(scale, at, "other", "◦", &title)
            }
            _ => {}
        }
    }
    members
        .into_values()
        .map(|mut state| {
            let end = scale.end_ns;
            state.close(Which::Down, end, scale);
            state.close(Which::Paused, end, scale);
            state.close(Which::Leader, end, scale);
            state.lane
        })
        .collect()
}

/// The engine's own events other than faults and requests (quiesce,
/// downgrade steps, migrations), as markers on one row; None if there are none.
pub(crate) fn engine_lane(trace: &[TraceLine], scale: &Scale) -> Option<Lane> {
    let mut lane = Lane::new("engine", "engine");
    let mut any = false;
    for line in trace.iter().filter(|l| l.source == "engine") {
        if matches!(line.kind.as_str(), "fault" | "heal" | "request") {
            continue;
        }
        let title = format!(
            "{} engine {} {}",
            seconds(line.at_ns),
            line.kind,
            line.detail
        );
        lane.marker(scale, line.at_ns, "engine", "◇", &title);
        any = true;
    }
    any.then_some(lane)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at_ns: u64, source: &str, kind: &str, detail: &str) -> TraceLine {
        TraceLine {
            at_ns,
            source: source.into(),
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn draws_leader_and_down_intervals() {
        let trace = vec![
            line(0, "m1", "process", "started version=3.6"),
            line(10, "m1", "role", "leader term=2 leader=1"),
            line(50, "m1", "crash", "killed"),
            line(70, "m1", "process", "restarted version=3.6"),
            line(80, "m1", "role", "follower term=3 leader=2"),
            line(90, "m2", "role", "leader term=3 leader=2"),
            line(95, "c1", "request", "ignored"),
        ];
        let lanes = member_lanes(&trace, &Scale::new(100));
        assert_eq!(lanes.len(), 2);
        let m1 = &lanes[0].items;
        assert!(
            m1.contains("bar leader\" style=\"left:10.0000%;width:40.0000%"),
            "{m1}"
        );
        assert!(
            m1.contains("bar down\" style=\"left:50.0000%;width:20.0000%"),
            "{m1}"
        );
        let m2 = &lanes[1].items;
        assert!(
            m2.contains("bar leader\" style=\"left:90.0000%;width:10.0000%"),
            "{m2}"
        );
        assert!(engine_lane(&trace, &Scale::new(100)).is_none());
    }
}
