//! Store versions (3.5, 3.6, 3.7) as runtime values.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A `major.minor` version of the store. Every version the store knows is
/// compiled into the same binary; a member runs one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const V3_5: Version = Version::new(3, 5);
    pub const V3_6: Version = Version::new(3, 6);
    pub const V3_7: Version = Version::new(3, 7);
    /// Every version this binary can run, oldest first.
    pub const SUPPORTED: [Version; 3] = [Version::V3_5, Version::V3_6, Version::V3_7];
    /// The newest version this binary can run.
    pub const LATEST: Version = Version::V3_7;

    pub const fn new(major: u32, minor: u32) -> Self {
        Version { major, minor }
    }

    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// The next minor version, if this binary knows it.
    pub fn next(self) -> Option<Version> {
        let v = Version::new(self.major, self.minor + 1);
        v.is_supported().then_some(v)
    }

    /// The previous minor version, if this binary knows it.
    pub fn previous(self) -> Option<Version> {
        let v = Version::new(self.major, self.minor.checked_sub(1)?);
        v.is_supported().then_some(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version {0:?}: expected MAJOR.MINOR such as 3.6")]
pub struct ParseVersionError(pub String);

impl FromStr for Version {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_string());
        let mut parts = s.trim().split('.');
        let major = parts.next().ok_or_else(err)?.parse().map_err(|_| err())?;
        let minor = parts.next().ok_or_else(err)?.parse().map_err(|_| err())?;
        // Accept a patch component ("3.6.0") as etcd writes it, ignoring it.
        if let Some(patch) = parts.next() {
            patch.parse::<u32>().map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Version { major, minor })
    }
}

impl TryFrom<String> for Version {
    type Error = ParseVersionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        assert_eq!("3.6".parse::<Version>(), Ok(Version::V3_6));
        assert_eq!("3.6.0".parse::<Version>(), Ok(Version::V3_6));
        assert!("3".parse::<Version>().is_err());
        assert!("x.6".parse::<Version>().is_err());
        assert!("3.6.0.1".parse::<Version>().is_err());
        assert!(Version::V3_5 < Version::V3_6 && Version::V3_6 < Version::V3_7);
        assert_eq!(Version::V3_5.next(), Some(Version::V3_6));
        assert_eq!(Version::V3_7.next(), None);
        assert_eq!(Version::V3_5.previous(), None);
        assert_eq!(Version::V3_7.to_string(), "3.7");
    }
}
