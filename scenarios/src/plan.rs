//! The fault plan as the engine runs it: every `[[faults]]` step parsed
//! once into typed values (its fault, its condition, when it starts), in
//! the order the engine fires them. Loading a scenario builds it to check
//! the file; the engine builds it again from the seed's variant and never
//! looks at the text of a step.

use std::time::Duration;

use crate::conditions::{self, Condition};
use crate::faults::{self, Fault};
use crate::schema::FaultStep;

/// One step, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// Its position in the scenario's `[[faults]]` list.
    pub index: usize,
    /// Simulated time from the start at which it may fire.
    pub at: Duration,
    /// It fires only once this holds (checked from `at` on).
    pub when: Option<Condition>,
    /// Not running before the run ends is a `plan.required-step` violation.
    pub required: bool,
    pub fault: Fault,
}

/// The steps of a scenario, earliest first (ties in file order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
}

/// A step that cannot run, naming it and the field: `faults[2].rate: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("faults[{index}].{message}")]
pub struct PlanError {
    pub index: usize,
    pub message: String,
}

impl Plan {
    /// Parses every step. Numbers are expected within the bounds the
    /// scenario loader enforces (`at_s` is a finite number of seconds).
    pub fn of(faults: &[FaultStep]) -> Result<Plan, PlanError> {
        let mut steps = faults
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let error = |message: String| PlanError { index, message };
                let at = Duration::try_from_secs_f64(step.at_s.unwrap_or(0.0).max(0.0))
                    .map_err(|e| error(format!("at_s: {e}")))?;
                let when = step
                    .when
                    .as_deref()
                    .map(conditions::parse)
                    .transpose()
                    .map_err(|m| error(format!("when: {m}")))?;
                Ok(PlannedStep {
                    index,
                    at,
                    when,
                    required: step.required.unwrap_or(false),
                    fault: faults::parse(step).map_err(error)?,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        steps.sort_by_key(|s| (s.at, s.index));
        Ok(Plan { steps })
    }

    pub fn faults(&self) -> impl Iterator<Item = &Fault> {
        self.steps.iter().map(|s| &s.fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: &str, at_s: f64) -> FaultStep {
        FaultStep {
            kind: kind.into(),
            at_s: Some(at_s),
            ..Default::default()
        }
    }

    #[test]
    fn steps_run_earliest_first_and_ties_in_file_order() {
        let plan = Plan::of(&[
            step("defrag", 3.0),
            step("crash", 1.0),
            step("compact", 1.0),
        ])
        .expect("valid");
        let order: Vec<usize> = plan.steps.iter().map(|s| s.index).collect();
        assert_eq!(order, vec![1, 2, 0]);
        assert_eq!(plan.steps[0].at, Duration::from_secs(1));
    }

    #[test]
    fn conditions_are_parsed_once_and_errors_name_the_step() {
        let mut waits = step("crash", 0.0);
        waits.when = Some("revision >= 100".into());
        waits.required = Some(true);
        let plan = Plan::of(std::slice::from_ref(&waits)).expect("valid");
        assert_eq!(plan.steps[0].when, Some(Condition::RevisionAtLeast(100)));
        assert!(plan.steps[0].required);

        waits.when = Some("revision > 100".into());
        let err = Plan::of(&[step("crash", 0.0), waits]).expect_err("bad condition");
        assert_eq!(err.index, 1);
        assert!(err.to_string().starts_with("faults[1].when:"), "{err}");
        let err = Plan::of(&[step("meteor", 0.0)]).expect_err("bad kind");
        assert!(err.to_string().starts_with("faults[0].kind:"), "{err}");
    }
}
