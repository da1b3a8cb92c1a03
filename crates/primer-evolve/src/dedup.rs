//! Duplicate detection. Structural: a campaign never trains two programs with the same
//! canonical hash ([`crate::mutation::Mutator::child`] takes the campaign's `seen` test).
//! Functional: [`FecCache`], in the spirit of AutoML-Zero's functional equivalence cache. Two
//! programs whose untrained models give the same outputs on a fixed input (the same
//! fingerprint) are taken to learn alike, so the second reuses the first's fitness instead of
//! training. A cached fitness is re-measured after a set number of hits, so that one lucky or
//! unlucky result does not stick.
//!
//! The cache is pure and replayable: feeding it a campaign's candidates in order rebuilds it,
//! so it needs no storage of its own.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// What to do with a candidate whose fingerprint was looked up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum FecDecision {
    /// Not seen before: train it.
    Train,
    /// Seen: take this fitness, measured by that candidate, without training.
    Reuse { fitness: f64, measured_by: u64 },
    /// Seen, but its fitness has been reused `remeasure_after` times: train it again (then
    /// [`FecCache::record`] the new measurement).
    Remeasure { previous: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    fitness: f64,
    measured_by: u64,
    hits: u32,
}

/// Fingerprint -> the last measured fitness, with a hit count.
#[derive(Debug, Clone)]
pub struct FecCache<K> {
    /// Reuses of one measurement before it is re-measured (AutoML-Zero: 100). 0 disables reuse.
    pub remeasure_after: u32,
    entries: HashMap<K, Entry>,
    reused: u64,
}

impl<K: Hash + Eq + Clone> FecCache<K> {
    pub fn new(remeasure_after: u32) -> FecCache<K> {
        FecCache { remeasure_after, entries: HashMap::new(), reused: 0 }
    }

    /// Decides for a candidate with this fingerprint, counting a hit when it reuses.
    pub fn lookup(&mut self, key: &K) -> FecDecision {
        let Some(e) = self.entries.get_mut(key) else { return FecDecision::Train };
        if e.hits >= self.remeasure_after {
            return FecDecision::Remeasure { previous: e.fitness };
        }
        e.hits += 1;
        self.reused += 1;
        FecDecision::Reuse { fitness: e.fitness, measured_by: e.measured_by }
    }

    /// Records a measured fitness; it replaces any earlier one and starts a fresh hit count.
    /// Failed measurements (non-finite) are recorded too: a program that diverges once is
    /// reused as diverged until it is re-measured.
    pub fn record(&mut self, key: K, fitness: f64, measured_by: u64) {
        self.entries.insert(key, Entry { fitness, measured_by, hits: 0 });
    }

    /// Distinct fingerprints cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many lookups reused a cached fitness.
    pub fn reused(&self) -> u64 {
        self.reused
    }
}

/// The decision for a candidate from the campaign's earlier candidates with its fingerprint,
/// in birth order, as `(candidate, fitness, reused)`: the cache replayed over them, then looked
/// up. Workers call this with what the store holds, so the cache needs no storage of its own
/// and every worker decides alike.
pub fn replay(remeasure_after: u32, earlier: impl IntoIterator<Item = (u64, Option<f64>, bool)>) -> FecDecision {
    let mut cache: FecCache<()> = FecCache::new(remeasure_after);
    for (candidate, fitness, reused) in earlier {
        if reused {
            cache.lookup(&());
        } else {
            cache.record((), fitness.unwrap_or(f64::NAN), candidate);
        }
    }
    cache.lookup(&())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaying_a_campaign_decides_as_the_live_cache_did() {
        // Nothing earlier: train. One measurement: reuse it. Two reuses of it (limit 2):
        // re-measure. A new measurement after that: reuse the new one. A failed one: reused as
        // failed (NaN).
        assert_eq!(replay(2, []), FecDecision::Train);
        assert_eq!(replay(2, [(4, Some(2.5), false)]), FecDecision::Reuse { fitness: 2.5, measured_by: 4 });
        let twice = [(4, Some(2.5), false), (6, Some(2.5), true), (9, Some(2.5), true)];
        assert_eq!(replay(2, twice), FecDecision::Remeasure { previous: 2.5 });
        let again = [(4, Some(2.5), false), (6, Some(2.5), true), (9, Some(2.5), true), (12, Some(2.4), false)];
        assert_eq!(replay(2, again), FecDecision::Reuse { fitness: 2.4, measured_by: 12 });
        assert!(
            matches!(replay(2, [(3, None, false)]), FecDecision::Reuse { fitness, measured_by: 3 } if fitness.is_nan())
        );
        // 0 turns reuse off.
        assert_eq!(replay(0, [(4, Some(2.5), false)]), FecDecision::Remeasure { previous: 2.5 });
    }

    #[test]
    fn reuse_then_remeasure_after_the_set_number_of_hits() {
        let mut c: FecCache<&str> = FecCache::new(2);
        assert_eq!(c.lookup(&"a"), FecDecision::Train);
        c.record("a", 3.5, 10);
        assert_eq!(c.lookup(&"a"), FecDecision::Reuse { fitness: 3.5, measured_by: 10 });
        assert_eq!(c.lookup(&"a"), FecDecision::Reuse { fitness: 3.5, measured_by: 10 });
        assert_eq!(c.lookup(&"a"), FecDecision::Remeasure { previous: 3.5 });
        // Still due until the new measurement is recorded.
        assert_eq!(c.lookup(&"a"), FecDecision::Remeasure { previous: 3.5 });
        c.record("a", 3.25, 14);
        assert_eq!(c.lookup(&"a"), FecDecision::Reuse { fitness: 3.25, measured_by: 14 });
        assert_eq!(c.lookup(&"b"), FecDecision::Train);
        assert_eq!((c.len(), c.reused()), (1, 3));
    }

    #[test]
    fn zero_disables_reuse() {
        let mut c: FecCache<u64> = FecCache::new(0);
        c.record(1, 2.0, 0);
        assert_eq!(c.lookup(&1), FecDecision::Remeasure { previous: 2.0 });
    }
}
