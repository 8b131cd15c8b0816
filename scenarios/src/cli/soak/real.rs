//! `soak --target etcd`: a soak whose runs are real etcd clusters, each
//! run exactly as `run --target etcd` does it (planned, run by the
//! `faultline-etcd` companion, checked, explained) and recorded in the
//! same campaign folder as a simulated soak's.
//!
//! The runs the command asks for are planned before anything starts (all
//! of `--runs`, up to [`PLANNED_UP_FRONT`]; without `--runs`, every
//! scenario under the first [`TRIED_SEEDS`] seeds of the shard), so a
//! scenario a real cluster cannot run is refused with one line (exit 2)
//! before any cluster. A later seed's plan is made when its run starts;
//! should a swarm scenario's draw be refused there (or need the old
//! binary, which the campaign has only when a planned run needed it), the
//! soak stops with that line, every finished run kept.

use super::{SoakArgs, conclude, config, warn_if_unbounded};
use crate::cli::real::IgnoreInterrupts;
use crate::cli::real::etcd::{self, Etcd};
use crate::cli::real::execute::execute;
use crate::cli::real::job::Job;
use crate::cli::real::outcome::RealRun;
use crate::cli::run::refuse_bugs_on_real_etcd;
use anyhow::Result;
use checker::Overall;
use node::bugs::BugSet;
use scenarios::catalog;
use scenarios::real::{Binaries, TRIED_SEEDS};
use scenarios::schema::Scenario;
use scenarios::soak::{self, CampaignError, CampaignTarget, Runner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most runs planned before the soak starts (planning is cheap, but a
/// soak asked for a billion runs should not wait on them).
const PLANNED_UP_FRONT: u64 = 100_000;

pub(super) fn soak(args: &SoakArgs) -> Result<u8> {
    refuse_bugs_on_real_etcd(&args.bugs)?;
    let old = etcd::old_binary(args.runs_on.etcd_old.as_deref());
    let binaries = Binaries::with_old(old.is_some());
    let (scenarios, given) = if args.scenarios.is_empty() {
        runnable_catalog(binaries)?
    } else {
        load_named(&args.scenarios)?
    };
    // The target is known once the companion has named etcd's version,
    // after the planning (a refusal must come before any binary runs).
    let cfg = config(args, scenarios, BugSet::none(), CampaignTarget::Sim)?;
    let needs_old = plan_up_front(&cfg.plan, &given, args.runs, binaries)?;
    let companion = crate::cli::diff::companion()?;
    let old = old.filter(|_| needs_old);
    let etcd = Etcd::ask(
        &companion,
        args.runs_on.etcd.as_deref(),
        old.as_ref().map(|(path, flag)| (path.as_path(), *flag)),
    )?;
    let cfg = soak::SoakConfig {
        target: etcd.as_target(),
        ..cfg
    };
    warn_if_unbounded(&cfg);
    eprintln!(
        "soak {}: real runs against {}, {} at a time: not deterministic, a seed fixes the clients' choices only",
        args.out.display(),
        etcd.describe(),
        cfg.jobs
    );
    let runner = RealClusters {
        companion,
        etcd: &etcd,
        binaries,
        given,
        check_timeout: args.check_timeout,
    };
    let summary = {
        let _ignoring = IgnoreInterrupts::start();
        soak::soak_with(&cfg, &runner, |done| {
            let failing = done.result.overall() != Overall::Pass;
            if failing || !args.quiet {
                println!("{}", done.result.printed());
            }
            if let Some(folder) = done.folder.filter(|_| failing) {
                println!("  run folder: {}", folder.display());
            }
        })
        .map_err(|e| anyhow::anyhow!("soak {}: {e}", args.out.display()))?
    };
    if summary.stop == soak::Stop::Interrupted {
        eprintln!(
            "interrupted: every cluster is stopped and its folder removed; the same command resumes"
        );
    }
    Ok(conclude(args, &summary))
}

/// The scenarios named on the command line, with the name each was given
/// by (a catalog name or a file).
fn load_named(names: &[String]) -> Result<(Vec<Scenario>, BTreeMap<String, String>)> {
    let mut scenarios = Vec::new();
    let mut given = BTreeMap::new();
    for name in names {
        let scenario = catalog::load(name).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
        given.insert(scenario.name.clone(), name.clone());
        scenarios.push(scenario);
    }
    Ok((scenarios, given))
}

/// Every general catalog scenario (no bug's trigger, no benchmark) that
/// runs against a real cluster: what `list scenarios --target etcd` says
/// runs.
fn runnable_catalog(binaries: Binaries) -> Result<(Vec<Scenario>, BTreeMap<String, String>)> {
    let scenarios: Vec<Scenario> = catalog::general()
        .into_iter()
        .filter(|s| scenarios::real::runs_for_real(s, binaries).is_ok())
        .collect();
    if scenarios.is_empty() {
        anyhow::bail!("--scenario: no general catalog scenario runs against a real cluster");
    }
    let given = scenarios
        .iter()
        .map(|s| (s.name.clone(), s.name.clone()))
        .collect();
    Ok((scenarios, given))
}

/// Plans the campaign's first runs (see the module's comment); whether
/// one of them starts a member with the old binary.
fn plan_up_front(
    plan: &soak::Plan,
    given: &BTreeMap<String, String>,
    runs: Option<u64>,
    binaries: Binaries,
) -> Result<bool> {
    let rounds = plan.scenarios.len() as u64 * TRIED_SEEDS;
    let count = runs.unwrap_or(rounds).min(PLANNED_UP_FRONT);
    let mut needs_old = false;
    for j in 0..count {
        let (s, seed) = plan.job(j);
        let scenario = &plan.scenarios[s];
        needs_old |= Job::plan(scenario, &given[&scenario.name], seed, binaries)?
            .plan
            .uses_old();
    }
    Ok(needs_old)
}

/// Real etcd clusters as a soak's runner.
struct RealClusters<'e> {
    companion: PathBuf,
    etcd: &'e Etcd,
    binaries: Binaries,
    /// Each scenario's name as the command line gave it (catalog name or
    /// file), for refusals.
    given: BTreeMap<String, String>,
    check_timeout: u64,
}

impl<'e> Runner for RealClusters<'e> {
    type Run = RealRun<'e>;

    fn run(&self, scenario: &Scenario, seed: u64) -> Result<Option<RealRun<'e>>, CampaignError> {
        let given = self.given.get(&scenario.name).map_or(&scenario.name, |g| g);
        let job = Job::plan(scenario, given, seed, self.binaries).map_err(run_error)?;
        if job.plan.uses_old() && self.etcd.old.is_none() {
            // The campaign's planned runs needed no old binary, so it has
            // none (campaign.json names the binaries its runs use).
            return Err(CampaignError::Run(format!(
                "{}: seed {seed} starts a member with the old etcd binary, which none of the runs planned at the start needed; run this scenario in a campaign of its own",
                catalog::file_of(given)
            )));
        }
        execute(
            job,
            Path::new(&self.companion),
            self.etcd,
            self.check_timeout,
        )
        .map_err(run_error)
    }
}

fn run_error(e: anyhow::Error) -> CampaignError {
    CampaignError::Run(format!("{e:#}"))
}
