//! `repro.toml`: everything needed to replay a run exactly, in one file that
//! `faultline replay repro.toml` reads.
//!
//! ```toml
//! format = "faultline-repro"
//! version = 1
//! scenario_name = "default"
//! seed = 7
//! bugs = ["etcd-17247"]
//! versions = ["3.6"]
//! trace_hash = "295e8561df97ef1e"
//! scenario_toml = """
//! name = "default"
//! ...
//! """
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result};

pub const REPRO_FORMAT: &str = "faultline-repro";
pub const REPRO_VERSION: u32 = 1;

/// A run's reproduction recipe.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Repro {
    /// The scenario's name (catalog name, or the file's `name`).
    pub scenario_name: String,
    /// The whole scenario file as it was run, so the repro needs nothing else.
    pub scenario_toml: String,
    pub seed: u64,
    /// Injected bugs by catalog name (empty: none).
    pub bugs: Vec<String>,
    /// The versions the members ran, for humans and for a version check on replay.
    pub versions: Vec<String>,
    /// The run's trace hash: a replay must give the same.
    pub trace_hash: String,
    /// Set when the run was against real etcd processes (`faultline run
    /// --target etcd`): such a run is not replayable, and its trace hash
    /// is empty.
    pub real: Option<RealEtcd>,
}

/// The real etcd a run was against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RealEtcd {
    /// The etcd binary the cluster ran.
    pub binary: String,
    /// Its `etcd --version`, e.g. "3.4.23".
    pub version: String,
    /// The older binary version changes restarted members into
    /// (`$FAULTLINE_ETCD_OLD`), when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_binary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_version: Option<String>,
    /// Every member's `--snapshot-count`, when the run set one (a run that
    /// waits for a snapshot does); otherwise etcd's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
}

/// The file's layout: a format name and version first, the scenario text last.
#[derive(Serialize, Deserialize)]
struct ReproFile {
    format: String,
    version: u32,
    scenario_name: String,
    #[serde(with = "seed_repr")]
    seed: u64,
    #[serde(default)]
    bugs: Vec<String>,
    #[serde(default)]
    versions: Vec<String>,
    trace_hash: String,
    /// Only in a real run's repro (before the scenario text, which is last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    real_etcd: Option<RealEtcd>,
    scenario_toml: String,
}

/// TOML integers are signed 64-bit: a seed above `i64::MAX` is written as a
/// string of digits; both forms are read.
mod seed_repr {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(*seed) {
            Ok(n) => s.serialize_i64(n),
            Err(_) => s.serialize_str(&seed.to_string()),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seed {
        Number(i64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Seed::deserialize(d)? {
            Seed::Number(n) => u64::try_from(n)
                .map_err(|_| serde::de::Error::custom(format!("seed {n} is negative"))),
            Seed::Text(t) => t.parse().map_err(|_| {
                serde::de::Error::custom(format!("expected a seed (0..2^64), found {t:?}"))
            }),
        }
    }
}

const COMMENT: &str = "# faultline run reproduction: `faultline replay repro.toml` replays this run\n\
# (unless real_etcd is set: a run against real etcd processes does not replay).\n\
# format/version: this file's format; scenario_toml: the scenario file as run;\n\
# seed, bugs: what the run used; versions: member versions; trace_hash: what a replay must print.\n";

impl Repro {
    /// The file text.
    pub fn to_toml(&self, path: &Path) -> Result<String> {
        let file = ReproFile {
            format: REPRO_FORMAT.to_string(),
            version: REPRO_VERSION,
            scenario_name: self.scenario_name.clone(),
            seed: self.seed,
            bugs: self.bugs.clone(),
            versions: self.versions.clone(),
            trace_hash: self.trace_hash.clone(),
            real_etcd: self.real.clone(),
            scenario_toml: self.scenario_toml.clone(),
        };
        let body = toml::to_string(&file)
            .map_err(|e| ReportsError::invalid(path, format!("cannot encode the repro: {e}")))?;
        Ok(format!("{COMMENT}{body}"))
    }

    /// Parses a repro file's text; `path` is only for messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let file: ReproFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|before| before.matches('\n').count() + 1);
            let message = format!("expected a faultline repro: {}", e.message());
            match line {
                Some(line) => ReportsError::malformed(path, line, message),
                None => ReportsError::invalid(path, message),
            }
        })?;
        super::check_format(
            path,
            &file.format,
            REPRO_FORMAT,
            file.version,
            REPRO_VERSION,
        )?;
        Ok(Repro {
            scenario_name: file.scenario_name,
            scenario_toml: file.scenario_toml,
            seed: file.seed,
            bugs: file.bugs,
            versions: file.versions,
            trace_hash: file.trace_hash,
            real: file.real_etcd,
        })
    }

    /// Reads `repro.toml` (or any repro file).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ReportsError::io(path, "read", e))?;
        Repro::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Repro {
        Repro {
            scenario_name: "default".into(),
            scenario_toml: "name = \"default\"\n# a comment with \"quotes\", ''' and \"\"\"\n\ttabbed = 'x'\r\nlast line without newline".into(),
            seed: 7,
            bugs: vec!["etcd-17247".into()],
            versions: vec!["3.5".into(), "3.6".into()],
            trace_hash: "295e8561df97ef1e".into(),
            real: None,
        }
    }

    #[test]
    fn round_trips_awkward_scenario_text_and_large_seeds() {
        let path = Path::new("repro.toml");
        for seed in [0, 7, i64::MAX as u64, u64::MAX] {
            let repro = Repro { seed, ..sample() };
            let text = repro.to_toml(path).expect("encode");
            assert!(text.starts_with("# faultline run reproduction"));
            let back = Repro::from_toml(&text, path).expect("decode");
            assert_eq!(back, repro);
        }
    }

    #[test]
    fn a_real_run_s_repro_names_its_etcd_and_reads_back() {
        let path = Path::new("repro.toml");
        let repro = Repro {
            trace_hash: String::new(),
            real: Some(RealEtcd {
                binary: "/usr/bin/etcd".into(),
                version: "3.4.23".into(),
                ..RealEtcd::default()
            }),
            ..sample()
        };
        let text = repro.to_toml(path).expect("encode");
        assert!(text.contains("[real_etcd]"), "{text}");
        assert!(text.contains("version = \"3.4.23\""), "{text}");
        assert_eq!(Repro::from_toml(&text, path).expect("decode"), repro);
        assert!(!text.contains("old_binary"), "{text}");
        assert!(!text.contains("snapshot_count"), "{text}");
        let simulated = sample().to_toml(path).expect("encode");
        assert!(!simulated.contains("[real_etcd]"), "{simulated}");
        // A version run names its old binary too.
        let two = Repro {
            trace_hash: String::new(),
            real: Some(RealEtcd {
                binary: "/usr/bin/etcd".into(),
                version: "3.4.23".into(),
                old_binary: Some("/opt/etcd-3.3/etcd".into()),
                old_version: Some("3.3.27".into()),
                snapshot_count: Some(100),
            }),
            ..sample()
        };
        let text = two.to_toml(path).expect("encode");
        assert!(text.contains("old_version = \"3.3.27\""), "{text}");
        assert!(text.contains("snapshot_count = 100"), "{text}");
        assert_eq!(Repro::from_toml(&text, path).expect("decode"), two);
    }

    #[test]
    fn refuses_other_formats_and_newer_versions_naming_the_field() {
        let path = Path::new("r.toml");
        let text = sample().to_toml(path).expect("encode");
        let other = text.replace("faultline-repro", "something-else");
        let err = Repro::from_toml(&other, path).expect_err("other format");
        assert!(err.to_string().contains("field format"), "{err}");
        let newer = text.replace("version = 1", "version = 9");
        let err = Repro::from_toml(&newer, path).expect_err("newer");
        assert!(err.to_string().contains("newer"), "{err}");
        let broken = text.replace("seed = 7", "seed = -3");
        let err = Repro::from_toml(&broken, path).expect_err("negative seed");
        assert!(err.to_string().starts_with("r.toml:"), "{err}");
    }
}
