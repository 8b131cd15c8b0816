//! `node`: an etcd-style replicated key-value store built to run inside the
//! simulation. It reaches the outside only through madsim (network, time),
//! the [`disk::Disk`] trait and the [`host::Host`] the world provides.

pub mod alarm;
pub mod backend;
pub mod bugs;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod coverage;
pub mod disk;
pub mod failpoint;
pub mod framing;
pub mod host;
pub mod invariants;
pub mod lease;
pub mod migrate;
pub mod mvcc;
pub mod raft_log;
pub mod real_disk;
pub mod schema;
pub mod server;
#[cfg(test)]
mod source_scan;
pub mod storage_version;
pub mod version;
pub mod wal;
pub mod watch;
pub mod wire;
