//! Seeds from earlier campaigns (`seeds = ["campaign:NAME"]`, `{ campaign = "NAME", top = K }`,
//! `--seed-from`): read from the store (or the store the entry names) before the campaign file
//! is resolved. A campaign that is resumed keeps the seeds it began with, whatever its source
//! campaign has measured since.

use std::path::Path;

use anyhow::{Context, Result, bail};
use primer_dsl::analysis::canonical_hash;
use primer_dsl::text;
use primer_store::Store;

use crate::resolve::find_campaign;
use crate::spec::{CampaignSpec, Fetched, FromCampaign, Overrides, Resolved, SeedOrigin, SeedSpec};

/// [`resolve`](crate::spec::resolve) with seeds from earlier campaigns read from `store`; also
/// the campaign's stored spec when it exists already.
pub async fn resolve_in(
    store: &Store,
    path: &Path,
    o: &Overrides,
    default_corpus: &Path,
) -> Result<(Resolved, Option<CampaignSpec>)> {
    let (name, from) = crate::spec::campaign_seeds(path, o)?;
    let stored = match store.campaign(&name).await? {
        Some(c) => serde_json::from_str::<CampaignSpec>(&c.config).ok(),
        None => None,
    };
    let fetched = fetch(store, &name, &from, stored.as_ref()).await?;
    Ok((crate::spec::resolve(path, o, default_corpus, &fetched)?, stored))
}

/// [`resolve_in`] the store at `db`, opened only when the file takes seeds from a campaign.
pub async fn resolve_from(path: &Path, o: &Overrides, default_corpus: &Path, db: &str) -> Result<Resolved> {
    if crate::spec::campaign_seeds(path, o)?.1.is_empty() {
        return crate::spec::resolve(path, o, default_corpus, &Fetched::new());
    }
    Ok(resolve_in(&Store::open(db).await?, path, o, default_corpus).await?.0)
}

/// The programs of every entry of campaign `name`, by [`FromCampaign::selector`]; `stored`:
/// the campaign's stored spec when it exists already.
pub async fn fetch(
    store: &Store,
    name: &str,
    entries: &[FromCampaign],
    stored: Option<&CampaignSpec>,
) -> Result<Fetched> {
    let mut out = Fetched::new();
    for e in entries {
        let selector = e.selector();
        if e.campaign == name && e.store.is_none() {
            bail!("`seeds`: {selector}: a campaign cannot take its seeds from itself");
        }
        if out.contains_key(&selector) {
            continue;
        }
        let kept: Vec<&SeedSpec> = stored
            .map(|s| s.seeds.iter().filter(|s| s.origin.as_ref().is_some_and(|o| o.selector == selector)).collect())
            .unwrap_or_default();
        let seeds = if kept.is_empty() { from_source(store, e).await? } else { keep(store, &kept).await? };
        out.insert(selector, seeds);
    }
    Ok(out)
}

/// The seeds a resumed campaign began with (their programs are in its own store).
async fn keep(store: &Store, kept: &[&SeedSpec]) -> Result<Vec<(SeedSpec, primer_dsl::Program)>> {
    let mut v = Vec::new();
    for s in kept {
        let json = store
            .program_json(&s.hash)
            .await?
            .with_context(|| format!("seed {}: its program is not in the store", s.file))?;
        v.push(((*s).clone(), text::from_json(&json, &s.file)?));
    }
    Ok(v)
}

/// The entry's candidates, read from its campaign now.
async fn from_source(store: &Store, e: &FromCampaign) -> Result<Vec<(SeedSpec, primer_dsl::Program)>> {
    let selector = e.selector();
    let opened;
    let source = match &e.store {
        Some(url) => {
            opened = Store::open(url).await.with_context(|| format!("`seeds`: {selector}: opening {url}"))?;
            &opened
        }
        None => store,
    };
    let campaign =
        find_campaign(source, &e.campaign).await.map_err(|err| anyhow::anyhow!("`seeds`: {selector}: {err:#}"))?;
    let rows = match &e.candidates {
        Some(ids) => {
            let history = source.history(campaign.id).await?;
            let mut rows = Vec::new();
            for id in ids {
                let row = history.iter().find(|r| r.candidate == *id).with_context(|| {
                    format!("`seeds`: {selector}: candidate {id} is not in campaign `{}`", campaign.name)
                })?;
                rows.push(row.clone());
            }
            rows
        }
        None => source.top(campaign.id, e.top.unwrap_or(1) as i64).await?,
    };
    if rows.is_empty() {
        bail!("`seeds`: {selector}: campaign `{}` has no candidate with a loss yet", campaign.name);
    }
    let mut v = Vec::new();
    for r in rows {
        let file = format!("campaign:{} candidate {}", campaign.name, r.candidate);
        let json = source.program_json(&r.program).await?.with_context(|| format!("{file}: its program is missing"))?;
        let program = text::from_json(&json, &file)?;
        let origin = SeedOrigin {
            selector: selector.clone(),
            store: e.store.clone(),
            campaign: campaign.name.clone(),
            candidate: r.candidate,
            birth: r.birth,
            fitness: r.fitness,
        };
        v.push((SeedSpec { file, hash: canonical_hash(&program).hex(), origin: Some(origin) }, program));
    }
    Ok(v)
}
