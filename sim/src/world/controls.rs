//! What a fault plan does to the world, member by member: the network
//! between members, their disks and their clocks. Callers name members;
//! which madsim node runs a member's current process is the world's
//! business. A member with no process (never started) is left alone.
//!
//! Every change records itself in the run's trace (source `net` or the
//! member), so a trace shows what the world did, not only what the engine
//! meant to do.

use super::{World, member_name};
use crate::disk::model::DiskFaults;
use crate::disk::{DiskLatency, SimDisk};
use crate::net::Link;
use crate::trace::SharedTrace;
use madsim::task::NodeId;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

impl World {
    /// The run's trace, for recording what the engine does and reading it
    /// back.
    pub fn trace(&self) -> &SharedTrace {
        &self.trace
    }

    fn nodes(&self, members: &[u64]) -> Vec<NodeId> {
        members
            .iter()
            .filter_map(|m| self.member_node(*m))
            .collect()
    }

    /// Cuts both directions between members of different groups; returns
    /// the links for `heal_links`.
    pub fn partition(&self, groups: &[&[u64]]) -> Vec<Link> {
        let text: Vec<String> = groups.iter().map(|g| members_text(g)).collect();
        self.trace.record("net", "partition", text.join(" | "));
        let groups: Vec<Vec<NodeId>> = groups.iter().map(|g| self.nodes(g)).collect();
        self.net.partition(&groups)
    }

    /// Cuts these directed (from, to) links between members.
    pub fn cut_links(&self, links: &[(u64, u64)]) -> Vec<Link> {
        let text: Vec<String> = links.iter().map(|(a, b)| format!("m{a}->m{b}")).collect();
        self.trace.record("net", "cut", text.join(" "));
        let links = links
            .iter()
            .filter_map(|&(a, b)| Some((self.member_node(a)?, self.member_node(b)?)))
            .collect();
        self.net.cut_links(links)
    }

    /// Undoes one `partition` or `cut_links`: a link reconnects when no
    /// other cut holds it.
    pub fn heal_links(&self, links: &[Link]) {
        self.trace
            .record("net", "heal", format!("{} links", links.len()));
        self.net.heal_links(links);
    }

    /// Reconnects every link the world cut.
    pub fn heal_network(&self) {
        self.trace.record("net", "heal", "every link");
        self.net.heal();
    }

    /// Drops each message with probability `rate`.
    pub fn set_packet_loss(&self, rate: f64) {
        self.trace.record("net", "loss", format!("rate={rate}"));
        self.net.set_packet_loss(rate);
    }

    /// Delays each message by a time drawn from `latency`.
    pub fn set_network_latency(&self, latency: Range<Duration>) {
        self.trace.record(
            "net",
            "latency",
            format!("{:?}..{:?}", latency.start, latency.end),
        );
        self.net.set_latency(latency);
    }

    /// No loss and the default latency again.
    pub fn reset_network_quality(&self) {
        self.trace
            .record("net", "quality", "no loss, default latency");
        self.net.reset_quality();
    }

    /// Messages the network delivered so far.
    pub fn messages(&self) -> u64 {
        self.net.messages()
    }

    /// The disk faults on a member's disk now.
    pub fn disk_faults(&self, member: u64) -> Option<DiskFaults> {
        self.node_of(member).map(|n| self.disk.faults(n))
    }

    /// Torn tails on or off, the other disk faults kept.
    pub fn set_torn_tails(&self, member: u64, on: bool) {
        if let Some(node) = self.node_of(member) {
            let state = if on { "on" } else { "off" };
            self.trace
                .record(member_name(member), "disk", format!("torn tails {state}"));
            let mut faults = self.disk.faults(node);
            faults.torn_tail = on;
            self.disk.set_faults(node, faults);
        }
    }

    /// No disk faults on the member's disk.
    pub fn clear_disk_faults(&self, member: u64) {
        if let Some(node) = self.node_of(member) {
            self.trace
                .record(member_name(member), "disk", "faults cleared");
            self.disk.set_faults(node, DiskFaults::default());
        }
    }

    /// Every disk operation of the member takes this long.
    pub fn set_disk_latency(&self, member: u64, latency: DiskLatency) {
        if let Some(node) = self.node_of(member) {
            self.trace
                .record(member_name(member), "disk", format!("latency {latency:?}"));
            self.disk.set_latency(node, latency);
        }
    }

    /// fsyncs the member's disk has done (WAL, backend and snapshots).
    pub fn disk_fsyncs(&self, member: u64) -> u64 {
        self.node_of(member)
            .map(|n| self.disk.fsyncs(n))
            .unwrap_or(0)
    }

    /// Bytes the member's files take on its disk.
    pub fn disk_used_bytes(&self, member: u64) -> u64 {
        self.node_of(member)
            .map(|n| self.disk.used_bytes(n))
            .unwrap_or(0)
    }

    /// Bytes the member's files under `prefix` take now.
    pub fn disk_used_bytes_under(&self, member: u64, prefix: &str) -> u64 {
        self.node_of(member)
            .map(|n| self.disk.used_bytes_under(n, prefix))
            .unwrap_or(0)
    }

    /// The member's disk, for tools that work on its files while it is
    /// down (offline migration).
    pub fn member_disk(&self, member: u64) -> Option<SimDisk> {
        self.node_of(member).map(|n| self.disk.disk_for(n))
    }

    /// Every member's files as the disk holds them now.
    pub fn member_files(&self) -> Vec<(u64, BTreeMap<String, Vec<u8>>)> {
        self.member_nodes()
            .into_iter()
            .map(|(m, node)| (m, self.disk.files(node)))
            .collect()
    }

    /// The member's clock drifts by `ppm` and is `offset_ms` ahead
    /// (behind when negative).
    pub fn skew_clock(&self, member: u64, ppm: i64, offset_ms: i64) {
        self.trace.record(
            member_name(member),
            "clock",
            format!("drift={ppm}ppm offset={offset_ms}ms"),
        );
        self.clocks.set_drift(member, ppm);
        self.clocks.set_offset(
            member,
            Duration::from_millis(offset_ms.unsigned_abs()),
            offset_ms >= 0,
        );
    }

    /// The member's clock is true again.
    pub fn reset_clock(&self, member: u64) {
        self.trace
            .record(member_name(member), "clock", "true again");
        self.clocks.reset(member);
    }
}

/// Members as the trace names them: `m1 m2`.
fn members_text(members: &[u64]) -> String {
    members
        .iter()
        .map(|m| member_name(*m))
        .collect::<Vec<_>>()
        .join(" ")
}
