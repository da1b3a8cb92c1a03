//! Workers in the store: each `primer worker` registers itself (host, pid, device), renews a
//! heartbeat on the store server's clock, counts what it finished, and says when it leaves, so
//! that the controller sizes its queue by the workers that are alive anywhere and `primer
//! status` can list them.

use serde::Serialize;

use crate::{Result, Store, now};

/// A worker joining a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewWorker {
    /// Unique in the store (`primer worker` uses `host:pid` unless told otherwise).
    pub id: String,
    pub campaign: i64,
    pub host: String,
    pub pid: i64,
    /// `cpu`, `cuda:0`, ... (or `simulated`).
    pub device: String,
}

/// A worker as `primer status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: String,
    pub campaign: i64,
    pub host: String,
    pub pid: i64,
    pub device: String,
    pub started_at: f64,
    pub heartbeat_at: f64,
    /// Candidates it recorded a result for.
    pub done: i64,
    pub exited_at: Option<f64>,
    /// Seconds since its last heartbeat, on the store server's clock.
    pub silent: f64,
}

impl WorkerRow {
    /// `live`, `stale` (no heartbeat for longer than `stale_after` seconds) or `exited`.
    pub fn state(&self, stale_after: f64) -> &'static str {
        if self.exited_at.is_some() {
            "exited"
        } else if self.silent > stale_after {
            "stale"
        } else {
            "live"
        }
    }
}

impl Store {
    /// Registers a worker (again, if its id is back: a restarted worker of the same name).
    pub async fn register_worker(&self, w: &NewWorker) -> Result<()> {
        let q = &self.sql(
            "INSERT INTO workers (id, campaign, host, pid, device, started_at, heartbeat_at, done)
             VALUES ($1, $2, $3, $4, $5, $6, {now}, 0)
             ON CONFLICT (id) DO UPDATE SET campaign = $2, host = $3, pid = $4, device = $5, started_at = $6,
                 heartbeat_at = {now}, done = 0, exited_at = NULL",
        );
        self.retry(|| {
            sqlx::query(q)
                .bind(&w.id)
                .bind(w.campaign)
                .bind(&w.host)
                .bind(w.pid)
                .bind(&w.device)
                .bind(now())
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Renews a worker's heartbeat.
    pub async fn worker_heartbeat(&self, id: &str) -> Result<()> {
        let q = &self.sql("UPDATE workers SET heartbeat_at = {now} WHERE id = $1");
        self.retry(|| sqlx::query(q).bind(id).execute(&self.pool)).await?;
        Ok(())
    }

    /// Marks a worker as gone.
    pub async fn worker_exited(&self, id: &str) -> Result<()> {
        let q = &self.sql("UPDATE workers SET exited_at = {now} WHERE id = $1 AND exited_at IS NULL");
        self.retry(|| sqlx::query(q).bind(id).execute(&self.pool)).await?;
        Ok(())
    }

    /// The campaign's workers, oldest first.
    pub async fn workers(&self, campaign: i64) -> Result<Vec<WorkerRow>> {
        let q = &self.sql(
            "SELECT id, campaign, host, pid, device, started_at, heartbeat_at, done, exited_at,
                    ({now} - heartbeat_at) AS silent
             FROM workers WHERE campaign = $1 ORDER BY started_at, id",
        );
        self.retry(|| sqlx::query_as(q).bind(campaign).fetch_all(&self.pool)).await
    }

    /// How many of the campaign's workers are alive: not exited, and a heartbeat within
    /// `stale_after` seconds.
    pub async fn live_workers(&self, campaign: i64, stale_after: f64) -> Result<i64> {
        let q = &self.sql(
            "SELECT COUNT(*) FROM workers WHERE campaign = $1 AND exited_at IS NULL AND heartbeat_at > {now} - $2",
        );
        self.retry(|| sqlx::query_scalar(q).bind(campaign).bind(stale_after).fetch_one(&self.pool)).await
    }
}
