//! `list` and `check`: what exists, and checking a history file.

use super::run::Target;
use anyhow::{Result, bail};
use checker::rules::DecidedBy;
use scenarios::schema::Purpose;
use scenarios::{bug_table, catalog};
use std::path::PathBuf;
use std::time::Duration;

/// What `faultline list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Listing {
    Scenarios,
    Faults,
    Failpoints,
    Bugs,
    Rules,
    Invariants,
    Points,
    Classes,
}

pub(super) fn list(what: Listing, markdown: bool, target: Option<Target>) -> Result<u8> {
    if markdown && what != Listing::Bugs {
        bail!("list: --markdown goes with `list bugs`");
    }
    if target.is_some() && what != Listing::Scenarios {
        bail!("list: --target goes with `list scenarios`");
    }
    match what {
        Listing::Scenarios if target == Some(Target::Etcd) => real_scenarios(),
        Listing::Scenarios => {
            for s in catalog::builtin() {
                let purpose = match s.purpose {
                    Purpose::General => "",
                    Purpose::BugTrigger => " [bug trigger]",
                    Purpose::Benchmark => " [benchmark]",
                };
                println!("{:<28} {}{purpose}", s.name, s.description);
            }
        }
        Listing::Faults => {
            for kind in scenarios::faults::FaultKind::ALL {
                println!("{:<28} {}", kind.name(), kind.about());
            }
        }
        Listing::Failpoints => {
            for p in node::failpoint::Failpoint::ALL {
                println!("{:<36} {}", p.name(), p.what());
            }
        }
        Listing::Bugs if markdown => print!("{}", bug_table::markdown()),
        Listing::Bugs => print!("{}", bug_table::text()),
        Listing::Rules => {
            for r in checker::rules::rules() {
                let by = match r.decided_by {
                    DecidedBy::Checker => "checker",
                    DecidedBy::Engine => "engine",
                };
                println!("{:<32} [{by}] {}", r.name, r.description);
            }
        }
        Listing::Invariants => {
            for i in node::invariants::Invariant::ALL {
                println!("{:<52} {}", i.name(), i.reason());
            }
        }
        Listing::Points => {
            for p in node::coverage::Point::ALL {
                println!("{:<36} {}", p.name(), p.what());
            }
        }
        Listing::Classes => {
            for a in checker::Anomaly::ALL {
                println!("{:<32} {}", a.word(), a.meaning());
            }
        }
    }
    Ok(0)
}

/// Every catalog scenario, and whether a real cluster runs it: `runs`,
/// or `refused` with the first step it cannot do. Version changes run
/// only with a second binary (`$FAULTLINE_ETCD_OLD`).
fn real_scenarios() {
    let binaries = scenarios::real::Binaries::from_env();
    for s in catalog::builtin() {
        let verdict = match scenarios::real::runs_for_real(&s, binaries) {
            Ok(()) => "runs against etcd".to_string(),
            Err((seed, refusal)) if s.swarm.is_some() => {
                format!("refused (seed {seed} draws {refusal})")
            }
            Err((_, refusal)) => format!("refused: {refusal}"),
        };
        println!("{:<36} {verdict}", s.name);
    }
    // Which version changes the verdicts above allowed, on stderr (the
    // listing itself stays one scenario a line).
    let variable = scenarios::real::versions::OLD_VARIABLE;
    match binaries {
        scenarios::real::Binaries::Two => eprintln!(
            "${variable} is set: version changes (swap_version, rolling_upgrade, rolling_downgrade, mixed cluster.versions) run, a scenario's lower version on it"
        ),
        scenarios::real::Binaries::One => eprintln!(
            "${variable} is not set: version changes (swap_version, rolling_upgrade, rolling_downgrade, mixed cluster.versions) are refused; set it to an older etcd to run them"
        ),
    }
}

#[derive(clap::Args)]
pub(super) struct CheckArgs {
    file: PathBuf,
    /// etcd | register (one register, or registers by key: Jepsen independent [k v] tuples or :key) | kv
    #[arg(long, default_value = "etcd")]
    model: String,
    /// faultline | jepsen-log | edn | etcd-robustness (default: guessed; a folder with client-N/operations.json is an etcd robustness report)
    #[arg(long, default_value = "auto")]
    format: String,
    /// Time limit in seconds; past it the verdict is unknown (exit 3).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Check the whole history at once instead of per independent key.
    #[arg(long)]
    no_partition: bool,
    /// For a real run's history (faultline format): which known etcd
    /// 3.4.23 bug each failed rule's evidence points at, or unexplained
    /// (what `run --target etcd` prints as known= and unexplained=).
    #[arg(long)]
    explain_etcd: bool,
}

pub(super) fn check(args: CheckArgs) -> Result<u8> {
    let model = args
        .model
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--model: {e}"))?;
    let format = args
        .format
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?;
    let opts = checker::command::CheckFileOptions {
        model,
        format,
        timeout: Duration::from_secs(args.timeout),
        partition: !args.no_partition,
    };
    match checker::command::check_file(&args.file, &opts) {
        Ok(outcome) => {
            println!("{outcome}");
            if args.explain_etcd {
                explain_etcd(&args.file, &outcome.report)?;
            }
            Ok(outcome.exit_code() as u8)
        }
        Err(e) => bail!("{e}"),
    }
}

/// `check --explain-etcd`: one line per failed rule.
fn explain_etcd(file: &std::path::Path, report: &checker::Report) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("--explain-etcd {}: {e}", file.display()))?;
    let history = checker::jsonl::read_str(&text)
        .map_err(|e| {
            anyhow::anyhow!(
                "--explain-etcd {}: not a faultline history: {e}",
                file.display()
            )
        })?
        .history;
    for (rule, known) in scenarios::real::known::explain(&history, report) {
        match known {
            Some(e) => println!("known {} {rule}: {}", e.bugs.join(","), e.evidence),
            None => println!("unexplained {rule}"),
        }
    }
    Ok(())
}
