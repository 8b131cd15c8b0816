//! `migrate` and `inspect`: offline tools over a member's data directory.

use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct MigrateArgs {
    #[arg(long)]
    data_dir: PathBuf,
    /// X.Y, e.g. 3.6
    #[arg(long)]
    target_version: String,
    /// Migrate even when the WAL holds entries newer than the target.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
pub(super) struct InspectArgs {
    #[arg(long)]
    data_dir: PathBuf,
}

fn data_dir(path: &std::path::Path) -> Result<node::disk::DiskRef> {
    if !path.is_dir() {
        bail!("--data-dir {}: not a directory", path.display());
    }
    if !path.join("wal").is_dir() || !path.join("db").is_file() {
        bail!(
            "--data-dir {}: not a member data directory (expected wal/ and db)",
            path.display()
        );
    }
    Ok(std::sync::Arc::new(node::real_disk::RealDisk::new(path)))
}

pub(super) fn migrate(args: MigrateArgs) -> Result<u8> {
    let target: node::version::Version = args
        .target_version
        .parse()
        .map_err(|e| anyhow::anyhow!("--target-version: {e}"))?;
    if !target.is_supported() {
        bail!("--target-version: {target} is not a version this binary knows (3.5, 3.6, 3.7)");
    }
    let disk = data_dir(&args.data_dir)?;
    let rt = madsim::runtime::Runtime::new();
    match rt.block_on(node::migrate::migrate(disk, target, args.force)) {
        Ok(m) => {
            let steps: Vec<String> = m.steps.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            println!(
                "migrated {} from {} to {} ({}){}",
                args.data_dir.display(),
                m.from,
                m.to,
                if steps.is_empty() {
                    "nothing to do".to_string()
                } else {
                    steps.join(", ")
                },
                if m.forced {
                    " despite newer WAL entries (--force)"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Err(e) => bail!("migrate {}: {e}", args.data_dir.display()),
    }
}

pub(super) fn inspect(args: InspectArgs) -> Result<u8> {
    let disk = data_dir(&args.data_dir)?;
    let rt = madsim::runtime::Runtime::new();
    match rt.block_on(node::migrate::inspect(disk)) {
        Ok(i) => {
            println!("{i}");
            Ok(0)
        }
        Err(e) => bail!("inspect {}: {e}", args.data_dir.display()),
    }
}
