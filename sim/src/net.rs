//! Network faults on top of madsim's network: partitions into groups,
//! one-way cuts, packet loss and latency. The world remembers which links
//! it cut so that `heal` undoes exactly its own cuts, and tells the peer
//! [`Streams`] when a pair of nodes loses or regains its link.

use crate::now;
use crate::streams::Streams;
use madsim::net::NetSim;
use madsim::task::NodeId;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// The default latency range of every message.
pub const DEFAULT_LATENCY: Range<Duration> = Duration::from_millis(1)..Duration::from_millis(10);

/// A directed link between two nodes.
pub type Link = (NodeId, NodeId);

/// Cuts are counted per link, so two overlapping faults can each heal
/// their own cuts without reconnecting what the other still holds.
pub struct NetControl {
    net: Arc<NetSim>,
    cut: Mutex<BTreeMap<Link, u32>>,
    streams: Arc<Mutex<Streams<NodeId>>>,
}

impl NetControl {
    pub fn new() -> Self {
        NetControl {
            net: NetSim::current(),
            cut: Mutex::new(BTreeMap::new()),
            streams: Arc::default(),
        }
    }

    /// The members' peer connections, which the cuts here break.
    pub fn streams(&self) -> Arc<Mutex<Streams<NodeId>>> {
        self.streams.clone()
    }

    /// Cuts these links; returns them for `heal_links`.
    pub fn cut_links(&self, links: Vec<Link>) -> Vec<Link> {
        let mut cut = self.cut.lock();
        for &(a, b) in &links {
            let n = cut.entry((a, b)).or_insert(0);
            if *n == 0 {
                self.net.clog_link(a, b);
                self.streams.lock().cut(a, b, now());
            }
            *n += 1;
        }
        links
    }

    /// Undoes one `cut_links`: a link reconnects when no cut holds it.
    pub fn heal_links(&self, links: &[Link]) {
        let mut cut = self.cut.lock();
        for link in links {
            if let Some(n) = cut.get_mut(link) {
                *n -= 1;
                if *n == 0 {
                    cut.remove(link);
                    self.net.unclog_link(link.0, link.1);
                    if !cut.contains_key(&(link.1, link.0)) {
                        self.streams.lock().healed(link.0, link.1, now());
                    }
                }
            }
        }
    }

    /// Cuts both directions between every two nodes in different groups.
    pub fn partition(&self, groups: &[Vec<NodeId>]) -> Vec<Link> {
        let mut links = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a {
                    for &y in b {
                        links.push((x, y));
                        links.push((y, x));
                    }
                }
            }
        }
        self.cut_links(links)
    }

    /// Restores every link.
    pub fn heal(&self) {
        for ((a, b), _) in std::mem::take(&mut *self.cut.lock()) {
            self.net.unclog_link(a, b);
            self.streams.lock().healed(a, b, now());
        }
    }

    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut.lock().contains_key(&(from, to))
    }

    /// How many directed links are cut now.
    pub fn cut_count(&self) -> usize {
        self.cut.lock().len()
    }

    pub fn set_packet_loss(&self, rate: f64) {
        self.net
            .update_config(|c| c.packet_loss_rate = rate.clamp(0.0, 1.0));
    }

    pub fn set_latency(&self, latency: Range<Duration>) {
        self.net.update_config(|c| c.send_latency = latency);
    }

    /// Back to no loss and the default latency.
    pub fn reset_quality(&self) {
        self.net.update_config(|c| {
            c.packet_loss_rate = 0.0;
            c.send_latency = DEFAULT_LATENCY;
        });
    }

    /// Messages delivered so far.
    pub fn messages(&self) -> u64 {
        self.net.stat().msg_count
    }
}

impl Default for NetControl {
    fn default() -> Self {
        Self::new()
    }
}
