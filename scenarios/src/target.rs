//! Who a fault or operator step hits: the leader, a follower, any member,
//! all of them, or one named member. Resolved against the cluster when the
//! step fires (`Control::resolve`), since who leads changes during a run.

/// Who a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Leader,
    Follower,
    Random,
    All,
    Member(u64),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        Ok(match s {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "random" => Target::Random,
            "all" => Target::All,
            m if m.starts_with('m') => Target::Member(m[1..].parse().map_err(|_| {
                format!("expected leader, follower, random, all or m1..m5, got {s:?}")
            })?),
            _ => {
                return Err(format!(
                    "expected leader, follower, random, all or m1..m5, got {s:?}"
                ));
            }
        })
    }
}
