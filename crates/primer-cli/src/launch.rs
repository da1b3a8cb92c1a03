//! `primer launch slurm`: workers placed by Slurm. The campaign is created in the store (or
//! checked against it, as `primer search` does), then one `sbatch` job array of `primer worker`
//! tasks is submitted against that store; the controller runs wherever the user starts
//! `primer search CAMPAIGN.toml --workers 0` (a login node, or with `--with-controller` a Slurm
//! job of its own). Nothing home-made sits between: Slurm places, starts, stops and preempts;
//! the store is the only meeting point.
//!
//! Each task `exec`s the worker, so that it is slurmstepd's direct child and `scancel` reaches
//! it (with `proctrack/linuxproc`, a worker under a surviving shell would be re-parented and
//! never killed). A task killed mid-training loses no candidate: its lease runs out and the
//! controller hands the candidate to another worker.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use primer_campaign::paths;
use primer_campaign::spec::Overrides;

/// What `primer launch slurm` was told.
#[derive(Debug, Clone)]
pub struct SlurmLaunch {
    pub config: PathBuf,
    pub db: String,
    pub workers: u32,
    pub partition: Option<String>,
    pub gpus_per_worker: u32,
    /// Workers in each array task, sharing its GPU(s) and started by one `srun` step.
    pub workers_per_device: u32,
    /// Slurm binds each worker to its cores (`srun --cpu-bind=cores`; needs the cluster's
    /// `TaskPlugin=task/affinity` or `task/cgroup`).
    pub pin: bool,
    pub time: Option<String>,
    /// libtorch threads (and CPUs) per worker; default: the campaign's `training.threads`.
    pub threads: Option<u32>,
    pub with_controller: bool,
    pub dry_run: bool,
}

/// Quotes a word for bash.
fn sh(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-:=@,+".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The job array script: `workers` tasks, each `exec primer worker ...` against the store; with
/// K workers per device (or pinned), each array task holds K Slurm tasks and `exec`s one `srun`
/// step that starts K workers sharing the task's GPU(s), each `exec`ed by its own shell so that
/// it is slurmstepd's child.
pub fn worker_script(l: &SlurmLaunch, name: &str, threads: u32, primer: &Path, logs: &Path) -> String {
    let k = l.workers_per_device.max(1);
    let steps = k > 1 || l.pin;
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", sh(&format!("primer-{name}")));
    s += &format!("#SBATCH --array=0-{}\n", l.workers - 1);
    s += &format!("#SBATCH --ntasks={k}\n");
    s += &format!("#SBATCH --cpus-per-task={threads}\n");
    s += &format!("#SBATCH --output={}\n", sh(&logs.join("primer-worker-%A_%a.log").display().to_string()));
    if let Some(p) = &l.partition {
        s += &format!("#SBATCH --partition={}\n", sh(p));
    }
    if l.gpus_per_worker > 0 {
        s += &format!("#SBATCH --gres=gpu:{}\n", l.gpus_per_worker);
    }
    if let Some(t) = &l.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    s += &format!("# primer workers for campaign `{name}`, written by `primer launch slurm`.\n");
    s += "# exec: the worker must be slurmstepd's own child, so that scancel reaches it.\n";
    let device = if l.gpus_per_worker > 0 { "cuda" } else { "cpu" };
    let id = if steps {
        "slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.${SLURM_PROCID}"
    } else {
        "slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    };
    let worker = format!(
        "exec {} worker --db {} --campaign {} --id \"{id}\" --device {device} --threads {threads} --wait 600",
        sh(&primer.display().to_string()),
        sh(&l.db),
        sh(name),
    );
    if steps {
        s += &format!("# {k} worker(s) in this task, sharing its device(s).\n");
        s += &format!(
            "exec srun --ntasks={k} --cpus-per-task={threads}{} bash -c {}\n",
            if l.pin { " --cpu-bind=cores" } else { "" },
            sh(&worker)
        );
    } else {
        s += &worker;
        s += "\n";
    }
    s
}

/// The controller's job script (`--with-controller`): one CPU, the same store.
pub fn controller_script(l: &SlurmLaunch, name: &str, primer: &Path, logs: &Path) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", sh(&format!("primer-{name}-controller")));
    s += "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n";
    s += &format!("#SBATCH --output={}\n", sh(&logs.join("primer-controller-%j.log").display().to_string()));
    if let Some(p) = &l.partition {
        s += &format!("#SBATCH --partition={}\n", sh(p));
    }
    if let Some(t) = &l.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    s += &format!(
        "exec {} search {} --db {} --workers 0\n",
        sh(&primer.display().to_string()),
        sh(&l.config.display().to_string()),
        sh(&l.db)
    );
    s
}

fn sbatch(script: &str, what: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new("sbatch")
        .arg("--parsable")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("could not run `sbatch`: is Slurm's client installed and on PATH (and SLURM_CONF set)?")?;
    child.stdin.take().expect("a pipe").write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("sbatch refused the {what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or("").to_string();
    anyhow::ensure!(!id.is_empty(), "sbatch printed no job id for the {what}");
    Ok(id)
}

/// `primer launch slurm`.
pub async fn slurm(l: &SlurmLaunch) -> Result<()> {
    anyhow::ensure!(l.workers > 0, "--workers: must be at least 1");
    let resolved =
        primer_campaign::seeds::resolve_from(&l.config, &Overrides::default(), &paths::default_corpus(), &l.db).await?;
    let spec = &resolved.spec;
    if spec.training.precision == primer_dsl::training::Precision::Bf16 && l.gpus_per_worker == 0 {
        bail!(
            "campaign `{}` trains in bf16 (training.precision) and --gpus-per-worker is 0: {} Give each worker a GPU (--gpus-per-worker 1)",
            spec.name,
            primer_dsl::training::CPU_BF16
        );
    }
    let threads = l.threads.unwrap_or(spec.training.threads as u32).max(1);
    let primer = std::env::current_exe().context("where this `primer` is")?;
    let logs = std::env::current_dir()?.join("slurm-logs");
    let script = worker_script(l, &spec.name, threads, &primer, &logs);
    if l.dry_run {
        print!("{script}");
        if l.with_controller {
            print!("\n{}", controller_script(l, &spec.name, &primer, &logs));
        }
        return Ok(());
    }
    if primer_store::sqlite_file(&l.db).is_some() {
        eprintln!(
            "note: {} is a SQLite file: workers on other nodes reach it only through a shared file system; use postgres:// for many machines",
            l.db
        );
    }
    // The campaign exists before any worker starts (workers also wait for it: --wait 600).
    let store = primer_store::Store::open(&l.db).await?;
    // No local workers: the tasks are the workers.
    let o = Overrides { workers: Some(0), ..Overrides::default() };
    let (campaign, ..) = primer_campaign::controller::open_campaign(&store, &l.config, &o).await?;
    std::fs::create_dir_all(&logs).with_context(|| format!("{}", logs.display()))?;
    let workers = sbatch(&script, "worker job array")?;
    println!(
        "submitted job array {workers} ({} task(s) of {} worker(s), {threads} CPU(s) each{}) for campaign `{}` (id {}) in {}",
        l.workers,
        l.workers_per_device.max(1),
        if l.gpus_per_worker > 0 { format!(", {} GPU(s) per task", l.gpus_per_worker) } else { String::new() },
        spec.name,
        campaign.id,
        store.url
    );
    if l.with_controller {
        let controller = sbatch(&controller_script(l, &spec.name, &primer, &logs), "controller job")?;
        println!("submitted controller job {controller}");
    } else {
        println!(
            "start the controller: {} search {} --db {} --workers 0",
            primer.display(),
            l.config.display(),
            sh(&l.db)
        );
    }
    println!("logs: {}; watch: squeue -j {workers}; primer status --db {}", logs.display(), sh(&l.db));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_are_slurms() {
        for ok in ["30", "30:00", "04:00:00", "1-12", "1-12:00", "1-12:00:00", "0:30"] {
            assert_eq!(primer_args::flags::parse_time(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in ["", "0", "1:60", "04:00:00:00", "x", "1-", "-1", "1-1:99:00", "12:61:00", "1h"] {
            assert!(primer_args::flags::parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_script_execs_the_worker_with_what_was_asked() {
        let l = SlurmLaunch {
            config: "c.toml".into(),
            db: "postgres://primer@db:5432/x".into(),
            workers: 4,
            partition: Some("gpu".into()),
            gpus_per_worker: 1,
            workers_per_device: 1,
            pin: false,
            time: Some("02:00:00".into()),
            threads: None,
            with_controller: false,
            dry_run: true,
        };
        let s = worker_script(&l, "my campaign", 2, Path::new("/opt/primer"), Path::new("/logs"));
        for want in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --gres=gpu:1\n",
            "#SBATCH --time=02:00:00\n",
            "exec /opt/primer worker --db postgres://primer@db:5432/x --campaign 'my campaign' --id \"slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\" --device cuda --threads 2",
        ] {
            assert!(s.contains(want), "no `{want}` in:\n{s}");
        }
        let c = controller_script(&l, "my campaign", Path::new("/opt/primer"), Path::new("/logs"));
        assert!(c.contains("exec /opt/primer search c.toml --db postgres://primer@db:5432/x --workers 0"), "{c}");

        // Four workers per GPU, pinned: one srun step of 4 tasks in each array task, each
        // worker named by its array task and its rank in the step.
        let shared = SlurmLaunch { workers_per_device: 4, pin: true, db: "postgres://p@db/x?o='1'".into(), ..l };
        let s = worker_script(&shared, "my campaign", 2, Path::new("/opt/primer"), Path::new("/logs"));
        for want in ["#SBATCH --ntasks=4\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --gres=gpu:1\n"] {
            assert!(s.contains(want), "no `{want}` in:\n{s}");
        }
        let line = s.lines().last().unwrap();
        let quoted = line.strip_prefix("exec srun --ntasks=4 --cpus-per-task=2 --cpu-bind=cores bash -c ").expect(line);
        let bash = |script: &str| {
            let out = std::process::Command::new("bash")
                .args(["-c", script])
                .env("SLURM_ARRAY_JOB_ID", "7")
                .env("SLURM_ARRAY_TASK_ID", "3")
                .env("SLURM_PROCID", "2")
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // What `bash -c` receives, then the words the worker receives (exec replaced by printf).
        let inner = bash(&format!("printf '%s' {quoted}"));
        let inner = inner.strip_prefix("exec /opt/primer ").expect(&inner);
        let words = bash(&format!("printf '%s\\n' {inner}"));
        assert_eq!(
            words.lines().collect::<Vec<_>>(),
            [
                "worker",
                "--db",
                "postgres://p@db/x?o='1'",
                "--campaign",
                "my campaign",
                "--id",
                "slurm-7_3.2",
                "--device",
                "cuda",
                "--threads",
                "2",
                "--wait",
                "600"
            ]
        );
    }
}
