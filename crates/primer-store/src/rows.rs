//! The rows the store reads and writes, declared once.

use serde::{Deserialize, Serialize};

use crate::*;

/// A campaign row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The resolved configuration, JSON, stored verbatim.
    pub config: String,
    pub seed: i64,
    pub created_at: f64,
    pub finished_at: Option<f64>,
}

/// A candidate to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCandidate {
    pub campaign: i64,
    pub birth: i64,
    pub program: String,
    pub parent: Option<i64>,
    pub seed_index: Option<i64>,
    /// The mutation as JSON (primer-evolve's `Mutation`).
    pub mutation: Option<String>,
    /// The mutation in words.
    pub description: Option<String>,
}

/// A candidate a worker now holds.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Claim {
    pub candidate: i64,
    pub birth: i64,
    pub attempts: i64,
    pub program_json: String,
}

/// What a worker reports for a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub budget: String,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub tokens: i64,
    pub flops: f64,
    pub seconds: f64,
    pub hurdles: i64,
    /// finished | stopped | invalid | diverged | out_of_memory | reused | failed
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub reused_from: Option<i64>,
}

/// One point of a learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CurvePoint {
    pub step: i64,
    pub tokens: i64,
    pub flops: f64,
    pub seconds: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
}

/// A candidate with a result, as evolution needs it.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct Finished {
    pub candidate: i64,
    pub birth: i64,
    pub fitness: Option<f64>,
    /// Its program's parameters and training FLOPs per token ([`Store::finished_since`]
    /// reads them; 0 where a query leaves them out).
    #[sqlx(default)]
    pub parameters: i64,
    #[sqlx(default)]
    pub flops_per_token: i64,
}

/// How many candidates are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl Counts {
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.done + self.failed
    }
    pub fn finished(&self) -> i64 {
        self.done + self.failed
    }
}

/// A candidate being trained.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Running {
    pub candidate: i64,
    pub birth: i64,
    pub worker: Option<String>,
    pub description: Option<String>,
}

/// An attempt that ended without a result, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Requeue {
    pub candidate: i64,
    pub attempt: i64,
    pub worker: Option<String>,
    pub reason: String,
    /// Whether it counts against the candidate (1) or not (0).
    pub charged: i64,
}

/// How an attempt ended without a result: why, and whether that counts against the candidate.
///
/// The rule: an attempt is charged when the program could have caused its end (the worker
/// crashed, was killed by SIGKILL, which is how the kernel's out-of-memory killer ends a
/// process, died alone while the other workers of its machine kept going, or got stuck on
/// it); it is not charged when the worker was told to stop (SIGTERM, SIGINT, SIGHUP: it gives
/// the candidate back itself), lost the controller that started it, or went away with the
/// rest of its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub reason: String,
    pub charged: bool,
}

impl Ended {
    pub fn charged(reason: String) -> Ended {
        Ended { reason, charged: true }
    }
    pub fn free(reason: String) -> Ended {
        Ended { reason, charged: false }
    }
}

/// One row of a campaign's history (every candidate, its lineage and result), in birth order.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub candidate: i64,
    pub birth: i64,
    pub program: String,
    pub parent: Option<i64>,
    pub seed_index: Option<i64>,
    pub mutation: Option<String>,
    pub description: Option<String>,
    pub status: Status,
    pub attempts: i64,
    pub worker: Option<String>,
    pub fitness: Option<f64>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
    pub steps: Option<i64>,
    pub flops: Option<f64>,
    pub seconds: Option<f64>,
    pub hurdles: Option<i64>,
    pub reused_from: Option<i64>,
    /// Children redrawn for being over a cost limit before this one (NULL: none).
    #[sqlx(default)]
    pub over_limit: Option<i64>,
}

/// One retraining of a candidate at another budget and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Rerun {
    pub candidate: i64,
    pub budget: String,
    pub seed: i64,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub flops: f64,
    pub seconds: f64,
    pub outcome: Outcome,
    pub reason: Option<String>,
}

/// A candidate's trained weights: safetensors bytes under the compiler's parameter names
/// (serialized as their SHA-256).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Weights {
    pub candidate: i64,
    pub budget: String,
    pub seed: i64,
    pub fitness: Option<f64>,
    pub steps: i64,
    #[serde(serialize_with = "sha256_hex")]
    pub data: Vec<u8>,
}

fn sha256_hex<S: serde::Serializer>(data: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    use sha2::Digest;
    s.serialize_str(&hex::encode(sha2::Sha256::digest(data)))
}

/// A stored program's size and analytic cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProgramCost {
    pub parameters: i64,
    pub flops_per_token: i64,
}

/// A campaign's candidates in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InFlight {
    pub pending: i64,
    pub running: i64,
}

/// How many of a campaign's evaluations ended with one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct OutcomeCount {
    pub outcome: Outcome,
    pub count: i64,
}

/// One candidate and the campaign it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateIn {
    pub campaign: i64,
    pub row: HistoryRow,
}

/// A candidate's validation loss at hurdle checkpoint `k`.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct Checkpoint {
    pub k: i64,
    pub loss: f64,
}

/// A full-budget measurement of a program in some campaign ([`Store::measured_elsewhere`]).
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct Measured {
    pub candidate: i64,
    pub campaign: i64,
    pub fitness: f64,
    /// The training FLOPs it cost.
    pub flops: f64,
}

/// A program a campaign uses: its hash, JSON and size (the text left out).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredProgram {
    pub hash: String,
    pub json: String,
    pub parameters: i64,
    pub flops_per_token: i64,
}

/// How many of a campaign's candidates reached hurdle checkpoint `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckpointCount {
    pub k: i64,
    pub candidates: i64,
}

/// A program by canonical hash: its text, its JSON, its size and analytic cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProgramRow {
    pub hash: String,
    pub text: String,
    pub json: String,
    pub parameters: i64,
    pub flops_per_token: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CandidateRow {
    pub id: i64,
    pub birth: i64,
    pub program: String,
    pub parent: Option<i64>,
    pub seed_index: Option<i64>,
    pub mutation: Option<String>,
    pub description: Option<String>,
    pub status: Status,
    pub worker: Option<String>,
    pub attempts: i64,
    /// Charged attempts up to this one no longer count (`--retry-failed`).
    pub retry_from: i64,
    pub fingerprint: Option<String>,
    pub created_at: f64,
    /// Children redrawn for being over a cost limit before this one (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[sqlx(default)]
    pub over_limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct EvaluationRow {
    pub candidate: i64,
    pub budget: String,
    pub fitness: Option<f64>,
    pub steps: i64,
    pub tokens: i64,
    pub flops: f64,
    pub seconds: f64,
    pub hurdles: i64,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub reused_from: Option<i64>,
    pub worker: Option<String>,
    pub finished_at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CheckpointRow {
    pub candidate: i64,
    pub k: i64,
    pub loss: f64,
}

/// A curve point with its candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CurveRow {
    pub candidate: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub point: CurvePoint,
}

/// A retraining with when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RerunRow {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub rerun: Rerun,
    pub finished_at: f64,
}

/// Stored weights with when they were stored (serialized with the data as its SHA-256).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct WeightsRow {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub weights: Weights,
    pub created_at: f64,
}

/// Why an attempt ended without a result, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RequeueRow {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub requeue: Requeue,
    pub at: f64,
}
