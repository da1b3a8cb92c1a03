//! Campaigns, their programs, and the candidates the controller adds.

use crate::*;

impl Store {
    /// The server's clock, Unix seconds.
    pub async fn server_now(&self) -> Result<f64> {
        let q = self.sql("SELECT {now}");
        self.retry(|| sqlx::query_scalar::<_, f64>(&q).fetch_one(&self.pool)).await
    }

    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns ORDER BY id")
                .fetch_all(&self.pool)
        })
        .await
    }

    pub async fn campaign(&self, name: &str) -> Result<Option<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn campaign_by_id(&self, id: i64) -> Result<Option<Campaign>> {
        self.retry(|| {
            sqlx::query_as("SELECT id, name, config, seed, created_at, finished_at FROM campaigns WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Creates a campaign; `None` if the name is taken.
    pub async fn create_campaign(&self, name: &str, config: &str, seed: i64) -> Result<Option<Campaign>> {
        let done = self.retry(|| sqlx::query("INSERT INTO campaigns (name, config, seed, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(config)
            .bind(seed)
            .bind(now())
            .execute(&self.pool)).await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.campaign(name).await
    }

    pub async fn mark_finished(&self, campaign: i64) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE campaigns SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL")
                .bind(now())
                .bind(campaign)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Marks a campaign as running again (a resumed or extended campaign).
    pub async fn reopen(&self, campaign: i64) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE campaigns SET finished_at = NULL WHERE id = $1").bind(campaign).execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Stores a program (a no-op if that hash is already there).
    pub async fn put_program(&self, p: &ProgramRow) -> Result<()> {
        self.retry(|| sqlx::query(
            "INSERT INTO programs (hash, text, json, parameters, flops_per_token) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&p.hash)
        .bind(&p.text)
        .bind(&p.json)
        .bind(p.parameters)
        .bind(p.flops_per_token)
        .execute(&self.pool)).await?;
        Ok(())
    }

    /// A stored program's JSON.
    pub async fn program_json(&self, hash: &str) -> Result<Option<String>> {
        self.retry(|| {
            sqlx::query_scalar("SELECT json FROM programs WHERE hash = $1").bind(hash).fetch_optional(&self.pool)
        })
        .await
    }

    /// A stored program's (parameters, training FLOPs per token) at its campaign's model size.
    pub async fn program_cost(&self, hash: &str) -> Result<Option<ProgramCost>> {
        self.retry(|| {
            sqlx::query_as("SELECT parameters, flops_per_token FROM programs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// Enqueues a candidate as pending; `None` if its birth number or program is already in
    /// the campaign (the same birth with the same program is the same candidate: its id).
    /// Records how many children were redrawn for being over a cost limit before `candidate`.
    pub async fn set_over_limit(&self, candidate: i64, redrawn: i64) -> Result<()> {
        self.retry(|| {
            sqlx::query("UPDATE candidates SET over_limit = $1 WHERE id = $2")
                .bind(redrawn)
                .bind(candidate)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    pub async fn add_candidate(&self, c: &NewCandidate) -> Result<Option<i64>> {
        let id: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar(
            "INSERT INTO candidates (campaign, birth, program, parent, seed_index, mutation, description, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(c.campaign)
        .bind(c.birth)
        .bind(&c.program)
        .bind(c.parent)
        .bind(c.seed_index)
        .bind(&c.mutation)
        .bind(&c.description)
        .bind(now())
        .fetch_optional(&self.pool)
            })
            .await?;
        if id.is_some() {
            return Ok(id);
        }
        // Already there with this birth and program: an earlier try whose reply was lost.
        self.retry(|| {
            sqlx::query_scalar("SELECT id FROM candidates WHERE campaign = $1 AND birth = $2 AND program = $3")
                .bind(c.campaign)
                .bind(c.birth)
                .bind(&c.program)
                .fetch_optional(&self.pool)
        })
        .await
    }

    /// The next birth number of a campaign.
    pub async fn next_birth(&self, campaign: i64) -> Result<i64> {
        let max: Option<i64> = self
            .retry(|| {
                sqlx::query_scalar("SELECT MAX(birth) FROM candidates WHERE campaign = $1")
                    .bind(campaign)
                    .fetch_one(&self.pool)
            })
            .await?;
        Ok(max.map_or(0, |m| m + 1))
    }
}
