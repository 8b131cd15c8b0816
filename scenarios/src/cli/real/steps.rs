//! The companion's notes of its fault steps, read once: each step of the
//! plan leaves an annotation `faults[N] KIND: what it did`, or `faults[N]
//! KIND: not applied: why` when the cluster's state left nothing to do.

use checker::history::History;

/// One fault step as the companion noted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::cli) struct StepNote {
    pub index: usize,
    pub kind: String,
    pub applied: bool,
}

impl StepNote {
    /// `faults[N] KIND: TEXT`, or None for another note.
    pub fn parse(text: &str) -> Option<StepNote> {
        let rest = text.strip_prefix("faults[")?;
        let (index, rest) = rest.split_once("] ")?;
        let (kind, what) = rest.split_once(": ")?;
        Some(StepNote {
            index: index.parse().ok()?,
            kind: kind.to_string(),
            applied: !what.starts_with("not applied: "),
        })
    }

    /// Every step note of a history, in the order noted.
    pub fn all(history: &History) -> impl Iterator<Item = StepNote> + '_ {
        history
            .annotations
            .iter()
            .filter_map(|a| StepNote::parse(&a.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_notes_read_their_index_kind_and_whether_they_applied() {
        assert_eq!(
            StepNote::parse("faults[2] crash: killed m1 (leader)"),
            Some(StepNote {
                index: 2,
                kind: "crash".into(),
                applied: true
            })
        );
        assert_eq!(
            StepNote::parse("faults[0] restart: not applied: every member is up"),
            Some(StepNote {
                index: 0,
                kind: "restart".into(),
                applied: false
            })
        );
        assert_eq!(StepNote::parse("cluster started"), None);
        assert_eq!(StepNote::parse("faults[x] crash: y"), None);
    }
}
