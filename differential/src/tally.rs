//! Agreement counted per request kind over many sequences, and every
//! difference kept with the step that shows it.

use crate::answer::{Answer, Answers, ServerExit};
use crate::compare::{Difference, compare};
use crate::step::{Kind, Sequence, Step};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCount {
    pub requests: u64,
    /// Every field equal.
    pub equal: u64,
    /// Equal except for fields an exclusion covers.
    pub excluded: u64,
    pub differing: u64,
}

/// One step on which the stores disagree.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub seed: u64,
    /// Index of the step in its sequence.
    pub step: usize,
    pub request: Step,
    pub ours: Answer,
    pub theirs: Answer,
    pub differences: Vec<Difference>,
}

/// A request the real server's process ended on.
#[derive(Debug, Clone, Serialize)]
pub struct Crash {
    pub seed: u64,
    pub step: usize,
    pub request: Step,
    /// The server's last log lines.
    pub log: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub kinds: BTreeMap<Kind, KindCount>,
    /// How many differences each exclusion covered.
    pub exclusions: BTreeMap<String, u64>,
    pub disagreements: Vec<Disagreement>,
    /// Requests the real server ended on; from each on, its sequence is
    /// not compared.
    pub crashes: Vec<Crash>,
    /// Steps left uncompared because the real server had ended.
    pub not_compared: u64,
}

impl Tally {
    /// Compares one sequence's answers and adds them in. A step one side
    /// has no answer for (its run ended early) is a difference, never
    /// skipped; only where the real server's process ended (`theirs`
    /// says at which step) is the rest of the sequence left out, and the
    /// request it ended on kept as a crash.
    pub fn add(&mut self, sequence: &Sequence, ours: &Answers, theirs: &Answers) {
        let compared = match &theirs.exited {
            Some(ServerExit { step, log }) if *step < sequence.steps.len() => {
                self.crashes.push(Crash {
                    seed: sequence.seed,
                    step: *step,
                    request: sequence.steps[*step].clone(),
                    log: log.clone(),
                });
                self.not_compared += (sequence.steps.len() - step) as u64;
                *step
            }
            _ => sequence.steps.len(),
        };
        for (i, step) in sequence.steps.iter().enumerate().take(compared) {
            let (a, b) = (answer_at(ours, i), answer_at(theirs, i));
            let verdict = compare(step, &a, &b);
            let count = self.kinds.entry(step.kind()).or_default();
            count.requests += 1;
            if verdict.differences.is_empty() {
                count.equal += 1;
            } else if verdict.agrees() {
                count.excluded += 1;
            } else {
                count.differing += 1;
            }
            for name in verdict.exclusions() {
                *self.exclusions.entry(name.to_string()).or_default() += 1;
            }
            if !verdict.agrees() {
                self.disagreements.push(Disagreement {
                    seed: sequence.seed,
                    step: i,
                    request: step.clone(),
                    ours: a.into_owned(),
                    theirs: b.into_owned(),
                    differences: verdict.differences,
                });
            }
        }
    }

    pub fn requests(&self) -> u64 {
        self.kinds.values().map(|c| c.requests).sum()
    }

    pub fn agreeing(&self) -> u64 {
        self.kinds.values().map(|c| c.equal + c.excluded).sum()
    }

    /// The agreement table, a line per request kind.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<20} {:>8} {:>8} {:>9} {:>9} {:>9}\n",
            "kind", "requests", "equal", "excluded", "differing", "agreement"
        );
        for kind in Kind::ALL {
            let c = self.kinds.get(&kind).copied().unwrap_or_default();
            out.push_str(&format!(
                "{:<20} {:>8} {:>8} {:>9} {:>9} {:>9}\n",
                kind.name(),
                c.requests,
                c.equal,
                c.excluded,
                c.differing,
                percent(c.equal + c.excluded, c.requests)
            ));
        }
        out.push_str(&format!(
            "{:<20} {:>8} {:>38}\n",
            "all",
            self.requests(),
            percent(self.agreeing(), self.requests())
        ));
        out
    }
}

/// The answer to step `i`, or one saying there was none.
fn answer_at(answers: &Answers, i: usize) -> Cow<'_, Answer> {
    match answers.answers.get(i) {
        Some(a) => Cow::Borrowed(a),
        None => Cow::Owned(Answer::Error {
            code: crate::answer::Code::Unknown,
            message: format!(
                "no answer: {} answered {} steps",
                answers.server,
                answers.answers.len()
            ),
        }),
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{Body, Reply};
    use crate::step::Step;

    #[test]
    fn a_step_one_side_did_not_answer_is_a_difference() {
        let sequence = Sequence {
            seed: 1,
            steps: vec![Step::Status, Step::LeaseLeases],
        };
        let leases = Answer::Ok(Reply {
            revision: 1,
            body: Body::LeaseLeases { leases: vec![] },
        });
        let status = Answer::Ok(Reply {
            revision: 1,
            body: Body::Status {
                version: "3.5".into(),
                db_size: 0,
                raft_index: 1,
                raft_term: 1,
                is_learner: false,
                errors: vec![],
            },
        });
        let full = Answers {
            seed: 1,
            server: "etcd".into(),
            answers: vec![status.clone(), leases],
            wall_ms: 0.0,
            exited: None,
        };
        let short = Answers {
            seed: 1,
            server: "store".into(),
            answers: vec![status],
            wall_ms: 0.0,
            exited: None,
        };
        let mut tally = Tally::default();
        tally.add(&sequence, &short, &full);
        assert_eq!(tally.requests(), 2);
        assert_eq!(tally.disagreements.len(), 1);
        assert_eq!(tally.disagreements[0].step, 1);
        assert_eq!(tally.disagreements[0].differences[0].field, "outcome");

        // The real server ended on the second request: that request is a
        // crash, and nothing from it on is compared.
        let ended = Answers {
            exited: Some(ServerExit {
                step: 1,
                log: "panic: unexpected error during txn".into(),
            }),
            ..short.clone()
        };
        let mut tally = Tally::default();
        tally.add(&sequence, &full, &ended);
        assert_eq!(tally.requests(), 1);
        assert!(tally.disagreements.is_empty());
        assert_eq!(tally.not_compared, 1);
        assert_eq!(tally.crashes.len(), 1);
        assert_eq!(tally.crashes[0].request, Step::LeaseLeases);
    }
}
