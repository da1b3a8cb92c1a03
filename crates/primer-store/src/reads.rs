//! Reads of a campaign: its history, the best, counts, curves, checkpoints, programs.

use crate::*;

impl Store {
    /// Every program hash in the campaign (for structural dedup).
    pub async fn program_hashes(&self, campaign: i64) -> Result<Vec<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT program FROM candidates WHERE campaign = $1")
                .bind(campaign)
                .fetch_all(&self.pool)
        })
        .await
    }

    /// The program hash of a candidate.
    pub async fn candidate_program(&self, candidate: i64) -> Result<Option<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT program FROM candidates WHERE id = $1")
                .bind(candidate)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Candidates born at `from_birth` or later that have a result (done or failed), by birth,
    /// with their programs' sizes: what the controller reads to keep its history current without reading it all again.
    pub async fn finished_since(&self, campaign: i64, from_birth: i64) -> Result<Vec<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness,
                        p.parameters AS parameters, p.flops_per_token AS flops_per_token
                 FROM candidates c JOIN evaluations e ON e.candidate = c.id JOIN programs p ON p.hash = c.program
                 WHERE c.campaign = $1 AND c.birth >= $2
                 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(from_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// The best finished candidate (lowest fitness; ties to the earlier), without reading the
    /// whole history.
    pub async fn best(&self, campaign: i64) -> Result<Option<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness
                 FROM candidates c JOIN evaluations e ON e.candidate = c.id
                 WHERE c.campaign = $1 AND e.fitness IS NOT NULL ORDER BY e.fitness, c.birth LIMIT 1",
            )
            .bind(campaign)
            .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn finished(&self, campaign: i64) -> Result<Vec<Finished>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.birth AS birth, e.fitness AS fitness
             FROM candidates c JOIN evaluations e ON e.candidate = c.id WHERE c.campaign = $1",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    pub async fn counts(&self, campaign: i64) -> Result<Counts> {
        let rows: Vec<(Status, i64)> = self
            .retry(|| {
                sqlx::query_as("SELECT status, COUNT(*) FROM candidates WHERE campaign = $1 GROUP BY status")
                    .bind(campaign)
                    .fetch_all(&self.pool)
            })
            .await?;
        let mut c = Counts::default();
        for (status, n) in rows {
            match status {
                Status::Pending => c.pending = n,
                Status::Running => c.running = n,
                Status::Done => c.done = n,
                Status::Failed => c.failed += n,
            }
        }
        Ok(c)
    }

    /// How many of the campaign's candidates ended with each outcome.
    pub async fn outcome_counts(&self, campaign: i64) -> Result<Vec<OutcomeCount>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT e.outcome, COUNT(*) AS count FROM evaluations e JOIN candidates c ON c.id = e.candidate
                 WHERE c.campaign = $1 GROUP BY e.outcome ORDER BY e.outcome",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Why attempts of the campaign's candidates ended without a result, by candidate and attempt.
    pub async fn requeues(&self, campaign: i64) -> Result<Vec<Requeue>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT r.candidate, r.attempt, r.worker, r.reason, r.charged FROM requeues r
                 JOIN candidates c ON c.id = r.candidate WHERE c.campaign = $1 ORDER BY r.candidate, r.attempt",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// One candidate with its result, and its campaign's id.
    pub async fn candidate(&self, id: i64) -> Result<Option<CandidateIn>> {
        let campaign: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar("SELECT campaign FROM candidates WHERE id = $1").bind(id).fetch_optional(&self.pool)
            })
            .await?;
        let Some(campaign) = campaign else { return Ok(None) };
        let row = self.retry(|| sqlx::query_as(
            "SELECT c.id AS candidate, c.birth, c.program, c.parent, c.seed_index, c.mutation, c.description, c.status,
                    c.attempts, c.worker, e.fitness, e.outcome, e.reason, e.steps, e.flops, e.seconds, e.hurdles, e.reused_from, c.over_limit
             FROM candidates c LEFT JOIN evaluations e ON e.candidate = c.id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)).await?;
        Ok(Some(CandidateIn { campaign, row }))
    }

    /// A candidate's losses at the hurdle checkpoints it reached, by k.
    pub async fn checkpoints_of(&self, candidate: i64) -> Result<Vec<Checkpoint>> {
        self.retry(|| {
            sqlx::query_as("SELECT k, loss FROM checkpoints WHERE candidate = $1 ORDER BY k")
                .bind(candidate)
                .fetch_all(&self.pool)
        })
        .await
    }

    /// A candidate's stored weights for (budget, seed), if any.
    pub async fn weights(&self, candidate: i64, budget: &str, seed: i64) -> Result<Option<Weights>> {
        self.retry(|| sqlx::query_as(
            "SELECT candidate, budget, seed, fitness, steps, data FROM weights WHERE candidate = $1 AND budget = $2 AND seed = $3",
        )
        .bind(candidate)
        .bind(budget)
        .bind(seed)
        .fetch_optional(&self.pool)).await
    }

    /// The campaign's retrainings at `budget`, by candidate then seed.
    pub async fn reruns(&self, campaign: i64, budget: &str) -> Result<Vec<Rerun>> {
        self.retry(|| sqlx::query_as(
            "SELECT r.candidate, r.budget, r.seed, r.fitness, r.steps, r.flops, r.seconds, r.outcome, r.reason
             FROM reruns r JOIN candidates c ON c.id = r.candidate WHERE c.campaign = $1 AND r.budget = $2 ORDER BY r.candidate, r.seed",
        )
        .bind(campaign)
        .bind(budget)
        .fetch_all(&self.pool)).await
    }

    /// Every candidate of the campaign with its result, in birth order.
    pub async fn history(&self, campaign: i64) -> Result<Vec<HistoryRow>> {
        self.retry(|| sqlx::query_as(
            "SELECT c.id AS candidate, c.birth, c.program, c.parent, c.seed_index, c.mutation, c.description, c.status,
                    c.attempts, c.worker, e.fitness, e.outcome, e.reason, e.steps, e.flops, e.seconds, e.hurdles, e.reused_from, c.over_limit
             FROM candidates c LEFT JOIN evaluations e ON e.candidate = c.id WHERE c.campaign = $1 ORDER BY c.birth",
        )
        .bind(campaign)
        .fetch_all(&self.pool)).await
    }

    /// The `k` best finished candidates (lowest fitness; ties to the earlier).
    pub async fn top(&self, campaign: i64, k: i64) -> Result<Vec<HistoryRow>> {
        let mut rows: Vec<HistoryRow> =
            self.history(campaign).await?.into_iter().filter(|r| r.fitness.is_some()).collect();
        rows.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
        rows.truncate(k.max(0) as usize);
        Ok(rows)
    }

    /// The campaign's programs: (hash, JSON, parameters, training FLOPs per token), one query.
    pub async fn programs_of(&self, campaign: i64) -> Result<Vec<StoredProgram>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT p.hash, p.json, p.parameters, p.flops_per_token FROM programs p
                 WHERE p.hash IN (SELECT c.program FROM candidates c WHERE c.campaign = $1)",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// How many of the campaign's candidates reached each hurdle checkpoint.
    pub async fn checkpoint_counts(&self, campaign: i64) -> Result<Vec<CheckpointCount>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT k, COUNT(*) AS candidates FROM checkpoints WHERE campaign = $1 GROUP BY k ORDER BY k",
            )
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Curve points of a candidate, by step.
    pub async fn curve(&self, candidate: i64) -> Result<Vec<CurvePoint>> {
        self.retry(|| sqlx::query_as(
            "SELECT step, tokens, flops, seconds, train_loss, val_loss FROM curve_points WHERE candidate = $1 ORDER BY step",
        )
        .bind(candidate)
        .fetch_all(&self.pool)).await
    }

    /// Full-budget measurements (outcome `finished`, with a loss) of the program with this
    /// hash in the store's campaigns other than `campaign`, oldest first: what fitness reuse
    /// across campaigns may take instead of training.
    pub async fn measured_elsewhere(&self, campaign: i64, program: &str) -> Result<Vec<Measured>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id AS candidate, c.campaign AS campaign, e.fitness AS fitness, e.flops AS flops
                 FROM candidates c JOIN evaluations e ON e.candidate = c.id
                 WHERE c.program = $1 AND c.campaign <> $2 AND e.outcome = 'finished' AND e.fitness IS NOT NULL
                 ORDER BY e.finished_at, c.id",
            )
            .bind(program)
            .bind(campaign)
            .fetch_all(&self.pool)
        })
        .await
    }
}
