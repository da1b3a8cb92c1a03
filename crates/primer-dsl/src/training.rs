//! The fixed training settings every run of a program gets (not searched): the one type that
//! campaign files, study files, the command line and the trainer (`primer-torch`) share, with
//! its defaults written once, here.

use serde::{Deserialize, Serialize};

/// Fixed training settings (not searched).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Sequences per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps (linear); then lr · sqrt(warmup / step).
    pub warmup: u64,
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub clip: f64,
    /// A curve point (with validation loss) every this many steps.
    pub eval_interval: u64,
    /// Validation batches (fixed windows from the held-out tail): with `validation_bytes` 0,
    /// `val_batches` x `batch` consecutive windows from the tail's start are the validation
    /// set; otherwise `val_batches` x `batch` windows of the spread set (every k-th) are
    /// measured at the curve points between checkpoints.
    pub val_batches: usize,
    /// The spread validation set: windows evenly spread over the held-out tail whose predicted
    /// tokens cover at least this many bytes, all measured at every checkpoint and at the end
    /// (0: the consecutive `val_batches` windows of campaigns made before it).
    #[serde(default)]
    pub validation_bytes: u64,
    /// Seeds the weights' init and the batch order.
    pub seed: u64,
    /// A training loss above this (or not finite) is divergence.
    pub divergence_loss: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 16,
            lr: 2e-3,
            warmup: 50,
            weight_decay: 0.01,
            clip: 1.0,
            eval_interval: 50,
            val_batches: 8,
            validation_bytes: 0,
            seed: 0,
            divergence_loss: 3.0 * (256f64).ln(),
        }
    }
}

impl TrainConfig {
    /// The learning rate at step (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        let s = (step + 1) as f64;
        let w = self.warmup.max(1) as f64;
        self.lr * (s / w).min((w / s).sqrt())
    }
}
