//! Swarm mode (BUGGIFY-style): each seed enables a random subset of fault
//! kinds at random times and draws its own store knobs, so one scenario
//! explores many combinations. The variant depends only on the seed.

use crate::faults::FaultKind;
use crate::schema::{FaultStep, Scenario};
use crate::seeds::Streams;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Kinds swarm mode draws from when the scenario names none, in registry
/// order.
pub fn default_kinds() -> Vec<FaultKind> {
    FaultKind::ALL
        .iter()
        .copied()
        .filter(|k| k.swarm_default())
        .collect()
}

/// Whether swarm mode can draw a step of this kind (with the parameters it
/// draws itself: a failpoint's name and action, or the kind's defaults).
pub fn drawable(kind: FaultKind) -> bool {
    let bare = FaultStep {
        kind: kind.name().to_string(),
        ..Default::default()
    };
    kind == FaultKind::Failpoint || crate::faults::parse(&bare).is_ok()
}

/// A failpoint step as etcd's robustness tests pick one: any failpoint,
/// most often a crash, sometimes a sleep that stalls that code path.
fn draw_failpoint(rng: &mut ChaCha8Rng, step: &mut FaultStep) {
    // Drawn by position in `Failpoint::ALL`, whose order is fixed.
    step.failpoint = node::failpoint::Failpoint::ALL
        .choose(rng)
        .map(|p| p.name().to_string());
    if rng.gen_bool(0.7) {
        step.action = Some("crash".into());
        step.times = Some(1);
    } else {
        step.action = Some("sleep".into());
        step.sleep_ms = Some(rng.gen_range(50..800));
        step.times = Some(rng.gen_range(1..=10));
    }
}

/// A step of `kind` as swarm mode draws one: at a time in [0.5 s,
/// `horizon`), on the leader, a follower or a random member, lasting
/// 0.3-3 s, restarted after 0.2-2 s; a failpoint's name and action drawn
/// too; fields the kind does not use cleared. (The explorer draws its new
/// steps here as well.)
pub fn draw_step(rng: &mut ChaCha8Rng, kind: FaultKind, horizon: f64) -> FaultStep {
    let targets = ["leader", "follower", "random"];
    let mut step = FaultStep {
        kind: kind.name().to_string(),
        at_s: Some(rng.gen_range(0.5..horizon.max(0.6))),
        target: targets.choose(rng).map(|t| t.to_string()),
        duration_s: Some(rng.gen_range(0.3..3.0)),
        restart_after_s: Some(rng.gen_range(0.2..2.0)),
        ..Default::default()
    };
    if kind == FaultKind::Failpoint {
        draw_failpoint(rng, &mut step);
    }
    crate::faults::clear_unused(&mut step);
    step
}

/// The scenario as this seed runs it: a general scenario draws the store
/// knobs it leaves open (`crate::knobs`), and swarm mode draws its faults.
pub fn variant(scenario: &Scenario, seed: u64) -> Scenario {
    let mut out = scenario.clone();
    if scenario.purpose.is_general() && scenario.cluster.draw_knobs {
        let mut rng = Streams::of(seed).knobs();
        crate::knobs::draw_unpinned(
            &mut rng,
            &mut out.cluster.knobs,
            &scenario.cluster.pinned_knobs,
        );
    }
    let Some(swarm) = &scenario.swarm else {
        return out;
    };
    let mut rng = Streams::of(seed).swarm();
    let pool: Vec<FaultKind> = if swarm.kinds.is_empty() {
        default_kinds()
    } else {
        swarm.kinds.clone()
    };
    // A random subset of kinds, then a random number of steps from it.
    let mut enabled: Vec<FaultKind> = pool.iter().filter(|_| rng.gen_bool(0.5)).copied().collect();
    if enabled.is_empty()
        && let Some(&k) = pool.choose(&mut rng)
    {
        enabled.push(k);
    }
    let steps = rng.gen_range(1..=swarm.max_faults.max(1));
    let horizon = (scenario.duration_s * 0.8).max(0.5);
    for _ in 0..steps {
        let Some(&kind) = enabled.choose(&mut rng) else {
            break;
        };
        out.faults.push(draw_step(&mut rng, kind, horizon));
    }
    if swarm.randomize_knobs {
        let k = &mut out.cluster.knobs;
        for knob in crate::knobs::DrawnKnob::ALL {
            knob.draw(&mut rng, k);
        }
        k.election_ticks = rng.gen_range(5..20);
        k.heartbeat_ticks = 1;
        k.progress_notify_interval_ms =
            *[100u64, 500, 1000, 5000].choose(&mut rng).unwrap_or(&1000);
        k.max_snapshot_files = rng.gen_range(1..4);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SwarmSpec;
    use rand::SeedableRng;

    fn swarm_scenario() -> Scenario {
        let mut s: Scenario = toml::from_str("name = \"s\"").expect("minimal scenario");
        s.swarm = Some(SwarmSpec::default());
        s
    }

    #[test]
    fn variants_are_reproducible_per_seed_and_differ_across_seeds() {
        let s = swarm_scenario();
        assert_eq!(variant(&s, 7), variant(&s, 7));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|seed| format!("{:?}", variant(&s, seed).faults))
            .collect();
        assert!(
            distinct.len() > 15,
            "only {} distinct fault plans in 20 seeds",
            distinct.len()
        );
        for seed in 0..20 {
            let v = variant(&s, seed);
            assert!(!v.faults.is_empty());
            assert_eq!(v.cluster.knobs.validate(), Ok(()));
            for f in &v.faults {
                crate::faults::parse(f).expect("swarm draws only valid steps");
            }
        }
    }

    #[test]
    fn every_default_kind_is_drawable_and_failpoints_get_a_name_and_action() {
        assert!(default_kinds().into_iter().all(drawable));
        assert!(!drawable(FaultKind::SwapVersion));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let mut step = FaultStep {
                kind: "failpoint".into(),
                ..Default::default()
            };
            draw_failpoint(&mut rng, &mut step);
            crate::faults::parse(&step).expect("a drawn failpoint step is valid");
        }
    }

    #[test]
    fn no_swarm_and_no_knob_draw_means_no_change() {
        let mut s: Scenario = toml::from_str("name = \"s\"").expect("minimal scenario");
        s.cluster.draw_knobs = false;
        assert_eq!(variant(&s, 3), s);
    }

    #[test]
    fn a_general_scenario_draws_its_open_knobs_per_seed_and_keeps_pinned_ones() {
        let s = crate::catalog::parse(
            "t.toml",
            "name = \"t\"\n[cluster.knobs]\nsnapshot_count = 33\n",
        )
        .expect("valid scenario");
        assert!(
            s.cluster
                .pinned_knobs
                .contains(&crate::knobs::DrawnKnob::SnapshotCount)
        );
        let limits: std::collections::BTreeSet<usize> = (0..50)
            .map(|seed| variant(&s, seed))
            .inspect(|v| assert_eq!(v.cluster.knobs.snapshot_count, 33))
            .map(|v| v.cluster.knobs.backend_batch_limit)
            .collect();
        assert!(limits.len() > 1, "batch limits drawn: {limits:?}");
        assert_eq!(variant(&s, 9), variant(&s, 9));
        let mut trigger = s.clone();
        trigger.purpose = crate::schema::Purpose::BugTrigger;
        assert_eq!(variant(&trigger, 9), trigger, "triggers run as written");
    }
}
