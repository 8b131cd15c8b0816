//! How the explorer changes a scenario: add, drop or redraw a fault step,
//! move it in time, swap its target, redraw a store knob, change the
//! traffic (rate, clients, keys, an operation's weight, another profile),
//! change the cluster size, compress or stretch the timeline, or splice in
//! another corpus entry's faults.
//! Every mutation keeps the scenario valid (`catalog::validate`) and says
//! what it did in one line, which the explorer logs.

use super::timescale;
use crate::faults::FaultKind;
use crate::knobs::DrawnKnob;
use crate::schema::{FaultStep, Profile, Scenario, TrafficSpec};
use crate::swarm;
use crate::traffic::etcd::OPS;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Fault steps a mutated scenario keeps at most (a plan that only grows
/// would make every run slower and every failure harder to read).
pub const MAX_STEPS: usize = 12;

/// Traffic a mutation may grow to (unless the scenario has more already):
/// profiles, clients per profile and requests per second per client. Beyond the catalog's own heaviest
/// scenarios a run costs more than the interleavings it adds are worth.
const MAX_TRAFFIC: usize = 3;
const MAX_CLIENTS: i64 = 8;
const MAX_RATE: f64 = 200.0;

/// Tries before a candidate gives up on a change that keeps it valid.
const ATTEMPTS: usize = 16;

/// The kinds the explorer may add: every kind a step can be drawn for
/// without parameters (swarm's default pool and the disk faults and
/// member replacement it leaves out), version procedures excepted.
pub fn addable_kinds() -> Vec<FaultKind> {
    FaultKind::ALL
        .iter()
        .copied()
        .filter(|&k| swarm::drawable(k) && !k.is_procedure())
        .collect()
}

/// The window fault steps are drawn in: as swarm mode's.
fn horizon(s: &Scenario) -> f64 {
    (s.duration_s * 0.8).max(0.5)
}

/// Applies one random mutation that leaves `s` valid and returns what it
/// did, or None when no attempt did (then `s` is unchanged). `donor` is
/// another corpus entry to splice faults from.
pub fn mutate(rng: &mut ChaCha8Rng, s: &mut Scenario, donor: Option<&Scenario>) -> Option<String> {
    for _ in 0..ATTEMPTS {
        let mut candidate = s.clone();
        let Some(what) = one(rng, &mut candidate, donor) else {
            continue;
        };
        // A required step (a downgrade's storage must follow) is a promise
        // about the plan as written: with faults, traffic or knobs changed
        // around it, its condition may rightly never hold. The mutant
        // keeps the step, as one that may not run.
        for step in &mut candidate.faults {
            step.required = None;
        }
        if candidate != *s && crate::catalog::validate(&candidate).is_ok() {
            *s = candidate;
            return Some(what);
        }
    }
    None
}

/// One mutation drawn by weight, unchecked. A scenario that expects an
/// outcome of its own plan is only given other knobs.
fn one(rng: &mut ChaCha8Rng, s: &mut Scenario, donor: Option<&Scenario>) -> Option<String> {
    if s.faults.iter().any(expects_outcome) {
        return redraw_knob(rng, s);
    }
    match rng.gen_range(0..100) {
        0..20 => add_fault(rng, s),
        20..30 => drop_fault(rng, s),
        30..42 => redraw_fault(rng, s),
        42..54 => move_fault(rng, s),
        54..64 => swap_target(rng, s),
        64..76 => redraw_knob(rng, s),
        76..88 => change_traffic(rng, s),
        88..92 => resize_cluster(rng, s),
        92..96 => rescale_timeline(rng, s),
        _ => splice(rng, s, donor?),
    }
}

fn add_fault(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    if s.faults.len() >= MAX_STEPS {
        return None;
    }
    let kind = *addable_kinds().choose(rng)?;
    let step = swarm::draw_step(rng, kind, horizon(s));
    let at = step.at_s.unwrap_or(0.0);
    s.faults.push(step);
    Some(format!("add {kind} at {at:.1}s"))
}

/// Whether a step is part of an operator's procedure
/// ([`FaultKind::is_procedure`]): moved, dropped or spliced elsewhere it
/// tests the plan, not the store. The explorer keeps such steps as the
/// scenario wrote them (but for the whole timeline's scale, which moves
/// them with everything else) and explores around them.
pub fn is_procedure(step: &FaultStep) -> bool {
    step.kind
        .parse::<FaultKind>()
        .is_ok_and(FaultKind::is_procedure)
}

/// Whether a step demands that something its scenario set up happens: an
/// alarm the plan's full disk must raise (`alarm_disarm` with `expect`), a
/// corruption the check must find with the clients stopped first
/// (`corrupt_backend`), a refusal the data must cause (`expect_refusal`).
/// Such a step holds only for the plan and traffic as written: with a
/// fault moved or retargeted, or traffic added, the expectation fails and
/// the store is not at fault. So the explorer leaves
/// the faults and traffic of such a scenario alone (it still draws its
/// knobs), and never splices such a step into another.
pub fn expects_outcome(step: &FaultStep) -> bool {
    if step.expect_refusal == Some(true) {
        // A refusal follows from the member's data as the plan left it: a
        // member replaced or crashed by an added fault may start fine.
        return true;
    }
    match step.kind.parse::<FaultKind>() {
        Ok(FaultKind::CorruptBackend) => true,
        Ok(FaultKind::AlarmDisarm) => step.expect.is_some(),
        _ => false,
    }
}

/// A step the explorer may change (not part of a version procedure).
fn pick_step(rng: &mut ChaCha8Rng, s: &Scenario) -> Option<usize> {
    let free: Vec<usize> = (0..s.faults.len())
        .filter(|&i| !is_procedure(&s.faults[i]))
        .collect();
    free.choose(rng).copied()
}

fn drop_fault(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let i = pick_step(rng, s)?;
    let step = s.faults.remove(i);
    Some(format!("drop faults[{i}] ({})", step.kind))
}

/// A new step of the same kind in the same place: new timing, target and
/// parameters.
fn redraw_fault(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let i = pick_step(rng, s)?;
    let kind: FaultKind = s.faults[i].kind.parse().ok()?;
    if !swarm::drawable(kind) {
        return None;
    }
    s.faults[i] = swarm::draw_step(rng, kind, horizon(s));
    Some(format!("redraw faults[{i}] ({kind})"))
}

fn move_fault(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let i = pick_step(rng, s)?;
    let horizon = horizon(s);
    let step = &mut s.faults[i];
    let was = step.at_s.unwrap_or(0.0);
    // Mostly a nudge (the same moment seen a little earlier or later),
    // sometimes anywhere.
    let at = if rng.gen_bool(0.7) {
        (was + rng.gen_range(-1.5..1.5)).clamp(0.0, horizon)
    } else {
        rng.gen_range(0.0..horizon)
    };
    step.at_s = Some((at * 10.0).round() / 10.0);
    Some(format!(
        "move faults[{i}] ({}) {was:.1}s -> {at:.1}s",
        step.kind
    ))
}

fn swap_target(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let i = pick_step(rng, s)?;
    s.faults[i].target.as_ref()?;
    let mut targets: Vec<String> = ["leader", "follower", "random", "all"]
        .map(String::from)
        .into();
    targets.extend((1..=s.cluster.size).map(|m| format!("m{m}")));
    let target = targets.choose(rng)?.clone();
    s.faults[i].target = Some(target.clone());
    Some(format!(
        "target faults[{i}] ({}) -> {target}",
        s.faults[i].kind
    ))
}

fn redraw_knob(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let knob = *DrawnKnob::ALL.choose(rng)?;
    knob.draw(rng, &mut s.cluster.knobs);
    Some(format!("knob {}", knob.field()))
}

fn change_traffic(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    if rng.gen_bool(0.15) && s.traffic.len() < MAX_TRAFFIC {
        let profile = *[
            Profile::Etcd,
            Profile::Kubernetes,
            Profile::Watch,
            Profile::Lease,
        ]
        .choose(rng)?;
        s.traffic.push(TrafficSpec {
            profile,
            clients: rng.gen_range(1..=4),
            ..TrafficSpec::default()
        });
        return Some(format!("traffic + {profile:?}"));
    }
    let i = rng.gen_range(0..s.traffic.len().max(1));
    let t = s.traffic.get_mut(i)?;
    let what = match rng.gen_range(0..4) {
        0 => {
            // Zero is back to back: keep the profile's pacing.
            if t.rate <= 0.0 {
                return None;
            }
            let top = MAX_RATE.max(t.rate);
            t.rate = (t.rate * rng.gen_range(0.5..2.0)).clamp(1.0, top).round();
            format!("rate {}", t.rate)
        }
        1 => {
            let top = MAX_CLIENTS.max(t.clients as i64);
            t.clients = (t.clients as i64 + rng.gen_range(-2..=2)).clamp(1, top) as usize;
            format!("clients {}", t.clients)
        }
        2 => {
            t.keys = ((t.keys as f64) * rng.gen_range(0.5..2.0))
                .round()
                .clamp(1.0, 1000.0) as usize;
            format!("keys {}", t.keys)
        }
        _ => {
            if t.profile != Profile::Etcd {
                return None;
            }
            // Unset weights are the profile's defaults: start there.
            let mut weights: Vec<u32> = match &t.weights {
                Some(w) => (0..OPS.len())
                    .map(|i| w.get(i).copied().unwrap_or(0))
                    .collect(),
                None => OPS.iter().map(|(_, w)| *w).collect(),
            };
            let op = rng.gen_range(0..OPS.len());
            weights[op] = *[0u32, 5, 10, 20, 40].choose(rng)?;
            if weights.iter().all(|w| *w == 0) {
                return None;
            }
            let what = format!("weight of {} -> {}", OPS[op].0.name(), weights[op]);
            t.weights = Some(weights);
            what
        }
    };
    Some(format!("traffic[{i}] {what}"))
}

/// Compresses or stretches the whole timeline (`timescale`): the same
/// plan with its faults closer together and a cheaper run, or further
/// apart and a longer one.
fn rescale_timeline(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    let factor = *[0.5, 2.0 / 3.0, 1.5, 2.0].choose(rng)?;
    let applied = timescale::rescale(s, factor)?;
    Some(format!("timeline x{applied:.2}"))
}

fn resize_cluster(rng: &mut ChaCha8Rng, s: &mut Scenario) -> Option<String> {
    // A version procedure is written for its cluster.
    if s.cluster.versions.len() > 1 || s.faults.iter().any(is_procedure) {
        return None;
    }
    let size = *[1usize, 3, 5].choose(rng)?;
    s.cluster.size = size;
    Some(format!("cluster size {size}"))
}

/// The first part of our free steps and the last part of the donor's
/// (AFL's splice): two plans that each reached something, met. Our
/// version procedure stays; the donor's does not come along.
fn splice(rng: &mut ChaCha8Rng, s: &mut Scenario, donor: &Scenario) -> Option<String> {
    let theirs: Vec<&FaultStep> = donor
        .faults
        .iter()
        .filter(|f| !is_procedure(f) && !expects_outcome(f))
        .collect();
    if theirs.is_empty() {
        return None;
    }
    let free = s.faults.iter().filter(|f| !is_procedure(f)).count();
    let keep = rng.gen_range(0..=free);
    let from = rng.gen_range(0..theirs.len());
    let mut kept_free = 0;
    s.faults.retain(|f| {
        if is_procedure(f) {
            return true;
        }
        kept_free += 1;
        kept_free <= keep
    });
    s.faults.extend(theirs[from..].iter().map(|f| (*f).clone()));
    s.faults
        .truncate(MAX_STEPS.max(s.faults.iter().filter(|f| is_procedure(f)).count()));
    Some(format!(
        "splice {} steps from {}",
        theirs.len() - from,
        donor.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_mutant_keeps_a_required_step_as_one_that_may_not_run() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let base = crate::catalog::load("downgrade-3.5").expect("catalog");
        assert!(base.faults.iter().any(|f| f.required == Some(true)));
        let mut s = base.clone();
        assert!(mutate(&mut rng, &mut s, None).is_some());
        assert!(
            s.faults.iter().all(|f| f.required.is_none()),
            "{:?}",
            s.faults
        );
    }

    #[test]
    fn a_scenario_expecting_an_outcome_only_gets_other_knobs_and_lends_no_such_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let donor = crate::catalog::load("disk-faults").expect("catalog");
        for name in ["corruption", "alarms", "disk-faults", "version-refusals"] {
            let base = crate::catalog::load(name).expect("catalog");
            let mut s = base.clone();
            for _ in 0..40 {
                if let Some(what) = mutate(&mut rng, &mut s, Some(&donor)) {
                    assert!(what.starts_with("knob"), "{name}: {what}");
                }
                assert_eq!((&s.faults, &s.traffic), (&base.faults, &base.traffic));
            }
        }
        let mut s = crate::catalog::load("partitions").expect("catalog");
        for _ in 0..200 {
            let _ = splice(&mut rng, &mut s, &donor);
            assert!(!s.faults.iter().any(expects_outcome), "{:?}", s.faults);
        }
    }

    #[test]
    fn mutations_keep_scenarios_valid_and_say_what_they_did() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let donor = crate::catalog::load("partitions").expect("catalog");
        let mut kinds = std::collections::BTreeSet::new();
        for base in crate::catalog::general().into_iter().take(8) {
            let mut s = base.clone();
            for _ in 0..40 {
                let what = mutate(&mut rng, &mut s, Some(&donor)).expect("some mutation applies");
                kinds.insert(what.split(' ').next().unwrap_or_default().to_string());
                crate::catalog::validate(&s).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(s.faults.len() <= MAX_STEPS, "{what}");
            }
        }
        for kind in [
            "add", "drop", "redraw", "move", "target", "knob", "traffic", "timeline", "splice",
        ] {
            assert!(kinds.contains(kind), "no {kind} mutation in {kinds:?}");
        }
    }

    #[test]
    fn version_procedures_stay_as_written() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let donor = crate::catalog::load("downgrade-cancel").expect("catalog");
        for name in [
            "downgrade-cancel",
            "rolling-upgrade",
            "version-refusals",
            "disk-faults",
        ] {
            let base = crate::catalog::load(name).expect("catalog");
            // As written, but for `required`, which a mutant drops, and
            // the timeline, which a mutant may rescale as a whole: its
            // moments are compared as shares of the run.
            let procedure = |s: &Scenario| -> Vec<(FaultStep, Vec<Option<f64>>)> {
                let share = |x: Option<f64>| x.map(|x| x / s.duration_s);
                s.faults
                    .iter()
                    .filter(|f| is_procedure(f))
                    .map(|f| {
                        let mut step = FaultStep {
                            required: None,
                            ..f.clone()
                        };
                        let shares = timescale::moments(&mut step)
                            .into_iter()
                            .map(|m| share(m.take()))
                            .collect();
                        (step, shares)
                    })
                    .collect()
            };
            let same = |a: &Scenario, b: &Scenario| {
                let (a, b) = (procedure(a), procedure(b));
                a.len() == b.len()
                    && a.iter().zip(&b).all(|((x, xs), (y, ys))| {
                        x == y
                            && xs.iter().zip(ys).all(|(p, q)| match (p, q) {
                                (Some(p), Some(q)) => (p - q).abs() < 0.01,
                                (p, q) => p == q,
                            })
                    })
            };
            let mut s = base.clone();
            for _ in 0..60 {
                let what = mutate(&mut rng, &mut s, Some(&donor)).unwrap_or_default();
                assert!(same(&s, &base), "{name}: {what}");
            }
            if !procedure(&base).is_empty() {
                assert_eq!(s.cluster.size, base.cluster.size, "{name}");
            }
        }
    }

    #[test]
    fn the_same_stream_mutates_the_same_way() {
        let base = crate::catalog::load("default").expect("catalog");
        let run = || {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut s = base.clone();
            let log: Vec<_> = (0..20).map(|_| mutate(&mut rng, &mut s, None)).collect();
            (s, log)
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn every_addable_kind_draws_a_valid_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let kinds = addable_kinds();
        assert!(kinds.contains(&FaultKind::FsyncEio) && kinds.contains(&FaultKind::Crash));
        for kind in kinds {
            let step = swarm::draw_step(&mut rng, kind, 8.0);
            crate::faults::parse(&step).unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
    }
}
