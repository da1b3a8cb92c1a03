//! Halving hurdles (Primer, appendix A): checkpoints that split a candidate's budget into bands
//! of equal expected compute, and the median rule that stops the worse half at each.
//!
//! With H hurdles and budget T, band k (k = 0..H) lasts a·2^k with a = T / (2^(H+1) − 1), so
//! checkpoint k sits at a·(2^(k+1) − 1). If half the candidates pass each hurdle, every band
//! costs a in expectation and a candidate costs (H+1)·a instead of T.
//!
//! The bands may begin later, at a fraction `start` of the budget ([`HalvingHurdles::start`]:
//! new campaigns put it at the end of the learning-rate warm-up, where rankings start to hold;
//! before it, a program that learns fast but ends worse, such as one without attention, leads).
//! The bands then split the rest, a = (1 − start)·T / (2^(H+1) − 1), and checkpoint k sits at
//! start·T + a·(2^(k+1) − 1).

use serde::{Deserialize, Serialize};

/// The hurdle settings of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HalvingHurdles {
    /// Number of hurdles H (0 = train every candidate to the full budget).
    pub hurdles: usize,
    /// How many earlier candidates must have reached a checkpoint before its median applies.
    pub min_predecessors: usize,
    /// The median is over the last `window` earlier candidates (by birth) that reached the
    /// checkpoint with a finite loss; 0: over all of them. While evolution improves the
    /// population, the median of all history is stale and more than half pass; a window about
    /// the population's size follows it.
    /// (Not written when 0, so that specs stored before it existed read and write back the same.)
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: usize,
    /// Where the bands begin, as a fraction of the budget (0 <= start < 1): no hurdle before
    /// it. (Not written when 0, the meaning of specs stored before it existed.)
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub start: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_f(x: &f64) -> bool {
    *x == 0.0
}

impl HalvingHurdles {
    /// The unit band a = (1 − start)·T / (2^(H+1) − 1).
    pub fn unit(&self, budget: f64) -> f64 {
        (1.0 - self.start) * budget / ((1u64 << (self.hurdles + 1)) - 1) as f64
    }

    /// The H checkpoints, as amounts of the budget already spent: start·T + a·(2^(k+1) − 1),
    /// k = 0..H.
    pub fn checkpoints(&self, budget: f64) -> Vec<f64> {
        let a = self.unit(budget);
        (0..self.hurdles).map(|k| self.start * budget + a * ((1u64 << (k + 1)) - 1) as f64).collect()
    }

    /// The checkpoints as fractions of the budget.
    pub fn fractions(&self) -> Vec<f64> {
        self.checkpoints(1.0)
    }

    /// The threshold at a checkpoint: the median of the losses earlier candidates had there
    /// (`earlier` in birth order; the last `window` of them when it is set), once at least
    /// `min_predecessors` of them got there (`None` before that: everyone passes).
    /// (Non-finite losses are not counted: a diverged predecessor sets no bar.)
    pub fn threshold(&self, earlier: &[f64]) -> Option<f64> {
        let mut v: Vec<f64> = earlier.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() || v.len() < self.min_predecessors {
            return None;
        }
        if self.window > 0 && v.len() > self.window {
            v.drain(..v.len() - self.window);
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
    }

    /// Whether a candidate with `loss` at a checkpoint goes on (lower loss is better; a loss
    /// equal to the median passes). A non-finite loss never passes.
    pub fn passes(&self, loss: f64, earlier: &[f64]) -> bool {
        loss.is_finite() && self.threshold(earlier).is_none_or(|t| loss <= t)
    }

    /// [`HalvingHurdles::passes`] given what the store computes instead of the losses: how
    /// many earlier candidates reached the checkpoint with a finite loss, and their median.
    pub fn passes_median(&self, loss: f64, count: usize, median: Option<f64>) -> bool {
        let applies = count > 0 && count >= self.min_predecessors;
        loss.is_finite() && (!applies || median.is_none_or(|t| loss <= t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn primer_checkpoints_match_the_closed_form() {
        // H = 4, T = 25,200 s (7 hours): a = 812.9 s, bands 812.9 .. 13,006.5 s.
        let h = HalvingHurdles { hurdles: 4, min_predecessors: 1, window: 0, start: 0.0 };
        assert!((h.unit(25_200.0) - 812.903).abs() < 1e-3);
        let expected = [812.9, 2438.7, 5690.3, 12193.5];
        for (got, want) in h.checkpoints(25_200.0).iter().zip(expected) {
            assert!((got - want).abs() < 0.05, "{got} vs {want}");
        }
        assert_eq!(
            HalvingHurdles { hurdles: 0, min_predecessors: 1, window: 0, start: 0.0 }.checkpoints(100.0),
            Vec::<f64>::new()
        );
        assert_eq!(
            HalvingHurdles { hurdles: 1, min_predecessors: 1, window: 0, start: 0.0 }.fractions(),
            vec![1.0 / 3.0]
        );
    }

    #[test]
    fn bands_begin_at_start() {
        // Two hurdles after a warm-up of a fifth of the budget: a = 0.8 / 7.
        let h = HalvingHurdles { hurdles: 2, min_predecessors: 1, window: 0, start: 0.2 };
        let f = h.fractions();
        assert!((f[0] - (0.2 + 0.8 / 7.0)).abs() < 1e-12 && (f[1] - (0.2 + 3.0 * 0.8 / 7.0)).abs() < 1e-12, "{f:?}");
        assert!(f[0] > h.start, "no hurdle before the start");
        // Stored specs without it read as before, and write back the same.
        let old: HalvingHurdles = serde_json::from_str(r#"{"hurdles":2,"min_predecessors":3}"#).unwrap();
        assert_eq!(old.start, 0.0);
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"{"hurdles":2,"min_predecessors":3}"#);
    }

    #[test]
    fn median_rule() {
        let h = HalvingHurdles { hurdles: 2, min_predecessors: 3, window: 0, start: 0.0 };
        assert_eq!(h.threshold(&[3.0, 1.0]), None);
        assert_eq!(h.threshold(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(h.threshold(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert!(h.passes(2.0, &[3.0, 1.0, 2.0]));
        assert!(!h.passes(2.1, &[3.0, 1.0, 2.0]));
        assert!(h.passes(9.0, &[1.0]), "too few predecessors: everyone passes");
        assert!(!h.passes(f64::NAN, &[]));
        assert_eq!(h.threshold(&[3.0, 1.0, f64::NAN, f64::INFINITY]), None, "two finite predecessors are too few");
        // What the store computes (count and median) decides the same.
        for (loss, earlier) in [(2.0, vec![3.0, 1.0, 2.0]), (2.1, vec![3.0, 1.0, 2.0]), (9.0, vec![1.0])] {
            let n = earlier.len();
            let mut v = earlier.clone();
            v.sort_by(f64::total_cmp);
            let median = if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) };
            assert_eq!(h.passes_median(loss, n, Some(median)), h.passes(loss, &earlier), "{loss} {earlier:?}");
        }
    }

    #[test]
    fn a_window_takes_the_median_of_the_latest_predecessors() {
        let h = HalvingHurdles { hurdles: 2, min_predecessors: 3, window: 3, start: 0.0 };
        // In birth order: the old ones were worse; the last three (finite) are 1, 2, 3.
        let earlier = [9.0, 8.0, 7.0, 1.0, f64::NAN, 2.0, 3.0];
        assert_eq!(h.threshold(&earlier), Some(2.0));
        assert_eq!(HalvingHurdles { window: 0, ..h }.threshold(&earlier), Some(5.0), "all six finite");
        assert_eq!(HalvingHurdles { window: 100, ..h }.threshold(&earlier), Some(5.0));
        assert_eq!(h.threshold(&[9.0, 1.0]), None, "min_predecessors counts before the window");
    }

    /// Synthetic candidates with independent random losses, run one after another with the
    /// median of their predecessors as the threshold: the mean compute per candidate is
    /// (H+1)·a, against T without hurdles.
    #[test]
    fn expected_compute_is_h_plus_one_bands() {
        let h = HalvingHurdles { hurdles: 4, min_predecessors: 1, window: 0, start: 0.0 };
        let budget = 25_200.0;
        let at = h.checkpoints(budget);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen: Vec<Vec<f64>> = vec![Vec::new(); at.len()];
        let n = 5_000;
        let mut total = 0.0;
        for _ in 0..n {
            // A candidate's quality, plus noise at each checkpoint.
            let quality: f64 = rng.random();
            let mut spent = budget;
            for (k, &t) in at.iter().enumerate() {
                let loss = quality + 0.05 * rng.random::<f64>();
                let passed = h.passes(loss, &seen[k]);
                seen[k].push(loss);
                if !passed {
                    spent = t;
                    break;
                }
            }
            total += spent;
        }
        let mean = total / n as f64;
        let closed_form = 5.0 * h.unit(budget);
        assert!((mean / closed_form - 1.0).abs() < 0.05, "mean {mean:.1} s vs (H+1)·a = {closed_form:.1} s");
        // 6.2x cheaper than training everyone to the full budget, as the paper says.
        assert!((budget / mean - 6.2).abs() < 0.35, "{}", budget / mean);
    }
}
