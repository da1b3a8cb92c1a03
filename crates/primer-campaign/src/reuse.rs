//! Fitness reused across campaigns: before a worker trains a candidate, it looks in the store's
//! other campaigns for a full-budget measurement (outcome `finished`) of the same canonical
//! program under the same settings ([`CampaignSpec::reuse_key`]: model, training, tokenizer,
//! corpus by hash, validation set, budget). The first such measurement's loss is recorded as
//! the candidate's (outcome `reused`, `reused_from` its candidate, the reason naming its
//! campaign) and nothing is trained. When the two campaigns lay their hurdles at the same
//! fractions of the budget, the source's losses at the hurdle checkpoints are recorded too,
//! so the reused candidate counts in the hurdles' medians as a trained one does (a warm-started
//! campaign's first children meet a bar at once). The training seed is not part of the key: like the
//! functional dedup within a campaign, a reused loss is one measurement of the program, and
//! `--no-reuse` (`[dedup] reuse = false`) makes a campaign measure everything itself.

use std::collections::HashMap;

use anyhow::Result;
use primer_store::{Evaluation, HistoryRow, Outcome, Store};

use crate::spec::CampaignSpec;

/// Whether a campaign's row took its loss from another campaign: reused, and its source is not
/// among the campaign's `rows` (in a live store it names a candidate of the other campaign; in a
/// copy or an archive of this campaign alone, none).
pub fn from_elsewhere(r: &HistoryRow, rows: &[HistoryRow]) -> bool {
    r.outcome == Some(Outcome::Reused) && r.reused_from.is_none_or(|s| !rows.iter().any(|x| x.candidate == s))
}

/// The training FLOPs the reused measurement cost, as its reason records it.
pub fn source_flops(reason: &str) -> Option<f64> {
    let rest = reason.strip_prefix("measured in campaign `")?;
    let tail = rest.rsplit_once(", ")?.1;
    tail.strip_suffix(" training FLOPs)")?.parse().ok()
}

/// A worker's view of the other campaigns' settings (read once per campaign).
pub struct Reuse {
    own: Option<String>,
    /// This campaign's hurdle checkpoints, as fractions of the budget.
    fractions: Vec<f64>,
    /// Campaign id -> (name, key, hurdle fractions).
    others: HashMap<i64, (String, Option<String>, Vec<f64>)>,
}

/// A loss to reuse: the evaluation to record, and the source's hurdle checkpoints (k, loss) to
/// record with it (none when the campaigns' hurdles differ).
pub struct Reused {
    pub evaluation: Evaluation,
    pub checkpoints: Vec<(i64, f64)>,
}

impl Reuse {
    /// For a campaign with this spec; it reuses nothing unless the spec says so and has a key.
    pub fn new(spec: &CampaignSpec) -> Reuse {
        Reuse {
            own: if spec.reuses() { spec.reuse_key() } else { None },
            fractions: spec.hurdles.fractions(),
            others: HashMap::new(),
        }
    }

    /// What to record for `candidate` of `campaign` instead of training it, if anything.
    pub async fn lookup(
        &mut self,
        store: &Store,
        campaign: i64,
        spec: &CampaignSpec,
        candidate: i64,
    ) -> Result<Option<Reused>> {
        let Some(own) = &self.own else { return Ok(None) };
        let Some(program) = store.candidate_program(candidate).await? else { return Ok(None) };
        for m in store.measured_elsewhere(campaign, &program).await? {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.others.entry(m.campaign) {
                slot.insert(match store.campaign_by_id(m.campaign).await? {
                    Some(c) => {
                        let other = serde_json::from_str::<CampaignSpec>(&c.config).ok();
                        let key = other.as_ref().and_then(|s| s.reuse_key());
                        (c.name, key, other.map(|s| s.hurdles.fractions()).unwrap_or_default())
                    }
                    None => (String::new(), None, Vec::new()),
                });
            }
            let (name, key, fractions) = &self.others[&m.campaign];
            if key.as_ref() == Some(own) {
                let checkpoints = if *fractions == self.fractions {
                    store.checkpoints_of(m.candidate).await?.into_iter().map(|c| (c.k, c.loss)).collect()
                } else {
                    Vec::new()
                };
                let evaluation = Evaluation {
                    budget: spec.training.budget.to_string(),
                    fitness: Some(m.fitness),
                    steps: 0,
                    tokens: 0,
                    flops: 0.0,
                    seconds: 0.0,
                    // Trained to the full budget there: every hurdle passed.
                    hurdles: spec.hurdles.hurdles as i64,
                    outcome: Outcome::Reused,
                    reason: Some(format!(
                        "measured in campaign `{name}` (candidate {}, {:.3e} training FLOPs)",
                        m.candidate, m.flops
                    )),
                    reused_from: Some(m.candidate),
                };
                return Ok(Some(Reused { evaluation, checkpoints }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_of_a_reused_loss_gives_the_flops_it_cost() {
        let reason = format!("measured in campaign `a, b` (candidate 7, {:.3e} training FLOPs)", 1.234567e11);
        assert_eq!(source_flops(&reason), Some(1.235e11));
        assert_eq!(source_flops("functionally equal to candidate 3"), None);
    }
}
