//! A real run to do: a scenario and seed, planned before anything starts.

use anyhow::Result;
use scenarios::catalog;
use scenarios::real::Binaries;
use scenarios::schema::Scenario;

/// One run to do: its scenario, seed and plan.
pub(in crate::cli) struct Job {
    pub scenario: Scenario,
    pub seed: u64,
    pub plan: realplan::Plan,
}

impl Job {
    /// The plan of `scenario` under `seed` against a real cluster with
    /// `binaries`, or the one line refusing it, naming the scenario's file
    /// (`given`: the name or path the command line gave) and the part.
    pub fn plan(scenario: &Scenario, given: &str, seed: u64, binaries: Binaries) -> Result<Job> {
        let plan = scenarios::real::plan(scenario, seed, binaries).map_err(|r| {
            anyhow::anyhow!(
                "{}: {r} (not runnable against a real cluster; `faultline list scenarios --target etcd` shows what is)",
                catalog::file_of(given)
            )
        })?;
        Ok(Job {
            scenario: scenario.clone(),
            seed,
            plan,
        })
    }
}
