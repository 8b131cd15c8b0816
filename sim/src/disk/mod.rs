//! The simulated disk: a madsim plugin holding one [`FsModel`] per node.
//! A kill calls `reset_node`, which applies the crash rules; the store sees
//! the disk only through [`SimDisk`], its implementation of `node::Disk`.

pub mod model;

use async_trait::async_trait;
use madsim::plugin::Simulator;
use madsim::rand::{GlobalRng, Rng};
use madsim::task::NodeId;
use madsim::time::TimeHandle;
use model::{CrashReport, DiskFaults, FsModel};
use node::disk::{Disk, DiskError, DiskResult};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Per-operation latency of one node's disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskLatency {
    /// Range of an fsync's duration.
    pub fsync: (Duration, Duration),
    /// Extra latency of every other operation (a slow disk); zero = none.
    pub op: (Duration, Duration),
}

impl Default for DiskLatency {
    fn default() -> Self {
        DiskLatency {
            fsync: (Duration::from_millis(1), Duration::from_millis(2)),
            op: (Duration::ZERO, Duration::ZERO),
        }
    }
}

#[derive(Default)]
struct NodeDisk {
    fs: FsModel,
    latency: DiskLatency,
    crashes: Vec<CrashReport>,
    /// Injected faults this node's current process was handed: failed
    /// fsyncs, ENOSPC, reads with a flipped bit. What excuses its exit.
    faults_delivered: u64,
}

/// The plugin: every node's file system.
pub struct DiskSim {
    rand: GlobalRng,
    nodes: Mutex<BTreeMap<NodeId, NodeDisk>>,
}

impl Simulator for DiskSim {
    fn new(rand: &GlobalRng, _time: &TimeHandle, _config: &madsim::Config) -> Self {
        DiskSim {
            rand: rand.clone(),
            nodes: Mutex::new(BTreeMap::new()),
        }
    }

    fn reset_node(&self, id: NodeId) {
        let mut nodes = self.nodes.lock();
        if let Some(disk) = nodes.get_mut(&id) {
            let mut rng = self.rand.clone();
            let report = disk.fs.crash(&mut rng);
            disk.crashes.push(report);
        }
    }
}

impl DiskSim {
    fn with<T>(&self, node: NodeId, f: impl FnOnce(&mut NodeDisk) -> T) -> T {
        let mut nodes = self.nodes.lock();
        f(nodes.entry(node).or_default())
    }

    /// Sets the faults of a node's disk.
    pub fn set_faults(&self, node: NodeId, faults: DiskFaults) {
        self.with(node, |d| d.fs.faults = faults);
    }

    pub fn faults(&self, node: NodeId) -> DiskFaults {
        self.with(node, |d| d.fs.faults.clone())
    }

    pub fn set_latency(&self, node: NodeId, latency: DiskLatency) {
        self.with(node, |d| d.latency = latency);
    }

    /// Deletes everything on the node's disk.
    pub fn wipe(&self, node: NodeId) {
        self.with(node, |d| d.fs.wipe());
    }

    /// What the last crash of the node did.
    pub fn last_crash(&self, node: NodeId) -> Option<CrashReport> {
        self.with(node, |d| d.crashes.last().cloned())
    }

    /// Every file of the node as reads see it now.
    pub fn files(&self, node: NodeId) -> BTreeMap<String, Vec<u8>> {
        self.with(node, |d| d.fs.files())
    }

    /// Bytes the node's files take now.
    pub fn used_bytes(&self, node: NodeId) -> u64 {
        self.with(node, |d| {
            d.fs.files().values().map(|v| v.len() as u64).sum()
        })
    }

    /// Bytes the node's files under `prefix` take now.
    pub fn used_bytes_under(&self, node: NodeId, prefix: &str) -> u64 {
        self.with(node, |d| {
            d.fs.files()
                .iter()
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(_, v)| v.len() as u64)
                .sum()
        })
    }

    pub fn fsyncs(&self, node: NodeId) -> u64 {
        self.with(node, |d| d.fs.fsyncs)
    }

    /// The handle a member on `node` uses as its disk.
    /// A new process starts on the node: nothing injected has reached it yet.
    pub fn begin_incarnation(&self, node: NodeId) {
        self.with(node, |d| d.faults_delivered = 0);
    }

    /// How many injected faults (failed fsync, ENOSPC, flipped read) the
    /// node's current process was handed since it started.
    pub fn faults_delivered(&self, node: NodeId) -> u64 {
        self.with(node, |d| d.faults_delivered)
    }

    pub fn disk_for(self: &Arc<Self>, node: NodeId) -> SimDisk {
        SimDisk {
            sim: self.clone(),
            node,
        }
    }

    fn draw(&self, range: (Duration, Duration)) -> Duration {
        if range.1 <= range.0 {
            return range.0;
        }
        let mut rng = self.rand.clone();
        rng.gen_range(range.0..range.1)
    }

    fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self.rand.clone();
        rng.gen_bool(p.min(1.0))
    }
}

/// One node's view of the simulated disk.
#[derive(Clone)]
pub struct SimDisk {
    sim: Arc<DiskSim>,
    node: NodeId,
}

impl SimDisk {
    async fn op_delay(&self) {
        let latency = self.sim.with(self.node, |d| d.latency.op);
        let d = self.sim.draw(latency);
        if !d.is_zero() {
            madsim::time::sleep(d).await;
        }
    }

    fn fs<T>(&self, f: impl FnOnce(&mut FsModel) -> T) -> T {
        self.sim.with(self.node, |d| f(&mut d.fs))
    }

    /// Runs a write that the space quota may refuse, counting a refusal as
    /// an injected fault handed to the process.
    fn write<T>(&self, f: impl FnOnce(&mut FsModel) -> DiskResult<T>) -> DiskResult<T> {
        self.sim.with(self.node, |d| {
            let result = f(&mut d.fs);
            if matches!(result, Err(DiskError::NoSpace { .. })) {
                d.faults_delivered += 1;
            }
            result
        })
    }

    fn delivered(&self) {
        self.sim.with(self.node, |d| d.faults_delivered += 1);
    }
}

#[async_trait]
impl Disk for SimDisk {
    async fn create(&self, path: &str) -> DiskResult<()> {
        self.op_delay().await;
        self.fs(|fs| fs.create(path))
    }

    async fn exists(&self, path: &str) -> DiskResult<bool> {
        Ok(self.fs(|fs| fs.exists(path)))
    }

    async fn append(&self, path: &str, data: &[u8]) -> DiskResult<u64> {
        self.op_delay().await;
        self.write(|fs| fs.append(path, data))
    }

    async fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> DiskResult<()> {
        self.op_delay().await;
        self.write(|fs| fs.write_at(path, offset, data))
    }

    async fn read(&self, path: &str, offset: u64, len: usize) -> DiskResult<Vec<u8>> {
        self.op_delay().await;
        let rate = self.fs(|fs| fs.faults.bit_flip_rate);
        let flip = self.sim.chance(rate).then(|| {
            let mut rng = self.sim.rand.clone();
            rng.r#gen::<u64>()
        });
        let data = self.fs(|fs| fs.read(path, offset, len, flip))?;
        if flip.is_some() && !data.is_empty() {
            self.delivered();
        }
        Ok(data)
    }

    async fn read_all(&self, path: &str) -> DiskResult<Vec<u8>> {
        self.read(path, 0, usize::MAX).await
    }

    async fn len(&self, path: &str) -> DiskResult<u64> {
        self.fs(|fs| fs.len(path))
    }

    async fn truncate(&self, path: &str, len: u64) -> DiskResult<()> {
        self.op_delay().await;
        self.write(|fs| fs.truncate(path, len))
    }

    async fn fsync(&self, path: &str) -> DiskResult<()> {
        let latency = self.sim.with(self.node, |d| d.latency.fsync);
        madsim::time::sleep(self.sim.draw(latency)).await;
        let (count, rate) = self.fs(|fs| (fs.faults.fsync_failures, fs.faults.fsync_failure_rate));
        let fail = if count > 0 {
            self.fs(|fs| fs.faults.fsync_failures -= 1);
            true
        } else {
            self.sim.chance(rate)
        };
        if fail {
            self.delivered();
        }
        self.fs(|fs| fs.fsync(path, fail))
    }

    async fn rename(&self, from: &str, to: &str) -> DiskResult<()> {
        self.op_delay().await;
        self.fs(|fs| fs.rename(from, to))
    }

    async fn remove(&self, path: &str) -> DiskResult<()> {
        self.op_delay().await;
        self.fs(|fs| fs.remove(path))
    }

    async fn list_dir(&self, dir: &str) -> DiskResult<Vec<String>> {
        Ok(self.fs(|fs| fs.list_dir(dir)))
    }

    async fn fsync_dir(&self, dir: &str) -> DiskResult<()> {
        let latency = self.sim.with(self.node, |d| d.latency.fsync);
        madsim::time::sleep(self.sim.draw(latency)).await;
        self.fs(|fs| fs.fsync_dir(dir));
        Ok(())
    }
}
