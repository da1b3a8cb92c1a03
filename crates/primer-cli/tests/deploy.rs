//! The container and Kubernetes files cannot be built or applied here (no container engine or
//! registry is reachable), so they are checked for what can go stale: every YAML file parses,
//! every `primer` command they run (compose, Kubernetes, the Dockerfile) is accepted by
//! primer's own command-line parser (so each command and flag exists), the workers join the
//! campaign the image's campaign file names, that file is a valid campaign, and the images run
//! `cargo xtask setup` with flags it has.

use std::path::Path;

use clap::Parser;
use primer_cli::commands::Cli;
use yaml_rust2::{Yaml, YamlLoader};

mod common;
use common::root;

/// Every `command:` (and `args:`) list of strings in a YAML tree.
fn commands(y: &Yaml, out: &mut Vec<Vec<String>>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                if matches!(k.as_str(), Some("command" | "args"))
                    && let Some(list) = v.as_vec()
                {
                    out.push(list.iter().map(|s| s.as_str().expect("a string").to_string()).collect());
                }
                commands(v, out);
            }
        }
        Yaml::Array(a) => a.iter().for_each(|v| commands(v, out)),
        _ => {}
    }
}

fn yaml(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn accepted(args: &[String], file: &Path) {
    assert_eq!(args[0], "primer", "{}: {args:?}", file.display());
    if let Err(e) = Cli::try_parse_from(args) {
        panic!("{}: `{}` is not a primer command: {e}", file.display(), args.join(" "));
    }
}

#[test]
fn compose_and_kubernetes_run_commands_primer_has() {
    let files = [
        root().join("docker/compose.yaml"),
        root().join("deploy/k8s/controller.yaml"),
        root().join("deploy/k8s/workers.yaml"),
        root().join("deploy/k8s/secret.yaml"),
        root().join("deploy/k8s/kustomization.yaml"),
    ];
    let campaign_name = {
        let text = std::fs::read_to_string(root().join("docker/campaign.toml")).unwrap();
        let v: toml::Value = toml::from_str(&text).unwrap();
        v["name"].as_str().unwrap().to_string()
    };
    let mut primer_commands = Vec::new();
    for f in &files {
        let docs = yaml(f);
        assert!(!docs.is_empty(), "{}: empty", f.display());
        let mut found = Vec::new();
        for d in &docs {
            commands(d, &mut found);
        }
        for c in found.into_iter().filter(|c| c.first().is_some_and(|p| p == "primer")) {
            accepted(&c, f);
            if c[1] == "worker" {
                let at = c.iter().position(|a| a == "--campaign").expect("workers name their campaign");
                assert_eq!(c[at + 1], campaign_name, "{}", f.display());
            }
            primer_commands.push((f.clone(), c));
        }
    }
    // A controller alone and workers, in compose and in Kubernetes.
    for dir in ["docker", "deploy/k8s"] {
        for sub in ["search", "worker"] {
            assert!(
                primer_commands.iter().any(|(f, c)| f.to_string_lossy().contains(dir) && c[1] == sub),
                "no `primer {sub}` in {dir}"
            );
        }
    }
    assert!(
        primer_commands
            .iter()
            .filter(|(_, c)| c[1] == "search")
            .all(|(_, c)| c.windows(2).any(|w| w == ["--workers", "0"]))
    );
    // The worker Job runs N in parallel and reads the store URL from the Secret.
    let workers = &yaml(&root().join("deploy/k8s/workers.yaml"))[0];
    assert!(workers["spec"]["parallelism"].as_i64().unwrap() > 1);
    let env = &workers["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(env["name"].as_str(), Some("PRIMER_DB"));
    assert_eq!(env["valueFrom"]["secretKeyRef"]["name"].as_str(), Some("primer-db"));
}

#[test]
fn the_images_campaign_file_is_a_valid_campaign() {
    // Its paths are the image's (/primer/...): read it with the repository in their place.
    let text = std::fs::read_to_string(root().join("docker/campaign.toml")).unwrap();
    let here = root().canonicalize().unwrap();
    let dir = std::env::temp_dir().join(format!("primer-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("campaign.toml");
    std::fs::write(&file, text.replace("/primer/", &format!("{}/", here.display()))).unwrap();
    let resolved = primer_campaign::spec::resolve(
        &file,
        &Default::default(),
        &primer_campaign::paths::default_corpus(),
        &Default::default(),
    );
    assert!(resolved.is_ok(), "{:?}", resolved.err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_dockerfile_runs_setup_and_commands_that_exist() {
    let file = root().join("docker/Dockerfile");
    let text = std::fs::read_to_string(&file).unwrap();
    let targets: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("FROM ")).filter_map(|l| l.split(" AS ").nth(1)).collect();
    assert_eq!(targets, ["base", "cpu", "cuda"]);
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if let Some(json) = line.strip_prefix("CMD ").or_else(|| line.strip_prefix("ENTRYPOINT ")) {
            let args: Vec<String> = serde_json::from_str(json).unwrap();
            accepted(&args, &file);
        }
        if let Some(at) = line.find("cargo xtask setup") {
            let flags: Vec<&str> =
                line[at + "cargo xtask setup".len()..].split("&&").next().unwrap().split_whitespace().collect();
            assert!(flags.iter().all(|f| ["--cuda", "--python", "--corpora"].contains(f)), "{line}");
        }
    }
}
