//! The real etcd binaries runs use, as `faultline-etcd version` reports
//! them: asked once, before any run starts.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real etcd the runs use.
pub(in crate::cli) struct Etcd {
    pub binary: String,
    pub version: String,
    /// The old binary, when some plan runs it.
    pub old: Option<Box<Etcd>>,
}

impl Etcd {
    /// `faultline-etcd version` of `etcd` (default: the companion's
    /// choice), and of the old binary when one is given, with the name of
    /// where it came from (`--etcd-old`, `$FAULTLINE_ETCD_OLD`) for errors.
    pub fn ask(companion: &Path, etcd: Option<&Path>, old: Option<(&Path, &str)>) -> Result<Etcd> {
        let mut etcd = etcd_version(companion, etcd, "--etcd")?;
        if let Some((old, flag)) = old {
            etcd.old = Some(Box::new(etcd_version(companion, Some(old), flag)?));
        }
        Ok(etcd)
    }

    /// `VERSION@BINARY`, for summary lines.
    pub fn word(&self) -> String {
        format!("{}@{}", self.version, self.binary)
    }

    /// What campaign.json records of it.
    pub fn as_target(&self) -> scenarios::soak::CampaignTarget {
        scenarios::soak::CampaignTarget::Etcd(scenarios::soak::EtcdBinaries {
            binary: self.binary.clone(),
            version: self.version.clone(),
            old: self.old.as_ref().map(|o| scenarios::soak::OldEtcd {
                binary: o.binary.clone(),
                version: o.version.clone(),
            }),
        })
    }

    /// For the start line: `etcd 3.4.23 (/usr/bin/etcd)[ and old etcd ...]`.
    pub fn describe(&self) -> String {
        self.as_target().describe()
    }
}

/// The older binary for version changes: `--etcd-old`, else
/// `$FAULTLINE_ETCD_OLD`, with the name of where it came from.
pub(in crate::cli) fn old_binary(flag: Option<&Path>) -> Option<(PathBuf, &'static str)> {
    match flag {
        Some(path) => Some((path.to_path_buf(), "--etcd-old")),
        None => scenarios::real::versions::old_binary_from_env()
            .map(|path| (path, "$FAULTLINE_ETCD_OLD")),
    }
}

/// `faultline-etcd version`: the binary the runs will use, and its
/// version; `flag` names where the binary came from in errors.
fn etcd_version(companion: &Path, etcd: Option<&Path>, flag: &str) -> Result<Etcd> {
    let mut command = Command::new(companion);
    command.arg("version");
    if let Some(etcd) = etcd {
        command.arg("--etcd").arg(etcd);
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", companion.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.trim();
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        bail!(
            "{flag}: {}",
            message
                .trim()
                .trim_start_matches("faultline-etcd: ")
                .lines()
                .next()
                .unwrap_or("no usable etcd binary")
        );
    }
    let Some((binary, version)) = line.rsplit_once(' ') else {
        bail!(
            "{}: unexpected answer to `version`: {line:?}",
            companion.display()
        );
    };
    Ok(Etcd {
        binary: binary.to_string(),
        version: version.to_string(),
        old: None,
    })
}
