//! A real etcd beside the simulation: [`harness`] starts and always stops a
//! one-member etcd on loopback, [`cluster`] a cluster of 1, 3 or 5 members
//! whose peer traffic crosses [`proxy`] (links that pass, drop or delay),
//! with the process faults; [`grpc`] calls etcd's v3 services with
//! etcd's own message types, and [`execute`] sends a differential sequence
//! and writes down the answers ([`watch`]: the Watch stream its watch
//! steps use). [`traffic`] runs checked traffic with faults against a
//! cluster and [`record`] writes it down as a checker history;
//! [`scenario`] runs a scenario's plan (`realplan`, from `faultline run
//! --target etcd`) the same way. The `faultline-etcd` binary is its command
//! line; `faultline diff` runs it and compares with the simulated store.
//!
//! A plain tokio program: nothing here uses madsim.

pub mod cluster;
pub mod dialer;
pub mod execute;
pub mod grpc;
pub mod harness;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod record;
pub mod scenario;
pub mod traffic;
pub mod watch;
