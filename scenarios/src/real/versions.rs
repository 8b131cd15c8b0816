//! A scenario's versions on a real run's two etcd binaries. The simulated
//! store's versions (3.5, 3.6, 3.7) are labels here: a real run has the
//! new etcd (`$FAULTLINE_ETCD`) and, when the user has one, an older one
//! (`$FAULTLINE_ETCD_OLD`). When the scenario names two distinct versions
//! (`cluster.versions` and every version step's `version`), the lower runs
//! the old binary and the higher the new one; with one version, every
//! member runs the new one. A third version, or any version change without
//! the old binary, is refused naming the part that asks for it.

use super::{Refusal, refuse};
use crate::schema::ClusterSpec;
use node::version::Version;
use realplan::Binary;

/// The variable naming the old etcd binary.
pub const OLD_VARIABLE: &str = "FAULTLINE_ETCD_OLD";

/// Which etcd binaries a real run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binaries {
    /// `$FAULTLINE_ETCD` alone: no version changes.
    One,
    /// And an old one (`$FAULTLINE_ETCD_OLD`, `--etcd-old`).
    Two,
}

impl Binaries {
    /// `Two` when `$FAULTLINE_ETCD_OLD` names a binary.
    pub fn from_env() -> Binaries {
        Binaries::with_old(old_binary_from_env().is_some())
    }

    /// `Two` when an old binary was given.
    pub fn with_old(given: bool) -> Binaries {
        if given { Binaries::Two } else { Binaries::One }
    }
}

/// The old binary `$FAULTLINE_ETCD_OLD` names, if it names one.
pub fn old_binary_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os(OLD_VARIABLE)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// The versions seen while a scenario is planned, and what they map to.
pub(super) struct Mapping {
    binaries: Binaries,
    /// The distinct versions, in the order they were named (at most two).
    seen: Vec<Version>,
    /// Each version step's version, in the plan's step order.
    steps: Vec<Version>,
}

fn list(versions: &[Version]) -> String {
    versions
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Mapping {
    /// The members' versions, or the refusal of `cluster.versions`.
    pub fn of(cluster: &ClusterSpec, binaries: Binaries) -> Result<Mapping, Refusal> {
        let mut seen: Vec<Version> = Vec::new();
        for i in 0..cluster.size {
            let v = cluster.version_of(i);
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        if seen.len() > 2 {
            return Err(refuse(
                "cluster.versions",
                format!(
                    "{} versions ({}): a real run has two etcd binaries, $FAULTLINE_ETCD_OLD for the lower version and $FAULTLINE_ETCD for the higher",
                    seen.len(),
                    list(&seen)
                ),
            ));
        }
        if seen.len() == 2 && binaries == Binaries::One {
            let mut sorted = seen.clone();
            sorted.sort();
            return Err(refuse(
                "cluster.versions",
                format!(
                    "members of two versions need a second etcd binary: set $FAULTLINE_ETCD_OLD (or --etcd-old) to an older etcd ({}'s members run it, {}'s run $FAULTLINE_ETCD)",
                    sorted[0], sorted[1]
                ),
            ));
        }
        Ok(Mapping {
            binaries,
            seen,
            steps: Vec::new(),
        })
    }

    /// A version step (`part`, e.g. `faults[1] (rolling_upgrade)`) to
    /// `version`: refused without the old binary or when it is a third
    /// version. Its binary is settled by `finish` (a later step may name
    /// the lower version); until then the step says `New`.
    pub fn step(&mut self, part: &str, version: Version) -> Result<Binary, Refusal> {
        if self.binaries == Binaries::One {
            return Err(refuse(
                part,
                format!(
                    "a version change (to {version}) needs a second etcd binary: set $FAULTLINE_ETCD_OLD (or --etcd-old) to an older etcd"
                ),
            ));
        }
        if !self.seen.contains(&version) {
            if self.seen.len() == 2 {
                return Err(refuse(
                    part,
                    format!(
                        "a third version ({version}, after {}): a real run has two etcd binaries, $FAULTLINE_ETCD_OLD for the lower version and $FAULTLINE_ETCD for the higher",
                        list(&self.seen)
                    ),
                ));
            }
            self.seen.push(version);
        }
        self.steps.push(version);
        Ok(Binary::New)
    }

    fn binary(&self, version: Version) -> Binary {
        let lowest = self.seen.iter().min();
        if self.seen.len() == 2 && lowest == Some(&version) {
            Binary::Old
        } else {
            Binary::New
        }
    }

    /// Settles every version step's binary in `steps` and returns each
    /// member's.
    pub fn finish(&self, cluster: &ClusterSpec, steps: &mut [realplan::Step]) -> Vec<Binary> {
        let mut versions = self.steps.iter();
        for step in steps.iter_mut() {
            let binary = match &mut step.fault {
                realplan::Fault::Swap { binary, .. } | realplan::Fault::Rolling { binary } => {
                    binary
                }
                _ => continue,
            };
            if let Some(v) = versions.next() {
                *binary = self.binary(*v);
            }
        }
        (0..cluster.size)
            .map(|i| self.binary(cluster.version_of(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan;
    use super::*;
    use crate::catalog;
    use realplan::Fault as RealFault;

    /// An etcd-profile scenario with `cluster` and `faults` TOML.
    fn scenario(cluster: &str, faults: &str) -> crate::schema::Scenario {
        let text = format!(
            "name = \"v\"\nduration_s = 10.0\n[cluster]\nsize = 3\n{cluster}\n[[traffic]]\nprofile = \"etcd\"\n{faults}"
        );
        catalog::parse("v.toml", &text).expect("a valid scenario")
    }

    const UPGRADE_AND_SWAP: &str = "[[faults]]\nkind = \"rolling_upgrade\"\nat_s = 2.0\nversion = \"3.6\"\n[[faults]]\nkind = \"swap_version\"\nat_s = 6.0\ntarget = \"m2\"\nversion = \"3.5\"\n";

    fn binaries(p: &realplan::Plan) -> Vec<Option<Binary>> {
        p.steps.iter().map(|s| s.fault.binary()).collect()
    }

    #[test]
    fn the_lower_version_runs_the_old_binary_and_the_higher_the_new() {
        let s = scenario("versions = [\"3.5\"]", UPGRADE_AND_SWAP);
        let p = plan(&s, 0, Binaries::Two).expect("two versions, two binaries");
        assert_eq!(p.binaries, vec![Binary::Old; 3]);
        assert_eq!(
            p.steps[0].fault,
            RealFault::Rolling {
                binary: Binary::New
            }
        );
        assert_eq!(
            p.steps[1].fault,
            RealFault::Swap {
                target: realplan::Target::Member(1),
                binary: Binary::Old
            }
        );
        assert_eq!(p.steps[1].kind, "swap_version");
        // A downgrade from the default 3.6: the step names the lower version.
        let s = scenario(
            "",
            "[[faults]]\nkind = \"rolling_downgrade\"\nat_s = 2.0\nversion = \"3.5\"\n",
        );
        let p = plan(&s, 0, Binaries::Two).expect("3.6 down to 3.5");
        assert_eq!(p.binaries, vec![Binary::New; 3]);
        assert_eq!(binaries(&p), [Some(Binary::Old)]);
        // Mixed members: 3.5's run the old binary.
        let s = scenario("versions = [\"3.6\", \"3.5\", \"3.6\"]", "");
        let p = plan(&s, 0, Binaries::Two).expect("mixed members");
        assert_eq!(p.binaries, [Binary::New, Binary::Old, Binary::New]);
        // One version throughout: the new binary, even for a swap to it.
        let s = scenario(
            "versions = [\"3.7\"]",
            "[[faults]]\nkind = \"swap_version\"\nat_s = 2.0\ntarget = \"m1\"\nversion = \"3.7\"\n",
        );
        let p = plan(&s, 0, Binaries::Two).expect("one version");
        assert_eq!(p.binaries, vec![Binary::New; 3]);
        assert_eq!(binaries(&p), [Some(Binary::New)]);
        assert!(!p.uses_old());
        // A scenario without versions needs no old binary.
        let s = scenario("", "");
        assert!(plan(&s, 0, Binaries::One).is_ok());
    }

    fn refusal(cluster: &str, faults: &str, b: Binaries) -> String {
        plan(&scenario(cluster, faults), 0, b)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn every_version_refusal_names_its_part() {
        assert_eq!(
            refusal("versions = [\"3.5\"]", UPGRADE_AND_SWAP, Binaries::One),
            "faults[0] (rolling_upgrade): a version change (to 3.6) needs a second etcd binary: set $FAULTLINE_ETCD_OLD (or --etcd-old) to an older etcd"
        );
        assert_eq!(
            refusal("versions = [\"3.6\", \"3.5\", \"3.6\"]", "", Binaries::One),
            "cluster.versions: members of two versions need a second etcd binary: set $FAULTLINE_ETCD_OLD (or --etcd-old) to an older etcd (3.5's members run it, 3.6's run $FAULTLINE_ETCD)"
        );
        assert_eq!(
            refusal("versions = [\"3.5\", \"3.6\", \"3.7\"]", "", Binaries::Two),
            "cluster.versions: 3 versions (3.5, 3.6, 3.7): a real run has two etcd binaries, $FAULTLINE_ETCD_OLD for the lower version and $FAULTLINE_ETCD for the higher"
        );
        let third = format!(
            "{UPGRADE_AND_SWAP}[[faults]]\nkind = \"rolling_upgrade\"\nat_s = 8.0\nversion = \"3.7\"\n"
        );
        assert_eq!(
            refusal("versions = [\"3.5\"]", &third, Binaries::Two),
            "faults[2] (rolling_upgrade): a third version (3.7, after 3.5, 3.6): a real run has two etcd binaries, $FAULTLINE_ETCD_OLD for the lower version and $FAULTLINE_ETCD for the higher"
        );
        assert_eq!(
            refusal(
                "",
                "[[faults]]\nkind = \"swap_version\"\nat_s = 1.0\ntarget = \"m1\"\nversion = \"3.5\"\nexpect_refusal = true\n",
                Binaries::Two
            ),
            "faults[0] (swap_version): expect_refusal: a member refusing to start is not watched on a real cluster"
        );
        assert_eq!(
            refusal(
                "",
                "[[faults]]\nkind = \"join_member\"\nat_s = 1.0\nversion = \"3.6\"\n",
                Binaries::Two
            ),
            "faults[0] (join_member): a member beyond the cluster's size needs a peer proxy the real cluster does not have (swap_version and the rolling kinds run)"
        );
        for (kind, version) in [
            ("downgrade_enable", "version = \"3.5\"\n"),
            ("downgrade_cancel", ""),
        ] {
            assert_eq!(
                refusal(
                    "",
                    &format!("[[faults]]\nkind = \"{kind}\"\nat_s = 1.0\n{version}"),
                    Binaries::Two
                ),
                format!(
                    "faults[0] ({kind}): etcd's downgrade API (Maintenance.Downgrade) is etcd 3.5's, and not sent to a real cluster: Debian's 3.4.23 has not got it"
                )
            );
        }
        assert_eq!(
            refusal(
                "",
                "[[faults]]\nkind = \"offline_migrate\"\nat_s = 1.0\ntarget = \"m1\"\nversion = \"3.5\"\n",
                Binaries::Two
            ),
            "faults[0] (offline_migrate): offline migration rewrites the simulated store's files; a real etcd's data is its own"
        );
    }

    #[test]
    fn the_catalog_s_version_scenarios_wait_for_the_old_binary() {
        // rolling-upgrade names three versions and Kubernetes traffic; the
        // first refusal is its profile's, with or without the old binary.
        let s = catalog::load("rolling-upgrade").expect("catalog");
        let e = plan(&s, 0, Binaries::Two).expect_err("kubernetes");
        assert_eq!(e.part, "traffic[0]");
    }
}
