//! Retrainings (`primer rerun`): a campaign's candidates ranked by their losses at another
//! budget (`primer top CAMPAIGN --budget B`, and the end of `primer rerun`).

use std::collections::HashMap;

use anyhow::{Result, bail};
use primer_dsl::budget::Budget;
use primer_store::{HistoryRow, Store};
use serde::Serialize;

use crate::output::{Format, csv_line, loss, opt};
use crate::resolve::find_campaign;

/// A candidate ranked by its retrainings at one budget.
#[derive(Debug, Serialize)]
pub struct RerunRow {
    pub candidate: i64,
    pub birth: i64,
    /// Mean and standard deviation of the finite losses over seeds.
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub seeds: usize,
    pub failed: usize,
    /// The loss at the campaign's own budget.
    pub original: Option<f64>,
    pub description: Option<String>,
}

/// `primer top CAMPAIGN --budget B`: candidates ranked by their retraining at B.
pub async fn top_rerun(store: &Store, campaign: &str, budget: Budget, k: i64, format: Format) -> Result<()> {
    let c = find_campaign(store, campaign).await?;
    // Retrainings are stored under the budget's canonical text.
    let budget = budget.to_string();
    let reruns = store.reruns(c.id, &budget).await?;
    if reruns.is_empty() {
        bail!("campaign `{}` has no retrainings at {budget} (run `primer rerun {} --budget {budget}`)", c.name, c.name);
    }
    let history: HashMap<i64, HistoryRow> = store.history(c.id).await?.into_iter().map(|r| (r.candidate, r)).collect();
    let mut by: Vec<(i64, Vec<Option<f64>>)> = Vec::new();
    for r in &reruns {
        match by.last_mut() {
            Some((cand, v)) if *cand == r.candidate => v.push(r.fitness),
            _ => by.push((r.candidate, vec![r.fitness])),
        }
    }
    let mut rows: Vec<RerunRow> = by
        .into_iter()
        .map(|(cand, v)| {
            let ok: Vec<f64> = v.iter().flatten().copied().filter(|x| x.is_finite()).collect();
            let (mean, sd) = if ok.is_empty() {
                (None, None)
            } else {
                let (m, s) = crate::compare::mean_sd(&ok);
                (Some(m), Some(s))
            };
            let h = history.get(&cand);
            RerunRow {
                candidate: cand,
                birth: h.map_or(-1, |h| h.birth),
                mean,
                sd,
                seeds: v.len(),
                failed: v.len() - ok.len(),
                original: h.and_then(|h| h.fitness),
                description: h.and_then(|h| h.description.clone()),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.mean.unwrap_or(f64::INFINITY).total_cmp(&b.mean.unwrap_or(f64::INFINITY)).then(a.birth.cmp(&b.birth))
    });
    rows.truncate(k.max(0) as usize);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            println!("rank,candidate,birth,mean,sd,seeds,failed,original,mutation");
            for (i, r) in rows.iter().enumerate() {
                println!(
                    "{}",
                    csv_line(&[
                        (i + 1).to_string(),
                        r.candidate.to_string(),
                        r.birth.to_string(),
                        opt(r.mean),
                        opt(r.sd),
                        r.seeds.to_string(),
                        r.failed.to_string(),
                        opt(r.original),
                        opt(r.description.clone()),
                    ])
                );
            }
        }
        Format::Table => {
            println!("campaign `{}` (id {}): retrained at {budget}", c.name, c.id);
            println!(
                "{:<5} {:>9} {:>6} {:>17} {:>6} {:>9}  mutation",
                "rank", "candidate", "birth", "loss (mean ± sd)", "seeds", "original"
            );
            for (i, r) in rows.iter().enumerate() {
                let l = match (r.mean, r.sd) {
                    (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
                    _ => "failed".into(),
                };
                println!(
                    "{:<5} {:>9} {:>6} {:>17} {:>6} {:>9}  {}",
                    i + 1,
                    r.candidate,
                    r.birth,
                    l,
                    r.seeds,
                    loss(r.original),
                    r.description.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
