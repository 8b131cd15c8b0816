//! `diff`: the same seeded request sequences to a real etcd (through the
//! `faultline-etcd` binary beside this one) and to our simulated store,
//! every answer compared field by field.

use super::{parse_bugs, parse_seeds};
use anyhow::{Context, Result, bail};
use differential::exclusions::Why;
use differential::generate;
use differential::{Answers, Sequence, Tally};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Most requests one sequence may hold.
const MAX_REQUESTS: usize = 100_000;
/// Most sequences one command compares (each starts its own etcd).
const MAX_SEQUENCES: usize = 10_000;
/// The companion binary that talks to real etcd.
const COMPANION: &str = "faultline-etcd";

#[derive(clap::Args)]
pub(super) struct DiffArgs {
    /// One seed (default 0).
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Seeds A..B (B excluded): one sequence, and one fresh etcd, per seed.
    #[arg(long)]
    seeds: Option<String>,
    /// Requests per sequence.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Send these steps (a JSON list, as diff.json shows them) instead of
    /// generated ones, under --seed.
    #[arg(long, value_name = "FILE", conflicts_with = "seeds")]
    steps: Option<PathBuf>,
    /// The etcd binary (default: $FAULTLINE_ETCD, else etcd on PATH).
    #[arg(long)]
    etcd: Option<PathBuf>,
    /// Switch a bug on in the simulated store (repeatable).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Keep the sequences, both sides' answers and diff.json in this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print at most this many disagreements.
    #[arg(long, default_value_t = 10)]
    show: usize,
}

pub(super) fn diff(args: DiffArgs) -> Result<u8> {
    let seeds = parse_seeds(args.seed, args.seeds.as_deref())?;
    if seeds.len() > MAX_SEQUENCES {
        bail!(
            "--seeds: {} sequences, more than {MAX_SEQUENCES} (each starts an etcd)",
            seeds.len()
        );
    }
    if args.requests == 0 || args.requests > MAX_REQUESTS {
        bail!(
            "--requests: {} is not between 1 and {MAX_REQUESTS}",
            args.requests
        );
    }
    let bugs = parse_bugs(&args.bugs)?;
    let sequences: Vec<Sequence> = match &args.steps {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--steps {}: cannot read", file.display()))?;
            let steps = serde_json::from_str(&text)
                .with_context(|| format!("--steps {}: not a list of steps", file.display()))?;
            vec![Sequence {
                seed: args.seed.unwrap_or(0),
                steps,
            }]
        }
        None => seeds
            .iter()
            .map(|&seed| Sequence {
                seed,
                steps: generate::sequence(seed, args.requests),
            })
            .collect(),
    };
    let companion = companion()?;
    let temp;
    let dir: &Path = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--out {}: cannot create", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary folder")?;
            temp.path()
        }
    };
    let sequences_file = dir.join("sequences.json");
    std::fs::write(&sequences_file, serde_json::to_string(&sequences)?)
        .with_context(|| format!("{}: cannot write", sequences_file.display()))?;

    let theirs = real_answers(&companion, &sequences_file, dir, args.etcd.as_deref())?;
    if theirs.len() != sequences.len() {
        bail!(
            "{COMPANION} answered {} of {} sequences",
            theirs.len(),
            sequences.len()
        );
    }
    let ours: Vec<Answers> = sequences
        .iter()
        .map(|s| scenarios::diff::answer(s, bugs.clone()))
        .collect::<Result<_, _>>()?;
    std::fs::write(dir.join("simulated.json"), serde_json::to_string(&ours)?)?;

    let mut tally = Tally::default();
    for ((sequence, a), b) in sequences.iter().zip(&ours).zip(&theirs) {
        tally.add(sequence, a, b);
    }
    std::fs::write(dir.join("diff.json"), serde_json::to_string_pretty(&tally)?)?;
    report(&args, &tally, &ours, &theirs);
    Ok(if tally.disagreements.is_empty() { 0 } else { 1 })
}

/// `faultline-etcd`, beside this binary.
pub(super) fn companion() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this binary's path")?;
    let path = me.with_file_name(COMPANION);
    if !path.is_file() {
        bail!(
            "{} not found: `faultline diff` needs the {COMPANION} binary beside faultline (cargo build --release -p realetcd; it needs protoc)",
            path.display()
        );
    }
    Ok(path)
}

fn real_answers(
    companion: &Path,
    sequences: &Path,
    dir: &Path,
    etcd: Option<&Path>,
) -> Result<Vec<Answers>> {
    let out = dir.join("etcd.json");
    let mut command = Command::new(companion);
    command
        .arg("answer")
        .arg("--sequences")
        .arg(sequences)
        .arg("--out")
        .arg(&out);
    if let Some(etcd) = etcd {
        command.arg("--etcd").arg(etcd);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", companion.display()))?;
    if !status.success() {
        bail!("{COMPANION} failed ({status}); its message is above");
    }
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("{}: cannot read", out.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a list of answers", out.display()))
}

fn report(args: &DiffArgs, tally: &Tally, ours: &[Answers], theirs: &[Answers]) {
    let server = theirs.first().map(|a| a.server.as_str()).unwrap_or("etcd");
    println!(
        "{} sequences x {} requests: faultline store {} against {server}",
        ours.len(),
        args.requests,
        scenarios::diff::VERSION
    );
    print!("{}", tally.table());
    for (name, count) in &tally.exclusions {
        let Some(e) = differential::exclusions::EXCLUSIONS
            .iter()
            .find(|e| e.name == name)
        else {
            continue;
        };
        let label = match e.why {
            Why::ByDesign => "excluded",
            Why::Open => "open difference",
        };
        println!("{label} {name}: {count} ({})", e.reason);
    }
    let per_thousand = |answers: &[Answers]| {
        let ms: f64 = answers.iter().map(|a| a.wall_ms).sum();
        let requests: usize = answers.iter().map(|a| a.answers.len()).sum();
        1000.0 * ms / requests.max(1) as f64
    };
    println!(
        "wall time per 1,000 requests: {server} {:.0} ms, simulated store {:.0} ms",
        per_thousand(theirs),
        per_thousand(ours)
    );
    let bugs: String = args.bugs.iter().map(|b| format!(" --bug {b}")).collect();
    let replay = |seed: u64| match &args.steps {
        Some(file) => format!(
            "faultline diff --steps {} --seed {seed}{bugs}",
            file.display()
        ),
        None => format!(
            "faultline diff --seed {seed} --requests {}{bugs}",
            args.requests
        ),
    };
    if !tally.crashes.is_empty() {
        println!(
            "\n{server} ended on {} request(s); the {} requests after each were not compared:",
            tally.crashes.len(),
            tally.not_compared
        );
    }
    for c in &tally.crashes {
        println!(
            "\nseed {} step {} ({}): {server} ended on {}",
            c.seed,
            c.step,
            c.request.kind().name(),
            serde_json::to_string(&c.request).unwrap_or_default()
        );
        println!("  its last log lines:");
        for line in c.log.lines() {
            println!("    {line}");
        }
        println!("  replay: {}", replay(c.seed));
    }
    for d in tally.disagreements.iter().take(args.show) {
        println!(
            "\nseed {} step {} ({}): {}",
            d.seed,
            d.step,
            d.request.kind().name(),
            serde_json::to_string(&d.request).unwrap_or_default()
        );
        for f in d.differences.iter().filter(|f| f.excluded.is_none()) {
            println!("  {}: ours {}, etcd {}", f.field, f.ours, f.theirs);
        }
        println!("  replay: {}", replay(d.seed));
    }
    if tally.disagreements.len() > args.show {
        println!(
            "\n... and {} more disagreements (all in diff.json with --out)",
            tally.disagreements.len() - args.show
        );
    }
}
