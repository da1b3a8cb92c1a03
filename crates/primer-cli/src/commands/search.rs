//! `primer search`: its flags and what it does with them (the work is done by library modules; its
//! `--help` is the doc comment of its variant of [`super::Command`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use primer_args::flags;
use primer_campaign::devices::{self, DeviceItem, Placement};
use primer_campaign::paths;
use primer_campaign::spec::{FromCampaign, Overrides};
use primer_dsl::budget::Budget;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign file (TOML), e.g. experiments/demo.toml.
    pub config: PathBuf,
    /// The store (default: $PRIMER_DB, else sqlite://primer.db).
    #[arg(long, value_parser = flags::store_url)]
    pub db: Option<String>,
    /// Local worker processes (overrides `workers`); 0 runs the controller alone, for
    /// workers started elsewhere (`primer worker`, `primer launch slurm`).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Devices for the local workers, comma-separated: cpu, cuda:N, cuda:all (every GPU here).
    /// Workers go round-robin over them; without --workers or --workers-per-device, one per
    /// device.
    #[arg(long, value_delimiter = ',', value_parser = devices::parse_item)]
    pub devices: Vec<DeviceItem>,
    /// K workers on each device (--devices, else the CPU): several small candidates share a
    /// GPU. With --workers too, the two must agree.
    #[arg(long, value_name = "K", value_parser = flags::positive)]
    pub workers_per_device: Option<usize>,
    /// Pin each local worker's threads (`training.threads`) to cores of their own, in order,
    /// among the cores this process may use (`primer bench campaign` measures what it buys).
    #[arg(long)]
    pub pin: bool,
    /// Per-candidate budget (overrides `training.budget`): 500steps, 2e12flops, 60s.
    #[arg(long)]
    pub budget: Option<Budget>,
    /// Campaign name (overrides `name`; a new name starts a new campaign).
    #[arg(long)]
    pub name: Option<String>,
    /// Candidates in all (overrides `candidates`; a finished campaign can be extended).
    #[arg(long, value_parser = flags::positive_u64)]
    pub candidates: Option<u64>,
    /// Seed of every random choice (overrides `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// First put the candidates that failed only because their workers died (never
    /// measured) back to pending, keeping their attempt history; programs that failed on
    /// their own (invalid, diverged, out of memory) stay as they are.
    #[arg(long)]
    pub retry_failed: bool,
    /// Seeds from an earlier campaign, after the file's `seeds`: `campaign:NAME` (its best
    /// candidates, `--seed-top` of them) or `campaign:NAME#ID,ID` (those candidates). Repeatable.
    #[arg(long, value_name = "campaign:NAME[#IDS]", value_parser = seed_from)]
    pub seed_from: Vec<FromCampaign>,
    /// How many of each `--seed-from` campaign's best candidates to take.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub seed_top: u64,
    /// The store the `--seed-from` campaigns are in (default: --db).
    #[arg(long, value_name = "URL", value_parser = flags::store_url)]
    pub seed_store: Option<String>,
    /// Measure every candidate in this campaign: no fitness reused from the store's other
    /// campaigns (`[dedup] reuse = false`).
    #[arg(long)]
    pub no_reuse: bool,
}

/// `campaign:NAME` or `campaign:NAME#ID,ID`.
fn seed_from(s: &str) -> Result<FromCampaign, String> {
    let (head, ids) = match s.split_once('#') {
        Some((h, ids)) => (h, Some(ids)),
        None => (s, None),
    };
    let mut from =
        FromCampaign::parse(head).ok_or_else(|| format!("`{s}`: expected campaign:NAME or campaign:NAME#ID,ID"))?;
    if let Some(ids) = ids {
        let ids: Result<Vec<i64>, _> = ids.split(',').map(|i| i.trim().parse::<i64>()).collect();
        from.candidates = Some(ids.map_err(|e| format!("`{s}`: candidate ids: {e}"))?);
    }
    Ok(from)
}

/// Where the local workers run, and how many there are when --devices or
/// --workers-per-device decide it.
pub fn placement(
    items: &[DeviceItem],
    per_device: Option<usize>,
    workers: Option<usize>,
    pin: bool,
) -> Result<(Placement, Option<usize>)> {
    let devices = if items.is_empty() {
        Vec::new()
    } else {
        let cuda = if items.iter().any(DeviceItem::is_cuda) { crate::doctor::cuda_devices()? } else { 0 };
        devices::expand(items, cuda).map_err(|e| anyhow::anyhow!("--devices: {e}"))?
    };
    let n = (!devices.is_empty()).then_some(devices.len());
    let workers = devices::worker_count(n, per_device, workers).map_err(anyhow::Error::msg)?.or(workers);
    Ok((Placement { devices, pin }, workers))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let db = a.db.unwrap_or_else(paths::default_store_url);
    let (placement, workers) = placement(&a.devices, a.workers_per_device, a.workers, a.pin)?;
    let o = Overrides {
        name: a.name,
        workers,
        placement,
        budget: a.budget,
        candidates: a.candidates,
        seed: a.seed,
        retry_failed: a.retry_failed,
        seed_from: a
            .seed_from
            .into_iter()
            .map(|f| FromCampaign {
                top: f.candidates.is_none().then_some(a.seed_top as usize),
                store: a.seed_store.clone(),
                ..f
            })
            .collect(),
        no_reuse: a.no_reuse,
    };
    tokio::runtime::Runtime::new()?.block_on(crate::summary::search(&a.config, &db, &o))
}
