//! Every random stream of a run, derived from its seed in one place and
//! named, as TigerBeetle's simulator draws its sub-seeds from the one seed
//! and logs them. The world's own randomness (message delays, loss, disk
//! latency draws) is madsim's, seeded with the run seed itself.
//!
//! The derivations are the ones the engine has always used, so that every
//! recorded seed still replays to the same trace: a new stream gets a new
//! name and constant here, never a change to an existing one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The explorer's draws (`explore`): its own seed, not a run's.
const EXPLORER: u64 = 0x6578_706c_6f72_6521;

/// The stream the explorer draws candidate `run` of shard `shard` from
/// (which corpus entry, which mutations, the run's seed): one stream per
/// candidate, so a candidate is the same whatever order runs finish in.
pub fn explorer(seed: u64, shard: u64, run: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([EXPLORER, seed, shard, run]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// The named streams of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    seed: u64,
}

/// The knob draw of a general scenario (`knobs::draw_unpinned`).
const KNOBS: u64 = 0x4b4e_4f42;
/// Swarm mode's fault mix and knobs.
const SWARM: u64 = 0x5a4d_0001;
/// The engine's own choices while it runs the plan: targets, partition
/// sides, compaction offsets.
const ENGINE: u64 = 0x5eed_fa17;
/// Traffic clients: client `id` gets `seed * CLIENT_MIX ^ id`.
const CLIENT_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Streams {
    pub fn of(seed: u64) -> Streams {
        Streams { seed }
    }

    pub fn knobs_seed(self) -> u64 {
        self.seed ^ KNOBS
    }

    pub fn swarm_seed(self) -> u64 {
        self.seed ^ SWARM
    }

    pub fn engine_seed(self) -> u64 {
        self.seed ^ ENGINE
    }

    pub fn client_seed(self, client: u64) -> u64 {
        self.seed.wrapping_mul(CLIENT_MIX) ^ client
    }

    pub fn knobs(self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.knobs_seed())
    }

    pub fn swarm(self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.swarm_seed())
    }

    pub fn engine(self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.engine_seed())
    }

    pub fn client(self, client: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.client_seed(client))
    }

    /// Logs the run's sub-seeds (at debug level, with `RUST_LOG`), so a
    /// stream can be rebuilt by hand when reading a run.
    pub fn log(self, clients: u64) {
        tracing::debug!(
            seed = self.seed,
            knobs = self.knobs_seed(),
            swarm = self.swarm_seed(),
            engine = self.engine_seed(),
            first_client = self.client_seed(1),
            clients,
            "run streams"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The derivations every recorded seed depends on: changing one breaks
    /// the replay of every repro and corpus file.
    #[test]
    fn the_derivations_stay_what_recorded_runs_used() {
        let s = Streams::of(7);
        assert_eq!(s.knobs_seed(), 7 ^ 0x4b4e_4f42);
        assert_eq!(s.swarm_seed(), 7 ^ 0x5a4d_0001);
        assert_eq!(s.engine_seed(), 7 ^ 0x5eed_fa17);
        assert_eq!(
            s.client_seed(3),
            7u64.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 3
        );
    }

    #[test]
    fn streams_differ_from_each_other() {
        let s = Streams::of(11);
        let firsts: std::collections::BTreeSet<u64> = [
            s.knobs().r#gen::<u64>(),
            s.swarm().r#gen(),
            s.engine().r#gen(),
            s.client(1).r#gen(),
            s.client(2).r#gen(),
        ]
        .into_iter()
        .collect();
        assert_eq!(firsts.len(), 5);
    }

    #[test]
    fn explorer_streams_are_one_per_seed_shard_and_run() {
        let first = |seed, shard, run| explorer(seed, shard, run).r#gen::<u64>();
        assert_eq!(first(1, 0, 5), first(1, 0, 5));
        let firsts: std::collections::BTreeSet<u64> = [
            first(1, 0, 5),
            first(2, 0, 5),
            first(1, 1, 5),
            first(1, 0, 6),
        ]
        .into();
        assert_eq!(firsts.len(), 4);
    }
}
