//! `primer analyze CAMPAIGN`: did the search find Primer's changes, and what did evolution use?
//!
//! For each of Primer's changes ([`primer_dsl::motifs`], detected on each candidate's program):
//! the birth it was first proposed, how many candidates had it and how many mutations introduced
//! it (parent without, child with), how many such candidates passed each hurdle, its share of
//! the population over the campaign, and the rank of the best candidate with it. Beside them,
//! for every mutation kind and every inserted or deleted op: how often it was proposed, survived
//! every hurdle and improved on its parent; and the changes against the seed that the top K
//! share. Reads the store only.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use primer_dsl::diff::{Change, diff};
use primer_dsl::motifs::{Motifs, motifs};
use primer_dsl::{Program, text};
use primer_evolve::Mutation;
use primer_store::{HistoryRow, Outcome, Store};

use primer_args::Format;
use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::CampaignSpec;

/// The motifs reported, by name, with their test on a program's [`Motifs`] and its seed's.
pub(crate) const MOTIFS: [(&str, &str); 7] = [
    ("squared_relu", "SQUARE of a ReLU read by the down projection"),
    ("dconv_q", "depthwise conv after the Q projection"),
    ("dconv_k", "depthwise conv after the K projection"),
    ("dconv_v", "depthwise conv after the V projection"),
    ("dconv_any", "depthwise conv after Q, K or V"),
    ("shared_qk", "Q and K from one projection"),
    ("extra_norms", "more norms per layer than the seed"),
];

pub(crate) fn has(name: &str, m: &Motifs, seed: &Motifs) -> bool {
    match name {
        "squared_relu" => m.squared_relu,
        "dconv_q" => m.dconv_q,
        "dconv_k" => m.dconv_k,
        "dconv_v" => m.dconv_v,
        "dconv_any" => m.dconv_qkv(),
        "shared_qk" => m.shared_qk,
        "extra_norms" => m.norms > seed.norms,
        _ => false,
    }
}

/// One motif's story in a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct MotifReport {
    pub motif: String,
    pub meaning: String,
    /// The seed program already has it (then every count below is of inherited copies).
    pub in_seed: bool,
    /// Birth of the first candidate (not a seed) with it.
    pub first_birth: Option<i64>,
    /// Candidates (not seeds) with it.
    pub candidates: usize,
    /// Candidates with it whose parent did not have it: the times a mutation introduced it.
    pub introduced: usize,
    /// Of the candidates with it and a result: how many passed hurdle 1, 2, ... (the last entry:
    /// trained to the full budget).
    pub passed: Vec<usize>,
    /// Share of the living population (the last P candidates with a loss, in birth order) at
    /// 10%, 20%, ..., 100% of the births so far.
    pub population_share: Vec<f64>,
    /// Rank (1 = best) of the best candidate with it, and its id and loss.
    pub best_rank: Option<usize>,
    pub best_candidate: Option<i64>,
    pub best_loss: Option<f64>,
    pub in_top_k: bool,
}

/// How one mutation kind or one inserted or deleted op fared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UseRow {
    pub what: String,
    /// Candidates whose mutations include it.
    pub proposed: usize,
    /// Of those, trained to the full budget (passed every hurdle; a reused result counts as its
    /// source's).
    pub survived: usize,
    /// Of those, with a lower full-budget loss than their parent's full-budget loss.
    pub improved: usize,
}

/// A change against the seed shared by several of the top K.
#[derive(Debug, Clone, Serialize)]
pub struct SharedChange {
    pub change: String,
    /// How many of the top K have it.
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub campaign: String,
    pub strategy: String,
    pub candidates: usize,
    pub evaluated: usize,
    pub failed: usize,
    pub stopped_at_hurdles: usize,
    pub reused: usize,
    /// Of the reused, those whose loss was measured in another campaign of the store (fitness
    /// reused across campaigns).
    #[serde(skip_serializing_if = "is_zero")]
    pub reused_from_other_campaigns: usize,
    /// Children redrawn for being over one of the search space's cost limits.
    #[serde(skip_serializing_if = "is_zero")]
    pub redrawn_over_limit: usize,
    pub training_flops: f64,
    pub training_seconds: f64,
    pub hurdles: usize,
    pub seed_loss: Option<f64>,
    pub best_loss: Option<f64>,
    pub best_candidate: Option<i64>,
    pub k: usize,
    pub motifs: Vec<MotifReport>,
    pub mutation_kinds: Vec<UseRow>,
    pub ops: Vec<UseRow>,
    pub top_k_shared: Vec<SharedChange>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The mutations stored with a candidate: one (evolution) or a list (random search).
pub fn stored_mutations(json: &str) -> Result<Vec<Mutation>> {
    if json.trim_start().starts_with('[') {
        Ok(serde_json::from_str(json)?)
    } else {
        Ok(vec![serde_json::from_str(json)?])
    }
}

/// What one mutation inserted and deleted, as `insert OP` / `delete OP`, given the program it
/// was applied to.
fn op_uses(m: &Mutation, parent: &Program) -> Vec<String> {
    let op_at =
        |s: usize, i: usize| parent.subprograms.get(s).and_then(|sp| sp.instructions.get(i)).map(|ins| ins.op.name());
    match m {
        Mutation::DeleteInstruction { subprogram, position } => {
            op_at(*subprogram, *position).map(|o| format!("delete {o}")).into_iter().collect()
        }
        Mutation::InsertInstruction { instruction, .. } => vec![format!("insert {}", instruction.op.name())],
        Mutation::DeleteInsert { subprogram, delete, instruction, .. } => {
            let mut v: Vec<String> = op_at(*subprogram, *delete).map(|o| format!("delete {o}")).into_iter().collect();
            v.push(format!("insert {}", instruction.op.name()));
            v
        }
        Mutation::MutateField { value: primer_evolve::mutation::FieldValue::Op(op), subprogram, position } => {
            let mut v: Vec<String> = op_at(*subprogram, *position).map(|o| format!("delete {o}")).into_iter().collect();
            v.push(format!("insert {}", op.name()));
            v
        }
        _ => Vec::new(),
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("(none)".into(), T::to_string)
}

fn change_key(c: &Change) -> String {
    match c {
        Change::Constant { name, old, new } => format!("bank const {name}: {} -> {}", opt(old), opt(new)),
        Change::Dim { name, old, new } => format!("bank dim {name}: {} -> {}", opt(old), opt(new)),
        Change::SubprogramAdded { subprogram } => format!("+ def {subprogram}"),
        Change::SubprogramRemoved { subprogram } => format!("- def {subprogram}"),
        Change::Inserted { subprogram, text, .. } => format!("+ {subprogram}: {text}"),
        Change::Deleted { subprogram, text, .. } => format!("- {subprogram}: {text}"),
        Change::Changed { subprogram, old, new, .. } => format!("~ {subprogram}: {old}  ->  {new}"),
    }
}

/// Hurdles a result passed: a candidate stopped at checkpoint k reached k+1 checkpoints and
/// passed k of them. A reused result counts as its source's.
fn passed(r: &HistoryRow, by_id: &HashMap<i64, &HistoryRow>) -> Option<i64> {
    // (A source in another campaign was trained to the full budget there: the reused result
    // records the hurdles as passed.)
    if let (Some(Outcome::Reused), Some(src)) = (r.outcome, r.reused_from)
        && let Some(s) = by_id.get(&src)
    {
        return passed(s, &HashMap::new());
    }
    let h = r.hurdles?;
    Some(if r.outcome == Some(Outcome::Stopped) { h - 1 } else { h })
}

/// What evolution used: per mutation kind and per inserted or deleted op, how often it was
/// proposed, survived (trained to the full budget: `full`) and improved on its parent.
fn mutation_use(
    rows: &[HistoryRow],
    by_id: &HashMap<i64, &HistoryRow>,
    programs: &HashMap<String, Program>,
    full: &dyn Fn(&HistoryRow) -> bool,
) -> Result<(Vec<UseRow>, Vec<UseRow>)> {
    let full_loss = |r: &HistoryRow| if full(r) { r.fitness } else { None };
    let mut kinds: BTreeMap<String, UseRow> = BTreeMap::new();
    let mut ops: BTreeMap<String, UseRow> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.seed_index.is_none()) {
        let Some(json) = &r.mutation else { continue };
        let muts = stored_mutations(json).with_context(|| format!("candidate {}: its stored mutation", r.candidate))?;
        let Some(parent) = r.parent.and_then(|p| by_id.get(&p)) else { continue };
        let Some(mut program) = programs.get(&parent.program).cloned() else { continue };
        let survived = full(r);
        let improved = match (full_loss(r), full_loss(parent)) {
            (Some(c), Some(p)) => c < p,
            _ => false,
        };
        let mut these_kinds = Vec::new();
        let mut these_ops = Vec::new();
        for m in &muts {
            these_kinds.push(m.kind().name().to_string());
            these_ops.extend(op_uses(m, &program));
            program = primer_dsl::analysis::eliminate_dead_code(&m.apply(&program));
        }
        these_kinds.sort();
        these_kinds.dedup();
        these_ops.sort();
        these_ops.dedup();
        for (map, keys) in [(&mut kinds, these_kinds), (&mut ops, these_ops)] {
            for key in keys {
                let e = map.entry(key.clone()).or_insert_with(|| UseRow { what: key, ..UseRow::default() });
                e.proposed += 1;
                e.survived += usize::from(survived);
                e.improved += usize::from(improved);
            }
        }
    }
    let mut ops: Vec<UseRow> = ops.into_values().collect();
    ops.sort_by(|a, b| b.proposed.cmp(&a.proposed).then(a.what.cmp(&b.what)));

    Ok((kinds.into_values().collect(), ops))
}

/// The changes against their seed that the top K share, most shared first.
fn top_k_shared(
    ranked: &[&HistoryRow],
    k: usize,
    by_id: &HashMap<i64, &HistoryRow>,
    programs: &HashMap<String, Program>,
) -> Vec<SharedChange> {
    let mut shared: BTreeMap<String, usize> = BTreeMap::new();
    for r in ranked.iter().take(k) {
        let seed = seed_of(r, by_id);
        let (Some(s), Some(p)) = (seed.and_then(|s| programs.get(&s.program)), programs.get(&r.program)) else {
            continue;
        };
        let mut keys: Vec<String> = diff(s, p).changes.iter().map(change_key).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            *shared.entry(key).or_default() += 1;
        }
    }
    let mut top_k_shared: Vec<SharedChange> =
        shared.into_iter().map(|(change, count)| SharedChange { change, count }).collect();
    top_k_shared.sort_by(|a, b| b.count.cmp(&a.count).then(a.change.cmp(&b.change)));

    top_k_shared
}

/// The analysis of a campaign's history (pure: tested without a store).
pub fn analyze_history(
    name: &str,
    spec: &CampaignSpec,
    rows: &[HistoryRow],
    programs: &HashMap<String, Program>,
    k: usize,
) -> Result<Analysis> {
    let h = spec.hurdles.hurdles;
    let by_id: HashMap<i64, &HistoryRow> = rows.iter().map(|r| (r.candidate, r)).collect();
    let motif_of: HashMap<&str, Motifs> = programs.iter().map(|(hash, p)| (hash.as_str(), motifs(p))).collect();
    let seed_rows: Vec<&HistoryRow> = rows.iter().filter(|r| r.seed_index.is_some()).collect();
    let seed_motifs = seed_rows.first().and_then(|r| motif_of.get(r.program.as_str())).copied().unwrap_or_default();
    // A reused result is as good as its source's: its outcome decides survival (a source in
    // another campaign was trained to the full budget).
    let outcome_of = |r: &HistoryRow| -> Option<Outcome> {
        match (r.outcome, r.reused_from) {
            (Some(Outcome::Reused), Some(src)) => by_id.get(&src).map_or(Some(Outcome::Finished), |s| s.outcome),
            (o, _) => o,
        }
    };
    let full = |r: &HistoryRow| outcome_of(r) == Some(Outcome::Finished);

    // Ranking: as `primer top` (lowest loss first, then birth).
    let mut ranked: Vec<&HistoryRow> = rows.iter().filter(|r| r.fitness.is_some()).collect();
    ranked.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
    let rank_of: HashMap<i64, usize> = ranked.iter().enumerate().map(|(i, r)| (r.candidate, i + 1)).collect();

    // Living population at fractions of the births so far.
    let births = rows.len();
    let with_loss: Vec<&HistoryRow> = rows.iter().filter(|r| r.fitness.is_some_and(f64::is_finite)).collect();
    let p_size = spec.evolution.population_size.max(1);
    let populations: Vec<Vec<&HistoryRow>> = (1..=10)
        .map(|tenth| {
            let upto = (births * tenth).div_ceil(10) as i64;
            let alive: Vec<&HistoryRow> = with_loss.iter().copied().filter(|r| r.birth < upto).collect();
            alive[alive.len().saturating_sub(p_size)..].to_vec()
        })
        .collect();

    let mut reports = Vec::new();
    for (name, meaning) in MOTIFS {
        let m = |r: &HistoryRow| motif_of.get(r.program.as_str()).is_some_and(|x| has(name, x, &seed_motifs));
        let with: Vec<&HistoryRow> = rows.iter().filter(|r| r.seed_index.is_none() && m(r)).collect();
        let introduced =
            with.iter().filter(|r| r.parent.and_then(|p| by_id.get(&p)).is_some_and(|parent| !m(parent))).count();
        // Entries 0..h: passed hurdle i+1; entry h: trained to the full budget.
        let mut passed_counts = vec![0usize; h + 1];
        for r in &with {
            let p = passed(r, &by_id).unwrap_or(0);
            for (i, c) in passed_counts.iter_mut().enumerate().take(h) {
                *c += usize::from(p as usize > i);
            }
            passed_counts[h] += usize::from(full(r));
        }
        let population_share = populations
            .iter()
            .map(|pop| if pop.is_empty() { 0.0 } else { pop.iter().filter(|r| m(r)).count() as f64 / pop.len() as f64 })
            .collect();
        let best =
            with.iter().filter_map(|r| rank_of.get(&r.candidate).map(|&rank| (rank, *r))).min_by_key(|(rank, _)| *rank);
        reports.push(MotifReport {
            motif: name.into(),
            meaning: meaning.into(),
            in_seed: seed_rows.iter().any(|r| m(r)),
            first_birth: with.first().map(|r| r.birth),
            candidates: with.len(),
            introduced,
            passed: passed_counts,
            population_share,
            best_rank: best.map(|b| b.0),
            best_candidate: best.map(|b| b.1.candidate),
            best_loss: best.and_then(|b| b.1.fitness),
            in_top_k: best.is_some_and(|b| b.0 <= k),
        });
    }

    // What evolution used.
    let (kinds, ops) = mutation_use(rows, &by_id, programs, &full)?;

    let top_k_shared = top_k_shared(&ranked, k, &by_id, programs);

    let evaluated = rows.iter().filter(|r| r.outcome.is_some()).count();
    Ok(Analysis {
        campaign: name.into(),
        strategy: if spec.strategy.is_evolution() { "evolution".into() } else { "random".into() },
        candidates: rows.len(),
        evaluated,
        failed: rows
            .iter()
            .filter(|r| {
                matches!(r.outcome, Some(Outcome::Failed | Outcome::Invalid | Outcome::Diverged | Outcome::OutOfMemory))
            })
            .count(),
        stopped_at_hurdles: rows.iter().filter(|r| r.outcome == Some(Outcome::Stopped)).count(),
        reused: rows.iter().filter(|r| r.outcome == Some(Outcome::Reused)).count(),
        reused_from_other_campaigns: rows.iter().filter(|r| primer_campaign::reuse::from_elsewhere(r, rows)).count(),
        redrawn_over_limit: rows.iter().filter_map(|r| r.over_limit).sum::<i64>() as usize,
        training_flops: rows.iter().filter_map(|r| r.flops).sum(),
        training_seconds: rows.iter().filter_map(|r| r.seconds).sum(),
        hurdles: h,
        seed_loss: seed_rows.iter().filter_map(|r| r.fitness).min_by(f64::total_cmp),
        best_loss: ranked.first().and_then(|r| r.fitness),
        best_candidate: ranked.first().map(|r| r.candidate),
        k,
        motifs: reports,
        mutation_kinds: kinds,
        ops,
        top_k_shared,
    })
}

/// The seed a candidate descends from (its chain of parents back to a seed row).
pub fn seed_of<'a>(r: &'a HistoryRow, by_id: &HashMap<i64, &'a HistoryRow>) -> Option<&'a HistoryRow> {
    let mut cur = r;
    for _ in 0..by_id.len() + 1 {
        if cur.seed_index.is_some() {
            return Some(cur);
        }
        cur = by_id.get(&cur.parent?)?;
    }
    None
}

/// The candidates with a finite loss, best first (ties: the earlier birth), as the report and
/// `progress` rank them.
pub fn ranked<'a>(rows: impl IntoIterator<Item = &'a HistoryRow>) -> Vec<&'a HistoryRow> {
    let mut ranked: Vec<&HistoryRow> = rows.into_iter().filter(|r| r.fitness.is_some_and(f64::is_finite)).collect();
    ranked.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
    ranked
}

/// Reads a campaign's history and programs from the store and analyzes it.
pub async fn load(store: &Store, campaign: &str, k: usize) -> Result<Analysis> {
    let c = find_campaign(store, campaign).await?;
    let spec: CampaignSpec =
        serde_json::from_str(&c.config).with_context(|| format!("campaign `{}`: its stored config", c.name))?;
    let rows = store.history(c.id).await?;
    let programs = parsed_programs(store, c.id).await?;
    for r in &rows {
        anyhow::ensure!(
            programs.contains_key(&r.program),
            "program {} of candidate {} is missing",
            r.program,
            r.candidate
        );
    }
    analyze_history(&c.name, &spec, &rows, &programs, k)
}

/// The campaign's programs, parsed, by hash (one query).
pub async fn parsed_programs(store: &Store, campaign: i64) -> Result<HashMap<String, Program>> {
    let mut programs = HashMap::new();
    for stored in store.programs_of(campaign).await? {
        let p = text::from_json(&stored.json, "<store>").with_context(|| format!("program {}", stored.hash))?;
        programs.insert(stored.hash, p);
    }
    Ok(programs)
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// The analysis as text a person reads.
pub fn table(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "campaign `{}` ({}): {} candidates, {} evaluated ({} stopped at hurdles, {} reused, {} failed); {:.3e} training FLOPs, {:.0} s of training",
        a.campaign,
        a.strategy,
        a.candidates,
        a.evaluated,
        a.stopped_at_hurdles,
        a.reused,
        a.failed,
        a.training_flops,
        a.training_seconds
    );
    if a.reused_from_other_campaigns > 0 {
        let _ = writeln!(
            s,
            "{} candidates took a loss measured in another campaign of the store under the same settings (`primer savings` says the compute saved)",
            a.reused_from_other_campaigns
        );
    }
    if a.redrawn_over_limit > 0 {
        let _ = writeln!(
            s,
            "{} children were over the search space's cost limits and redrawn before they were queued",
            a.redrawn_over_limit
        );
    }
    let l = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.4}"));
    let _ = writeln!(
        s,
        "seed loss {}, best loss {} (candidate {})",
        l(a.seed_loss),
        l(a.best_loss),
        a.best_candidate.map_or("–".into(), |c| c.to_string())
    );
    let _ = writeln!(
        s,
        "\nPrimer's changes (passed: hurdle 1..{} then full budget; share: of the living population at 25/50/75/100% of births):",
        a.hurdles
    );
    let _ = writeln!(
        s,
        "{:<13} {:>6} {:>6} {:>6} {:>12} {:<19} {:>11}  meaning",
        "motif", "first", "cands", "intro", "passed", "share", "best rank"
    );
    for m in &a.motifs {
        let passed: Vec<String> = m.passed.iter().map(|p| p.to_string()).collect();
        let share: Vec<String> = [2, 4, 7, 9].iter().map(|&i| pct(m.population_share[i])).collect();
        let rank = match (m.best_rank, m.in_top_k) {
            (Some(r), true) => format!("{r} (top {})", a.k),
            (Some(r), false) => r.to_string(),
            (None, _) => "–".into(),
        };
        let _ = writeln!(
            s,
            "{:<13} {:>6} {:>6} {:>6} {:>12} {:<19} {:>11}  {}{}",
            m.motif,
            m.first_birth.map_or("never".into(), |b| b.to_string()),
            m.candidates,
            m.introduced,
            passed.join("/"),
            share.join(" "),
            rank,
            m.meaning,
            if m.in_seed { " (in the seed)" } else { "" }
        );
    }
    let _ = writeln!(s, "\nmutation kinds (proposed, survived every hurdle, improved on the parent):");
    for u in &a.mutation_kinds {
        let _ = writeln!(s, "  {:<16} {:>6} {:>6} {:>6}", u.what, u.proposed, u.survived, u.improved);
    }
    let _ = writeln!(s, "\nops inserted and deleted (proposed, survived, improved), most proposed first:");
    for u in a.ops.iter().take(20) {
        let _ = writeln!(s, "  {:<20} {:>6} {:>6} {:>6}", u.what, u.proposed, u.survived, u.improved);
    }
    if a.ops.len() > 20 {
        let _ = writeln!(s, "  ... {} more (--format json or csv for all)", a.ops.len() - 20);
    }
    let _ = writeln!(s, "\nchanges against the seed shared by the top {} (count of the top {} with it):", a.k, a.k);
    for c in a.top_k_shared.iter().take(15) {
        let _ = writeln!(s, "  {:>3}  {}", c.count, c.change);
    }
    if a.top_k_shared.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    s
}

/// CSV: one line per motif, mutation kind and op.
pub fn csv(a: &Analysis) -> String {
    let mut s = String::from(
        "section,name,first_birth,candidates,introduced,passed,share_final,best_rank,proposed,survived,improved\n",
    );
    for m in &a.motifs {
        let passed: Vec<String> = m.passed.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(
            s,
            "motif,{},{},{},{},{},{},{},,,",
            m.motif,
            m.first_birth.map_or(String::new(), |b| b.to_string()),
            m.candidates,
            m.introduced,
            passed.join("/"),
            m.population_share.last().copied().unwrap_or(0.0),
            m.best_rank.map_or(String::new(), |r| r.to_string())
        );
    }
    for (section, rows) in [("kind", &a.mutation_kinds), ("op", &a.ops)] {
        for u in rows {
            let _ = writeln!(s, "{section},{},,,,,,,{},{},{}", u.what, u.proposed, u.survived, u.improved);
        }
    }
    s
}

/// `primer analyze`.
pub async fn analyze(store: &Store, campaign: &str, k: usize, format: Format) -> Result<()> {
    let a = load(store, campaign, k).await?;
    match format {
        Format::Table => print!("{}", table(&a)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&a)?),
        Format::Csv => print!("{}", csv(&a)),
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use primer_dsl::analysis::{canonical_hash, eliminate_dead_code};
    use primer_dsl::op::Op;
    use primer_dsl::program::Instruction;
    use primer_evolve::mutation::{BankChange, FieldValue};

    pub(crate) fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    pub(crate) fn row(
        candidate: i64,
        parent: Option<i64>,
        p: &Program,
        m: Option<&Mutation>,
        outcome: Outcome,
        fitness: f64,
        hurdles: i64,
    ) -> HistoryRow {
        HistoryRow {
            candidate,
            birth: candidate - 1,
            program: canonical_hash(p).hex(),
            parent,
            seed_index: parent.is_none().then_some(0),
            mutation: m.map(|m| serde_json::to_string(m).unwrap()),
            description: None,
            status: primer_store::Status::Done,
            attempts: 1,
            worker: None,
            fitness: Some(fitness),
            outcome: Some(outcome),
            reason: None,
            steps: Some(10),
            flops: Some(1e9),
            seconds: Some(1.0),
            hurdles: Some(hurdles),
            reused_from: None,
            over_limit: None,
        }
    }

    /// The demo campaign's resolved spec (its corpus check satisfied by any existing file).
    pub(crate) fn demo_spec() -> CampaignSpec {
        let root = root();
        primer_campaign::spec::resolve(
            &root.join("experiments/demo.toml"),
            &Default::default(),
            &root.join("Cargo.toml"),
            &Default::default(),
        )
        .unwrap()
        .spec
    }

    #[test]
    fn a_small_history_is_counted_exactly() {
        let root = root();
        let spec = demo_spec();
        assert_eq!(spec.hurdles.hurdles, 2);
        let t = primer_dsl::text::parse_file(&root.join("search-spaces/programs/transformer.prim")).unwrap();
        // main: x, then n1 heads attn h n2 up z relu(value 8) down out.
        let sq = Instruction { name: "sq".into(), op: Op::Square, in1: 8, in2: 0, constant: 0, dim: 0, branching: 1 };
        let insert = Mutation::InsertInstruction { subprogram: 0, position: 8, instruction: sq };
        let s = eliminate_dead_code(&insert.apply(&t));
        let bank = Mutation::MutateBank { change: BankChange::Constant { index: 0, value: 2e-5 } };
        let s2 = eliminate_dead_code(&bank.apply(&s));
        let min = Mutation::MutateField { subprogram: 0, position: 7, value: FieldValue::Op(Op::Min) };
        let m = eliminate_dead_code(&min.apply(&t));
        let rows = vec![
            row(1, None, &t, None, Outcome::Finished, 2.0, 2),
            row(2, Some(1), &s, Some(&insert), Outcome::Finished, 1.9, 2),
            row(3, Some(2), &s2, Some(&bank), Outcome::Stopped, 2.5, 1),
            row(4, Some(1), &m, Some(&min), Outcome::Finished, 2.1, 2),
        ];
        let programs: HashMap<String, Program> =
            [&t, &s, &s2, &m].into_iter().map(|p| (canonical_hash(p).hex(), p.clone())).collect();
        let a = analyze_history("x", &spec, &rows, &programs, 2).unwrap();
        assert_eq!(
            (a.candidates, a.evaluated, a.stopped_at_hurdles, a.best_candidate, a.seed_loss),
            (4, 4, 1, Some(2), Some(2.0))
        );
        let sr = &a.motifs[0];
        assert_eq!(sr.motif, "squared_relu");
        assert_eq!((sr.in_seed, sr.first_birth, sr.candidates, sr.introduced), (false, Some(1), 2, 1));
        // Candidate 2 passed both hurdles and trained to the end; 3 stopped at the first.
        assert_eq!(sr.passed, [1, 1, 1]);
        assert_eq!((sr.best_rank, sr.best_candidate, sr.in_top_k), (Some(1), Some(2), true));
        // In the final population (P = 20 holds all four): 2 of 4.
        assert_eq!(sr.population_share[9], 0.5);
        assert!(a.motifs[1..6].iter().all(|m| m.candidates == 0 && m.first_birth.is_none() && !m.in_top_k));
        let uses =
            |v: &[UseRow]| v.iter().map(|u| (u.what.clone(), u.proposed, u.survived, u.improved)).collect::<Vec<_>>();
        assert_eq!(
            uses(&a.mutation_kinds),
            [("bank".into(), 1, 0, 0), ("insert".into(), 1, 1, 1), ("mutate_field".into(), 1, 1, 0)]
        );
        assert_eq!(
            uses(&a.ops),
            [("delete MAX".into(), 1, 1, 0), ("insert MIN".into(), 1, 1, 0), ("insert SQUARE".into(), 1, 1, 1)]
        );
        // The top 2 are candidates 2 and 1 (the seed): one change against the seed, in one.
        assert_eq!(a.top_k_shared.len(), 1);
        assert_eq!((a.top_k_shared[0].change.as_str(), a.top_k_shared[0].count), ("+ main: SQUARE(relu)", 1));
        let text = table(&a);
        assert!(text.contains("squared_relu") && text.contains("1 (top 2)"), "{text}");
        assert_eq!(csv(&a).lines().count(), 1 + 7 + 3 + 3);
        // A reused result counts as its source's: candidate 5 reuses 2's loss, so it passed both
        // hurdles and trained to the end as 2 did.
        let mut rows = rows;
        rows.push(HistoryRow {
            reused_from: Some(2),
            hurdles: Some(0),
            ..row(5, Some(4), &s, Some(&insert), Outcome::Reused, 1.9, 0)
        });
        let a = analyze_history("x", &spec, &rows, &programs, 2).unwrap();
        assert_eq!(a.motifs[0].passed, [2, 2, 2]);
    }

    #[test]
    fn stored_mutations_are_one_or_a_list() {
        let m = Mutation::DeleteInstruction { subprogram: 0, position: 1 };
        assert_eq!(stored_mutations(&serde_json::to_string(&m).unwrap()).unwrap(), std::slice::from_ref(&m));
        assert_eq!(stored_mutations(&serde_json::to_string(&[m.clone(), m.clone()]).unwrap()).unwrap(), [m.clone(), m]);
        assert!(stored_mutations("{}").is_err());
    }
}
