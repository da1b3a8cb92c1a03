//! Controllers in the store: one controller per campaign holds its lease (host, pid, a
//! heartbeat on the store server's clock); a second is refused, a dead one is taken over.

use crate::{Result, Store, now};
use serde::Serialize;

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
