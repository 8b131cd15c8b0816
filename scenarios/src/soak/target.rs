//! What a campaign's runs run on: the simulation, or real etcd processes
//! (`soak --target etcd`). `campaign.json` records it, so that a restart
//! resumes a campaign on what it started on: a simulated campaign is not
//! continued against real etcd, nor a real one against another etcd
//! version, since its rows would no longer be of one campaign.

use serde::{Deserialize, Serialize};

/// What ran the campaign's runs (`target` in `campaign.json`; absent in
/// files written before real campaigns existed, which were simulated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CampaignTarget {
    /// The deterministic simulation.
    #[default]
    Sim,
    /// Real etcd processes through the `faultline-etcd` companion.
    Etcd(EtcdBinaries),
}

/// The etcd binaries a real campaign runs, with the versions they reported
/// at its first start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdBinaries {
    pub binary: String,
    pub version: String,
    /// The older binary version changes restart members into, when some
    /// run of the campaign needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<OldEtcd>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldEtcd {
    pub binary: String,
    pub version: String,
}

impl CampaignTarget {
    pub fn is_sim(&self) -> bool {
        *self == CampaignTarget::Sim
    }

    /// For messages: `the simulation`, `etcd 3.4.23 (/usr/bin/etcd)`.
    pub fn describe(&self) -> String {
        match self {
            CampaignTarget::Sim => "the simulation".to_string(),
            CampaignTarget::Etcd(e) => {
                let old = e
                    .old
                    .as_ref()
                    .map(|o| format!(" and old etcd {} ({})", o.version, o.binary))
                    .unwrap_or_default();
                format!("etcd {} ({}){old}", e.version, e.binary)
            }
        }
    }

    /// Whether a restart asking for `asked` continues this campaign: the
    /// same kind of target and, for real etcd, the same versions. The
    /// binaries' paths may differ (the same version moved elsewhere).
    pub fn same_as(&self, asked: &CampaignTarget) -> bool {
        match (self, asked) {
            (CampaignTarget::Sim, CampaignTarget::Sim) => true,
            (CampaignTarget::Etcd(a), CampaignTarget::Etcd(b)) => {
                a.version == b.version
                    && a.old.as_ref().map(|o| &o.version) == b.old.as_ref().map(|o| &o.version)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etcd(version: &str, binary: &str) -> CampaignTarget {
        CampaignTarget::Etcd(EtcdBinaries {
            binary: binary.into(),
            version: version.into(),
            old: None,
        })
    }

    #[test]
    fn a_real_target_is_one_typed_field() {
        let json = serde_json::to_string(&etcd("3.4.23", "/usr/bin/etcd")).expect("encodes");
        assert_eq!(
            json,
            r#"{"kind":"etcd","binary":"/usr/bin/etcd","version":"3.4.23"}"#
        );
        let back: CampaignTarget = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, etcd("3.4.23", "/usr/bin/etcd"));
    }

    #[test]
    fn versions_decide_the_same_target_not_paths() {
        let a = etcd("3.4.23", "/usr/bin/etcd");
        assert!(a.same_as(&etcd("3.4.23", "/opt/etcd")));
        assert!(!a.same_as(&etcd("3.5.0", "/usr/bin/etcd")));
        assert!(!a.same_as(&CampaignTarget::Sim));
        assert!(!CampaignTarget::Sim.same_as(&a));
        let mut with_old = a.clone();
        if let CampaignTarget::Etcd(e) = &mut with_old {
            e.old = Some(OldEtcd {
                binary: "/opt/etcd-3.4.20".into(),
                version: "3.4.20".into(),
            });
        }
        assert!(!a.same_as(&with_old));
    }
}
