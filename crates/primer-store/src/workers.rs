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

/// The controller holding a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ControllerRow {
    pub campaign: i64,
    /// Unique per controller process (`host:pid:start`).
    pub holder: String,
    pub host: String,
    pub pid: i64,
    pub started_at: f64,
    pub heartbeat_at: f64,
    /// Seconds since its last heartbeat, on the store server's clock.
    pub silent: f64,
}

/// A controller asking for a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewController {
    pub campaign: i64,
    pub holder: String,
    pub host: String,
    pub pid: i64,
}

impl Store {
    /// Takes the campaign's controller lease for `c` when nobody holds it, when its holder's
    /// heartbeat is older than `lease` seconds, or when it is `c` already (a retried call), or
    /// `steal_from` (a holder the caller knows is dead: a process of its own host that is gone).
    /// Returns the holder after the attempt: `c` when it was taken, else the one who has it.
    pub async fn acquire_controller(
        &self,
        c: &NewController,
        lease: f64,
        steal_from: Option<&str>,
    ) -> Result<ControllerRow> {
        let q = &self.sql(
            "INSERT INTO controllers (campaign, holder, host, pid, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, {now})
             ON CONFLICT (campaign) DO UPDATE SET holder = $2, host = $3, pid = $4, started_at = $5, heartbeat_at = {now}
             WHERE controllers.holder = $2 OR controllers.holder = $7 OR controllers.heartbeat_at < {now} - $6",
        );
        let steal = steal_from.unwrap_or("");
        self.retry(|| {
            sqlx::query(q)
                .bind(c.campaign)
                .bind(&c.holder)
                .bind(&c.host)
                .bind(c.pid)
                .bind(now())
                .bind(lease)
                .bind(steal)
                .execute(&self.pool)
        })
        .await?;
        Ok(self.controller(c.campaign).await?.expect("a controller row was just written or kept"))
    }

    /// Renews the lease; false when `holder` no longer holds it (another controller took it).
    pub async fn controller_heartbeat(&self, campaign: i64, holder: &str) -> Result<bool> {
        let q = &self.sql("UPDATE controllers SET heartbeat_at = {now} WHERE campaign = $1 AND holder = $2");
        let r = self.retry(|| sqlx::query(q).bind(campaign).bind(holder).execute(&self.pool)).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives the lease up (a controller that stops).
    pub async fn release_controller(&self, campaign: i64, holder: &str) -> Result<()> {
        let q = "DELETE FROM controllers WHERE campaign = $1 AND holder = $2";
        self.retry(|| sqlx::query(q).bind(campaign).bind(holder).execute(&self.pool)).await?;
        Ok(())
    }

    /// Who holds the campaign's controller lease, if anyone ever took it.
    pub async fn controller(&self, campaign: i64) -> Result<Option<ControllerRow>> {
        let q = &self.sql(
            "SELECT campaign, holder, host, pid, started_at, heartbeat_at, ({now} - heartbeat_at) AS silent
             FROM controllers WHERE campaign = $1",
        );
        self.retry(|| sqlx::query_as(q).bind(campaign).fetch_optional(&self.pool)).await
    }
}
