//! `list` and `check`: what exists, and checking a history file.

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

pub(super) fn list(what: Listing, markdown: bool) -> Result<u8> {
    if markdown && what != Listing::Bugs {
        bail!("list: --markdown goes with `list bugs`");
    }
    match what {
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
            Ok(outcome.exit_code() as u8)
        }
        Err(e) => bail!("{e}"),
    }
}
