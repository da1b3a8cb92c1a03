//! The campaign's controller lease: one controller per campaign, taken over from a dead one.

use std::time::Instant;

use anyhow::{Result, bail};
use primer_store::Store;

use super::pool::process_alive;

/// Takes the campaign's controller lease, or says who holds it. A holder on this host whose
/// process is gone (a controller that was killed) is taken over at once; elsewhere, once its
/// heartbeat is older than the lease. Returns this controller's holder name.
pub async fn take_controller(store: &Store, campaign: i64, lease: f64) -> Result<String> {
    let host = crate::signals::hostname();
    let pid = std::process::id();
    let me = primer_store::NewController {
        campaign,
        holder: format!("{host}:{pid}:{}", primer_store::now()),
        host: host.clone(),
        pid: pid as i64,
    };
    let mut got = store.acquire_controller(&me, lease, None).await?;
    if got.holder != me.holder && got.host == host && !process_alive(got.pid) {
        eprintln!("the campaign's last controller ({}) is gone: taking over", describe_controller(&got));
        got = store.acquire_controller(&me, lease, Some(&got.holder)).await?;
    }
    if got.holder != me.holder {
        bail!(
            "the campaign already has a controller: {}; stop it first (or, if it died on another machine, wait until its heartbeat is {lease:.0} s old)",
            describe_controller(&got)
        );
    }
    Ok(me.holder)
}

/// The controller's hold on its lease: renewed every third of the lease; an error once another
/// controller took the campaign over.
pub struct Lease {
    pub holder: String,
    pub seconds: f64,
    renewed: Instant,
}

impl Lease {
    /// Takes the lease (see [`take_controller`]).
    pub async fn take(store: &Store, campaign: i64, seconds: f64) -> Result<Lease> {
        let holder = take_controller(store, campaign, seconds).await?;
        Ok(Lease { holder, seconds, renewed: Instant::now() })
    }

    /// Renews it when a third of the lease has passed; an error names the controller that took over.
    pub async fn renew(&mut self, store: &Store, campaign: i64, name: &str) -> Result<()> {
        if self.renewed.elapsed().as_secs_f64() <= self.seconds / 3.0 {
            return Ok(());
        }
        if !store.controller_heartbeat(campaign, &self.holder).await? {
            let other = store.controller(campaign).await?;
            bail!(
                "campaign `{name}`: another controller took it over ({}); this one stops",
                other.map_or("none now".into(), |c| describe_controller(&c))
            );
        }
        self.renewed = Instant::now();
        Ok(())
    }
}

pub fn describe_controller(c: &primer_store::ControllerRow) -> String {
    format!(
        "pid {} on {}, running for {:.0} s, last heartbeat {:.0} s ago",
        c.pid,
        c.host,
        primer_store::now() - c.started_at,
        c.silent.max(0.0)
    )
}
