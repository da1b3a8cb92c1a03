//! The trainer: AdamW with linear warm-up then a horizon-free inverse-square-root decay (so a
//! loss at a hurdle means the same for every candidate, whatever the budget), gradient clipping,
//! budgets in steps, tokens, FLOPs (the DSL's analytic count) or seconds, curve points,
//! checkpoints that may stop training (hurdles), and outcomes instead of panics.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, TchError, Tensor};

use primer_dsl::analysis::Cost;
use primer_dsl::{ModelConfig, Program};

use crate::compile::{CompileError, Model};
use crate::data::{Corpus, PARTS, ValidationBatches, ValidationRule, batch_rng};

pub use primer_dsl::budget::Budget;
pub use primer_dsl::training::{Precision, TrainConfig};

/// How a training run ended. Failures of candidates are data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Finished,
    /// A checkpoint callback (a hurdle) stopped it; `checkpoint` is 0-based.
    Stopped {
        checkpoint: usize,
    },
    Invalid {
        reason: String,
    },
    Diverged {
        step: u64,
    },
    OutOfMemory {
        message: String,
    },
    /// The job's stop flag was raised (the worker was told to stop): not a result of the
    /// program, and nothing to record for it.
    Interrupted {
        step: u64,
    },
}

impl std::fmt::Display for Outcome {
    /// How a run ended, in words: `finished`, `stopped at hurdle 2`, `invalid: REASON`,
    /// `diverged at step N`, `out of memory: MESSAGE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Finished => write!(f, "finished"),
            Outcome::Stopped { checkpoint } => write!(f, "stopped at hurdle {}", checkpoint + 1),
            Outcome::Invalid { reason } => write!(f, "invalid: {reason}"),
            Outcome::Diverged { step } => write!(f, "diverged at step {step}"),
            Outcome::OutOfMemory { message } => write!(f, "out of memory: {message}"),
            Outcome::Interrupted { step } => write!(f, "interrupted at step {step}"),
        }
    }
}

/// One point of the learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub tokens: u64,
    pub flops: f64,
    pub seconds: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
}

/// What a checkpoint callback decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Continue,
    Stop,
}

/// The result of training one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    pub outcome: Outcome,
    /// Validation loss (nats per token) at the end or at the stopping checkpoint.
    pub fitness: Option<f64>,
    pub steps: u64,
    pub tokens: u64,
    pub flops: f64,
    /// Seconds spent in training steps.
    pub seconds: f64,
    /// Checkpoints passed (their index + 1).
    pub checkpoints_reached: usize,
    pub curve: Vec<CurvePoint>,
    pub parameters: i64,
    pub training_flops_per_token: u64,
    /// Where the run's time went besides its steps.
    #[serde(default)]
    pub phases: Phases,
    /// The fitness measured on each of the spread validation set's [`PARTS`] disjoint parts
    /// (empty for the leading set): their spread is the set's sampling error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_parts: Vec<f64>,
    /// Bytes per predicted validation token (1 for bytes): bits per byte = fitness / ln 2 / this.
    #[serde(default = "one")]
    pub bytes_per_token: f64,
}

fn one() -> f64 {
    1.0
}

/// Seconds of a training run outside its training steps ([`TrainResult::seconds`]): compiling
/// the program, drawing batches, measuring validation loss, and the caller's checkpoint and
/// curve callbacks (a worker's store writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub compile: f64,
    pub batches: f64,
    pub evaluation: f64,
    pub callbacks: f64,
}

impl TrainResult {
    /// A result before any step: nothing trained, no fitness (failures before training keep it).
    fn untrained(outcome: Outcome) -> TrainResult {
        TrainResult {
            outcome,
            fitness: None,
            steps: 0,
            tokens: 0,
            flops: 0.0,
            seconds: 0.0,
            checkpoints_reached: 0,
            curve: Vec::new(),
            parameters: 0,
            training_flops_per_token: 0,
            phases: Phases::default(),
            validation_parts: Vec::new(),
            bytes_per_token: 1.0,
        }
    }

    /// Bits per byte of the fitness.
    pub fn bits_per_byte(&self) -> Option<f64> {
        self.fitness.map(|l| primer_tokens::bits_per_byte(l, self.bytes_per_token))
    }

    /// The validation set's sampling error of the fitness: the standard error of the mean of
    /// its disjoint parts (sd over parts / sqrt(parts)); None for the leading set.
    pub fn validation_error(&self) -> Option<f64> {
        sampling_error(&self.validation_parts)
    }

    pub fn tokens_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.tokens as f64 / self.seconds } else { 0.0 }
    }
}

/// Anything the trainer can train: a compiled program or a hand-written reference.
pub trait LanguageModel {
    /// Mean next-token loss of windows `[B, T+1]`.
    fn loss(&self, window: &Tensor) -> Result<Tensor, TchError>;
    fn var_store(&self) -> &VarStore;
}

impl LanguageModel for Model {
    fn loss(&self, window: &Tensor) -> Result<Tensor, TchError> {
        Model::loss(self, window)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// Maps a libtorch error to an outcome.
pub fn outcome_of(e: &TchError) -> Outcome {
    let message = e.to_string();
    let first = message.lines().next().unwrap_or("").to_string();
    if message.contains("out of memory")
        || message.contains("can't allocate")
        || message.contains("CUDA error: out of memory")
    {
        Outcome::OutOfMemory { message: first }
    } else {
        Outcome::Invalid { reason: format!("libtorch: {first}") }
    }
}

/// One training run's inputs: the data, the model size, the fixed settings, the budget, the
/// checkpoints (budget fractions, increasing, below 1) and the device.
#[derive(Clone, Copy)]
pub struct TrainJob<'a> {
    pub corpus: &'a Corpus,
    pub config: ModelConfig,
    pub settings: &'a TrainConfig,
    pub budget: Budget,
    pub checkpoints: &'a [f64],
    pub device: Device,
    /// Checked before every step: once raised, training stops with [`Outcome::Interrupted`]
    /// (a worker told to stop by a signal, or whose controller is gone).
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Compiles `p` (init seeded by the settings' seed) and trains it. Never panics for a bad
/// program: an invalid one comes back as [`Outcome::Invalid`].
pub fn train_program(
    p: &Program,
    job: &TrainJob,
    on_checkpoint: &mut dyn FnMut(usize, f64) -> Decision,
    on_point: &mut dyn FnMut(&CurvePoint),
) -> TrainResult {
    let compiling = Instant::now();
    let model = match Model::new(p, job.config, job.device, job.settings.seed) {
        Ok(m) => m.with_precision(job.settings.precision),
        Err(CompileError::Invalid(e)) => return TrainResult::untrained(Outcome::Invalid { reason: e.to_string() }),
        Err(CompileError::Torch(e)) => return TrainResult::untrained(outcome_of(&e)),
        Err(e @ CompileError::OutOfMemory { .. }) => {
            return TrainResult::untrained(Outcome::OutOfMemory { message: e.to_string() });
        }
    };
    let compile = compiling.elapsed().as_secs_f64();
    let cost = Cost::of(&model.validated);
    let mut r = train(&model, cost.training_flops_per_token, job, on_checkpoint, on_point);
    r.phases.compile = compile;
    r
}

/// The standard error of the mean of `parts` (sd / sqrt(n)); None for fewer than 2.
pub fn sampling_error(parts: &[f64]) -> Option<f64> {
    let n = parts.len();
    if n < 2 {
        return None;
    }
    let mean = parts.iter().sum::<f64>() / n as f64;
    let var = parts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((var / n as f64).sqrt())
}

/// Mean validation loss of a set's batches, and of each of its parts: the leading set's batches
/// count equally (as campaigns made before the spread set measured them); the spread set's
/// windows count equally, within each part and over all.
pub fn evaluate_set(
    model: &dyn LanguageModel,
    set: &ValidationBatches,
    leading: bool,
) -> Result<(f64, Vec<f64>), TchError> {
    if leading {
        let batches: Vec<&Tensor> = set.batches.iter().map(|(_, b)| b).collect();
        return Ok((evaluate(model, &batches)?, Vec::new()));
    }
    tch::no_grad(|| {
        let mut sums = [0.0f64; PARTS];
        let mut rows = [0usize; PARTS];
        for (part, b) in &set.batches {
            let n = b.size()[0] as usize;
            sums[*part] += model.loss(b)?.f_double_value(&[])? * n as f64;
            rows[*part] += n;
        }
        let total = sums.iter().sum::<f64>() / rows.iter().sum::<usize>().max(1) as f64;
        let parts = (0..PARTS).filter(|&p| rows[p] > 0).map(|p| sums[p] / rows[p] as f64).collect();
        Ok((total, parts))
    })
}

/// Mean validation loss over batches, each batch counting equally.
pub fn evaluate(model: &dyn LanguageModel, batches: &[&Tensor]) -> Result<f64, TchError> {
    tch::no_grad(|| {
        let mut total = 0.0;
        for b in batches {
            total += model.loss(b)?.f_double_value(&[])?;
        }
        Ok(total / batches.len().max(1) as f64)
    })
}

/// Trains a model under the job's budget; FLOPs are counted at `training_flops_per_token`. At
/// each checkpoint the validation loss is measured and `on_checkpoint(k, loss)` may stop
/// training.
pub fn train(
    model: &dyn LanguageModel,
    training_flops_per_token: u64,
    job: &TrainJob,
    on_checkpoint: &mut dyn FnMut(usize, f64) -> Decision,
    on_point: &mut dyn FnMut(&CurvePoint),
) -> TrainResult {
    let parameters: i64 = model.var_store().trainable_variables().iter().map(|t| t.numel() as i64).sum();
    let mut result = TrainResult::untrained(Outcome::Finished);
    result.parameters = parameters;
    result.training_flops_per_token = training_flops_per_token;
    if job.corpus.vocab() != job.config.vocab {
        result.outcome = Outcome::Invalid {
            reason: format!(
                "the model's vocabulary has {} tokens, the corpus's tokenizer ({}) {}",
                job.config.vocab,
                job.corpus.tokenizer,
                job.corpus.vocab()
            ),
        };
        return result;
    }
    match run(model, training_flops_per_token, job, on_checkpoint, on_point, &mut result) {
        Ok(()) => {}
        Err(e) => {
            result.outcome = outcome_of(&e);
            result.fitness = None;
        }
    }
    result
}

fn run(
    model: &dyn LanguageModel,
    flops_per_token: u64,
    job: &TrainJob,
    on_checkpoint: &mut dyn FnMut(usize, f64) -> Decision,
    on_point: &mut dyn FnMut(&CurvePoint),
    r: &mut TrainResult,
) -> Result<(), TchError> {
    let TrainJob { corpus, config, settings: tc, budget, checkpoints, device, stop } = *job;
    let window = config.seq_len;
    let tokens_per_step = (tc.batch * window) as u64;
    let drawing = Instant::now();
    let leading = tc.validation_bytes == 0;
    let rule = if leading {
        ValidationRule::Leading { windows: tc.val_batches * tc.batch }
    } else {
        ValidationRule::Spread { bytes: tc.validation_bytes }
    };
    let set = corpus.tokens.validation_set(rule, window);
    r.bytes_per_token = set.bytes_per_token();
    let full = corpus.set_batches(&set, window, tc.batch, |_| true, device);
    // Between checkpoints the curve measures every k-th window of the spread set: about
    // `val_batches` x `batch` windows.
    let stride = set.offsets.len().div_ceil((tc.val_batches * tc.batch).max(1)).max(1);
    let between =
        if leading { None } else { Some(corpus.set_batches(&set, window, tc.batch, |i| i % stride == 0, device)) };
    r.phases.batches += drawing.elapsed().as_secs_f64();
    let mut opt = tch::nn::AdamW { beta1: 0.9, beta2: 0.95, wd: tc.weight_decay, eps: 1e-8, amsgrad: false }
        .build(model.var_store(), tc.lr_at(0))?;
    let mut rng = batch_rng(tc.seed);
    let progress = |r: &TrainResult| match budget {
        Budget::Steps(n) => r.steps as f64 / n as f64,
        Budget::Tokens(n) => r.tokens as f64 / n as f64,
        Budget::Flops(f) => r.flops / f,
        Budget::Seconds(s) => r.seconds / s,
    };
    let mut next_checkpoint = 0;
    while progress(r) < 1.0 {
        if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            r.outcome = Outcome::Interrupted { step: r.steps };
            r.fitness = None;
            return Ok(());
        }
        let drawing = Instant::now();
        let batch = corpus.train_batch(&mut rng, tc.batch, window, device);
        r.phases.batches += drawing.elapsed().as_secs_f64();
        let start = Instant::now();
        opt.set_lr(tc.lr_at(r.steps));
        let loss = model.loss(&batch)?;
        opt.zero_grad();
        loss.f_backward()?;
        opt.clip_grad_norm(tc.clip);
        opt.step();
        let train_loss = loss.f_double_value(&[])?;
        r.seconds += start.elapsed().as_secs_f64();
        r.steps += 1;
        r.tokens += tokens_per_step;
        r.flops += (flops_per_token * tokens_per_step) as f64;
        if !train_loss.is_finite() || train_loss > tc.divergence_loss {
            r.outcome = Outcome::Diverged { step: r.steps };
            r.fitness = None;
            return Ok(());
        }
        let at_checkpoint = next_checkpoint < checkpoints.len() && progress(r) >= checkpoints[next_checkpoint];
        let done = progress(r) >= 1.0;
        let evaluate_now = r.steps.is_multiple_of(tc.eval_interval.max(1)) || at_checkpoint || done;
        if evaluate_now || r.steps == 1 {
            let measuring = Instant::now();
            let val_loss = if !evaluate_now {
                None
            } else if at_checkpoint || done || between.is_none() {
                let (loss, parts) = evaluate_set(model, &full, leading)?;
                r.validation_parts = parts;
                Some(loss)
            } else {
                Some(evaluate_set(model, between.as_ref().expect("spread set"), false)?.0)
            };
            r.phases.evaluation += measuring.elapsed().as_secs_f64();
            let calling = Instant::now();
            let point = CurvePoint {
                step: r.steps,
                tokens: r.tokens,
                flops: r.flops,
                seconds: r.seconds,
                train_loss,
                val_loss,
            };
            on_point(&point);
            r.curve.push(point);
            r.phases.callbacks += calling.elapsed().as_secs_f64();
            if at_checkpoint {
                let v = val_loss.expect("measured at checkpoints");
                if !v.is_finite() {
                    r.outcome = Outcome::Diverged { step: r.steps };
                    return Ok(());
                }
                r.checkpoints_reached = next_checkpoint + 1;
                let calling = Instant::now();
                let decision = on_checkpoint(next_checkpoint, v);
                r.phases.callbacks += calling.elapsed().as_secs_f64();
                if decision == Decision::Stop {
                    r.outcome = Outcome::Stopped { checkpoint: next_checkpoint };
                    r.fitness = Some(v);
                    return Ok(());
                }
                next_checkpoint += 1;
            }
            if done {
                let v = val_loss.expect("measured at the end");
                if !v.is_finite() {
                    r.outcome = Outcome::Diverged { step: r.steps };
                    return Ok(());
                }
                r.fitness = Some(v);
            }
        }
    }
    r.outcome = Outcome::Finished;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_without_a_horizon() {
        let tc = TrainConfig { lr: 1.0, warmup: 10, ..TrainConfig::default() };
        assert!((tc.lr_at(0) - 0.1).abs() < 1e-12);
        assert!((tc.lr_at(9) - 1.0).abs() < 1e-12);
        assert!((tc.lr_at(39) - 0.5).abs() < 1e-12, "sqrt(10/40)");
    }
}
