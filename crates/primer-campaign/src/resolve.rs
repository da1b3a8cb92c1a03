//! What the commands share for finding things: a program file, a campaign by name or id, a
//! candidate named on the command line, a stored candidate with its program and campaign.

use std::path::Path;

use anyhow::{Context, Result, bail};
use primer_dsl::Program;
use primer_dsl::text::{self, SourceMap, parse_with_source_map};
use primer_store::{Campaign, HistoryRow, Store};

/// Reads a `.prim` (or `.json`) program; the error says file, line and column.
pub fn load_program(path: &Path) -> Result<(Program, SourceMap)> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{name}: cannot read: {e}"))?;
    if path.extension().is_some_and(|e| e == "json") {
        let p = primer_dsl::text::from_json(&text, &name)?;
        let lines = p.subprograms.iter().map(|s| vec![(0, 0); s.instructions.len()]).collect();
        return Ok((p, SourceMap { file: name, lines }));
    }
    Ok(parse_with_source_map(&text, &name)?)
}

/// A campaign by name, or by id when the argument is a number.
pub async fn find_campaign(store: &Store, which: &str) -> Result<Campaign> {
    if let Some(c) = store.campaign(which).await? {
        return Ok(c);
    }
    if let Ok(id) = which.parse::<i64>()
        && let Some(c) = store.campaign_by_id(id).await?
    {
        return Ok(c);
    }
    let names: Vec<String> = store.campaigns().await?.into_iter().map(|c| format!("{} ({})", c.name, c.id)).collect();
    bail!(
        "no campaign `{which}` in {} (campaigns: {})",
        store.url,
        if names.is_empty() { "none".into() } else { names.join(", ") }
    )
}

/// A candidate named on the command line: `70`, `#70` or `candidate:70` (a number is a file
/// when a file of that name exists).
pub fn candidate_id(arg: &str) -> Option<i64> {
    if std::path::Path::new(arg).exists() {
        return None;
    }
    let n = arg.strip_prefix("candidate:").or_else(|| arg.strip_prefix('#')).unwrap_or(arg);
    n.parse().ok()
}

/// A stored candidate with its program and its campaign's resolved spec.
pub struct CandidateProgram {
    pub program: primer_dsl::Program,
    pub campaign: Campaign,
    pub spec: crate::spec::CampaignSpec,
    pub row: HistoryRow,
}

/// Candidate `id` of the store, with its program and campaign.
pub async fn candidate_program(store: &Store, id: i64) -> Result<CandidateProgram> {
    let primer_store::CandidateIn { campaign: campaign_id, row } =
        store.candidate(id).await?.with_context(|| format!("no candidate {id} in {}", store.url))?;
    let campaign = store
        .campaign_by_id(campaign_id)
        .await?
        .with_context(|| format!("candidate {id}: no campaign {campaign_id}"))?;
    let spec = serde_json::from_str(&campaign.config)
        .with_context(|| format!("campaign `{}`: its stored config", campaign.name))?;
    let program = program(store, &row.program).await?;
    Ok(CandidateProgram { program, campaign, spec, row })
}

pub async fn program(store: &Store, hash: &str) -> Result<primer_dsl::Program> {
    let json = store.program_json(hash).await?.with_context(|| format!("program {hash} is not stored"))?;
    Ok(text::from_json(&json, "<store>")?)
}
