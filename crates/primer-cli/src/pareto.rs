//! `primer top --pareto`: the trade-off between quality and cost. The non-dominated front of a
//! campaign's candidates trained to the full budget (a finished or reused loss; a loss taken at
//! a hurdle is not comparable) by (validation loss, cost): the campaign's second objective
//! (`[evolution] second_objective` of a Pareto search), or training FLOPs per byte of text for
//! a campaign without one. No candidate on the front has both a lower loss and a lower cost
//! than another on it; cheapest first.

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;

use primer_args::Format;
use primer_campaign::output::{csv_line, opt};
use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::{CampaignSpec, CostOf, SecondObjective};
use primer_evolve::{Finished, pareto_ranks};
use primer_store::{HistoryRow, Outcome, Store};

/// One candidate on the front.
#[derive(Debug, Clone, Serialize)]
pub struct FrontRow {
    pub candidate: i64,
    pub birth: i64,
    pub fitness: f64,
    pub bits_per_byte: f64,
    pub parameters: i64,
    pub flops_per_token: i64,
    pub flops_per_byte: f64,
    /// The second objective's value.
    pub cost: f64,
    pub description: Option<String>,
}

/// A campaign's front.
#[derive(Debug, Clone, Serialize)]
pub struct Front {
    pub campaign: String,
    /// The second objective (`flops_per_byte` or `parameters`).
    pub second_objective: &'static str,
    /// Candidates trained to the full budget, of which `front` are non-dominated.
    pub candidates: usize,
    pub front: Vec<FrontRow>,
}

/// The front of `campaign` in `store`.
pub async fn front(store: &Store, campaign: &str) -> Result<Front> {
    let c = find_campaign(store, campaign).await?;
    let sizes: HashMap<String, (i64, i64)> =
        store.programs_of(c.id).await?.into_iter().map(|p| (p.hash, (p.parameters, p.flops_per_token))).collect();
    Ok(front_of(&c.name, &c.config, &store.history(c.id).await?, &sizes))
}

/// The front of a campaign (`name`, its stored `config`) from its history and its programs'
/// (parameters, training FLOPs per token) by hash (pure).
pub fn front_of(name: &str, config: &str, history: &[HistoryRow], sizes: &HashMap<String, (i64, i64)>) -> Front {
    let spec: Option<CampaignSpec> = serde_json::from_str(config).ok();
    let bytes_per_token = primer_campaign::spec::bytes_per_token(config);
    let second = spec.as_ref().and_then(|s| s.second_objective).unwrap_or(SecondObjective::FlopsPerByte);
    let cost = CostOf { second, bytes_per_token };
    let rows: Vec<&HistoryRow> = history
        .iter()
        .filter(|r| matches!(r.outcome, Some(Outcome::Finished | Outcome::Reused)) && r.fitness.is_some())
        .collect();
    let size = |r: &HistoryRow| sizes.get(&r.program).copied().unwrap_or((0, 0));
    let members: Vec<Finished> = rows
        .iter()
        .map(|r| {
            let (p, f) = size(r);
            Finished {
                candidate: r.candidate as u64,
                birth: r.birth as u64,
                fitness: r.fitness.unwrap_or(f64::INFINITY),
                cost: cost.of(p, f),
            }
        })
        .collect();
    let ranks = pareto_ranks(&members);
    let mut front: Vec<FrontRow> = rows
        .iter()
        .zip(&members)
        .zip(&ranks)
        .filter(|(_, rank)| **rank == 0)
        .map(|((r, m), _)| {
            let (parameters, flops_per_token) = size(r);
            FrontRow {
                candidate: r.candidate,
                birth: r.birth,
                fitness: m.fitness,
                bits_per_byte: primer_tokens::bits_per_byte(m.fitness, bytes_per_token),
                parameters,
                flops_per_token,
                flops_per_byte: flops_per_token as f64 / bytes_per_token,
                cost: m.cost,
                description: r.description.clone(),
            }
        })
        .collect();
    front.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.fitness.total_cmp(&b.fitness)));
    Front { campaign: name.to_string(), second_objective: second.name(), candidates: rows.len(), front }
}

/// `primer top CAMPAIGN --pareto`.
pub async fn print(store: &Store, campaign: &str, format: Format) -> Result<()> {
    let f = front(store, campaign).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&f)?),
        Format::Csv => {
            println!("candidate,birth,fitness,bits_per_byte,parameters,flops_per_token,flops_per_byte,description");
            for r in &f.front {
                println!(
                    "{}",
                    csv_line(&[
                        r.candidate.to_string(),
                        r.birth.to_string(),
                        r.fitness.to_string(),
                        r.bits_per_byte.to_string(),
                        r.parameters.to_string(),
                        r.flops_per_token.to_string(),
                        r.flops_per_byte.to_string(),
                        opt(r.description.clone()),
                    ])
                );
            }
        }
        Format::Table => {
            println!(
                "campaign `{}`: the Pareto front by (val loss, {}): {} of {} candidates trained to the full budget",
                f.campaign,
                f.second_objective,
                f.front.len(),
                f.candidates
            );
            println!(
                "{:>9} {:>6} {:>9} {:>8} {:>11} {:>12}  mutation",
                "candidate", "birth", "val loss", "bits/B", "parameters", "FLOPs/byte"
            );
            for r in &f.front {
                println!(
                    "{:>9} {:>6} {:>9.4} {:>8.4} {:>11} {:>12.4e}  {}",
                    r.candidate,
                    r.birth,
                    r.fitness,
                    r.bits_per_byte,
                    r.parameters,
                    r.flops_per_byte,
                    r.description.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
