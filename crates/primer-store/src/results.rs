//! What workers record: fingerprints, curves, hurdle checkpoints, evaluations, retrainings and
//! weights.

use crate::*;

impl Store {
    pub async fn set_fingerprint(&self, candidate: i64, fingerprint: &str) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE candidates SET fingerprint = $1 WHERE id = $2")
                .bind(fingerprint)
                .bind(candidate)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// A candidate's functional fingerprint (None before its worker computed it, or when the
    /// program could not be compiled).
    pub async fn fingerprint(&self, candidate: i64) -> Result<Option<String>> {
        Ok(self
            .retry(|| {
                sqlx::query_scalar("SELECT fingerprint FROM candidates WHERE id = $1")
                    .bind(candidate)
                    .fetch_optional(&self.pool)
            })
            .await?
            .flatten())
    }

    /// The evaluations of earlier candidates (lower birth) of the campaign with this
    /// fingerprint, in birth order: (candidate, fitness, reused_from).
    pub async fn same_fingerprint(
        &self,
        campaign: i64,
        fingerprint: &str,
        before_birth: i64,
    ) -> Result<Vec<(i64, Option<f64>, Option<i64>)>> {
        self.retry(|| {
            sqlx::query_as(
                "SELECT c.id, e.fitness, e.reused_from FROM candidates c JOIN evaluations e ON e.candidate = c.id
             WHERE c.campaign = $1 AND c.fingerprint = $2 AND c.birth < $3 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(fingerprint)
            .bind(before_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Records a curve point (a second point for the same step is ignored).
    pub async fn add_curve_point(&self, candidate: i64, p: &CurvePoint) -> Result<()> {
        self.retry(|| sqlx::query(
            "INSERT INTO curve_points (candidate, step, tokens, flops, seconds, train_loss, val_loss) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (candidate, step) DO NOTHING",
        )
        .bind(candidate)
        .bind(p.step)
        .bind(p.tokens)
        .bind(p.flops)
        .bind(p.seconds)
        .bind(p.train_loss)
        .bind(OptF64(p.val_loss))
        .execute(&self.pool)).await?;
        Ok(())
    }

    /// Records a candidate's loss at hurdle checkpoint `k` (a second one is ignored). A loss
    /// that is not a number is stored as +inf (SQLite cannot store NaN): it never passes and
    /// sets no bar.
    pub async fn add_checkpoint(&self, candidate: i64, k: i64, loss: f64) -> Result<()> {
        let loss = if loss.is_nan() { f64::INFINITY } else { loss };
        self.retry(|| {
            sqlx::query(
                "INSERT INTO checkpoints (candidate, k, loss, campaign, birth)
             SELECT $1, $2, $3, c.campaign, c.birth FROM candidates c WHERE c.id = $1
             ON CONFLICT (candidate, k) DO NOTHING",
            )
            .bind(candidate)
            .bind(k)
            .bind(loss)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// How many of the campaign's candidates born before `before_birth` reached checkpoint `k`
    /// with a finite loss (at most `window` of them, the latest by birth, when `window` > 0),
    /// and the median of those losses (the hurdle's threshold), computed by the store server:
    /// a worker reads two numbers, not the whole history. The same number as
    /// `HalvingHurdles::threshold` over [`Store::checkpoint_losses`] (tested).
    pub async fn checkpoint_median(
        &self,
        campaign: i64,
        k: i64,
        before_birth: i64,
        window: usize,
    ) -> Result<(i64, Option<f64>)> {
        // NaN is NULL in SQLite and above every number in PostgreSQL: both fail the range test.
        // The checkpoint rows carry their campaign and birth, indexed (migration 0005). With a
        // window, the latest `window` finite losses by birth.
        let limit = if window > 0 { format!("ORDER BY p.birth DESC LIMIT {window}") } else { String::new() };
        let finite = format!(
            "FROM (SELECT p.loss FROM checkpoints p
             WHERE p.campaign = $1 AND p.k = $2 AND p.birth < $3 AND p.loss > -1e308 AND p.loss < 1e308 {limit}) AS w"
        );
        let count_sql = format!("SELECT COUNT(*) {finite}");
        let n: i64 = self
            .retry(|| sqlx::query_scalar(&count_sql).bind(campaign).bind(k).bind(before_birth).fetch_one(&self.pool))
            .await?;
        if n == 0 {
            return Ok((0, None));
        }
        let (take, skip) = if n % 2 == 1 { (1, n / 2) } else { (2, n / 2 - 1) };
        let middle_sql = format!("SELECT w.loss {finite} ORDER BY w.loss LIMIT {take} OFFSET {skip}");
        let middle: Vec<f64> = self
            .retry(|| sqlx::query_scalar(&middle_sql).bind(campaign).bind(k).bind(before_birth).fetch_all(&self.pool))
            .await?;
        Ok((n, (!middle.is_empty()).then(|| middle.iter().sum::<f64>() / middle.len() as f64)))
    }

    /// Losses at checkpoint `k` of the campaign's candidates born before `before_birth`.
    pub async fn checkpoint_losses(&self, campaign: i64, k: i64, before_birth: i64) -> Result<Vec<f64>> {
        self.retry(|| {
            sqlx::query_scalar(
                "SELECT p.loss FROM checkpoints p JOIN candidates c ON c.id = p.candidate
             WHERE c.campaign = $1 AND p.k = $2 AND c.birth < $3 ORDER BY c.birth",
            )
            .bind(campaign)
            .bind(k)
            .bind(before_birth)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Records a candidate's result, if `worker` still holds it: its status becomes done (a
    /// fitness) or failed (none). Returns whether it was recorded (also when this worker's
    /// result was recorded by an earlier try whose reply was lost: never twice).
    pub async fn finish(&self, candidate: i64, worker: &str, e: &Evaluation) -> Result<bool> {
        let status = if e.fitness.is_some() { Status::Done } else { Status::Failed };
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let owned = sqlx::query(
                "UPDATE candidates SET status = $1, lease_until = NULL WHERE id = $2 AND worker = $3 AND status = 'running'",
            )
            .bind(status)
            .bind(candidate)
            .bind(worker)
            .execute(&mut *tx)
            .await?;
            if owned.rows_affected() != 1 {
                // This very result, recorded by a try whose reply was lost?
                let stored: Option<(Option<String>, Option<f64>, i64, Outcome)> =
                    sqlx::query_as("SELECT worker, fitness, steps, outcome FROM evaluations WHERE candidate = $1")
                        .bind(candidate)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                return Ok(stored.is_some_and(|(by, fitness, steps, outcome)| {
                    by.as_deref() == Some(worker) && fitness == e.fitness && steps == e.steps && outcome == e.outcome
                }));
            }
            insert_evaluation(&mut tx, candidate, Some(worker), e, now()).await?;
            sqlx::query("UPDATE workers SET done = done + 1 WHERE id = $1").bind(worker).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Records a retraining; `false` if that (candidate, budget, seed) is already stored.
    pub async fn add_rerun(&self, r: &Rerun) -> Result<bool> {
        let done = self
            .retry(|| {
                sqlx::query(
            "INSERT INTO reruns (candidate, budget, seed, fitness, steps, flops, seconds, outcome, reason, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(r.candidate)
        .bind(&r.budget)
        .bind(r.seed)
        .bind(OptF64(r.fitness))
        .bind(r.steps)
        .bind(r.flops)
        .bind(r.seconds)
        .bind(r.outcome)
        .bind(&r.reason)
        .bind(now())
        .execute(&self.pool)
            })
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a candidate's trained weights (safetensors bytes); `false` if weights for that
    /// (candidate, budget, seed) are already stored (they are kept).
    pub async fn put_weights(&self, w: &Weights) -> Result<bool> {
        let done = self
            .retry(|| {
                sqlx::query(
                    "INSERT INTO weights (candidate, budget, seed, fitness, steps, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(w.candidate)
                .bind(&w.budget)
                .bind(w.seed)
                .bind(OptF64(w.fitness))
                .bind(w.steps)
                .bind(&w.data)
                .bind(now())
                .execute(&self.pool)
            })
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

pub(crate) async fn insert_evaluation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    candidate: i64,
    worker: Option<&str>,
    e: &Evaluation,
    finished_at: f64,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO evaluations (candidate, budget, fitness, steps, tokens, flops, seconds, hurdles, outcome, reason, reused_from, worker, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(candidate)
    .bind(&e.budget)
    .bind(OptF64(e.fitness))
    .bind(e.steps)
    .bind(e.tokens)
    .bind(e.flops)
    .bind(e.seconds)
    .bind(e.hurdles)
    .bind(e.outcome)
    .bind(&e.reason)
    .bind(e.reused_from)
    .bind(worker)
    .bind(finished_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
