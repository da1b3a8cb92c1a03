//! `primer check`, `primer diff` and `primer bench dsl`: programs, without libtorch.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use primer_dsl::analysis::{Cost, canonical_hash, eliminate_dead_code};
use primer_dsl::text::{SourceMap, instruction_text, parse_with_source_map};
use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Location, ModelConfig, Program, diff};

use crate::cli::Format;
use crate::doctor::csv;
use crate::paths;

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

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

/// `primer bench dsl`: parse, validate and hash throughput on one thread.
pub fn bench_dsl(file: Option<&Path>, seconds: f64) -> Result<()> {
    let path = file.map(Path::to_path_buf).unwrap_or_else(|| paths::programs_dir().join("transformer.prim"));
    let text = std::fs::read_to_string(&path)?;
    let config = ModelConfig::default();
    let name = path.display().to_string();
    let p = primer_dsl::text::parse(&text, &name)?;
    let measure = |label: &str, f: &mut dyn FnMut() -> usize| -> f64 {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed().as_secs_f64() < seconds {
            for _ in 0..64 {
                std::hint::black_box(f());
            }
            n += 64;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{label:<34} {:>12.0} programs/s  ({:.2} µs each)", rate, 1e6 / rate);
        rate
    };
    println!("bench dsl: {name} ({} instructions), d_model {}, one thread", p.num_instructions(), config.d_model);
    measure("parse", &mut || primer_dsl::text::parse(&text, &name).map(|p| p.subprograms.len()).unwrap_or(0));
    measure("validate (shapes, params, FLOPs)", &mut || validate(&p, &config).map(|v| v.instances.len()).unwrap_or(0));
    measure("canonical hash", &mut || canonical_hash(&p).0[0] as usize);
    let all = measure("parse + validate + hash", &mut || {
        let p = primer_dsl::text::parse(&text, &name).expect("parsed above");
        let v = validate(&p, &config).map(|v| v.instances.len()).unwrap_or(0);
        v + canonical_hash(&p).0[0] as usize
    });
    println!("=> {all:.0} programs per second per core");
    Ok(())
}

/// `primer bench evolve`: children per second per core, each one mutation (re-drawn while
/// invalid or unchanged), dead-code removal, validation, canonical hash and description.
pub fn bench_evolve(file: Option<&Path>, space: Option<&Path>, seconds: f64) -> Result<()> {
    use primer_evolve::{Mutator, evolution::rng_for};
    let path = file.map(Path::to_path_buf).unwrap_or_else(|| paths::programs_dir().join("transformer.prim"));
    let space_path = space.map(Path::to_path_buf).unwrap_or_else(|| paths::search_spaces_dir().join("primer-cpu.toml"));
    let (p, _) = load_program(&path)?;
    let space = primer_dsl::SearchSpace::load(&space_path)?;
    let config = ModelConfig::default();
    let mutator = Mutator::new(space, config, 100);
    let hash = canonical_hash(&p);
    println!(
        "bench evolve: children of {} ({} instructions) in {}, d_model {}, one thread",
        path.display(),
        p.num_instructions(),
        space_path.display(),
        config.d_model
    );
    let start = Instant::now();
    let (mut n, mut drawn) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..64 {
            let child = mutator.child(&mut rng_for(0, n), &p, &hash, &|_| false)?;
            drawn += 1 + child.rejected.total() as u64;
            std::hint::black_box(child);
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!("children accepted      {n:>10} in {secs:.2} s");
    println!("mutations drawn        {drawn:>10} ({:.2} per accepted child)", drawn as f64 / n as f64);
    println!("=> {rate:.0} children per second per core ({:.1} µs each; target > 10,000)", 1e6 / rate);
    Ok(())
}
