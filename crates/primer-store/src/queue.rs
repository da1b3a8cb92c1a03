//! The queue: claims under a lease, heartbeats, requeues and releases, retrying the lost.

use crate::*;

impl Store {
    /// The candidates in flight (pending, running), read through the status index without
    /// touching the finished ones (the controller asks many times a second).
    pub async fn in_flight(&self, campaign: i64) -> Result<InFlight> {
        let rows: Vec<(Status, i64)> = self
            .retry(|| {
                sqlx::query_as(
                    "SELECT status, COUNT(*) FROM candidates WHERE campaign = $1 AND status IN ('pending', 'running') GROUP BY status",
                )
                .bind(campaign)
                .fetch_all(&self.pool)
            })
            .await?;
        let n = |s| rows.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
        Ok(InFlight { pending: n(Status::Pending), running: n(Status::Running) })
    }

    pub async fn running(&self, campaign: i64) -> Result<Vec<Running>> {
        self.retry(|| sqlx::query_as(
            "SELECT id AS candidate, birth, worker, description FROM candidates WHERE campaign = $1 AND status = 'running' ORDER BY birth",
        )
        .bind(campaign)
        .fetch_all(&self.pool)).await
    }

    /// Claims the oldest pending candidate for `worker` with a lease of `lease` seconds (on the
    /// server's clock). A worker holds one candidate at a time, so a candidate this worker
    /// already holds is returned again: that is a claim whose reply was lost to a dropped
    /// connection after the commit, retried.
    pub async fn claim(&self, campaign: i64, worker: &str, lease: f64) -> Result<Option<Claim>> {
        let held = &self.sql(
            "SELECT id, birth, attempts, program FROM candidates
             WHERE campaign = $1 AND status = 'running' AND worker = $2 ORDER BY birth LIMIT 1",
        );
        let renew = &self.sql("UPDATE candidates SET lease_until = {now} + $1 WHERE id = $2");
        let take = &self.sql(
            "UPDATE candidates SET status = 'running', worker = $1, lease_until = {now} + $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM candidates WHERE campaign = $3 AND status = 'pending' ORDER BY birth LIMIT 1{skip_locked})
             RETURNING id, birth, attempts, program",
        );
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let mut claimed: Option<(i64, i64, i64, String)> =
                sqlx::query_as(held).bind(campaign).bind(worker).fetch_optional(&mut *tx).await?;
            if let Some((id, ..)) = &claimed {
                sqlx::query(renew).bind(lease).bind(*id).execute(&mut *tx).await?;
            } else {
                claimed = sqlx::query_as(take).bind(worker).bind(lease).bind(campaign).fetch_optional(&mut *tx).await?;
            }
            let Some((candidate, birth, attempts, hash)) = claimed else {
                tx.commit().await?;
                return Ok(None);
            };
            // A new attempt starts from nothing: drop what an earlier, dead attempt left.
            sqlx::query("DELETE FROM curve_points WHERE candidate = $1").bind(candidate).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM checkpoints WHERE candidate = $1").bind(candidate).execute(&mut *tx).await?;
            let program_json: String =
                sqlx::query_scalar("SELECT json FROM programs WHERE hash = $1").bind(&hash).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(Claim { candidate, birth, attempts, program_json }))
        })
        .await
    }

    /// Extends a lease (on the server's clock); `false` if the worker no longer holds the candidate.
    pub async fn heartbeat(&self, candidate: i64, worker: &str, lease: f64) -> Result<bool> {
        let q = &self
            .sql("UPDATE candidates SET lease_until = {now} + $1 WHERE id = $2 AND worker = $3 AND status = 'running'");
        let r = self.retry(|| sqlx::query(q).bind(lease).bind(candidate).bind(worker).execute(&self.pool)).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Puts running candidates whose lease has expired on the server's clock (or, with
    /// `worker`, that this worker held) back to pending, recording why each attempt ended and
    /// whether it is charged to the candidate (`requeues`); a candidate with `max_attempts`
    /// charged attempts (since a `--retry-failed`) is recorded as failed instead. Returns
    /// (requeued, failed).
    ///
    /// Who is to blame (see [`Ended`]): with `worker`, the caller says (`ended`: a local worker
    /// whose exit it saw). For an expired lease the store decides from the workers table: a
    /// worker that still answers but stopped renewing the lease is stuck on the candidate
    /// (charged); one that stopped answering while other workers on its host kept answering
    /// died alone, maybe of the program (charged: a crash, the kernel's out-of-memory killer);
    /// one that stopped answering together with the other workers of its host lost its machine
    /// (not charged); a worker nobody knows (charged). `lease` is the campaign's lease in
    /// seconds, the time after which a silent worker counts as gone.
    pub async fn requeue(
        &self,
        campaign: i64,
        worker: Option<&str>,
        ended: Option<&Ended>,
        lease: f64,
        max_attempts: i64,
    ) -> Result<(u64, u64)> {
        let expired = &self.sql(
            "SELECT c.id, c.attempts, c.worker, c.retry_from, w.host, w.exited_at, ({now} - w.heartbeat_at) AS silent
             FROM candidates c LEFT JOIN workers w ON w.id = c.worker
             WHERE c.campaign = $1 AND c.status = 'running' AND c.lease_until < {now}",
        );
        let held = &self.sql(
            "SELECT c.id, c.attempts, c.worker, c.retry_from, w.host, w.exited_at, ({now} - w.heartbeat_at) AS silent
             FROM candidates c LEFT JOIN workers w ON w.id = c.worker
             WHERE c.campaign = $1 AND c.status = 'running' AND c.worker = $2",
        );
        let host_alive = &self.sql(
            "SELECT COUNT(*) FROM workers WHERE host = $1 AND id <> $2 AND exited_at IS NULL AND {now} - heartbeat_at <= $3",
        );
        let host_silent_with = &self.sql(
            "SELECT COUNT(*) FROM workers WHERE host = $1 AND id <> $2 AND exited_at IS NULL
             AND {now} - heartbeat_at > $3 AND ABS(({now} - heartbeat_at) - $4) <= $3",
        );
        type Lost = (i64, i64, Option<String>, i64, Option<String>, Option<f64>, Option<f64>);
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let lost: Vec<Lost> = match worker {
                Some(w) => sqlx::query_as(held).bind(campaign).bind(w).fetch_all(&mut *tx).await?,
                None => sqlx::query_as(expired).bind(campaign).fetch_all(&mut *tx).await?,
            };
            let (mut requeued, mut failed) = (0, 0);
            for (id, attempts, w, retry_from, host, exited_at, silent) in lost {
                let who = w.as_deref().unwrap_or("?");
                let verdict = match (ended, host, silent) {
                    (Some(e), ..) => e.clone(),
                    (None, None, _) | (None, _, None) => {
                        Ended::charged(format!("the lease of worker {who} ran out (a worker the store does not know)"))
                    }
                    (None, Some(_), Some(_)) if exited_at.is_some() => {
                        Ended::charged(format!("worker {who} stopped with an error while training it"))
                    }
                    (None, Some(_), Some(silent)) if silent <= lease => Ended::charged(format!(
                        "worker {who} kept answering but stopped renewing its lease on it (stuck on it)"
                    )),
                    (None, Some(host), Some(silent)) => {
                        let alive: i64 = sqlx::query_scalar(host_alive)
                            .bind(&host)
                            .bind(who)
                            .bind(lease)
                            .fetch_one(&mut *tx)
                            .await?;
                        let with: i64 = sqlx::query_scalar(host_silent_with)
                            .bind(&host)
                            .bind(who)
                            .bind(lease)
                            .bind(silent)
                            .fetch_one(&mut *tx)
                            .await?;
                        if alive == 0 && with > 0 {
                            Ended::free(format!(
                                "machine {host} went away: worker {who} and {with} other worker(s) there stopped answering at once"
                            ))
                        } else if alive > 0 {
                            Ended::charged(format!(
                                "worker {who} died while training it ({alive} other worker(s) on {host} kept answering)"
                            ))
                        } else {
                            Ended::charged(format!("worker {who} died while training it"))
                        }
                    }
                };
                sqlx::query(
                    "INSERT INTO requeues (candidate, attempt, worker, reason, charged, at) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (candidate, attempt) DO NOTHING",
                )
                .bind(id)
                .bind(attempts)
                .bind(w.as_deref())
                .bind(&verdict.reason)
                .bind(i64::from(verdict.charged))
                .bind(now())
                .execute(&mut *tx)
                .await?;
                let charged: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM requeues WHERE candidate = $1 AND charged = 1 AND attempt > $2",
                )
                .bind(id)
                .bind(retry_from)
                .fetch_one(&mut *tx)
                .await?;
                if charged >= max_attempts {
                    sqlx::query("UPDATE candidates SET status = 'failed', lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    insert_evaluation(&mut tx, id, None, &given_up(charged, &verdict.reason), now()).await?;
                    failed += 1;
                } else {
                    sqlx::query("UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    requeued += 1;
                }
            }
            tx.commit().await?;
            Ok((requeued, failed))
        })
        .await
    }

    /// Gives a candidate back without charging it an attempt: its worker was told to stop (a
    /// signal), or lost the controller that started it. Records `reason`. False when `worker`
    /// no longer holds it.
    pub async fn release(&self, candidate: i64, worker: &str, reason: &str) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let attempts: Option<i64> = sqlx::query_scalar(
                "SELECT attempts FROM candidates WHERE id = $1 AND status = 'running' AND worker = $2",
            )
            .bind(candidate)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(attempts) = attempts else {
                tx.commit().await?;
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO requeues (candidate, attempt, worker, reason, charged, at) VALUES ($1, $2, $3, $4, 0, $5)
                 ON CONFLICT (candidate, attempt) DO NOTHING",
            )
            .bind(candidate)
            .bind(attempts)
            .bind(worker)
            .bind(reason)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL WHERE id = $1")
                .bind(candidate)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Puts the campaign's candidates that failed only because their workers died (never a
    /// program that failed on its own: those are done, with their outcome) back to pending,
    /// keeping their attempt history; the charged attempts so far no longer count. Returns how
    /// many.
    pub async fn retry_failed(&self, campaign: i64) -> Result<u64> {
        self.retry(move || async move {
            let mut tx = self.pool.begin().await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT c.id FROM candidates c JOIN evaluations e ON e.candidate = c.id
                 WHERE c.campaign = $1 AND c.status = 'failed' AND e.outcome = 'failed'",
            )
            .bind(campaign)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query("DELETE FROM evaluations WHERE candidate = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE candidates SET status = 'pending', worker = NULL, lease_until = NULL, retry_from = attempts WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(ids.len() as u64)
        })
        .await
    }
}

/// The result of a candidate given up after `charged` charged attempts, the last ended `last`.
fn given_up(charged: i64, last: &str) -> Evaluation {
    Evaluation {
        budget: String::new(),
        fitness: None,
        steps: 0,
        tokens: 0,
        flops: 0.0,
        seconds: 0.0,
        hurdles: 0,
        outcome: Outcome::Failed,
        reason: Some(format!("{charged} charged attempts ended without a result (last: {last})")),
        reused_from: None,
    }
}
