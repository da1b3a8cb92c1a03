//! Synthetic campaigns with real programs, for the benchmarks that need a store of a given size
//! without training anything: one builder, two shapes.
//!
//! - [`Shape::Finished`] (`primer bench coordination`): distinct programs, each the seed after 1
//!   to 8 random mutations, every one finished with the simulated worker's loss of its program
//!   (`primer worker --simulate`) and a checkpoint at each hurdle: a history for a controller to
//!   extend.
//! - [`Shape::Evolved`] (`primer bench report`): what regularized evolution leaves: each child a
//!   mutation of the best of 3 drawn from the last P births, its loss inherited from its parent
//!   with noise, outcomes as a campaign has them (about half stopped at a hurdle, some reused, a
//!   few diverged or invalid), a curve point at each checkpoint reached and at the end.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use rand::{Rng, SeedableRng};

use primer_dsl::Program;
use primer_evolve::{Evolver, Mutator, Strategy};
use primer_store::{
    Campaign, CampaignDump, CandidateRow, CheckpointRow, CurvePoint, CurveRow, EvaluationRow, Outcome, Status,
};

use primer_campaign::records::program_row;
use primer_campaign::spec::{CampaignSpec, Overrides, resolve};
use primer_campaign::worker::Simulated;

/// Which kind of campaign to make (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Finished,
    Evolved,
}

/// A synthetic campaign of `births` candidates made from the campaign file `config` (its space,
/// seed program, model and hurdles), named `name`, with `target` candidates as its goal.
pub fn campaign(
    config: &Path,
    name: &str,
    births: usize,
    target: usize,
    shape: Shape,
    seed: u64,
) -> Result<CampaignDump> {
    let o = Overrides { name: Some(name.into()), candidates: Some(target as u64), ..Default::default() };
    let resolved = resolve(config, &o, &primer_campaign::paths::default_corpus(), &Default::default())?;
    let spec = resolved.spec;
    let now = primer_store::now();
    let mut d = CampaignDump {
        campaign: Campaign {
            id: 1,
            name: name.into(),
            config: serde_json::to_string_pretty(&spec)?,
            seed: spec.seed as i64,
            created_at: if shape == Shape::Evolved { now - births as f64 * 9.0 } else { now },
            finished_at: (shape == Shape::Evolved).then_some(now),
        },
        programs: Vec::new(),
        candidates: Vec::new(),
        evaluations: Vec::new(),
        checkpoints: Vec::new(),
        curve_points: Vec::new(),
        reruns: Vec::new(),
        weights: Vec::new(),
        requeues: Vec::new(),
    };
    match shape {
        Shape::Finished => finished(&mut d, &spec, &resolved.seed_programs[0], births)?,
        Shape::Evolved => evolved(&mut d, &spec, &resolved.seed_programs[0], births, seed)?,
    }
    Ok(d)
}

fn candidate(id: i64, birth: usize, program: &str, parent: Option<i64>, worker: &str) -> CandidateRow {
    CandidateRow {
        id,
        birth: birth as i64,
        program: program.into(),
        parent,
        seed_index: (birth == 0).then_some(0),
        mutation: None,
        description: None,
        status: Status::Done,
        worker: Some(worker.into()),
        attempts: 1,
        retry_from: 0,
        fingerprint: None,
        created_at: 0.0,
        over_limit: None,
    }
}

/// [`Shape::Finished`].
fn finished(d: &mut CampaignDump, spec: &CampaignSpec, seed_program: &Program, births: usize) -> Result<()> {
    let evolver = Evolver {
        evolution: spec.evolution,
        mutator: spec.mutator(),
        seeds: vec![seed_program.clone()],
        seed: spec.seed,
        max_parents: 10,
        strategy: Strategy::Random { max_mutations: 8 },
    };
    let mut seen = HashSet::new();
    let budget = spec.training.budget.to_string();
    for birth in 0..births {
        let program = if birth == 0 {
            seed_program.clone()
        } else {
            let seen_now = &seen;
            evolver
                .propose(birth as u64, &[], &|_| unreachable!("random search has no parents"), &|h| {
                    seen_now.contains(&h.hex())
                })
                .map_err(|e| anyhow::anyhow!("synthetic birth {birth}: {e}"))?
                .child
                .program
        };
        let row = program_row(spec, &program);
        seen.insert(row.hash.clone());
        let id = birth as i64 + 1;
        let loss = Simulated::loss(&row.hash);
        d.candidates.push(CandidateRow {
            description: Some("prefilled".into()),
            ..candidate(id, birth, &row.hash, (birth > 0).then_some(1), "prefill")
        });
        d.evaluations.push(EvaluationRow {
            candidate: id,
            budget: budget.clone(),
            fitness: Some(loss),
            steps: 600,
            tokens: 600 * 1024,
            flops: 5e11,
            seconds: 1.0,
            hurdles: 2,
            outcome: Outcome::Finished,
            reason: None,
            reused_from: None,
            worker: Some("prefill".into()),
            finished_at: 0.0,
        });
        for (k, f) in spec.hurdles.fractions().into_iter().enumerate() {
            d.checkpoints.push(CheckpointRow { candidate: id, k: k as i64, loss: loss + 0.5 * (1.0 - f) });
        }
        d.programs.push(row);
    }
    Ok(())
}

/// A child of the evolved shape: its program, parent, mutation (JSON, words) and inherited loss.
type Child = (Program, Option<i64>, Option<String>, Option<String>, f64);

/// [`Shape::Evolved`].
fn evolved(d: &mut CampaignDump, spec: &CampaignSpec, seed_program: &Program, births: usize, seed: u64) -> Result<()> {
    let mutator = Mutator::new(spec.space.clone(), spec.model, 200);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let fractions = spec.hurdles.fractions();
    let budget = spec.training.budget.to_string();
    let mut seen = HashSet::new();
    let mut programs: Vec<Program> = Vec::new();
    // Each program's loss at the full budget (what a child inherits, with noise); what is stored
    // is the loss where training stopped.
    let mut losses: Vec<f64> = Vec::new();
    let p = spec.evolution.population_size.max(1);
    for birth in 0..births {
        let id = birth as i64 + 1;
        let (program, parent, mutation, description, inherited): Child = if birth == 0 {
            (seed_program.clone(), None, None, Some("seed".to_string()), 2.6)
        } else {
            let lo = birth.saturating_sub(p);
            // A tournament of 3 among the last P: the best parent, as evolution picks.
            let pi =
                (0..3).map(|_| rng.random_range(lo..birth)).min_by(|a, b| losses[*a].total_cmp(&losses[*b])).unwrap();
            let parent_hash = primer_dsl::analysis::canonical_hash(&programs[pi]);
            let child = mutator
                .child(&mut rng, &programs[pi], &parent_hash, &|h| seen.contains(&h.hex()))
                .map_err(|e| anyhow::anyhow!("synthetic birth {birth}: {e}"))?;
            let json = serde_json::to_string(&child.mutation)?;
            // Children differ from their parents by a few percent of the way to a floor of 1.2.
            let noise: f64 = rng.random_range(-0.03..0.04);
            let loss = 1.2 + (losses[pi] - 1.2) * (1.0 + noise);
            (child.program, Some(pi as i64 + 1), Some(json), Some(child.description), loss)
        };
        let row = program_row(spec, &program);
        seen.insert(row.hash.clone());
        let roll: f64 = rng.random();
        let (outcome, hurdles_reached) = match roll {
            r if r < 0.02 => (Outcome::Diverged, 0),
            r if r < 0.03 => (Outcome::Invalid, 0),
            r if r < 0.08 => (Outcome::Reused, 0),
            r if r < 0.33 => (Outcome::Stopped, 1),
            r if r < 0.55 => (Outcome::Stopped, 2),
            _ => (Outcome::Finished, fractions.len()),
        };
        let reached_fraction = match outcome {
            Outcome::Stopped => fractions[hurdles_reached - 1],
            Outcome::Finished => 1.0,
            _ => 0.0,
        };
        let full_flops = 5e11;
        let fitness = match outcome {
            Outcome::Diverged | Outcome::Invalid => None,
            // Stopped early: the loss there, higher than at the end.
            _ => Some(inherited + 0.4 * (1.0 - reached_fraction)),
        };
        losses.push(if fitness.is_some() { inherited } else { inherited + 1.0 });
        programs.push(program);
        d.candidates.push(CandidateRow {
            mutation,
            description,
            ..candidate(id, birth, &row.hash, parent, "synthetic")
        });
        let steps = (600.0 * reached_fraction) as i64;
        d.evaluations.push(EvaluationRow {
            candidate: id,
            budget: budget.clone(),
            fitness,
            steps,
            tokens: steps * 1024,
            flops: full_flops * reached_fraction,
            seconds: 19.0 * reached_fraction,
            hurdles: hurdles_reached as i64,
            outcome,
            reason: None,
            reused_from: (outcome == Outcome::Reused && birth > 0).then_some(parent.unwrap_or(1)),
            worker: Some("synthetic".into()),
            finished_at: 0.0,
        });
        if let Some(f) = fitness.filter(|_| reached_fraction > 0.0) {
            let mut at: Vec<f64> = fractions.iter().copied().filter(|x| *x <= reached_fraction).collect();
            if reached_fraction >= 1.0 {
                at.push(1.0);
            }
            for (k, frac) in at.iter().enumerate() {
                let loss = f + 0.4 * (reached_fraction - frac);
                let step = (600.0 * frac).round() as i64;
                d.curve_points.push(CurveRow {
                    candidate: id,
                    point: CurvePoint {
                        step,
                        tokens: step * 1024,
                        flops: full_flops * frac,
                        seconds: 19.0 * frac,
                        train_loss: loss + 0.05,
                        val_loss: Some(loss),
                    },
                });
                if k < fractions.len() && *frac < 1.0 {
                    d.checkpoints.push(CheckpointRow { candidate: id, k: k as i64, loss });
                }
            }
        }
        d.programs.push(row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> std::path::PathBuf {
        primer_campaign::paths::workspace_root().join("experiments/demo.toml")
    }

    #[test]
    fn both_shapes_hold_distinct_real_programs_and_their_rows() {
        for shape in [Shape::Finished, Shape::Evolved] {
            let d = campaign(&demo(), "s", 40, 50, shape, 1).unwrap();
            assert_eq!(d.candidates.len(), 40, "{shape:?}");
            assert_eq!(d.evaluations.len(), 40);
            let hashes: HashSet<&str> = d.candidates.iter().map(|c| c.program.as_str()).collect();
            assert_eq!(hashes.len(), 40, "{shape:?}: programs not distinct");
            assert_eq!(d.programs.len(), 40);
            for p in &d.programs {
                let program = primer_dsl::text::from_json(&p.json, "<synthetic>").unwrap();
                assert_eq!(primer_dsl::analysis::canonical_hash(&program).hex(), p.hash);
            }
            // Parents come before their children.
            assert!(d.candidates.iter().all(|c| c.parent.is_none_or(|p| p < c.id)));
        }
        let finished = campaign(&demo(), "f", 10, 10, Shape::Finished, 1).unwrap();
        assert!(finished.evaluations.iter().all(|e| e.outcome == Outcome::Finished));
        assert!(finished.curve_points.is_empty() && finished.campaign.finished_at.is_none());
        // The evolved shape has the outcome mix and curves, and is the same for the same seed.
        let evolved = campaign(&demo(), "e", 200, 200, Shape::Evolved, 7).unwrap();
        let stopped = evolved.evaluations.iter().filter(|e| e.outcome == Outcome::Stopped).count();
        assert!((60..140).contains(&stopped), "{stopped} stopped of 200");
        assert!(!evolved.curve_points.is_empty() && evolved.campaign.finished_at.is_some());
        let again = campaign(&demo(), "e", 200, 200, Shape::Evolved, 7).unwrap();
        let rows = |d: &CampaignDump| -> Vec<(String, Option<f64>)> {
            d.candidates.iter().zip(&d.evaluations).map(|(c, e)| (c.program.clone(), e.fitness)).collect()
        };
        assert_eq!(rows(&evolved), rows(&again));
    }
}
