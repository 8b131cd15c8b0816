//! Turns a step's relative revisions into numbers, from what this side's
//! client has seen. Both executors use the same resolver, so a step means
//! the same thing to both stores as long as their answers agree.

use crate::answer::Answer;
use crate::step::{Rev, Step};

#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// The newest header revision seen.
    head: i64,
    /// The revision of the last Compact that succeeded.
    compacted: i64,
}

impl Resolver {
    pub fn rev(&self, rev: Rev) -> i64 {
        match rev {
            Rev::Zero => 0,
            Rev::Head(offset) => self.head.saturating_add(offset).max(0),
            Rev::Compacted(offset) => self.compacted.saturating_add(offset).max(0),
        }
    }

    /// Takes in a step's answer.
    pub fn observe(&mut self, step: &Step, answer: &Answer) {
        let Answer::Ok(reply) = answer else { return };
        if let Step::Compact { revision, .. } = step {
            // Resolved as it was sent, before this answer moves the head.
            self.compacted = self.rev(*revision).max(self.compacted);
        }
        self.head = self.head.max(reply.revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{Body, Reply};

    proptest::proptest! {
        /// No revision a step names resolves below 0, whatever was seen
        /// and whatever the offset (no overflow either).
        #[test]
        fn resolved_revisions_are_never_negative(
            seen in proptest::prelude::any::<i64>(),
            offset in proptest::prelude::any::<i64>(),
        ) {
            let mut r = Resolver::default();
            r.observe(&Step::Status, &ok(seen));
            r.observe(&Step::Compact { revision: Rev::Head(offset), physical: false }, &ok(seen));
            for rev in [Rev::Zero, Rev::Head(offset), Rev::Compacted(offset)] {
                proptest::prop_assert!(r.rev(rev) >= 0);
            }
        }
    }

    fn ok(revision: i64) -> Answer {
        Answer::Ok(Reply {
            revision,
            body: Body::Compact,
        })
    }

    #[test]
    fn revisions_follow_what_was_seen() {
        let mut r = Resolver::default();
        assert_eq!(r.rev(Rev::Head(-3)), 0, "never negative");
        r.observe(&Step::Status, &ok(10));
        assert_eq!(r.rev(Rev::Head(2)), 12);
        assert_eq!(r.rev(Rev::Zero), 0);
        let compact = Step::Compact {
            revision: Rev::Head(-4),
            physical: false,
        };
        r.observe(&compact, &ok(10));
        assert_eq!(r.rev(Rev::Compacted(0)), 6);
        assert_eq!(r.rev(Rev::Compacted(-1)), 5);
        // A refused compaction moves nothing.
        let refused = Answer::Error {
            code: crate::answer::Code::OutOfRange,
            message: "compacted".into(),
        };
        r.observe(
            &Step::Compact {
                revision: Rev::Head(0),
                physical: false,
            },
            &refused,
        );
        assert_eq!(r.rev(Rev::Compacted(0)), 6);
    }
}
