//! `scenarios`: scenario files, traffic profiles, the fault library, the
//! engine that runs one seed, and campaigns over many seeds. The
//! `faultline` binary is this crate's command-line face.

pub mod artefacts;
pub mod bug_table;
pub mod campaign;
pub mod catalog;
pub mod cluster;
pub mod conditions;
pub(crate) mod control;
pub mod diff;
pub mod engine;
pub mod explore;
pub mod faults;
pub(crate) mod health;
pub mod hunt;
pub mod knobs;
pub mod operator;
pub mod plan;
pub mod real;
pub mod recorder;
pub mod schema;
pub mod seeds;
pub mod shrink;
pub mod soak;
pub mod swarm;
pub mod target;
pub mod traffic;
pub mod translate;
pub mod workers;

pub use engine::{RunOptions, RunResult, run};
pub use schema::Scenario;
