//! A step's fields as one fault kind reads them. Each read is noted, so
//! that a field the kind never read can be refused afterwards (a
//! `quota_kb` on a crash is a mistake in the file, not something to
//! ignore), and the readers shared by many kinds (target, duration,
//! latency, rate, version) give the same defaults and errors everywhere.

use crate::schema::FaultStep;
use crate::target::Target;
use node::version::Version;
use std::cell::RefCell;
use std::time::Duration;

/// Reads a field of the step, noting it as used by this kind:
/// `field!(fields, count)` is `step.count`.
macro_rules! field {
    ($fields:expr, $name:ident) => {
        $fields.take(stringify!($name), &$fields.step().$name)
    };
}
pub(crate) use field;

pub struct Fields<'a> {
    step: &'a FaultStep,
    read: RefCell<Vec<&'static str>>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl<'a> Fields<'a> {
    pub fn of(step: &'a FaultStep) -> Fields<'a> {
        Fields {
            step,
            read: RefCell::new(Vec::new()),
        }
    }

    pub fn step(&self) -> &'a FaultStep {
        self.step
    }

    /// A field's value, noted as read (use `field!`).
    pub fn take<T: Clone>(&self, name: &'static str, value: &Option<T>) -> Option<T> {
        self.read.borrow_mut().push(name);
        value.clone()
    }

    pub fn was_read(&self, name: &str) -> bool {
        self.read.borrow().contains(&name)
    }

    /// `target`, `random` when not given.
    pub fn target(&self) -> Result<Target, String> {
        match field!(self, target) {
            Some(t) => Target::parse(&t).map_err(|e| format!("target: {e}")),
            None => Ok(Target::Random),
        }
    }

    /// `duration_s`, or `default_s`.
    pub fn duration(&self, default_s: f64) -> Duration {
        secs(field!(self, duration_s).unwrap_or(default_s))
    }

    /// `restart_after_s`, 1 s when not given.
    pub fn restart_after(&self) -> Duration {
        secs(field!(self, restart_after_s).unwrap_or(1.0))
    }

    /// `hold_s`, 0 when not given.
    pub fn hold(&self) -> Duration {
        secs(field!(self, hold_s).unwrap_or(0.0))
    }

    /// `period_s`, or `default_s`.
    pub fn period(&self, default_s: f64) -> Duration {
        secs(field!(self, period_s).unwrap_or(default_s))
    }

    /// `version`, which the kind requires.
    pub fn version(&self) -> Result<Version, String> {
        field!(self, version).ok_or_else(|| "version: required for this kind".to_string())
    }

    /// `latency_ms = [min, max]` (max at least min + 1 ms).
    pub fn latency(&self, default: [u64; 2]) -> Result<(Duration, Duration), String> {
        let [lo, hi] = field!(self, latency_ms).unwrap_or(default);
        if lo > hi {
            return Err(format!("latency_ms: min {lo} is above max {hi}"));
        }
        Ok((
            Duration::from_millis(lo),
            Duration::from_millis(hi.max(lo + 1)),
        ))
    }

    /// `rate`, a probability.
    pub fn rate(&self, default: f64) -> Result<f64, String> {
        let r = field!(self, rate).unwrap_or(default);
        if !(0.0..=1.0).contains(&r) {
            return Err(format!(
                "rate: expected a probability between 0 and 1, got {r}"
            ));
        }
        Ok(r)
    }

    /// `expect_refusal`, false when not given.
    pub fn expect_refusal(&self) -> bool {
        field!(self, expect_refusal).unwrap_or(false)
    }
}
