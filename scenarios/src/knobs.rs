//! Store knobs drawn per seed, as FoundationDB's simulator randomizes its
//! knobs: a general scenario runs each seed with its own backend batching,
//! snapshot, compaction and watch settings (the flags etcd operators tune),
//! so the catalog covers timings nobody wrote down. A knob the scenario
//! file sets stays as written; `cluster.draw_knobs = false` keeps every
//! knob at the store's defaults.

use node::config::StoreKnobs;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A knob a seed may draw. Each one changes when things happen (commits,
/// snapshots, compaction batches, watch batches), never what a correct
/// store answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawnKnob {
    SnapshotCount,
    CatchupEntries,
    BackendBatchIntervalMs,
    BackendBatchLimit,
    CompactionBatchLimit,
    CompactionSleepIntervalMs,
    WatchBatchMaxRevs,
    WatchStreamBuffer,
}

impl DrawnKnob {
    pub const ALL: [DrawnKnob; 8] = [
        DrawnKnob::SnapshotCount,
        DrawnKnob::CatchupEntries,
        DrawnKnob::BackendBatchIntervalMs,
        DrawnKnob::BackendBatchLimit,
        DrawnKnob::CompactionBatchLimit,
        DrawnKnob::CompactionSleepIntervalMs,
        DrawnKnob::WatchBatchMaxRevs,
        DrawnKnob::WatchStreamBuffer,
    ];

    /// The knob's field name in `[cluster.knobs]`.
    pub fn field(self) -> &'static str {
        match self {
            DrawnKnob::SnapshotCount => "snapshot_count",
            DrawnKnob::CatchupEntries => "catchup_entries",
            DrawnKnob::BackendBatchIntervalMs => "backend_batch_interval_ms",
            DrawnKnob::BackendBatchLimit => "backend_batch_limit",
            DrawnKnob::CompactionBatchLimit => "compaction_batch_limit",
            DrawnKnob::CompactionSleepIntervalMs => "compaction_sleep_interval_ms",
            DrawnKnob::WatchBatchMaxRevs => "watch_batch_max_revs",
            DrawnKnob::WatchStreamBuffer => "watch_stream_buffer",
        }
    }

    pub fn from_field(name: &str) -> Option<DrawnKnob> {
        DrawnKnob::ALL.into_iter().find(|k| k.field() == name)
    }

    /// Sets this knob to a value drawn from the range an operator could
    /// choose (scaled to the simulation's short runs: snapshots every tens
    /// to a thousand entries, commits every few to a hundred ms or every
    /// write to every thousand writes).
    pub fn draw(self, rng: &mut ChaCha8Rng, knobs: &mut StoreKnobs) {
        match self {
            DrawnKnob::SnapshotCount => {
                knobs.snapshot_count = pick(rng, &[20, 50, 100, 200, 1000]);
            }
            DrawnKnob::CatchupEntries => knobs.catchup_entries = pick(rng, &[5, 20, 50, 100]),
            DrawnKnob::BackendBatchIntervalMs => {
                knobs.backend_batch_interval_ms = rng.gen_range(5..=100);
            }
            DrawnKnob::BackendBatchLimit => {
                knobs.backend_batch_limit = pick(rng, &[1, 8, 64, 1000]);
            }
            DrawnKnob::CompactionBatchLimit => {
                knobs.compaction_batch_limit = pick(rng, &[1, 4, 16, 100]);
            }
            DrawnKnob::CompactionSleepIntervalMs => {
                knobs.compaction_sleep_interval_ms = pick(rng, &[1, 2, 10]);
            }
            DrawnKnob::WatchBatchMaxRevs => knobs.watch_batch_max_revs = pick(rng, &[1, 4, 32]),
            DrawnKnob::WatchStreamBuffer => knobs.watch_stream_buffer = pick(rng, &[1, 4, 16]),
        }
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, values: &[T]) -> T {
    *values
        .choose(rng)
        .expect("a knob draws from a non-empty list")
}

/// Draws every drawable knob not in `pinned`, in `DrawnKnob::ALL` order
/// (one value per knob, so the draw of one knob never shifts another's).
pub fn draw_unpinned(
    rng: &mut ChaCha8Rng,
    knobs: &mut StoreKnobs,
    pinned: &std::collections::BTreeSet<DrawnKnob>,
) {
    use rand::SeedableRng;
    for knob in DrawnKnob::ALL {
        // Each knob has its own stream, taken whether or not it is pinned.
        let mut own = ChaCha8Rng::seed_from_u64(rng.r#gen());
        if !pinned.contains(&knob) {
            knob.draw(&mut own, knobs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    #[test]
    fn field_names_round_trip_and_name_real_knobs() {
        let defaults = toml::Value::try_from(StoreKnobs::default()).expect("knobs serialize");
        for knob in DrawnKnob::ALL {
            assert_eq!(DrawnKnob::from_field(knob.field()), Some(knob));
            assert!(
                defaults.get(knob.field()).is_some(),
                "{} is not a StoreKnobs field",
                knob.field()
            );
        }
        assert_eq!(DrawnKnob::from_field("tick_ms"), None);
    }

    #[test]
    fn drawn_knobs_are_valid_and_pinned_ones_stay() {
        let mut pinned = BTreeSet::new();
        pinned.insert(DrawnKnob::SnapshotCount);
        let mut seen = BTreeSet::new();
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut knobs = StoreKnobs {
                snapshot_count: 7,
                ..StoreKnobs::default()
            };
            draw_unpinned(&mut rng, &mut knobs, &pinned);
            assert_eq!(knobs.snapshot_count, 7, "a pinned knob is never drawn");
            assert_eq!(knobs.validate(), Ok(()));
            seen.insert(knobs.backend_batch_limit);
        }
        assert!(seen.len() >= 3, "batch limits drawn: {seen:?}");
    }

    #[test]
    fn pinning_one_knob_leaves_the_others_draw_unchanged() {
        let draw = |pinned: &BTreeSet<DrawnKnob>| {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            let mut knobs = StoreKnobs::default();
            draw_unpinned(&mut rng, &mut knobs, pinned);
            knobs
        };
        let free = draw(&BTreeSet::new());
        let pinned = draw(&BTreeSet::from([DrawnKnob::SnapshotCount]));
        assert_eq!(free.backend_batch_limit, pinned.backend_batch_limit);
        assert_eq!(free.watch_stream_buffer, pinned.watch_stream_buffer);
        assert_eq!(pinned.snapshot_count, StoreKnobs::default().snapshot_count);
    }
}
