//! The time axis of the timeline: simulated nanoseconds to a percentage of
//! the track width, and tick marks at round numbers of seconds.

/// Maps `[0, end_ns]` onto `[0%, 100%]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub end_ns: u64,
}

impl Scale {
    /// A scale ending at `end_ns` (at least 1 ns, so nothing divides by zero).
    pub fn new(end_ns: u64) -> Self {
        Scale {
            end_ns: end_ns.max(1),
        }
    }

    /// The position of a time as a CSS percentage, e.g. `12.3456%`.
    pub fn left(&self, ns: u64) -> String {
        format!("{:.4}%", self.fraction(ns) * 100.0)
    }

    /// The width of `[from, to]` as a CSS percentage.
    pub fn width(&self, from: u64, to: u64) -> String {
        let w = (self.fraction(to) - self.fraction(from)).max(0.0);
        format!("{:.4}%", w * 100.0)
    }

    /// Where a time falls, from 0.0 (start) to 1.0 (end).
    pub fn fraction(&self, ns: u64) -> f64 {
        (ns.min(self.end_ns) as f64) / (self.end_ns as f64)
    }

    /// Tick times: a round step (1, 2 or 5 times a power of ten ns) giving
    /// about `wanted` ticks, from 0 up to the end.
    pub fn ticks(&self, wanted: u64) -> (u64, Vec<u64>) {
        let step = nice_step(self.end_ns / wanted.max(1));
        let ticks = (0..)
            .map(|i| i * step)
            .take_while(|&t| t <= self.end_ns)
            .collect();
        (step, ticks)
    }
}

/// The smallest of 1, 2, 5 x 10^k that is at least `raw` (and at least 1).
fn nice_step(raw: u64) -> u64 {
    let mut power = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            if step >= raw.max(1) {
                return step;
            }
        }
        match power.checked_mul(10) {
            Some(p) => power = p,
            None => return u64::MAX,
        }
    }
}

/// A tick label in seconds with as many decimals as the step needs.
pub(crate) fn tick_label(ns: u64, step: u64) -> String {
    let decimals = match step {
        s if s >= 1_000_000_000 => 0,
        s if s >= 100_000_000 => 1,
        s if s >= 10_000_000 => 2,
        s if s >= 1_000_000 => 3,
        s if s >= 100_000 => 4,
        s if s >= 10_000 => 5,
        _ => 6,
    };
    format!("{:.*}s", decimals, ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let scale = Scale::new(10_300_000_000);
        let (step, ticks) = scale.ticks(10);
        assert_eq!(step, 2_000_000_000);
        assert_eq!(ticks.len(), 6);
        assert_eq!(tick_label(ticks[1], step), "2s");
        assert_eq!(scale.left(scale.end_ns), "100.0000%");
        assert_eq!(scale.left(5_150_000_000), "50.0000%");
        assert_eq!(scale.width(0, u64::MAX), "100.0000%");
        assert_eq!(tick_label(1_500_000, 500_000), "0.0015s");
        assert_eq!(Scale::new(0).end_ns, 1);
    }
}
