//! Moving a campaign between stores (`primer store copy`): a [`CampaignDump`] holds every row
//! of one campaign (its config, the programs it uses, candidates, evaluations, checkpoints,
//! curves, retrainings and weights), is written into another store in one transaction, and is
//! checked there by row counts and a content hash that does not depend on row ids (candidates
//! are named by birth), so SQLite -> PostgreSQL -> SQLite gives the same hash.
//!
//! Candidate and campaign ids are kept when the target has none of them (a fresh store, the
//! usual case), so that `primer top` and `show` print the same; otherwise the target numbers
//! them and references are renumbered with them.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::results::insert_evaluation;
use crate::{
    Campaign, CandidateRow, CheckpointRow, CurveRow, Evaluation, EvaluationRow, OptF64, ProgramRow, RequeueRow,
    RerunRow, Result, Status, Store, StoreError, WeightsRow,
};

/// Every row of one campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignDump {
    pub campaign: Campaign,
    pub programs: Vec<ProgramRow>,
    pub candidates: Vec<CandidateRow>,
    pub evaluations: Vec<EvaluationRow>,
    pub checkpoints: Vec<CheckpointRow>,
    pub curve_points: Vec<CurveRow>,
    pub reruns: Vec<RerunRow>,
    pub weights: Vec<WeightsRow>,
    pub requeues: Vec<RequeueRow>,
}

/// Rows per table, in a fixed order.
pub type RowCounts = Vec<(&'static str, usize)>;

impl CampaignDump {
    pub fn counts(&self) -> RowCounts {
        vec![
            ("programs", self.programs.len()),
            ("candidates", self.candidates.len()),
            ("evaluations", self.evaluations.len()),
            ("checkpoints", self.checkpoints.len()),
            ("curve_points", self.curve_points.len()),
            ("reruns", self.reruns.len()),
            ("weights", self.weights.len()),
            ("requeues", self.requeues.len()),
        ]
    }

    /// These rows with the program rows of `source` in place of their own where the hashes
    /// agree. A store keeps one row per canonical hash, the text it was first given: a campaign
    /// copied into a store where another campaign wrote a program with the same canonical hash
    /// in other words (equal up to names and order) reads back that text. Its content is the
    /// same; comparing a copy with its source goes through this.
    pub fn with_programs_of(mut self, source: &[ProgramRow]) -> CampaignDump {
        let by_hash: HashMap<&str, &ProgramRow> = source.iter().map(|p| (p.hash.as_str(), p)).collect();
        for p in &mut self.programs {
            if let Some(s) = by_hash.get(p.hash.as_str()) {
                *p = (*s).clone();
            }
        }
        self
    }

    /// SHA-256 of the campaign's content with every candidate reference (ids) written as its
    /// birth and the campaign's id left out: equal in any store the campaign is copied to.
    pub fn content_hash(&self) -> String {
        let birth: HashMap<i64, i64> = self.candidates.iter().map(|c| (c.id, c.birth)).collect();
        let b = |id: i64| birth.get(&id).copied().unwrap_or(-1);
        let mut d = self.clone();
        d.campaign.id = 0;
        for c in &mut d.candidates {
            c.id = c.birth;
            c.parent = c.parent.map(b);
        }
        for e in &mut d.evaluations {
            e.candidate = b(e.candidate);
            e.reused_from = e.reused_from.filter(|r| birth.contains_key(r)).map(b);
        }
        d.evaluations.sort_by_key(|e| e.candidate);
        for p in &mut d.checkpoints {
            p.candidate = b(p.candidate);
        }
        d.checkpoints.sort_by_key(|p| (p.candidate, p.k));
        for p in &mut d.curve_points {
            p.candidate = b(p.candidate);
        }
        d.curve_points.sort_by_key(|p| (p.candidate, p.point.step));
        for r in &mut d.reruns {
            r.rerun.candidate = b(r.rerun.candidate);
        }
        let key = |r: &RerunRow| (r.rerun.candidate, r.rerun.budget.clone(), r.rerun.seed);
        d.reruns.sort_by_key(key);
        for w in &mut d.weights {
            w.weights.candidate = b(w.weights.candidate);
        }
        let key = |w: &WeightsRow| (w.weights.candidate, w.weights.budget.clone(), w.weights.seed);
        d.weights.sort_by_key(key);
        for r in &mut d.requeues {
            r.requeue.candidate = b(r.requeue.candidate);
        }
        d.requeues.sort_by_key(|r| (r.requeue.candidate, r.requeue.attempt));
        let json = serde_json::to_vec(&d).expect("a dump serializes");
        hex::encode(Sha256::digest(json))
    }
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub name: String,
    pub from_id: i64,
    pub to_id: i64,
    /// Whether candidate ids were kept (else renumbered by the target).
    pub ids_kept: bool,
    pub rows: RowCounts,
    pub content_hash: String,
}

/// `INSERT INTO table (id?, columns...) VALUES ($1, ...) RETURNING id`.
fn insert_sql(table: &str, columns: &[&str], with_id: bool) -> String {
    let columns: Vec<&str> = with_id.then_some("id").into_iter().chain(columns.iter().copied()).collect();
    let values: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    format!("INSERT INTO {table} ({}) VALUES ({}) RETURNING id", columns.join(", "), values.join(", "))
}

const CAMPAIGN_ROWS: &str = "FROM candidates c WHERE c.campaign = $1";

impl Store {
    /// Every row of a campaign.
    pub async fn dump_campaign(&self, campaign: i64) -> Result<CampaignDump> {
        let campaign = self.campaign_by_id(campaign).await?.ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        let id = campaign.id;
        let q = |cols: &str, table: &str, order: &str| {
            format!("SELECT {cols} FROM {table} t WHERE t.candidate IN (SELECT c.id {CAMPAIGN_ROWS}) ORDER BY {order}")
        };
        let programs = format!(
            "SELECT hash, text, json, parameters, flops_per_token FROM programs WHERE hash IN (SELECT c.program {CAMPAIGN_ROWS}) ORDER BY hash"
        );
        let candidates = "SELECT id, birth, program, parent, seed_index, mutation, description, status, worker, attempts, retry_from, fingerprint, created_at, over_limit
             FROM candidates WHERE campaign = $1 ORDER BY birth";
        let evaluations = q(
            "candidate, budget, fitness, steps, tokens, flops, seconds, hurdles, outcome, reason, reused_from, worker, finished_at",
            "evaluations",
            "candidate",
        );
        let checkpoints = q("candidate, k, loss", "checkpoints", "candidate, k");
        let curves =
            q("candidate, step, tokens, flops, seconds, train_loss, val_loss", "curve_points", "candidate, step");
        let reruns = q(
            "candidate, budget, seed, fitness, steps, flops, seconds, outcome, reason, finished_at",
            "reruns",
            "candidate, budget, seed",
        );
        let weights =
            q("candidate, budget, seed, fitness, steps, data, created_at", "weights", "candidate, budget, seed");
        let requeues = q("candidate, attempt, worker, reason, charged, at", "requeues", "candidate, attempt");
        Ok(CampaignDump {
            programs: self.retry(|| sqlx::query_as(&programs).bind(id).fetch_all(&self.pool)).await?,
            candidates: self.retry(|| sqlx::query_as(candidates).bind(id).fetch_all(&self.pool)).await?,
            evaluations: self.retry(|| sqlx::query_as(&evaluations).bind(id).fetch_all(&self.pool)).await?,
            checkpoints: self.retry(|| sqlx::query_as(&checkpoints).bind(id).fetch_all(&self.pool)).await?,
            curve_points: self.retry(|| sqlx::query_as(&curves).bind(id).fetch_all(&self.pool)).await?,
            reruns: self.retry(|| sqlx::query_as(&reruns).bind(id).fetch_all(&self.pool)).await?,
            weights: self.retry(|| sqlx::query_as(&weights).bind(id).fetch_all(&self.pool)).await?,
            requeues: self.retry(|| sqlx::query_as(&requeues).bind(id).fetch_all(&self.pool)).await?,
            campaign,
        })
    }

    /// Writes a dumped campaign into this store in one transaction; `None` (nothing written)
    /// when a campaign of that name is already here. Ids are kept where the store has none of
    /// them. Returns the new campaign's id and whether candidate ids were kept.
    pub async fn load_campaign(&self, d: &CampaignDump) -> Result<Option<(i64, bool)>> {
        if self.campaign(&d.campaign.name).await?.is_some() {
            return Ok(None);
        }
        let ids: Vec<i64> = d.candidates.iter().map(|c| c.id).collect();
        let mut tx = self.pool.begin().await?;
        let taken: i64 = match (ids.iter().min(), ids.iter().max()) {
            (Some(lo), Some(hi)) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM candidates WHERE id BETWEEN $1 AND $2")
                    .bind(lo)
                    .bind(hi)
                    .fetch_one(&mut *tx)
                    .await?
            }
            _ => 0,
        };
        let keep = taken == 0;
        let campaign_free: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM campaigns WHERE id = $1")
            .bind(d.campaign.id)
            .fetch_one(&mut *tx)
            .await?;
        let c = &d.campaign;
        let campaign_sql =
            insert_sql("campaigns", &["name", "config", "seed", "created_at", "finished_at"], campaign_free == 0);
        let mut insert = sqlx::query_scalar(&campaign_sql);
        if campaign_free == 0 {
            insert = insert.bind(c.id);
        }
        let campaign: i64 = insert
            .bind(&c.name)
            .bind(&c.config)
            .bind(c.seed)
            .bind(c.created_at)
            .bind(OptF64(c.finished_at))
            .fetch_one(&mut *tx)
            .await?;
        for p in &d.programs {
            sqlx::query(
                "INSERT INTO programs (hash, text, json, parameters, flops_per_token) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(&p.hash)
            .bind(&p.text)
            .bind(&p.json)
            .bind(p.parameters)
            .bind(p.flops_per_token)
            .execute(&mut *tx)
            .await?;
        }
        let new_id = insert_candidates(&mut tx, d, campaign, keep).await?;
        insert_results(&mut tx, d, &|old: i64| new_id.get(&old).copied().unwrap_or(old)).await?;
        if self.backend == crate::Backend::Postgres {
            // Explicit ids leave PostgreSQL's identity sequences behind: move them past the rows.
            for table in ["campaigns", "candidates"] {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some((campaign, keep)))
    }

    /// Copies a campaign (by id) of this store into `to`, and checks it there: the same row
    /// counts and content hash. Refuses a name `to` already has, and a campaign with candidates
    /// in training (stop its controller and workers first).
    pub async fn copy_campaign(&self, campaign: i64, to: &Store) -> std::result::Result<Copied, CopyError> {
        let d = self.dump_campaign(campaign).await?;
        let running = d.candidates.iter().filter(|c| c.status == Status::Running).count();
        if running > 0 {
            return Err(CopyError::Running { name: d.campaign.name.clone(), running });
        }
        let Some((to_id, ids_kept)) = to.load_campaign(&d).await? else {
            return Err(CopyError::Exists { name: d.campaign.name.clone(), url: to.url.clone() });
        };
        let copied = to.dump_campaign(to_id).await?.with_programs_of(&d.programs);
        let (want, got) = (d.content_hash(), copied.content_hash());
        if d.counts() != copied.counts() || want != got {
            return Err(CopyError::Mismatch {
                name: d.campaign.name.clone(),
                want: format!("{:?} {want}", d.counts()),
                got: format!("{:?} {got}", copied.counts()),
            });
        }
        Ok(Copied {
            name: d.campaign.name.clone(),
            from_id: campaign,
            to_id,
            ids_kept,
            rows: d.counts(),
            content_hash: want,
        })
    }
}

/// Why a campaign was not copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("campaign `{name}` is already in {url}; nothing was copied (copy into another store, or rename it there)")]
    Exists { name: String, url: String },
    #[error(
        "campaign `{name}` has {running} candidate(s) in training; stop its controller and workers (or let it finish) before copying it"
    )]
    Running { name: String, running: usize },
    #[error("campaign `{name}`: the copy does not match its source (source {want}, copy {got})")]
    Mismatch { name: String, want: String, got: String },
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> CopyError {
        CopyError::Store(e.into())
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Inserts a dump's candidates into the campaign `campaign`, with their ids when `keep`, in
/// birth order (parents and reused sources are born earlier: every reference is known); returns
/// old id -> new id.
async fn insert_candidates(tx: &mut Tx<'_>, d: &CampaignDump, campaign: i64, keep: bool) -> Result<HashMap<i64, i64>> {
    let mut new_id: HashMap<i64, i64> = HashMap::new();
    let columns = [
        "campaign",
        "birth",
        "program",
        "parent",
        "seed_index",
        "mutation",
        "description",
        "status",
        "worker",
        "attempts",
        "retry_from",
        "fingerprint",
        "created_at",
        "over_limit",
    ];
    let candidate_sql = [insert_sql("candidates", &columns, false), insert_sql("candidates", &columns, true)];
    for x in &d.candidates {
        let parent = x.parent.map(|p| new_id.get(&p).copied().unwrap_or(p));
        let status = if x.status == Status::Running { Status::Pending } else { x.status };
        let mut insert = sqlx::query_scalar(&candidate_sql[usize::from(keep)]);
        if keep {
            insert = insert.bind(x.id);
        }
        let id: i64 = insert
            .bind(campaign)
            .bind(x.birth)
            .bind(&x.program)
            .bind(parent)
            .bind(x.seed_index)
            .bind(&x.mutation)
            .bind(&x.description)
            .bind(status)
            .bind(&x.worker)
            .bind(x.attempts)
            .bind(x.retry_from)
            .bind(&x.fingerprint)
            .bind(x.created_at)
            .bind(x.over_limit)
            .fetch_one(&mut **tx)
            .await?;
        new_id.insert(x.id, id);
    }
    Ok(new_id)
}

/// Inserts a dump's results (evaluations, checkpoints, curves, retrainings, weights, requeues)
/// with their candidates renumbered by `id`.
async fn insert_results(tx: &mut Tx<'_>, d: &CampaignDump, id: &(dyn Fn(i64) -> i64 + Sync)) -> Result<()> {
    // A fitness reused from another campaign's candidate (fitness reuse across campaigns) keeps
    // its source only in its `reason`: that candidate is not copied with this campaign.
    let inside: std::collections::HashSet<i64> = d.candidates.iter().map(|c| c.id).collect();
    for e in &d.evaluations {
        let evaluation = Evaluation {
            budget: e.budget.clone(),
            fitness: e.fitness,
            steps: e.steps,
            tokens: e.tokens,
            flops: e.flops,
            seconds: e.seconds,
            hurdles: e.hurdles,
            outcome: e.outcome,
            reason: e.reason.clone(),
            reused_from: e.reused_from.filter(|r| inside.contains(r)).map(id),
        };
        insert_evaluation(tx, id(e.candidate), e.worker.as_deref(), &evaluation, e.finished_at).await?;
    }
    for p in &d.checkpoints {
        sqlx::query(
            "INSERT INTO checkpoints (candidate, k, loss, campaign, birth)
             SELECT $1, $2, $3, c.campaign, c.birth FROM candidates c WHERE c.id = $1",
        )
        .bind(id(p.candidate))
        .bind(p.k)
        .bind(p.loss)
        .execute(&mut **tx)
        .await?;
    }
    for CurveRow { candidate, point: p } in &d.curve_points {
        sqlx::query(
            "INSERT INTO curve_points (candidate, step, tokens, flops, seconds, train_loss, val_loss) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id(*candidate))
        .bind(p.step)
        .bind(p.tokens)
        .bind(p.flops)
        .bind(p.seconds)
        .bind(p.train_loss)
        .bind(OptF64(p.val_loss))
        .execute(&mut **tx)
        .await?;
    }
    for RerunRow { rerun: r, finished_at } in &d.reruns {
        sqlx::query(
            "INSERT INTO reruns (candidate, budget, seed, fitness, steps, flops, seconds, outcome, reason, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id(r.candidate))
        .bind(&r.budget)
        .bind(r.seed)
        .bind(OptF64(r.fitness))
        .bind(r.steps)
        .bind(r.flops)
        .bind(r.seconds)
        .bind(r.outcome)
        .bind(&r.reason)
        .bind(finished_at)
        .execute(&mut **tx)
        .await?;
    }
    for WeightsRow { weights: w, created_at } in &d.weights {
        sqlx::query(
            "INSERT INTO weights (candidate, budget, seed, fitness, steps, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id(w.candidate))
        .bind(&w.budget)
        .bind(w.seed)
        .bind(OptF64(w.fitness))
        .bind(w.steps)
        .bind(&w.data)
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
    }
    for RequeueRow { requeue: r, at } in &d.requeues {
        sqlx::query(
            "INSERT INTO requeues (candidate, attempt, worker, reason, charged, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id(r.candidate))
        .bind(r.attempt)
        .bind(&r.worker)
        .bind(&r.reason)
        .bind(r.charged)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
