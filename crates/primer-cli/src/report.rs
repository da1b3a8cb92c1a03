//! `primer report`: a campaign as one self-contained HTML page (data, styles and scripts
//! inside: it opens offline from disk, no server, no network). The store is read-only. The page
//! (`report/page.html`, `report/report.js`, `report/report.css`) draws eight sections on
//! canvases and SVG with the project's own plotting code (no library): the header, search
//! progress, loss against cost with the Pareto front, hurdles, mutations, the top 20 with
//! their curves and diffs, the lineage of the best, and Primer's motifs. Each section marks
//! itself drawn (`data-drawn`), and the page sets its title to `ready: NAME` when all are, so
//! that a browser test can wait for it and check every section.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use primer_store::Store;

use primer_campaign::resolve::find_campaign;

mod data;

const PAGE: &str = include_str!("report/page.html");
const SCRIPT: &str = include_str!("report/report.js");
const STYLE: &str = include_str!("report/report.css");

pub use data::{Best, Columns, Data, Header, Hurdles, Loaded, Node, Top, Worker, build, load};

/// How long building and writing took, and how big the page is.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub candidates: usize,
    pub bytes: usize,
    pub seconds: f64,
}

/// Builds the page's data from the store: [`load`], then [`build`].
pub async fn data(store: &Store, campaign: &str, refresh: u64) -> Result<Data> {
    Ok(build(&load(store, campaign).await?, refresh))
}

/// The page for `data`: one HTML file with everything inside. The template's `{{name}}`
/// places are filled in one pass ([`fill`]), so that text which itself reads `{{...}}` (a
/// campaign's name, a program's comment) is never expanded; each value is escaped for where it
/// goes: the title as HTML text, the data as JSON inside `<script>` ([`script_json`]).
pub fn html(data: &Data) -> Result<String> {
    let json = script_json(&serde_json::to_string(data)?);
    let title = html_escape(&data.campaign.name);
    let refresh = if data.refresh > 0 {
        format!("<meta http-equiv=\"refresh\" content=\"{}\">", data.refresh)
    } else {
        String::new()
    };
    fill(PAGE, &[("title", &title), ("refresh", &refresh), ("style", STYLE), ("data", &json), ("script", SCRIPT)])
}

/// `template` with each `{{name}}` replaced by its value, in one pass over the template: what a
/// value holds is copied as it is, never read for places. A place with no value is an error
/// (a template and its caller out of step), and so is a value with no place.
pub fn fill(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| anyhow::anyhow!("report template: `{{{{` with no `}}}}`"))?;
        let name = &after[..end];
        let k = values
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| anyhow::anyhow!("report template: no value for `{{{{{name}}}}}`"))?;
        out.push_str(values[k].1);
        used[k] = true;
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some(k) = used.iter().position(|u| !u) {
        anyhow::bail!("report template: no place for `{{{{{}}}}}`", values[k].0);
    }
    Ok(out)
}

/// JSON text made safe inside an HTML `<script>` element: `<`, `>` and `&` written as JSON's
/// `\u003c`, `\u003e` and `\u0026` (the same string to `JSON.parse`), so that no `</script>`,
/// `<!--` or `<script` in a name or comment can end or change the element. These characters
/// occur only inside JSON strings, where the escapes mean the same.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Builds and writes the report of `campaign` to `out` (through a temporary file, so that a
/// browser reloading it never sees half a page).
pub async fn write(store: &Store, campaign: &str, out: &Path, refresh: u64) -> Result<Written> {
    let started = Instant::now();
    let d = data(store, campaign, refresh).await?;
    let page = html(&d)?;
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, &page).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Written { candidates: d.c.id.len(), bytes: page.len(), seconds: started.elapsed().as_secs_f64() })
}

/// `primer report`: writes the page once, or every `watch` seconds until the campaign is
/// finished (the open page reloads itself).
pub async fn report(store: &Store, campaign: &str, out: &Path, watch: Option<f64>) -> Result<()> {
    let refresh = watch.map_or(0, |w| w.ceil().max(1.0) as u64);
    loop {
        let w = write(store, campaign, out, refresh).await?;
        let path = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
        println!(
            "wrote {} ({} candidates, {:.1} MB, {:.1} s): open file://{}",
            out.display(),
            w.candidates,
            w.bytes as f64 / 1e6,
            w.seconds,
            path.display()
        );
        let Some(every) = watch else { return Ok(()) };
        let c = find_campaign(store, campaign).await?;
        if c.finished_at.is_some() {
            // One last page without the reload.
            write(store, campaign, out, 0).await?;
            println!("the campaign is finished; stopped watching");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs_f64(every)).await;
    }
}

/// `primer bench report`: builds the synthetic store of `n` candidates in `dir` (a SQLite file),
/// then writes its report there and prints the seconds and size of each step.
pub async fn bench(n: usize, dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join(format!("synthetic-{n}.db"));
    let url = format!("sqlite://{}", db.display());
    let name = format!("synthetic-{n}");
    let started = Instant::now();
    {
        let store = Store::open(&url).await?;
        if store.campaign(&name).await?.is_none() {
            let d = crate::synthetic::campaign(
                &primer_campaign::paths::workspace_root().join("experiments/demo.toml"),
                &format!("synthetic-{n}"),
                n,
                n,
                crate::synthetic::Shape::Evolved,
                1,
            )?;
            store.load_campaign(&d).await?;
        }
    }
    let built = started.elapsed().as_secs_f64();
    let store = Store::open_read(&url).await?;
    let out = dir.join(format!("report-{n}.html"));
    let w = write(&store, &name, &out, 0).await?;
    println!("synthetic store of {n} candidates: {} ({built:.1} s to build, or found)", db.display());
    println!("report: {} ({:.2} MB) written in {:.2} s", out.display(), w.bytes as f64 / 1e6, w.seconds);
    Ok(w)
}

#[cfg(test)]
mod template_tests {
    use super::{fill, script_json};

    #[test]
    fn values_that_read_like_places_are_not_expanded() {
        let page = fill("<t>{{title}}</t><s>{{script}}</s>", &[("title", "x{{script}}"), ("script", "run()")]).unwrap();
        assert_eq!(page, "<t>x{{script}}</t><s>run()</s>");
        assert!(fill("{{nope}}", &[]).unwrap_err().to_string().contains("no value for `{{nope}}`"));
        assert!(fill("plain", &[("a", "b")]).unwrap_err().to_string().contains("no place for `{{a}}`"));
    }

    #[test]
    fn json_in_a_script_element_cannot_end_it_and_parses_the_same() {
        let text = "</script><!--<script>&\u{2028}\"é";
        let json = serde_json::to_string(&text).unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), text);
    }
}
