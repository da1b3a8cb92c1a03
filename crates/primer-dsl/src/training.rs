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
    /// The arithmetic of matrix products, convolutions and attention (f32 unless said; kept
    /// out of stored settings when f32, so campaigns made before it read unchanged).
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// Why a CPU refuses bf16 training: what `primer bench train --precision bf16` measured
/// (experiments/throughput/bf16-cpu.json). Measured again on another CPU, the figures may move;
/// the refusal stands until bf16 is faster end to end at a campaign's size.
pub const CPU_BF16: &str = "bf16 is refused on a CPU: `primer bench train --precision bf16` measured the compiled Transformer at 0.50x and Primer-EZ at 0.57x the f32 tokens/s at the campaign size (d_model 64, 1 thread), 0.89x and 0.74x at the large size (d_model 128, 2 threads), on an AMD EPYC with AVX-512-BF16: at these sizes the casts cost more than the bf16 matrix products save (and an Intel Xeon with AMX ran PyTorch's own CPU autocast 2.7x slower than f32).";

/// The arithmetic of training: f32 throughout, or bf16 mixed precision (the inputs of matrix
/// products, convolutions and attention in bf16; weights, their updates, norms, element-wise
/// ops, reductions and the loss in f32).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    /// `f32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Precision, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("`{s}`: expected f32 or bf16")),
        }
    }
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
            precision: Precision::F32,
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
