//! What the controller remembers between births, and breeding one child from it.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use primer_dsl::{Program, text};
use primer_evolve::{Evolver, Finished, Parent};
use primer_store::{NewCandidate, Store};

use crate::records::program_row;
use crate::spec::{CampaignSpec, CostOf};

/// What the controller keeps between births instead of reading it again, so that a birth
/// costs the same at 25,000 candidates of history as at 10: the finished history (only what
/// finished since the last birth is read), the parsed programs of the living population
/// (parents come from it, and it changes by a candidate or two a birth), the canonical hashes
/// already in the campaign (no program is proposed twice), and the seeds' candidate ids.
pub struct Memory {
    pub history: Vec<Finished>,
    /// How many of them have no loss (failed).
    pub failed: i64,
    finished: HashSet<i64>,
    /// Every birth below it has a result.
    pub frontier: i64,
    programs: HashMap<u64, Program>,
    seen: HashSet<String>,
    seeds: HashMap<i64, i64>,
    /// The second objective of a Pareto search (none: every cost is 0).
    cost: Option<CostOf>,
}

impl Memory {
    /// Loads what a (possibly resumed) campaign already holds; `cost`: the second objective of
    /// a Pareto search ([`CampaignSpec::cost_of`]).
    pub async fn load(store: &Store, campaign: i64, cost: Option<CostOf>) -> Result<Memory> {
        let seen = store.program_hashes(campaign).await?.into_iter().collect();
        let seeds =
            store.history(campaign).await?.iter().filter_map(|r| r.seed_index.map(|i| (i, r.candidate))).collect();
        let mut m = Memory {
            history: Vec::new(),
            failed: 0,
            finished: HashSet::new(),
            frontier: 0,
            programs: HashMap::new(),
            seen,
            seeds,
            cost,
        };
        m.sync(store, campaign).await?;
        Ok(m)
    }

    /// Reads the results that came in since the last call.
    pub async fn sync(&mut self, store: &Store, campaign: i64) -> Result<()> {
        let mut births = HashSet::new();
        for f in store.finished_since(campaign, self.frontier).await? {
            births.insert(f.birth);
            if self.finished.insert(f.candidate) {
                // Kept in birth order (results come in out of order).
                let at = self.history.partition_point(|h| h.birth < f.birth as u64);
                let row = Finished {
                    candidate: f.candidate as u64,
                    birth: f.birth as u64,
                    fitness: f.fitness.unwrap_or(f64::INFINITY),
                    cost: self.cost.map_or(0.0, |c| c.of(f.parameters, f.flops_per_token)),
                };
                self.history.insert(at, row);
                self.failed += i64::from(f.fitness.is_none());
            }
        }
        while births.contains(&self.frontier) {
            self.frontier += 1;
        }
        Ok(())
    }

    /// The end of the history, among births below `horizon`, that holds the last `population`
    /// finished candidates with a loss: all that regularized evolution's population (and so the
    /// tournament) depends on.
    pub fn tail(&self, population: usize, horizon: u64) -> &[Finished] {
        let end = self.history.partition_point(|h| h.birth < horizon);
        let mut alive = 0;
        let mut start = end;
        while start > 0 && alive < population {
            start -= 1;
            alive += usize::from(self.history[start].fitness.is_finite());
        }
        &self.history[start..end]
    }
}

/// Proposes and enqueues the child born `birth`; `false` when no acceptable child exists.
pub async fn propose(
    store: &Store,
    campaign: i64,
    spec: &CampaignSpec,
    evolver: &Evolver,
    memory: &mut Memory,
    birth: i64,
    horizon: i64,
) -> Result<bool> {
    // (The controller's loop synced `memory` with the store just before.) Only results of
    // births below `horizon` count.
    let history = memory.tail(evolver.evolution.population_size, horizon.max(0) as u64).to_vec();
    // Only the living population can be parents: keep their programs (random search has none),
    // reading from the store only the ones that joined it since the last birth.
    let living = if evolver.strategy.is_evolution() { evolver.evolution.population(&history) } else { Vec::new() };
    let alive: HashSet<u64> = living.iter().map(|f| f.candidate).collect();
    memory.programs.retain(|c, _| alive.contains(c));
    for f in living {
        if memory.programs.contains_key(&f.candidate) {
            continue;
        }
        let hash = store.candidate_program(f.candidate as i64).await?.context("a finished candidate's program")?;
        let json = store.program_json(&hash).await?.context("a stored program")?;
        memory.programs.insert(f.candidate, text::from_json(&json, "<store>")?);
    }
    let (programs, seen) = (&memory.programs, &memory.seen);
    let proposal =
        match evolver.propose(birth as u64, &history, &|c| programs[&c].clone(), &|h| seen.contains(&h.hex())) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("birth {birth}: {e}; the search stops here");
                return Ok(false);
            }
        };
    let row = program_row(spec, &proposal.child.program);
    store.put_program(&row).await?;
    let parent = match proposal.parent {
        Parent::Candidate(c) => Some(c as i64),
        Parent::Seed(i) => memory.seeds.get(&(i as i64)).copied(),
    };
    let added = store
        .add_candidate(&NewCandidate {
            campaign,
            birth,
            program: row.hash.clone(),
            parent,
            seed_index: None,
            // One mutation under evolution (as before); the list under random search.
            mutation: Some(if proposal.mutations.len() == 1 {
                serde_json::to_string(&proposal.child.mutation)?
            } else {
                serde_json::to_string(&proposal.mutations)?
            }),
            description: Some(proposal.child.description),
        })
        .await?;
    if let Some(id) = added {
        memory.seen.insert(row.hash);
        let over = proposal.child.rejected.over_limit;
        if over > 0 {
            store.set_over_limit(id, i64::from(over)).await?;
        }
    }
    Ok(added.is_some())
}
