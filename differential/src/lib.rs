//! Differential testing against a real etcd.
//!
//! A seed becomes a sequence of client requests ([`generate::sequence`]);
//! the same sequence goes to faultline's simulated store and to a real
//! etcd, each side turning relative revisions into numbers from its own
//! answers ([`Resolver`]); the answers, normalized to one shape
//! ([`answer`]), are compared field by field ([`compare()`]), and
//! differences by design are named exclusions ([`exclusions`]). The crate
//! knows neither side's protocol: the simulated side lives in the
//! `scenarios` crate, the real one in `realetcd`.

pub mod answer;
pub mod compare;
pub mod exclusions;
pub mod generate;
pub mod resolve;
pub mod step;
pub mod tally;
pub mod watch;

pub use answer::{Answer, Answers};
pub use compare::{Difference, Verdict, compare};
pub use resolve::Resolver;
pub use step::{Sequence, Step};
pub use tally::Tally;
