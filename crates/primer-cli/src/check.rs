//! `primer check` and `primer diff`: programs, without libtorch.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use primer_dsl::analysis::{Cost, canonical_hash, eliminate_dead_code};
use primer_dsl::text::{SourceMap, instruction_text};
use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Location, ModelConfig, Program, diff};

use primer_args::Format;
use primer_campaign::output::csv;
use primer_campaign::output::group;
use primer_campaign::resolve::load_program;

/// `file:line:col` of an instruction, when the source map knows it.
fn source_of(p: &Program, map: &SourceMap, loc: &Location) -> String {
    if let Location::Instruction { subprogram, index, .. } = loc
        && let Some(si) = p.subprograms.iter().position(|s| &s.name == subprogram)
        && let Some(&(line, col)) = map.lines.get(si).and_then(|l| l.get(*index))
        && line > 0
    {
        return format!("{}:{line}:{col}: ", map.file);
    }
    format!("{}: ", map.file)
}

/// One row of the shape trace.
#[derive(Debug, serde::Serialize)]
struct TraceRow {
    subprogram: String,
    copies: usize,
    index: usize,
    name: String,
    instruction: String,
    live: bool,
    shape: Option<String>,
    params: u64,
    forward_flops_per_token: u64,
}

fn trace(p: &Program, v: &Validated) -> Vec<TraceRow> {
    let mut rows = Vec::new();
    // main first, then callees in the order they are reached.
    let mut order = vec![v.main];
    let mut k = 0;
    while k < order.len() {
        for c in v.instances[order[k]].callees.iter().flatten() {
            if !order.contains(c) {
                order.push(*c);
            }
        }
        k += 1;
    }
    for &ii in &order {
        let inst = &v.instances[ii];
        let sub = &p.subprograms[inst.subprogram];
        for (i, ins) in sub.instructions.iter().enumerate() {
            let shape = inst.values[sub.value_of(i)];
            rows.push(TraceRow {
                subprogram: sub.name.clone(),
                copies: inst.copies,
                index: i,
                name: ins.name.clone(),
                instruction: instruction_text(p, sub, i),
                live: shape.is_some(),
                shape: shape.map(|s| s.to_string()),
                params: inst.params[i],
                forward_flops_per_token: inst.flops[i],
            });
        }
    }
    rows
}

/// `primer check`: prints the report; returns whether the program is valid.
pub fn check(file: &Path, config: ModelConfig, format: Format) -> Result<bool> {
    let (p, map) = load_program(file)?;
    let v = match validate(&p, &config) {
        Ok(v) => v,
        Err(e) => {
            let reason = e.to_string();
            match format {
                Format::Json => {
                    println!("{}", serde_json::json!({ "file": map.file, "valid": false, "error": reason }))
                }
                _ => println!("{}invalid: {reason}", source_of(&p, &map, &e.location)),
            }
            return Ok(false);
        }
    };
    let cost = Cost::of(&v);
    let hash = canonical_hash(&p);
    let rows = trace(&p, &v);
    let dead = p.num_instructions() - v.liveness.num_live();
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "file": map.file, "valid": true, "config": config, "canonical_hash": hash.hex(),
                "cost": cost, "dead_instructions": dead, "trace": rows,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Csv => {
            println!("subprogram,copies,index,name,instruction,live,shape,params,forward_flops_per_token");
            for r in &rows {
                println!(
                    "{},{},{},{},{},{},{},{},{}",
                    csv(&r.subprogram),
                    r.copies,
                    r.index,
                    csv(&r.name),
                    csv(&r.instruction),
                    r.live,
                    r.shape.as_deref().unwrap_or(""),
                    r.params,
                    r.forward_flops_per_token
                );
            }
        }
        Format::Table => {
            let ModelConfig { d_model, seq_len, n_layers, .. } = config;
            println!("{}: valid (d_model {d_model}, seq_len {seq_len}, {n_layers} layers)", map.file);
            println!("canonical hash {}", hash.hex());
            let mut out = String::new();
            let mut current = (String::new(), 0);
            let width = rows.iter().map(|r| r.name.len() + r.instruction.len()).max().unwrap_or(0) + 3;
            for r in &rows {
                if (r.subprogram.clone(), r.copies) != current {
                    current = (r.subprogram.clone(), r.copies);
                    let copies = if r.copies > 1 { format!(" ({} copies)", r.copies) } else { String::new() };
                    let _ = writeln!(out, "\n{}{copies}", r.subprogram);
                    let _ = writeln!(
                        out,
                        "  {:>3} {:width$} {:>9} {:>10} {:>14}",
                        "#", "instruction", "shape", "params", "fwd FLOPs/tok"
                    );
                }
                let text = format!("{} = {}", r.name, r.instruction);
                let shape = r.shape.clone().unwrap_or_else(|| "dead".into());
                let _ = writeln!(
                    out,
                    "  {:>3} {text:width$} {shape:>9} {:>10} {:>14}",
                    r.index, r.params, r.forward_flops_per_token
                );
            }
            print!("{out}");
            println!();
            println!(
                "layer: {} parameters, {} forward FLOPs per token{}",
                group(cost.layer_params),
                group(cost.layer_forward_flops),
                if dead > 0 { format!(" ({dead} dead instructions ignored)") } else { String::new() }
            );
            println!(
                "model ({n_layers} layers + stem): {} parameters, {} training FLOPs per token",
                group(cost.model_params),
                group(cost.training_flops_per_token)
            );
        }
    }
    Ok(true)
}

/// `primer diff OLD NEW`: live code of both, compared.
pub fn diff_files(old: &Path, new: &Path, format: Format) -> Result<()> {
    let (a, _) = load_program(old)?;
    let (b, _) = load_program(new)?;
    for (p, f) in [(&a, old), (&b, new)] {
        if let Err(e) = primer_dsl::validate::check_structure(p) {
            bail!("{}: {e}", f.display());
        }
    }
    let d = diff::diff(&eliminate_dead_code(&a), &eliminate_dead_code(&b));
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        Format::Csv => {
            println!("kind,subprogram,index,name,old,new");
            for ch in &d.changes {
                let v = serde_json::to_value(ch)?;
                let s = |k: &str| {
                    v.get(k).map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string())).unwrap_or_default()
                };
                let (o, n) = match ch {
                    diff::Change::Inserted { text, .. } => (String::new(), text.clone()),
                    diff::Change::Deleted { text, .. } => (text.clone(), String::new()),
                    _ => (s("old"), s("new")),
                };
                println!(
                    "{},{},{},{},{},{}",
                    s("kind"),
                    csv(&s("subprogram")),
                    s("index"),
                    csv(&s("name")),
                    csv(&o),
                    csv(&n)
                );
            }
        }
        Format::Table => {
            println!("--- {}\n+++ {}", old.display(), new.display());
            print!("{d}");
        }
    }
    Ok(())
}
