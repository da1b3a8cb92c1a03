//! Campaign archives (`primer archive`): a compact, self-contained, versioned copy of one
//! campaign that a checkout can carry, and that every command that only reads opens as a
//! store: `--db archive://PATH`. PATH may also be a folder: every archive in it opens as one
//! store (campaigns side by side, e.g. `primer progress` over many campaigns).
//!
//! An archive is gzip-compressed JSON: the format's name and version, the store schema it was
//! written at, the campaign's content hash, and every row of the campaign a reader needs: its
//! resolved config, the programs as text (and their parsed form), candidates with lineage and
//! mutations, evaluations (fitness, outcome, hurdles), hurdle checkpoints, curves at their eval
//! points, retrainings and requeues. Weights are left out (about 2.5 MB per d_model 64 model;
//! `primer rerun` or `export` trains them again from the program and the seed).
//!
//! Opening one reads it into a private in-memory SQLite database migrated to this primer's
//! schema, checks the content hash there, and hands back a [`Store`] that refuses writes
//! (`PRAGMA query_only`): the same queries serve an archive and a live store, and nothing is
//! ever written to the archive's file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyPoolOptions;

use crate::{Access, Backend, Campaign, CampaignDump, Result, Store, StoreError};
use crate::{CandidateRow, CheckpointRow, CurveRow, EvaluationRow, ProgramRow, RequeueRow, RerunRow};

/// The `format` field of every archive.
pub const ARCHIVE_FORMAT: &str = "primer-campaign-archive";
/// The archive format's version this primer writes and reads.
pub const ARCHIVE_VERSION: u32 = 1;

/// One campaign, archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    /// The store schema version of the primer that wrote it.
    pub schema: i64,
    /// [`CampaignDump::content_hash`] of the rows below (no weights).
    pub content_hash: String,
    pub campaign: Campaign,
    pub programs: Vec<ProgramRow>,
    pub candidates: Vec<CandidateRow>,
    pub evaluations: Vec<EvaluationRow>,
    pub checkpoints: Vec<CheckpointRow>,
    pub curve_points: Vec<CurveRow>,
    pub reruns: Vec<RerunRow>,
    pub requeues: Vec<RequeueRow>,
}

impl Archive {
    /// The archive of a dumped campaign (its weights left out).
    pub fn of(d: CampaignDump) -> Archive {
        let d = CampaignDump { weights: Vec::new(), ..d };
        Archive {
            format: ARCHIVE_FORMAT.into(),
            version: ARCHIVE_VERSION,
            schema: crate::schema_version(),
            content_hash: d.content_hash(),
            campaign: d.campaign,
            programs: d.programs,
            candidates: d.candidates,
            evaluations: d.evaluations,
            checkpoints: d.checkpoints,
            curve_points: d.curve_points,
            reruns: d.reruns,
            requeues: d.requeues,
        }
    }

    /// The rows, as a dump with no weights.
    pub fn into_dump(self) -> CampaignDump {
        CampaignDump {
            campaign: self.campaign,
            programs: self.programs,
            candidates: self.candidates,
            evaluations: self.evaluations,
            checkpoints: self.checkpoints,
            curve_points: self.curve_points,
            reruns: self.reruns,
            weights: Vec::new(),
            requeues: self.requeues,
        }
    }

    /// Writes it gzip-compressed to `path`, through a temporary file beside it renamed into
    /// place (a reader never sees half an archive).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let result = (|| {
            let file = std::fs::File::create(&tmp)?;
            let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::best());
            gz.write_all(&json)?;
            gz.finish()?.flush()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Reads and checks an archive: gzip or plain JSON, primer's format, a version this primer
    /// reads. Errors name the file and what is wrong.
    pub fn read(path: &Path) -> Result<Archive> {
        let bad = |why: String| StoreError::Archive { path: path.display().to_string(), why };
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let json = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .map_err(|e| bad(format!("not a readable gzip file: {e}")))?;
            out
        } else {
            bytes
        };
        let value: serde_json::Value = serde_json::from_slice(&json).map_err(|e| bad(format!("not JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(ARCHIVE_FORMAT) => {}
            Some(other) => return Err(bad(format!("format `{other}` is not `{ARCHIVE_FORMAT}`"))),
            None => return Err(bad(format!("no `format` field: not a primer archive (`{ARCHIVE_FORMAT}`)"))),
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(ARCHIVE_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "archive format version {v}; this primer reads version {ARCHIVE_VERSION} (use the primer that wrote it)"
                )));
            }
            None => return Err(bad("no `version` field".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(format!("field: {e}")))
    }
}

/// The archives `path` names: the file itself, or every `*.archive.json.gz` and
/// `*.archive.json` in the folder, in name order (at least one).
fn archive_files(path: &Path) -> Result<Vec<PathBuf>> {
    let bad = |why: String| StoreError::Archive { path: path.display().to_string(), why };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| bad(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".archive.json.gz") || n.ends_with(".archive.json"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad("a folder with no campaign archive in it (`*.archive.json.gz`)".into()));
    }
    Ok(files)
}

/// The file (or folder of archives) an `archive://PATH` URL names.
pub fn archive_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("archive://")?;
    (!path.is_empty()).then(|| PathBuf::from(path))
}

impl Store {
    /// Writes campaign `campaign` (by id) of this store to `path` as an archive; returns it.
    pub async fn archive_campaign(&self, campaign: i64, path: &Path) -> Result<Archive> {
        let archive = Archive::of(self.dump_campaign(campaign).await?);
        archive
            .write(path)
            .map_err(|e| StoreError::Archive { path: path.display().to_string(), why: format!("writing: {e}") })?;
        Ok(archive)
    }

    /// Opens an archive as a read-only store (see the module's documentation).
    pub(crate) async fn open_archive(url: &str, access: Access) -> Result<Store> {
        let path = archive_file(url).ok_or_else(|| StoreError::Unsupported(url.into()))?;
        if access == Access::Write {
            return Err(StoreError::Archive {
                path: path.display().to_string(),
                why: "an archive is read-only: a command that writes needs a store (`primer store copy archive://FILE sqlite://FILE.db` makes one)".into(),
            });
        }
        let files = archive_files(&path)?;
        let open = |error| StoreError::Open { url: url.into(), error };
        // One connection, kept for the store's life: an in-memory database lives as long as
        // its connection.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA foreign_keys = ON;").await?;
                    Ok(())
                })
            })
            .connect("sqlite::memory:")
            .await
            .map_err(open)?;
        crate::migrate(&pool, &crate::sqlite_migrator(), url).await?;
        let store = Store { pool, url: url.into(), backend: Backend::Sqlite, access: Access::Write };
        for file in &files {
            let bad = |why: String| StoreError::Archive { path: file.display().to_string(), why };
            let archive = Archive::read(file)?;
            let (name, expected) = (archive.campaign.name.clone(), archive.content_hash.clone());
            let programs = archive.programs.clone();
            if store.load_campaign(&archive.into_dump()).await?.is_none() {
                return Err(bad(format!("campaign `{name}` is also in another archive of {}", path.display())));
            }
            let id = store.campaign(&name).await?.map(|c| c.id).ok_or(bad("its campaign did not load".into()))?;
            // (Another archive of the folder may have given a program of this one in other words.)
            let hash = store.dump_campaign(id).await?.with_programs_of(&programs).content_hash();
            if hash != expected {
                return Err(bad(format!(
                    "its rows do not match its content hash (stored {expected}, rows {hash}): the file was changed or damaged"
                )));
            }
        }
        {
            use sqlx::Executor;
            store.pool.execute("PRAGMA query_only = ON;").await?;
        }
        Ok(Store { access: Access::Read, ..store })
    }
}
