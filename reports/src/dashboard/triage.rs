//! What the dashboard is told about problems from outside the campaign
//! folders, and what it tells back: the signatures of catalogued bugs (the
//! bug table lives with the store, which this crate must not depend on, so
//! the binary passes them in), the shrunk repro made for a problem, and
//! the new problems worth shrinking.

use std::path::{Path, PathBuf};

use checker::Signature;

use super::campaign::Campaign;
use super::stats::{Status, group_failures};

/// Facts about problems the binary supplies.
#[derive(Debug, Clone, Default)]
pub struct Triage {
    /// A catalogued bug's name (`etcd-15220`) and the signature its
    /// detecting run fails with; a problem with that signature "looks like" it.
    pub known_bugs: Vec<(String, Signature)>,
    /// Where shrunk repros are kept, one per problem as
    /// `<signature id>.toml` ([`Signature::id`]): made by this report or an
    /// earlier one, so a problem is shrunk once.
    pub shrinks_dir: Option<PathBuf>,
}

impl Triage {
    /// The catalogued bugs whose signature this is, joined with " or ".
    pub fn looks_like(&self, signature: &Signature) -> Option<String> {
        let names: Vec<&str> = self
            .known_bugs
            .iter()
            .filter(|(_, s)| s == signature)
            .map(|(name, _)| name.as_str())
            .collect();
        (!names.is_empty()).then(|| names.join(" or "))
    }

    /// The shrunk repro of a problem, when one was made.
    pub fn shrink_of(&self, signature: &Signature) -> Option<PathBuf> {
        let path = shrink_path(self.shrinks_dir.as_ref()?, signature);
        path.is_file().then_some(path)
    }
}

/// Where the shrunk repro of a problem is kept in a shrinks folder.
pub fn shrink_path(dir: &Path, signature: &Signature) -> PathBuf {
    dir.join(format!("{}.toml", signature.id()))
}

/// A new problem and the smallest failing run of it that has a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProblem {
    pub signature: Signature,
    /// The representative run's folder (its `repro.toml` is what to shrink).
    pub run_dir: PathBuf,
    /// How many runs showed it.
    pub runs: usize,
}

/// The problems first seen on the latest campaign day, most frequent
/// first, each with its smallest run that left a folder.
pub fn new_problems(campaigns: &[Campaign]) -> Vec<NewProblem> {
    let latest = campaigns.iter().map(|c| c.started.day()).max();
    group_failures(campaigns, latest)
        .into_iter()
        .filter(|g| g.status == Status::New)
        .filter_map(|g| {
            let rep = g.representative();
            Some(NewProblem {
                run_dir: rep.run.dir.clone()?,
                runs: g.occurrences.len(),
                signature: g.signature,
            })
        })
        .collect()
}
