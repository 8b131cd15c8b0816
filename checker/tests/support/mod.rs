//! Shared by the integration tests and the benchmark.
#![allow(dead_code)]

pub mod brute;
pub mod build;
pub mod generate;
pub mod leases;
pub mod recorded;
