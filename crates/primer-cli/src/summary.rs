//! The end of a search: how many candidates and how they ended, the top programs, and the
//! best one's diff against its seed.

use std::collections::HashMap;

use anyhow::{Context, Result};
use primer_campaign::controller::{Run, Summary};
use primer_campaign::output::clock;
use primer_dsl::text;
use primer_store::{Outcome, Store};

/// The end of a search: the top programs and the best one's diff against its seed.
pub async fn report(store: &Store, s: &Summary) -> Result<()> {
    let (campaign, spec, seeds, secs) = (&s.campaign, &s.spec, &s.seeds, s.seconds);
    let counts = store.counts(campaign.id).await?;
    let history = store.history(campaign.id).await?;
    let stopped = history.iter().filter(|r| r.outcome == Some(Outcome::Stopped)).count();
    let elsewhere = history.iter().filter(|r| primer_campaign::reuse::from_elsewhere(r, &history)).count();
    let reused = history.iter().filter(|r| r.outcome == Some(Outcome::Reused)).count() - elsewhere;
    let elsewhere =
        if elsewhere > 0 { format!(", {elsewhere} took a loss measured in another campaign") } else { String::new() };
    println!(
        "\ncampaign `{}` finished in {}: {} candidates ({} trained to the end, {stopped} stopped at a hurdle, {reused} reused a functionally equal program's fitness{elsewhere}, {} failed)",
        spec.name,
        clock(secs),
        counts.total(),
        history.iter().filter(|r| r.outcome == Some(Outcome::Finished)).count(),
        counts.failed
    );
    let top = store.top(campaign.id, 5).await?;
    println!();
    crate::inspect::top(store, &campaign.name, 5, primer_args::Format::Table).await?;
    if let Some(best) = top.first() {
        let json = store.program_json(&best.program).await?.context("the best program")?;
        let p = text::from_json(&json, "<store>")?;
        // The seed it descends from.
        let by_id: HashMap<i64, &primer_store::HistoryRow> = history.iter().map(|r| (r.candidate, r)).collect();
        let at = crate::analyze::seed_of(best, &by_id);
        let seed = at.and_then(|r| r.seed_index).and_then(|i| seeds.get(i as usize)).unwrap_or(&seeds[0]);
        let d = primer_dsl::diff::diff(seed, &p);
        println!("\nbest: candidate {} (program {}), against its seed:", best.candidate, &best.program[..12]);
        if d.is_empty() { println!("  (the seed itself)") } else { print!("{d}") }
    }
    Ok(())
}

/// Runs a search (`primer search`, the demo's) and reports on it when it finished; the exit
/// code (128 + the signal when it was stopped).
pub async fn search(
    config: &std::path::Path,
    db: &str,
    o: &primer_campaign::spec::Overrides,
) -> Result<std::process::ExitCode> {
    match primer_campaign::controller::run(config, db, o).await? {
        Run::Stopped(code) => Ok(code),
        Run::Done(summary) => {
            let store = Store::open(db).await?;
            report(&store, &summary).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
